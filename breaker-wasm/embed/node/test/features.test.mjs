// node --test: what a user of the package sees: no path, options, events, timeouts, aborts,
// fallbacks, CommonJS and ES modules sharing one implementation.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';

import { Breaker, BreakerOpenError, BreakerTimeoutError } from 'breaker-wasm';

const require = createRequire(import.meta.url);

const fakeClock = (start = 0) => {
  const clock = () => clock.now;
  clock.now = start;
  return clock;
};

test('the packaged module needs no path, sync or async', async () => {
  const sync = new Breaker({ failureThreshold: 2, openTimeoutMs: 1234 });
  assert.equal(sync.status('db').config.failure_threshold, 2);
  const loaded = await Breaker.load({ openTimeoutMs: 1234 });
  assert.equal(loaded.status('db').config.open_timeout_ms, 1234);
  assert.throws(
    () => new Breaker({ failureTreshold: 2 }),
    /unknown Breaker option: failureTreshold/,
  );
});

test('require and import give the same classes', () => {
  const cjs = require('breaker-wasm');
  assert.equal(cjs.Breaker, Breaker);
  assert.ok(new cjs.Breaker() instanceof Breaker);
});

test('events: open, halfOpen, close with reasons, before the guarded call returns', async () => {
  const clock = fakeClock(1000);
  const breaker = new Breaker({ clock, failureThreshold: 2, openTimeoutMs: 500 });
  const seen = [];
  const byName = [];
  breaker.on('transition', (t) => seen.push(t));
  for (const name of ['open', 'halfOpen', 'close']) breaker.on(name, () => byName.push(name));
  const down = async () => {
    throw new Error('down');
  };
  await assert.rejects(breaker.guard('db', down), /down/);
  assert.equal(seen.length, 0);
  await assert.rejects(breaker.guard('db', down), /down/);
  assert.deepEqual(seen, [
    {
      seq: 1,
      atMs: 1000,
      service: 'db',
      from: 'closed',
      to: 'open',
      reason: '2 consecutive failures (threshold 2)',
    },
  ]);
  clock.now += 500;
  await breaker.guard('db', async () => assert.equal(seen.length, 2));
  assert.deepEqual(
    seen.map((t) => [t.from, t.to, t.reason]),
    [
      ['closed', 'open', '2 consecutive failures (threshold 2)'],
      ['open', 'half_open', 'open timeout of 500 ms elapsed'],
      ['half_open', 'closed', '1 successful probe (threshold 1)'],
    ],
  );
  assert.deepEqual(byName, ['open', 'halfOpen', 'close']);
});

test('a hung call opens the breaker after its timeout', async () => {
  const breaker = new Breaker({ failureThreshold: 2 });
  const opened = [];
  breaker.on('open', (t) => opened.push(t.reason));
  const hang = () => new Promise(() => {});
  for (let i = 0; i < 2; i++)
    await assert.rejects(breaker.guard('slow', hang, { timeoutMs: 20 }), BreakerTimeoutError);
  assert.deepEqual(opened, ['2 consecutive failures (threshold 2)']);
  await assert.rejects(breaker.guard('slow', hang, { timeoutMs: 20 }), BreakerOpenError);
});

test('an aborted call counts as a failure unless told otherwise', async () => {
  const breaker = new Breaker({ failureThreshold: 1 });
  const controller = new AbortController();
  const call = breaker.guard('db', () => new Promise(() => {}), { signal: controller.signal });
  controller.abort();
  await assert.rejects(call, { name: 'AbortError' });
  assert.equal(breaker.status('db').state, 'open');
  const lenient = new Breaker({ failureThreshold: 1 });
  const signal = AbortSignal.abort();
  const options = { signal, cancellation: 'ignored' };
  await assert.rejects(
    lenient.guard('db', async () => 1, options),
    { name: 'AbortError' },
  );
  assert.equal(lenient.status('db').state, 'closed');
});

test('fallback when rejected, and bad options are refused', async () => {
  const breaker = new Breaker();
  breaker.request({ type: 'force', service: 'db', mode: 'open' });
  let ran = false;
  const run = async () => {
    ran = true;
  };
  const value = await breaker.guard('db', run, { fallback: (e) => `cached (${e.text})` });
  assert.equal(value, 'cached (Circuit breaker OPEN)');
  assert.equal(ran, false);
  await assert.rejects(breaker.guard('db', run, { timeoutMs: 0 }), /timeoutMs/);
  await assert.rejects(breaker.guard('db', run, { cancellation: 'maybe' }), /cancellation/);
});

test('a listener that throws loses nothing: the outcome counts, the others hear', async () => {
  const breaker = new Breaker({ failureThreshold: 1 });
  const heard = [];
  breaker.on('open', () => {
    throw new Error('listener bug');
  });
  breaker.on('open', (t) => heard.push(t.to));
  breaker.once('transition', (t) => heard.push(`once ${t.to}`));
  const down = async () => {
    throw new Error('down');
  };
  await assert.rejects(breaker.guard('db', down), /listener bug/);
  assert.deepEqual(heard, ['once open', 'open']);
  assert.equal(breaker.status('db').counts.failures, 1);
  assert.equal(breaker.listenerCount('transition'), 0, 'once listeners are removed');
});

test("metrics: the module's OpenMetrics text; status shows the policy", () => {
  const breaker = new Breaker({ clock: fakeClock(1000) });
  breaker.handle({ src: 'a', dest: 'db', body: { type: 'call', force_failures: 5 } });
  const text = breaker.metrics();
  assert.ok(text.includes('breaker_state{service="db",state="open"} 1\n'), text);
  assert.ok(text.includes('breaker_calls_total{service="db",outcome="failure"} 5\n'), text);
  assert.ok(text.includes('breaker_until_probe_seconds{service="db"} 5.0\n'), text);
  assert.ok(text.endsWith('# EOF\n'));
  assert.deepEqual(breaker.status('db').policy, { open_until_ms: 6000 });
});
