'use strict';
// The Breaker's constructor options: the config fields of the protocol under their JavaScript
// names, beside the options of the wrapper itself.

/** The config fields of the protocol, by their option names. */
const CONFIG_FIELDS = {
  failureThreshold: 'failure_threshold',
  openTimeoutMs: 'open_timeout_ms',
  halfOpenMaxCalls: 'half_open_max_calls',
  successThreshold: 'success_threshold',
  window: 'window',
  slowCallMs: 'slow_call_ms',
  slowCallRate: 'slow_call_rate',
  probeTimeoutMs: 'probe_timeout_ms',
  backoff: 'backoff',
  maxServices: 'max_services',
};
const HOST_OPTIONS = new Set([
  'clock',
  'manualClock',
  'fixtures',
  'src',
  'onDiagnostics',
  'service',
]);

/** The config object of the options' config fields; throws on an unknown option. */
function configOf(options) {
  const config = {};
  for (const [key, value] of Object.entries(options)) {
    if (key in CONFIG_FIELDS) config[CONFIG_FIELDS[key]] = value;
    else if (!HOST_OPTIONS.has(key)) throw new TypeError(`unknown Breaker option: ${key}`);
  }
  return config;
}

module.exports = { configOf };
