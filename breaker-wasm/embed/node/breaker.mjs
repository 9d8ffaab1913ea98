// Node embedding of the circuit-breaker WebAssembly module (target/breaker.wasm, PROTOCOL.md §8).
// Uses only the built-in WebAssembly API; no dependencies. Types: breaker.d.ts.
//
//   const breaker = await Breaker.load("target/breaker.wasm");
//   breaker.handle({ src: "a", dest: "db", body: { type: "acquire", msg_id: 1 } });
//   const rows = await breaker.guard("db", () => db.query("..."));
//
// A guest trap poisons the instance: that call and every later one throw BreakerTrappedError.
// It is not re-instantiated on its own (that would silently drop every breaker's state): load a
// new one, or restore a snapshot into one.

import { readFile } from 'node:fs/promises';

/** The ABI version this wrapper speaks (breaker_abi_version()). */
export const ABI_VERSION = 1;
const OPTION_MANUAL_CLOCK = 1;
const OPTION_NO_FIXTURES = 2;
// Service names are 1 to 256 bytes of UTF-8.
const NAME_BYTES = 256;
const EXPORTS = [
  'memory',
  'breaker_abi_version',
  'breaker_alloc',
  'breaker_free',
  'breaker_handle',
  'breaker_diagnostics',
];

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Base class of every error this module throws. */
export class BreakerError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The module could not be loaded: wrong path, not WebAssembly, or a missing export. */
export class BreakerLoadError extends BreakerError {}

/** The module's breaker_abi_version() is not ABI_VERSION. */
export class AbiVersionError extends BreakerLoadError {
  constructor(message, version) {
    super(message);
    this.version = version;
  }
}

/** The guest trapped; the instance is unusable from then on. */
export class BreakerTrappedError extends BreakerError {}

/** An error reply ({"type":"error","code":C,"text":...}) a helper could not act on. */
export class ProtocolError extends BreakerError {
  constructor(code, text, reply) {
    super(`code ${code}: ${text}`);
    this.code = code;
    this.text = text;
    this.reply = reply;
  }
}

/** The breaker rejected the call without running it (acquire answered with code 11). */
export class BreakerOpenError extends BreakerError {
  constructor(service, text, retryAfterMs, reply) {
    super(
      `${text} for "${service}"${retryAfterMs == null ? '' : `; retry after ${retryAfterMs} ms`}`,
    );
    this.service = service;
    this.text = text;
    /** ms until a call may be admitted again; null when forced open. */
    this.retryAfterMs = retryAfterMs ?? null;
    this.reply = reply;
  }
}

/** Unix epoch milliseconds from Date.now(), never going backwards. */
export function systemClock() {
  let last = 0;
  return () => (last = Math.max(last, Date.now()));
}

function defaultDiagnostics(lines) {
  for (const line of lines)
    process.emitWarning(`breaker module could not answer: ${line}`, 'BreakerDiagnostic');
}

function trapReason(e) {
  const text = String(e?.message ?? e);
  return e instanceof WebAssembly.RuntimeError
    ? `wasm trap: ${text}`
    : `${e?.name ?? 'Error'}: ${text}`;
}

export class Breaker {
  /**
   * Loads a module from a path, URL, bytes or a compiled WebAssembly.Module.
   * @param {string | URL | Uint8Array | ArrayBuffer | WebAssembly.Module} source
   * @param {import("./breaker.d.ts").BreakerOptions} [options]
   */
  static async load(source, options = {}) {
    let module;
    const where = typeof source === 'string' || source instanceof URL ? String(source) : '<bytes>';
    if (source instanceof WebAssembly.Module) {
      module = source;
    } else {
      let bytes = source;
      if (typeof source === 'string' || source instanceof URL) {
        try {
          bytes = await readFile(source);
        } catch (e) {
          throw new BreakerLoadError(
            `cannot read the breaker module "${where}": ${e.code ?? e.message}`,
          );
        }
      }
      try {
        module = await WebAssembly.compile(bytes);
      } catch (e) {
        throw new BreakerLoadError(`"${where}" is not a valid WebAssembly module: ${e.message}`);
      }
    }
    return new Breaker(module, options, where);
  }

