'use strict';
// The Breaker: one node of circuit breakers, by service name, in this process. An
// EventEmitter: 'transition' for every state change, and 'open', 'halfOpen', 'close' by the
// state entered, fired from the events the module logs, before the call that caused them
// returns.
const { EventEmitter } = require('node:events');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { Batch } = require('./batch.cjs');
const { BreakerError, BreakerOpenError, ProtocolError } = require('./errors.cjs');
const { SUCCESS, FAILURE, IGNORED, OUTCOMES } = require('./guard.cjs');
const { checkOptions, outcomeOf, bounded, failureText, wellFormed } = require('./guard.cjs');
const { BATCH_EXPORTS, Instance, compile } = require('./instance.cjs');
const { configOf } = require('./options.cjs');

const OPTION_MANUAL_CLOCK = 1;
const OPTION_NO_FIXTURES = 2;
const EVENT_NAMES = { open: 'open', half_open: 'halfOpen', closed: 'close' };
const WATCHED = new Set(['transition', 'open', 'halfOpen', 'close']);

const NO_OPTIONS = Object.freeze({});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Unix epoch milliseconds from Date.now(), never going backwards. */
function systemClock() {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now > last) last = now;
    return last;
  };
}

function defaultDiagnostics(lines) {
  for (const line of lines)
    process.emitWarning(`breaker module could not answer: ${line}`, 'BreakerDiagnostic');
}

class Breaker extends EventEmitter {
  /**
   * Loads a module (a path, URL, bytes or a compiled WebAssembly.Module; the packaged one when
   * absent) and makes a breaker node of it.
   */
  static async load(source, options) {
    const plain = source != null && Object.getPrototypeOf(source) === Object.prototype;
    const { module, where } = await compile(plain ? undefined : source);
    return new Breaker(module, (plain ? source : options) ?? {}, where);
  }

  /** new Breaker(options) runs the packaged module; new Breaker(module, options) another one. */
  constructor(moduleOrOptions, options, where = '<module>') {
    super();
    let module = moduleOrOptions;
    if (!(moduleOrOptions instanceof WebAssembly.Module)) {
      options = moduleOrOptions;
      module = new WebAssembly.Module(readFileSync(join(__dirname, '..', 'breaker.wasm')));
      where = 'the packaged breaker.wasm';
    }
    options ??= {};
    const config = configOf(options);
    this._instance = new Instance(module, where);
    this._clock = options.clock ?? systemClock();
    // What guard() reads twice per call: Date.now itself by default (the module treats a time
    // behind the latest it has seen as that one, and guard() never takes a negative duration).
    this._now = options.clock ?? Date.now;
    this._src = options.src ?? 'node';
    this._service = options.service ?? null; // wrap(fn)'s service (else fn's name)
    if (this._service !== null && typeof this._service !== 'string')
      throw new TypeError('service must be a string');
    this._onDiagnostics = options.onDiagnostics ?? defaultDiagnostics;
    this._msgId = 0;
    this._seenSeq = -1; // not watching until a transition listener is added
    this._pending = []; // transitions logged, not yet emitted
    /** Diagnostics lines of the last message handled. */
    this.lastDiagnostics = [];
    this._instance.setOptions(
      (options.manualClock ? OPTION_MANUAL_CLOCK : 0) |
        (options.fixtures === false ? OPTION_NO_FIXTURES : 0),
    );
    this._batch = this._instance.has(BATCH_EXPORTS)
      ? new Batch(this._instance, () => this._collect())
      : null;
    this.on('newListener', (name) => {
      if (this._seenSeq < 0 && WATCHED.has(name) && this._batch !== null)
        this._seenSeq = this._instance.call('breaker_event_seq');
    });
    if (Object.keys(config).length > 0) this.configure(config);
  }

  /** Whether the guest has trapped (the instance is then unusable). */
  get trapped() {
    return this._instance.trapped !== null;
  }

