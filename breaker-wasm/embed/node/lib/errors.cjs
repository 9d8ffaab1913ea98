'use strict';
// Every error the package throws.

/** Base class of every error this package throws. */
class BreakerError extends Error {
  constructor(message, options) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The module could not be loaded: wrong path, not WebAssembly, or a missing export. */
class BreakerLoadError extends BreakerError {}

/** The module's breaker_abi_version() is not the one this package speaks. */
class AbiVersionError extends BreakerLoadError {
  constructor(message, version) {
    super(message);
    this.version = version;
  }
}

/** The guest trapped; the instance is unusable from then on. */
class BreakerTrappedError extends BreakerError {}

/** An error reply ({"type":"error","code":C,"text":...}) a helper could not act on. */
class ProtocolError extends BreakerError {
  constructor(code, text, reply) {
    super(`code ${code}: ${text}`);
    this.code = code;
    this.text = text;
    this.reply = reply;
  }
}

/** The breaker rejected the call without running it (acquire answered with code 11). */
class BreakerOpenError extends BreakerError {
  constructor(service, text, retryAfterMs, reply) {
    const after = retryAfterMs == null ? '' : `; retry after ${retryAfterMs} ms`;
    super(`${text} for "${service}"${after}`);
    this.service = service;
    this.text = text;
    /** ms until a call may be admitted again; null when forced open. */
    this.retryAfterMs = retryAfterMs ?? null;
    /** The body the acquire message would have been answered with. */
    this.reply = reply;
  }
}

/** A guarded call that did not settle within its timeout (counted as a failure). */
class BreakerTimeoutError extends BreakerError {
  constructor(service, timeoutMs) {
    super(`the call to "${service}" did not settle within ${timeoutMs} ms`);
    this.service = service;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The error for a rejected typed acquire (ABI.md, "The typed fast path"): its reply is the body
 * the acquire message would have been answered with, with in_reply_to 0.
 */
function rejection(service, result) {
  const v = -1 - result;
  const text = v % 2 === 1 ? 'Circuit breaker HALF_OPEN' : 'Circuit breaker OPEN';
  const r = Math.floor(v / 2);
  const retryAfterMs = r === 0 ? null : r - 1;
  const reply = { type: 'error', in_reply_to: 0, code: 11, text, service };
  if (retryAfterMs !== null) reply.retry_after_ms = retryAfterMs;
  return new BreakerOpenError(service, text, retryAfterMs, reply);
}

module.exports = {
  BreakerError,
  BreakerLoadError,
  AbiVersionError,
  BreakerTrappedError,
  ProtocolError,
  BreakerOpenError,
  BreakerTimeoutError,
  rejection,
};