  /**
   * From a compiled module (synchronous). Prefer Breaker.load.
   * @param {WebAssembly.Module} module
   */
  constructor(module, options = {}, where = '<module>') {
    const imports = WebAssembly.Module.imports(module);
    if (imports.length > 0) {
      const names = imports.map((i) => `${i.module}.${i.name}`).join(', ');
      throw new BreakerLoadError(`"${where}" imports ${names}; the breaker module has no imports`);
    }
    let instance;
    try {
      instance = new WebAssembly.Instance(module, {});
    } catch (e) {
      throw new BreakerLoadError(`cannot instantiate "${where}": ${e.message}`);
    }
    const ex = instance.exports;
    const missing = EXPORTS.filter((name) => !(name in ex));
    if (missing.length > 0) {
      throw new BreakerLoadError(
        `"${where}" is not a breaker module: missing export(s) ${missing.join(', ')}`,
      );
    }
    this._ex = ex;
    // The typed fast path (ABI.md): guard() acquires and records without JSON when present.
    this._fast =
      typeof ex.breaker_acquire === 'function' && typeof ex.breaker_record === 'function';
    this._name = null; // { ptr, view } of a 256-byte buffer for service names
    this._clock = options.clock ?? systemClock();
    this._src = options.src ?? 'node';
    this._onDiagnostics = options.onDiagnostics ?? defaultDiagnostics;
    this._trapped = null;
    this._msgId = 0;
    /** Diagnostics lines of the last call into the module. */
    this.lastDiagnostics = [];

    const version = this._call('breaker_abi_version');
    if (version !== ABI_VERSION) {
      throw new AbiVersionError(
        `"${where}" speaks breaker ABI version ${version}; this wrapper needs version ${ABI_VERSION}`,
        version,
      );
    }
    const flags =
      (options.manualClock ? OPTION_MANUAL_CLOCK : 0) |
      (options.fixtures === false ? OPTION_NO_FIXTURES : 0);
    if (flags) {
      if (typeof ex.breaker_set_options !== 'function')
        throw new BreakerLoadError(`"${where}" has no breaker_set_options export`);
      if (this._call('breaker_set_options', flags) !== 0)
        throw new BreakerError('breaker_set_options refused the options');
    }
  }

  /** Whether the guest has trapped (the instance is then unusable). */
  get trapped() {
    return this._trapped !== null;
  }

  _call(name, ...args) {
    if (this._trapped !== null) {
      throw new BreakerTrappedError(
        `the breaker instance is unusable: it trapped earlier (${this._trapped})`,
      );
    }
    try {
      return this._ex[name](...args);
    } catch (e) {
      this._trapped = trapReason(e);
      throw new BreakerTrappedError(`the breaker module trapped: ${this._trapped}`, { cause: e });
    }
  }

  _read(packed) {
    const u = BigInt.asUintN(64, packed);
    const ptr = Number(u >> 32n);
    const len = Number(u & 0xffffffffn);
    if (len === 0) return new Uint8Array(0);
    // The buffer is looked up now: memory.grow detaches earlier views.
    return new Uint8Array(this._ex.memory.buffer, ptr, len).slice();
  }

  /**
   * Hands one or more complete JSON documents to the module. Returns the reply bytes (each a
   * compact document plus "\n") and the diagnostics lines. Does not report diagnostics.
   * @param {string | Uint8Array} data
   * @param {number | bigint} [nowMs]
   */
  handleRaw(data, nowMs) {
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    const now = BigInt(nowMs ?? this._clock());
    if (now < 0n || now >= 1n << 63n)
      throw new RangeError(`nowMs must be from 0 to 2^63-1, not ${now}`);
    let ptr = 0;
    if (bytes.length > 0) {
      ptr = this._call('breaker_alloc', bytes.length);
      if (ptr === 0)
        throw new BreakerError(`breaker_alloc could not provide ${bytes.length} bytes`);
      new Uint8Array(this._ex.memory.buffer, ptr, bytes.length).set(bytes);
    }
    let out;
    try {
      out = this._read(this._call('breaker_handle', ptr, bytes.length, now));
    } finally {
      if (ptr !== 0 && !this.trapped) this._call('breaker_free', ptr, bytes.length);
    }
    const diagnostics = decoder.decode(this._read(this._call('breaker_diagnostics')));
    this.lastDiagnostics = diagnostics.split('\n').filter((l) => l.length > 0);
    return { replies: out, diagnostics: [...this.lastDiagnostics] };
  }

