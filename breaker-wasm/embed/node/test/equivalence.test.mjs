// node --test: the batch path against one acquire and one record message per call.
//
// A seeded random sequence of guarded calls (outcomes, durations), clock steps, config changes
// and status reads runs through guard() and wrap() on one instance and through the two-step messages on
// another. Both must give the same events (times and reasons), status replies, snapshots and
// metrics, with the failures' texts (the last failure) in them; and each transition must reach
// the guard's listeners before the guarded call returns.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Breaker } from 'breaker-wasm';

const SERVICES = ['a', 'b', 'c'];
const CONFIGS = [
  { failure_threshold: 3 },
  { failure_threshold: 5, slow_call_ms: 40 },
  { window: { kind: 'count', size: 10, minimum_calls: 4, failure_rate: 50 } },
  {
    window: { kind: 'count', size: 8, minimum_calls: 20, failure_rate: 30 },
    slow_call_ms: 30,
    slow_call_rate: 50,
  },
  {
    window: { kind: 'time', size_ms: 500, minimum_calls: 5, failure_rate: 40 },
    open_timeout_ms: 300,
  },
];

// mulberry32: the same sequence every run.
function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = (xs) => xs[Math.floor(next() * xs.length)];
  return { next, pick };
}

const fakeClock = (start) => {
  const clock = () => clock.now;
  clock.now = start;
  return clock;
};

class Skipped extends Error {}

/**
 * What a failing call throws, and its text as "What a guard records" (ABI.md) fixes it, which the
 * two-step side passes as the record's error: an Error, a thrown string, an object whose
 * conversion throws, a text beyond 256 characters (cut), one of two-byte characters (which the
 * module cuts to 256 bytes).
 */
function thrown(pick, step) {
  const long = `${'x'.repeat(300)}${step}`;
  const wide = `${'é'.repeat(200)}${step}`;
  return pick([
    () => [new Error(`down ${step}`), `Error: down ${step}`],
    () => [`refused ${step}`, `refused ${step}`],
    () => [{ toString: () => ({}), step }, '[object Object]'],
    () => [new Error(long), `Error: ${long}`.slice(0, 256)],
    () => [new TypeError(wide), `TypeError: ${wide}`.slice(0, 256)],
  ])();
}

/** Replies alike but for in_reply_to (the two instances number messages apart). */
const same = (a, b) => assert.deepEqual({ ...a, in_reply_to: 0 }, { ...b, in_reply_to: 0 });

// Calls without options take guard()'s common path, or a function wrapped once per service
// (wrap() holds the service's handle); with the ignore option, the general path. Half the calls
// return a promise, half return or throw at once.
async function guardedCall(breaker, wrapped, clock, service, kind, ms, error, sync, viaWrap) {
  const options = kind === 'ignored' ? { ignore: (e) => e instanceof Skipped } : undefined;
  const call = () => {
    clock.now += ms;
    if (kind === 'failure') throw error;
    if (kind === 'ignored') throw new Skipped('not counted');
  };
  const fn = sync ? call : async () => call();
  const done =
    viaWrap && options === undefined ? wrapped[service](fn) : breaker.guard(service, fn, options);
  await done.catch(() => {});
}

function twoStepCall(breaker, clock, service, kind, ms, text) {
  let permit;
  try {
    permit = breaker.acquire(service);
  } catch {
    return;
  }
  const started = clock.now;
  clock.now += ms;
  breaker.record(service, permit, kind, clock.now - started, undefined, text);
}

async function run(seed, steps) {
  const { next, pick } = rng(seed);
  const clocks = [fakeClock(1000), fakeClock(1000)];
  const fast = new Breaker({ clock: clocks[0] });
  const slow = new Breaker({ clock: clocks[1] });
  const wrapped = Object.fromEntries(SERVICES.map((name) => [name, fast.wrap(name, (fn) => fn())]));
  const seen = [[], []];
  let withText = 0; // status replies compared with a last failure in them
  fast.on('transition', (t) => seen[0].push(t));
  slow.on('transition', (t) => seen[1].push(t));
  for (let step = 0; step < steps; step++) {
    const roll = next();
    if (roll < 0.8) {
      const service = pick(SERVICES);
      const kind = pick(['success', 'success', 'success', 'failure', 'failure', 'ignored']);
      const ms = pick([0, 1, 5, 35, 60]);
      const [error, text] = kind === 'failure' ? thrown(pick, step) : [];
      const how = [next() < 0.5, next() < 0.5];
      await guardedCall(fast, wrapped, clocks[0], service, kind, ms, error, ...how);
      twoStepCall(slow, clocks[1], service, kind, ms, text);
      // Before the guarded call returned, its transitions reached the listeners.
      assert.deepEqual(seen[0], seen[1], `seed ${seed}, step ${step}`);
    } else if (roll < 0.9) {
      const ms = pick([1, 50, 200, 400]);
      clocks[0].now += ms;
      clocks[1].now += ms;
    } else if (roll < 0.95) {
      const config = pick(CONFIGS);
      const service = pick([undefined, ...SERVICES]);
      same(fast.configure(config, service), slow.configure(config, service));
    } else {
      const service = pick(SERVICES);
      const status = fast.status(service);
      same(status, slow.status(service));
      if (status.last_failure !== undefined) withText++;
    }
  }
  assert.deepEqual(seen[0], seen[1]);
  assert.deepEqual(fast.snapshot(), slow.snapshot());
  same(fast.status(), slow.status());
  // Slow and ignored calls are counted for metrics however they were recorded.
  assert.equal(fast.metrics(), slow.metrics());
  assert.ok(seen[0].length > 10, 'the sequence should move the breakers');
  assert.ok(withText > 3, 'the sequence should compare statuses with a last failure');
}

for (let seed = 0; seed < 8; seed++) {
  test(`the batch path and the messages agree (seed ${seed})`, () => run(seed, 600));
}
