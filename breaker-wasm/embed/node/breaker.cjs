'use strict';
// The breaker-wasm package for CommonJS (require). The ES module entry (breaker.mjs) re-exports
// this same code, so both share one instance of every class. Written as CommonJS because Node
// before 22 cannot require() an ES module.
const { Breaker, systemClock } = require('./lib/breaker.cjs');
const errors = require('./lib/errors.cjs');
const { ABI_VERSION } = require('./lib/instance.cjs');

module.exports = {
  ABI_VERSION,
  Breaker,
  systemClock,
  BreakerError: errors.BreakerError,
  BreakerLoadError: errors.BreakerLoadError,
  AbiVersionError: errors.AbiVersionError,
  BreakerTrappedError: errors.BreakerTrappedError,
  ProtocolError: errors.ProtocolError,
  BreakerOpenError: errors.BreakerOpenError,
  BreakerTimeoutError: errors.BreakerTimeoutError,
};
