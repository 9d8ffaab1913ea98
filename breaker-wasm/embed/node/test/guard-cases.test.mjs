// node --test: the shared table of guard behaviour (embed/guard-cases.json) on the Node guard.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { Breaker, BreakerOpenError, BreakerTimeoutError } from 'breaker-wasm';
import { EMBED } from './paths.mjs';

const { cases } = JSON.parse(readFileSync(join(EMBED, 'guard-cases.json'), 'utf8'));

class Excluded extends Error {}

/** The one outcome the module counted for service (null when nothing ran). */
function countedOutcome(breaker, service) {
  const { counts } = breaker.status(service);
  if (counts.successes) return 'success';
  if (counts.failures) return 'failure';
  return counts.rejections ? null : 'ignored';
}

function body(kind, ran) {
  return async (signal) => {
    ran.push(kind);
    if (kind === 'raise') throw new Error('down');
    if (kind === 'raise_excluded') throw new Excluded();
    if (kind === 'hang') await new Promise((resolve) => signal.addEventListener('abort', resolve));
    return 'value';
  };
}

async function run(breaker, c, ran) {
  const controller = new AbortController();
  const options = {
    ignore: (e) => e instanceof Excluded,
    cancellation: c.cancellation,
    timeoutMs: c.timeout_ms,
    signal: c.cancel_after_ms == null ? undefined : controller.signal,
    fallback: c.fallback ? () => 'fallback' : undefined,
  };
  const call = breaker.guard('svc', body(c.body, ran), options);
  if (c.cancel_after_ms != null) {
    await sleep(c.cancel_after_ms);
    controller.abort();
  }
  try {
    return await call;
  } catch (e) {
    if (e instanceof BreakerOpenError) return 'rejected';
    if (e instanceof BreakerTimeoutError) return 'timeout';
    if (e?.name === 'AbortError') return 'cancelled';
    return 'error';
  }
}

for (const c of cases) {
  test(`guard case: ${c.name}`, async () => {
    const breaker = new Breaker();
    if (c.state === 'open') breaker.request({ type: 'force', service: 'svc', mode: 'open' });
    const ran = [];
    assert.equal(await run(breaker, c, ran), c.result);
    assert.equal(countedOutcome(breaker, 'svc'), c.records);
    assert.deepEqual(ran, c.records === null ? [] : [c.body]);
  });
}