  /**
   * Handles a message (an object, an array of them, or JSON text with one or more documents)
   * and returns the parsed replies in order. Diagnostics go to lastDiagnostics and to the
   * onDiagnostics option (default: process.emitWarning, type "BreakerDiagnostic").
   */
  handle(message, nowMs) {
    let data;
    if (typeof message === 'string' || message instanceof Uint8Array) data = message;
    else if (Array.isArray(message)) data = message.map((m) => JSON.stringify(m)).join('\n');
    else data = JSON.stringify(message);
    const { replies, diagnostics } = this.handleRaw(data, nowMs);
    if (diagnostics.length > 0) this._onDiagnostics(diagnostics);
    return decoder
      .decode(replies)
      .split('\n')
      .filter((l) => l.length > 0)
      .map((l) => JSON.parse(l));
  }

  /** Sends one body with a fresh msg_id and returns the reply's body. */
  request(body, { dest = 'breaker', nowMs } = {}) {
    const msgId = ++this._msgId;
    const replies = this.handle({ src: this._src, dest, body: { ...body, msg_id: msgId } }, nowMs);
    const reply = replies.find((r) => r.body?.in_reply_to === msgId);
    if (!reply)
      throw new BreakerError(
        `no reply to "${body.type}": ${this.lastDiagnostics.join('; ') || 'nothing said'}`,
      );
    return reply.body;
  }

  _checked(body, opts) {
    const reply = this.request(body, opts);
    if (reply.type === 'error')
      throw new ProtocolError(reply.code, reply.text ?? reply.error, reply);
    return reply;
  }

  /** A permit for one call to service; throws BreakerOpenError when rejected. */
  acquire(service, nowMs) {
    const reply = this.request({ type: 'acquire', service }, { nowMs });
    if (reply.type === 'error' && reply.code === 11)
      throw new BreakerOpenError(service, reply.text, reply.retry_after_ms, reply);
    if (reply.type !== 'acquire_ok') throw new ProtocolError(reply.code, reply.text, reply);
    return reply.permit;
  }

  /** Reports the result of an admitted call; returns the record_ok body. */
  record(service, permit, outcome, durationMs, nowMs) {
    const body = { type: 'record', service, permit, outcome };
    if (durationMs != null) body.duration_ms = Math.max(0, Math.round(durationMs));
    return this._checked(body, { nowMs });
  }

  /** Writes service's name into the guest's name buffer; its length, or -1 when it does not fit. */
  _writeName(service) {
    if (this._name === null) {
      const ptr = this._call('breaker_alloc', NAME_BYTES);
      if (ptr === 0) throw new BreakerError(`breaker_alloc could not provide ${NAME_BYTES} bytes`);
      this._name = { ptr, view: null, last: null, len: -1 };
    }
    const name = this._name;
    // memory.grow detaches earlier views: take a new one when the buffer changed.
    if (name.view === null || name.view.buffer !== this._ex.memory.buffer) {
      name.view = new Uint8Array(this._ex.memory.buffer, name.ptr, NAME_BYTES);
    } else if (name.last === service) {
      return name.len; // still there: only this method writes the buffer
    }
    const { read, written } = encoder.encodeInto(service, name.view);
    name.last = service;
    name.len = read === service.length ? written : -1;
    return name.len;
  }

