'use strict';
// The batch path (ABI.md, "Grants and batched reports"): calls admitted and their outcomes
// logged here within the module's grant, and replayed by the module in one call.
//
// The wrapper decides nothing: the module says, per service, how many outcomes (and how many
// failures) can certainly not move the breaker; within that, acquires are numbered as the
// module numbers permits and logged with the outcomes, each with its own time. Anything beyond
// the grant is logged and the whole log replayed at once (breaker_sync), so the call that might
// open the breaker is decided by the module before it returns, and its transition reaches the
// listeners first.
const { BreakerError, rejection } = require('./errors.cjs');

/** f64 numbers per log entry: op, slot, permit, duration_ms, now_ms. */
const WORDS = 5;
const ACQUIRE = 3;
/** Plus the outcome: an acquire at now - duration of permit and its record at now. */
const CALL = 4;
const FAILURE = 1;
/** A grant is packed as outcomes | failures << 21 | rearm << 42. */
const MASK = (1n << 21n) - 1n;
/** breaker_sync results at or below this say an entry was refused (i64::MIN + index). */
const MISMATCH = -(2n ** 63n) + 2n ** 32n;
/** Entries kept before a flush even when the grants allow more: bounds the log's memory. */
const FLUSH_AT = 4096;

const encoder = new TextEncoder();

/**
 * Writes text as UTF-8 into bytes at start (room for 3 bytes per UTF-16 unit); the bytes
 * written. An ASCII prefix is copied here, what follows by TextEncoder.
 */
function utf8Into(text, bytes, start) {
  let n = 0;
  while (n < text.length) {
    const unit = text.charCodeAt(n);
    if (unit >= 0x80) {
      const rest = n === 0 ? text : text.slice(n);
      return n + encoder.encodeInto(rest, bytes.subarray(start + n)).written;
    }
    bytes[start + n] = unit;
    n++;
  }
  return n;
}

/** Writes the u32 n little-endian into bytes at start. */
function u32Into(n, bytes, start) {
  bytes[start] = n;
  bytes[start + 1] = n >>> 8;
  bytes[start + 2] = n >>> 16;
  bytes[start + 3] = n >>> 24;
}

class Batch {
  constructor(instance, afterSync) {
    this._instance = instance;
    this._afterSync = afterSync;
    this._services = new Map();
    this._log = new Float64Array(FLUSH_AT * WORDS);
    this._n = 0; // numbers in the log
    this._texts = []; // the log's failure texts: entry index, text, entry index, text...
    this._buffer = { raw: 0, ptr: 0, capacity: 0 };
    this._textBuffer = { ptr: 0, capacity: 0 }; // for breaker_failure_texts, kept between syncs
    this.lastPermit = instance.call('breaker_last_permit');
  }

  /** The batch-path handle of name (null when it is not a service name), asked once. */
  service(name) {
    let s = this._services.get(name);
    if (s !== undefined) return s;
    const bytes = encoder.encode(name);
    let slot = -1;
    if (bytes.length >= 1 && bytes.length <= 256) {
      const ptr = this._instance.alloc(bytes.length);
      this._instance.bytes(ptr, bytes.length).set(bytes);
      slot = this._instance.call('breaker_slot', ptr, bytes.length);
      this._instance.call('breaker_free', ptr, bytes.length);
    }
    // What the grant still allows: outcomes, failures among them, and what failures becomes
    // after the success of last, the newest permit since the grant.
    s = slot >= 0 ? { name, slot, outcomes: 0, failures: 0, rearm: 0, last: 0 } : null;
    this._services.set(name, s);
    return s;
  }

  _push(op, slot, permit, duration, now) {
    if (this._n === this._log.length) this.flush();
    const log = this._log;
    const n = this._n;
    log[n] = op;
    log[n + 1] = slot;
    log[n + 2] = permit;
    log[n + 3] = duration;
    log[n + 4] = now;
    this._n = n + WORDS;
  }

  /** A permit for one call to s at now; throws BreakerOpenError when the module rejects it. */
  acquire(s, now) {
    if (s.outcomes > 0) return this.take(s, now);
    this._push(ACQUIRE, s.slot, 0, -1, now);
    const result = this.flush();
    if (result <= 0) throw rejection(s.name, result);
    this.lastPermit = result;
    this._regrant(s);
    s.last = result;
    return result;
  }

  /**
   * Whether take(s) admits a call without crossing: within s's grant, and room in the log (so
   * no flush, whose transitions would have to reach the listeners before the call runs).
   */
  local(s) {
    return s.outcomes > 0 && this._n < this._log.length;
  }

  /** A permit within s's grant (s.outcomes > 0): the module's next one, logged, no crossing. */
  take(s, now) {
    const permit = ++this.lastPermit;
    s.last = permit;
    this._push(ACQUIRE, s.slot, permit, -1, now);
    return permit;
  }

