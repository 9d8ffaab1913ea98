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

for (const known of [false, true]) {
  const which = known ? 'a service with a grant' : 'a first call';
  test(`a listener that throws loses nothing: the outcome counts, the others hear (${which})`, async () => {
    const breaker = new Breaker({ failureThreshold: 1 });
    if (known) await breaker.guard('db', async () => 'up'); // later calls of db stay local
    await listenerThrows(breaker, known ? 1 : 0);
  });
}

async function listenerThrows(breaker, successes) {
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
  assert.deepEqual(breaker.status('db').counts, {
    successes,
    failures: 1,
    rejections: 0,
    opened: 1,
  });
  assert.equal(breaker.listenerCount('transition'), 0, 'once listeners are removed');
}

test('guard returns a promise and never throws, whatever fn does or the clock does', async () => {
  const clock = fakeClock(1000);
  const breaker = new Breaker({ clock });
  const boom = () => {
    throw new Error('thrown at once');
  };
  const cases = [
    [boom, /thrown at once/],
    [() => 'a plain value', 'a plain value'],
    // biome-ignore lint/suspicious/noThenProperty: what guard does with a thenable is the case
    [() => ({ then: (resolve) => resolve('a thenable') }), 'a thenable'],
    [async () => 'a promise', 'a promise'],
  ];
  // The first call of a service takes the general path, the next ones the common one (no
  // options, within the grant); a timeout takes the general path again.
  for (const options of [undefined, undefined, { timeoutMs: 1000 }]) {
    for (const [fn, want] of cases) {
      const result = breaker.guard('db', fn, options);
      assert.ok(result instanceof Promise);
      if (want instanceof RegExp) await assert.rejects(result, want);
      else assert.equal(await result, want);
    }
  }
  assert.deepEqual(breaker.status('db').counts, {
    successes: 9,
    failures: 3,
    rejections: 0,
    opened: 0,
  });
  // A call that throws at once is recorded before guard returns, on either path.
  for (const service of ['db', 'fresh']) {
    const pending = breaker.guard(service, boom);
    assert.equal(breaker.status(service).counts.failures, service === 'db' ? 4 : 1);
    await assert.rejects(pending, /thrown at once/);
  }
  // A clock that throws: the guard rejects with its error, and fn does not run.
  let broken = false;
  const failing = () => {
    if (broken) throw new Error('the clock broke');
    return 1000;
  };
  const other = new Breaker({ clock: failing });
  await other.guard('db', async () => 1);
  broken = true;
  let ran = false;
  const result = other.guard('db', async () => {
    ran = true;
  });
  assert.ok(result instanceof Promise);
  await assert.rejects(result, /the clock broke/);
  assert.equal(ran, false);
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
