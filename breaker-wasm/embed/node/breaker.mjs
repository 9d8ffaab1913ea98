// The breaker-wasm package for ES modules (import): the CommonJS code, re-exported.
import cjs from './breaker.cjs';

export const {
  ABI_VERSION,
  Breaker,
  systemClock,
  BreakerError,
  BreakerLoadError,
  AbiVersionError,
  BreakerTrappedError,
  ProtocolError,
  BreakerOpenError,
  BreakerTimeoutError,
} = cjs;