  /**
   * Hands one or more complete JSON documents to the module. Returns the reply bytes (each a
   * compact document plus "\n") and the diagnostics lines. Guarded calls not yet reported to
   * the module are reported first, so the message sees everything.
   */
  handleRaw(data, nowMs) {
    const bytes = typeof data === 'string' ? encoder.encode(data) : data;
    const now = BigInt(nowMs ?? this._clock());
    if (now < 0n || now >= 1n << 63n)
      throw new RangeError(`nowMs must be from 0 to 2^63-1, not ${now}`);
    this._batch?.flush();
    let result;
    try {
      result = this._instance.handle(bytes, now);
    } finally {
      if (this._batch !== null) {
        if (this.trapped) this._batch.void();
        else this._batch.invalidate();
      }
    }
    this.lastDiagnostics = decoder
      .decode(result.diagnostics)
      .split('\n')
      .filter((l) => l.length > 0);
    this._collect();
    this._emitPending();
    return { replies: result.out, diagnostics: [...this.lastDiagnostics] };
  }

  /** Handles a message (an object, an array of them, or JSON text); the parsed replies. */
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
    if (!reply) {
      const said = this.lastDiagnostics.join('; ') || 'nothing said';
      throw new BreakerError(`no reply to "${body.type}": ${said}`);
    }
    return reply.body;
  }

  _checked(body, opts) {
    const reply = this.request(body, opts);
    if (reply.type === 'error')
      throw new ProtocolError(reply.code, reply.text ?? reply.error, reply);
    return reply;
  }

  /** A permit for one call to service (the acquire message); throws BreakerOpenError. */
  acquire(service, nowMs) {
    const reply = this.request({ type: 'acquire', service }, { nowMs });
    if (reply.type === 'error' && reply.code === 11)
      throw new BreakerOpenError(service, reply.text, reply.retry_after_ms, reply);
    if (reply.type !== 'acquire_ok') throw new ProtocolError(reply.code, reply.text, reply);
    return reply.permit;
  }

  /**
   * Reports the result of an admitted call (the record message); the record_ok body. error, a
   * failure's text, becomes the breaker's last failure when it counts the failure.
   */
  record(service, permit, outcome, durationMs, nowMs, error) {
    const body = { type: 'record', service, permit, outcome };
    if (durationMs != null) body.duration_ms = Math.max(0, Math.round(durationMs));
    if (error != null) {
      if (typeof error !== 'string') throw new TypeError('error must be a string (the text)');
      body.error = wellFormed(error);
    }
    return this._checked(body, { nowMs });
  }

  /**
   * Runs fn under the breaker of service, as ABI.md's "What a guard records" says: a permit
   * first (BreakerOpenError, or options.fallback(error), when rejected, without calling fn),
   * then the outcome with the elapsed duration. Always a promise, never a synchronous throw.
   *
   * The common call (no options, a permit taken without crossing: batch.local) is _local's,
   * as wrap's is: one reaction on fn's promise records the outcome and settles the promise the
   * caller awaits, so the caller resumes after the record (and its listeners) as with an await,
   * in as many microtask jobs, with no async function frame and no rethrow of fn's error.
   * Everything else takes _guard, the same steps in an async function.
   */
  guard(service, fn, options = NO_OPTIONS) {
    const batch = this._batch;
    const s = options === NO_OPTIONS && batch !== null ? batch._services.get(service) : undefined;
    if (s === undefined || s === null || !batch.local(s)) return this._guard(service, fn, options);
    return this._local(s, fn, undefined);
  }

  /** fn(...args), fn() when args is undefined, under a permit within s's grant. */
  _local(s, fn, args) {
    let started;
    let permit;
    let p;
    try {
      started = this._now();
      permit = this._batch.take(s, started);
      try {
        // What await does with it: a promise as it is, a value or a thenable in a new one.
        p = Promise.resolve(args === undefined ? fn() : fn(...args));
      } catch (e) {
        this._recorded(s, permit, FAILURE, started, failureText(e));
        return Promise.reject(e);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    return p.then(
      (value) => {
        this._recorded(s, permit, SUCCESS, started);
        return value;
      },
      (error) => {
        this._recorded(s, permit, FAILURE, started, failureText(error));
        throw error;
      },
    );
  }

  /**
   * The outcome of a batch-path call (a failure with its text), recorded now; its transitions
   * reach the listeners.
   */
  _recorded(s, permit, code, started, text) {
    const now = this._now();
    this._batch.record(s, permit, code, now > started ? now - started : 0, now, text);
    if (this._pending.length > 0) this._emitPending();
  }

  /** guard() in general: any options, a service not yet known, a grant spent. */
  async _guard(service, fn, options) {
    if (options !== NO_OPTIONS) checkOptions(options);
    const batch = this._batch;
    // The service's handle: a Map lookup here, a call into batch.service only the first time.
    const s = batch === null ? null : (batch._services.get(service) ?? batch.service(service));
    const started = this._now();
    let permit;
    try {
      permit = s !== null ? batch.acquire(s, started) : this.acquire(service, started);
    } catch (e) {
      this._emitPending(); // before the caller hears of the rejection
      if (options.fallback != null && e instanceof BreakerOpenError) return options.fallback(e);
      throw e;
    }
    if (this._pending.length > 0) {
      // What this acquire caused (a probe's half_open) reaches the listeners before fn runs; if
      // a listener throws, fn does not run and the permit is released.
      try {
        this._emitPending();
      } catch (e) {
        if (s !== null) batch.record(s, permit, IGNORED, 0, started);
        else this.record(service, permit, 'ignored', 0, started);
        throw e;
      }
    }
    let code = SUCCESS;
    let value;
    let error;
    try {
      const limited = options.timeoutMs != null || options.signal != null;
      value = await (limited ? bounded(service, fn, options) : fn());
    } catch (e) {
      error = e;
      code = outcomeOf(e, options);
    }
    // The transitions of this call (its acquire's too) reach the listeners before it returns.
    const text = code === FAILURE ? failureText(error) : undefined;
    if (s !== null) this._recorded(s, permit, code, started, text);
    else {
      const now = this._now();
      this.record(service, permit, OUTCOMES[code], now > started ? now - started : 0, now, text);
      this._emitPending();
    }
    if (code !== SUCCESS) throw error;
    return value;
  }

  /**
   * fn as a function whose every call goes through guard(service, ...): wrap(service, fn,
   * options), or wrap(fn, options) with the breaker's service option, else fn's name (as
   * opossum names a breaker after its function).
   */
  wrap(service, fn, options = NO_OPTIONS) {
    if (typeof service === 'function') {
      options = fn ?? NO_OPTIONS;
      fn = service;
      service = this._service ?? fn.name;
      if (service === '')
        throw new TypeError('wrap(fn): fn has no name; give a service option or wrap(service, fn)');
    }
    if (options !== NO_OPTIONS) {
      checkOptions(options);
      return (...args) => this.guard(service, () => fn(...args), options);
    }
    // The service's batch-path handle, held from the first call on: the common call then
    // needs no lookup by name (as a decorated function in Python).
    const batch = this._batch;
    let s = null;
    return (...args) => {
      if (batch !== null) {
        s ??= batch._services.get(service) ?? null;
        if (s !== null && batch.local(s)) return this._local(s, fn, args);
      }
      return this._guard(service, () => fn(...args), NO_OPTIONS);
    };
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

  metrics() {
    return this._checked({ type: 'metrics' }).text;
  }

  snapshot() {
    return this._checked({ type: 'snapshot' }).snapshot;
  }

  restore(snapshot) {
    return this._checked({ type: 'restore', snapshot }).services;
  }

  /** Queues the transitions logged since the last look, when anyone listens. */
  _collect() {
    if (this._seenSeq < 0) return;
    const seq = this._instance.call('breaker_event_seq');
    if (seq <= this._seenSeq) return;
    const doc = this._instance.read(this._instance.call('breaker_events_after', this._seenSeq));
    this._seenSeq = seq;
    for (const e of JSON.parse(decoder.decode(doc)).body.events) {
      this._pending.push({
        seq: e.seq,
        atMs: e.at_ms,
        service: e.service,
        from: e.from,
        to: e.to,
        reason: e.reason,
      });
    }
  }

  /**
   * Emits the queued transitions, in order, once the breaker's own bookkeeping is done. A
   * listener that throws does not keep the others from hearing: the first error is thrown once
   * every transition has been emitted.
   */
  _emitPending() {
    const pending = this._pending;
    if (pending.length === 0) return;
    this._pending = [];
    let failed = null;
    for (const transition of pending) {
      for (const name of ['transition', EVENT_NAMES[transition.to]]) {
        for (const listener of this.rawListeners(name)) {
          try {
            listener.call(this, transition);
          } catch (e) {
            failed ??= { error: e };
          }
        }
      }
    }
    if (failed !== null) throw failed.error;
  }
}

module.exports = { Breaker, systemClock };
