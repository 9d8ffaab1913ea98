'use strict';
// What a guard records for each way a guarded call ends (ABI.md, "What a guard records"), and
// the timeout and abort bounds of a call.
const { BreakerTimeoutError } = require('./errors.cjs');

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const SUCCESS = 0;
const FAILURE = 1;
const IGNORED = 2;
const OUTCOMES = ['success', 'failure', 'ignored'];
/** The characters of a failure's text a guard keeps (the module keeps at most 256 bytes). */
const TEXT_CHARS = 256;
const errorToString = Error.prototype.toString;

/** Checks a guard's options once, with a message that names the bad one. */
function checkOptions(options) {
  const { timeoutMs, cancellation, ignore, fallback, signal } = options;
  if (timeoutMs != null && !(Number.isFinite(timeoutMs) && timeoutMs > 0))
    throw new RangeError(`timeoutMs must be a positive number of ms, not ${timeoutMs}`);
  if (cancellation != null && cancellation !== 'failure' && cancellation !== 'ignored')
    throw new RangeError(`cancellation must be "failure" or "ignored", not ${cancellation}`);
  if (ignore != null && typeof ignore !== 'function')
    throw new TypeError('ignore must be a function (error) => boolean');
  if (fallback != null && typeof fallback !== 'function')
    throw new TypeError('fallback must be a function (error) => value');
  if (signal != null && !(signal instanceof AbortSignal))
    throw new TypeError('signal must be an AbortSignal');
}

/** The outcome code of a call that threw error, under options. */
function outcomeOf(error, options) {
  if (isTimeout(error)) return FAILURE;
  if (options.signal?.aborted && error === options.signal.reason)
    return options.cancellation === 'ignored' ? IGNORED : FAILURE;
  return options.ignore?.(error) ? IGNORED : FAILURE;
}

/** Whether error is a guard's timeout (false for what instanceof cannot ask: a revoked Proxy). */
function isTimeout(error) {
  try {
    return error instanceof BreakerTimeoutError;
  } catch {
    return false;
  }
}

/**
 * The text of a failure (ABI.md, "What a guard records"): String(error), or the tag of a value
 * whose conversion throws (never an exception: the outcome must be recorded), cut to its first
 * 256 characters (never inside a surrogate pair) and made well-formed, as the module and the
 * JSON of a record message need.
 */
function failureText(error) {
  let text = '[object Object]'; // a revoked Proxy's: no conversion works on it
  try {
    text = printed(error);
  } catch {
    try {
      text = Object.prototype.toString.call(error);
    } catch {}
  }
  if (text.length > TEXT_CHARS) {
    const last = text.charCodeAt(TEXT_CHARS - 1);
    text = text.slice(0, last >= 0xd800 && last <= 0xdbff ? TEXT_CHARS - 1 : TEXT_CHARS);
  }
  return wellFormed(text);
}

/**
 * String(value). For an object that String would print with Error.prototype.toString (no
 * Symbol.toPrimitive, that toString), its steps written out: the same reads in the same order,
 * the same text, without the generic conversion, which costs about 20 times as much.
 */
function printed(value) {
  if (
    typeof value !== 'object' ||
    value === null ||
    value[Symbol.toPrimitive] !== undefined ||
    value.toString !== errorToString
  )
    return String(value);
  const name = value.name;
  const named = name === undefined ? 'Error' : `${name}`;
  const message = value.message;
  const said = message === undefined ? '' : `${message}`;
  if (named === '') return said;
  return said === '' ? named : `${named}: ${said}`;
}

/** text with every lone surrogate replaced by U+FFFD (what TextEncoder does to it). */
function wellFormed(text) {
  if (typeof text.toWellFormed === 'function') return text.toWellFormed();
  return decoder.decode(encoder.encode(text));
}

/**
 * Runs fn(signal) bounded by options.timeoutMs and options.signal: settles with fn's result, or
 * rejects with a BreakerTimeoutError or the caller's abort reason, whichever comes first; the
 * signal handed to fn aborts then, so fn can stop its work.
 */
function bounded(service, fn, { timeoutMs, signal }) {
  const controller = new AbortController();
  return new Promise((resolve, reject) => {
    let timer;
    const onAbort = () => stop(signal.reason);
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const stop = (reason) => {
      cleanup();
      controller.abort(reason);
      reject(reason);
    };
    if (signal?.aborted) return stop(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    if (timeoutMs != null)
      timer = setTimeout(() => stop(new BreakerTimeoutError(service, timeoutMs)), timeoutMs);
    Promise.resolve()
      .then(() => fn(controller.signal))
      .then(
        (value) => {
          cleanup();
          resolve(value);
        },
        (error) => {
          cleanup();
          reject(error);
        },
      );
  });
}

module.exports = {
  SUCCESS,
  FAILURE,
  IGNORED,
  OUTCOMES,
  checkOptions,
  outcomeOf,
  bounded,
  failureText,
  wellFormed,
};