  /** The error for a call into an instance that trapped before; none when it is usable. */
  _checkUsable() {
    if (this._trapped !== null) {
      throw new BreakerTrappedError(
        `the breaker instance is unusable: it trapped earlier (${this._trapped})`,
      );
    }
  }

  _trap(e) {
    this._trapped = trapReason(e);
    return new BreakerTrappedError(`the breaker module trapped: ${this._trapped}`, { cause: e });
  }

  /** acquire through the fast path: the permit (a bigint), or null to take the JSON path. */
  _fastAcquire(service, now) {
    const len = this._writeName(service);
    if (len <= 0) return null;
    this._checkUsable();
    let r;
    try {
      r = this._ex.breaker_acquire(this._name.ptr, len, now);
    } catch (e) {
      throw this._trap(e);
    }
    if (r > 0n) return Number(r);
    if (r === 0n) return null; // not a service name: the JSON path reports why
    const v = -1n - r;
    const text = (v & 1n) === 1n ? 'Circuit breaker HALF_OPEN' : 'Circuit breaker OPEN';
    const retry = v >> 1n;
    const retryAfterMs = retry === 0n ? null : Number(retry - 1n);
    const reply = { type: 'error', in_reply_to: 0, code: 11, text, service };
    if (retryAfterMs !== null) reply.retry_after_ms = retryAfterMs;
    throw new BreakerOpenError(service, text, retryAfterMs, reply);
  }

  _fastRecord(service, permit, outcome, durationMs, now) {
    const len = this._writeName(service);
    const duration = Math.max(0, Math.round(durationMs));
    const code = outcome === 'success' ? 0 : outcome === 'failure' ? 1 : 2;
    this._checkUsable();
    let r;
    try {
      r = this._ex.breaker_record(this._name.ptr, len, permit, code, duration, now);
    } catch (e) {
      throw this._trap(e);
    }
    if (r < 0) {
      throw new BreakerError(
        `breaker_record refused the record of permit ${permit} for "${service}"`,
      );
    }
  }

  /**
   * Runs fn (sync or async) under the breaker of service: acquires a permit (throwing
   * BreakerOpenError when rejected, without calling fn), then records success, or failure when
   * fn throws or rejects (rethrown unchanged), or "ignored" when options.ignore(error) is true,
   * with the elapsed duration_ms, measured with the breaker's clock.
   */
  async guard(service, fn, options = {}) {
    if (this._fast) {
      // The node's clock times the call too: durations are whole milliseconds anyway.
      const started = this._clock();
      const permit = this._fastAcquire(service, started);
      if (permit !== null) {
        let result;
        try {
          result = await fn();
        } catch (e) {
          const outcome = options.ignore?.(e) ? 'ignored' : 'failure';
          const now = this._clock();
          this._fastRecord(service, permit, outcome, now - started, now);
          throw e;
        }
        const now = this._clock();
        this._fastRecord(service, permit, 'success', now - started, now);
        return result;
      }
    }
    const permit = this.acquire(service);
    const started = this._clock();
    let result;
    try {
      result = await fn();
    } catch (e) {
      const outcome = options.ignore?.(e) ? 'ignored' : 'failure';
      this.record(service, permit, outcome, this._clock() - started);
      throw e;
    }
    this.record(service, permit, 'success', this._clock() - started);
    return result;
  }

  /** Wraps an async function so that every call goes through guard(service, ...). */
  wrap(service, fn, options = {}) {
    return (...args) => this.guard(service, () => fn(...args), options);
  }

  status(service) {
    return this._checked(service == null ? { type: 'status' } : { type: 'status', service });
  }

  configure(config, service) {
    return this._checked(
      service == null ? { type: 'configure', config } : { type: 'configure', service, config },
    );
  }

  events(after = 0, service) {
    return this._checked(
      service == null ? { type: 'events', after } : { type: 'events', after, service },
    ).events;
  }

  snapshot() {
    return this._checked({ type: 'snapshot' }).snapshot;
  }

  restore(snapshot) {
    return this._checked({ type: 'restore', snapshot }).services;
  }
}