  /**
   * The outcome code (0 success, 1 failure, 2 ignored) of a permit from acquire; text, for a
   * failure only, its text (ABI.md, "What a guard records"), passed at the next sync.
   */
  record(s, permit, code, duration, now, text) {
    if (s.outcomes > 0 && (code !== FAILURE || s.failures > 0)) {
      s.outcomes--;
      if (code === FAILURE) s.failures--;
      else if (code === 0 && permit === s.last) s.failures = s.rearm; // the grant's rule (ABI.md)
      const log = this._log;
      const n = this._n;
      if (n > 0 && log[n - 5] === ACQUIRE && log[n - 3] === permit && log[n - 4] === s.slot) {
        // Its acquire is the last entry: one entry for both.
        if (now - duration === log[n - 1]) {
          log[n - 5] = CALL + code;
          log[n - 2] = duration;
          log[n - 1] = now;
          if (text !== undefined) this._texts.push(n / WORDS - 1, text);
          return;
        }
      }
      this._push(code, s.slot, permit, duration, now);
      if (text !== undefined) this._texts.push(this._n / WORDS - 1, text);
      return;
    }
    this._push(code, s.slot, permit, duration, now);
    if (text !== undefined) this._texts.push(this._n / WORDS - 1, text);
    this.flush();
    this._regrant(s);
  }

  _regrant(s) {
    const packed = this._instance.call('breaker_grant', s.slot);
    s.outcomes = Number(packed & MASK);
    s.failures = Number((packed >> 21n) & MASK);
    s.rearm = Number(packed >> 42n);
    s.last = 0;
  }

  /** Replays the log in the module; the last entry's result (0 when the log is empty). */
  flush() {
    const count = this._n / WORDS;
    if (count === 0) return 0;
    const ptr = this._logBuffer(this._n * 8);
    new Float64Array(this._instance.ex.memory.buffer, ptr, this._n).set(
      this._log.subarray(0, this._n),
    );
    this._n = 0;
    let kept = 0;
    let result;
    try {
      if (this._texts.length > 0) kept = this._passTexts();
      result = this._instance.call('breaker_sync', ptr, count);
    } catch (e) {
      this.void(); // no call is admitted here by an instance that is gone
      throw e;
    }
    this._afterSync();
    if (result <= MISMATCH) {
      throw new BreakerError(
        `the module refused entry ${result + 2n ** 63n} of a batch: a local decision disagreed with it (please report this)`,
      );
    }
    if (kept < 0) {
      throw new BreakerError(
        'the module did not take the failure texts of a batch, whose calls it counted without them (please report this)',
      );
    }
    return Number(result);
  }

  /** The 8-aligned address of a buffer in the module for a log of bytes, kept between syncs. */
  _logBuffer(bytes) {
    let { raw, ptr, capacity } = this._buffer;
    if (capacity < bytes) {
      if (raw !== 0) this._instance.call('breaker_free', raw, capacity + 8);
      capacity = Math.max(bytes, FLUSH_AT * WORDS * 8);
      raw = this._instance.alloc(capacity + 8); // f64s need 8-byte alignment
      ptr = (raw + 7) & ~7;
      this._buffer = { raw, ptr, capacity };
    }
    return ptr;
  }

  /**
   * Hands the module the log's failure texts (breaker_failure_texts), as records of a u32 entry
   * index, a u32 byte length and the UTF-8 bytes, in a buffer kept for them, and forgets them:
   * how many it kept, or -1 when it refused them or had no memory for them (the log is
   * replayed all the same).
   */
  _passTexts() {
    const texts = this._texts;
    let most = 0; // UTF-8 takes at most 3 bytes per UTF-16 unit
    for (let i = 1; i < texts.length; i += 2) most += 8 + texts[i].length * 3;
    const instance = this._instance;
    let { ptr, capacity } = this._textBuffer;
    if (capacity < most) {
      if (ptr !== 0) instance.call('breaker_free', ptr, capacity);
      capacity = Math.max(most, 4096);
      ptr = instance.call('breaker_alloc', capacity);
      this._textBuffer = { ptr, capacity: ptr === 0 ? 0 : capacity };
    }
    if (ptr === 0) {
      texts.length = 0;
      return -1;
    }
    const bytes = instance.bytes(ptr, capacity);
    let at = 0;
    for (let i = 0; i < texts.length; i += 2) {
      const written = utf8Into(texts[i + 1], bytes, at + 8);
      u32Into(texts[i], bytes, at);
      u32Into(written, bytes, at + 4);
      at += 8 + written;
    }
    texts.length = 0;
    return instance.call('breaker_failure_texts', ptr, at);
  }

  /** After anything else crossed (a message): every grant is void, permits re-read. */
  invalidate() {
    this.void();
    this.lastPermit = this._instance.call('breaker_last_permit');
  }

  /** Every grant is void: the next call of every service crosses into the module. */
  void() {
    for (const s of this._services.values()) {
      if (s !== null) {
        s.outcomes = 0;
        s.failures = 0;
        s.rearm = 0;
        s.last = 0;
      }
    }
  }
}

module.exports = { Batch };
