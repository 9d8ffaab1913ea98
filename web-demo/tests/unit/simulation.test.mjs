// The simulation without a browser: the seeded downstream, the clock, the call counts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as simulation from '../../src/simulation.js';

/** A stub breaker: records every call and answers call_ok (or what `answer` says). */
function recorder(sim, answer = () => ({ type: 'call_ok', state: 'closed' })) {
  const calls = [];
  const call = (service, body) => {
    calls.push({ service, body, at: sim.now });
    return answer(service, body);
  };
  return { calls, call };
}

test('the PRNG is a pure function of its seed', () => {
  const draw = (seed) => {
    const p = new simulation.Prng(seed);
    return Array.from({ length: 5 }, () => p.next());
  };
  assert.deepEqual(draw(42), draw(42));
  assert.notDeepEqual(draw(42), draw(43));
  for (const x of draw(7)) assert.ok(x >= 0 && x < 1);
  // Its whole state is one integer: carrying on from it continues the same sequence.
  const p = new simulation.Prng(42);
  p.next();
  const q = new simulation.Prng(p.state);
  assert.equal(q.next(), draw(42)[1]);
});

test('one simulated second makes each service’s calls at their own times, in order', () => {
  const sim = simulation.freshSim();
  const { calls, call } = recorder(sim);
  simulation.advance(sim, 1000, call);
  assert.equal(sim.now, 1000);
  const per = (name) => calls.filter((c) => c.service === name).length;
  assert.deepEqual([per('payments'), per('inventory'), per('search')], [4, 3, 5]);
  const times = calls.map((c) => c.at);
  assert.deepEqual(
    times,
    [...times].sort((a, b) => a - b),
  );
  assert.equal(calls.find((c) => c.service === 'payments').at, 87);
});

test('the same seed and the same steps give the same calls; another seed does not', () => {
  const run = (seed) => {
    const sim = simulation.freshSim(seed);
    const { calls, call } = recorder(sim);
    for (let i = 0; i < 10; i++) simulation.advance(sim, 700, call);
    return calls;
  };
  assert.deepEqual(run(1), run(1));
  assert.notDeepEqual(
    run(1).map((c) => c.body),
    run(2).map((c) => c.body),
  );
});

test('the failure probability decides how many calls fail', () => {
  const sim = simulation.freshSim();
  for (const svc of sim.services) simulation.setRate(sim, svc, 0);
  const svc = simulation.findService(sim, 'search');
  svc.failPct = 100;
  simulation.setRate(sim, svc, 10);
  const { calls, call } = recorder(sim);
  simulation.advance(sim, 2000, call);
  assert.equal(calls.length, 20);
  assert.ok(calls.every((c) => c.body.force_failures === 1 && c.body.duration_ms >= 1));
  svc.failPct = 0;
  calls.length = 0;
  simulation.advance(sim, 2000, call);
  assert.ok(calls.every((c) => c.body.force_success === true));
});

test('replies are counted per second by outcome', () => {
  const sim = simulation.freshSim();
  sim.now = 3500;
  simulation.countReply(sim, 'payments', { type: 'call_ok' }, 1);
  simulation.countReply(sim, 'payments', { type: 'call_failed', failures: 2 }, 1);
  simulation.countReply(sim, 'payments', { type: 'circuit_breaker_open', rejected: 3 }, 5);
  simulation.countReply(sim, 'payments', { type: 'error', error: 'Circuit breaker OPEN' }, 1);
  simulation.countReply(sim, 'payments', { type: 'error', code: 12, text: 'bad' }, 1);
  assert.deepEqual(sim.buckets.payments.get(3), [1, 3, 4]);
  assert.equal(sim.buckets.payments.size, 1);
});

test('counts older than the kept window are dropped as the clock moves', () => {
  const sim = simulation.freshSim();
  const { call } = recorder(sim);
  simulation.advance(sim, 5000, call);
  assert.ok(sim.buckets.payments.has(0));
  simulation.advance(sim, (simulation.BUCKET_KEEP_S + 1) * 1000, call);
  assert.ok(!sim.buckets.payments.has(0));
  assert.ok(sim.buckets.payments.has(Math.floor(sim.now / 1000) - 1));
});

test('a playing clock carries the fraction of a millisecond to the next frame', () => {
  let carry = 0;
  let total = 0;
  for (let i = 0; i < 6; i++) {
    const [ms, c] = simulation.clockStep(16.5, 0.25, carry);
    assert.ok(Number.isInteger(ms));
    total += ms;
    carry = c;
  }
  assert.equal(total + carry, 6 * 16.5 * 0.25);
  // A long pause (a background tab) moves the clock by at most 250 ms of wall time.
  assert.deepEqual(simulation.clockStep(60000, 2, 0), [500, 0]);
});

test('services are added with checks and removed with the selection moving on', () => {
  const sim = simulation.freshSim();
  assert.equal(simulation.addService(sim, '  '), 'Enter a name.');
  assert.equal(simulation.addService(sim, 'payments'), 'payments is already there.');
  assert.equal(simulation.addService(sim, 'é'.repeat(129)), 'At most 256 bytes.');
  assert.equal(simulation.addService(sim, ' shipping '), null);
  assert.equal(sim.selected, 'shipping');
  assert.equal(simulation.findService(sim, 'shipping').rate, 2);
  assert.ok(sim.buckets.shipping instanceof Map);
  sim.selected = 'inventory';
  assert.ok(simulation.removeService(sim, 'inventory'));
  assert.equal(sim.selected, 'search');
  assert.equal(sim.buckets.inventory, undefined);
  assert.ok(!simulation.removeService(sim, 'inventory'));
  assert.ok(simulation.adoptService(sim, 'service-b'));
  assert.ok(!simulation.adoptService(sim, 'service-b'));
  assert.equal(simulation.findService(sim, 'service-b').rate, 0);
});

test('re-seeding starts the downstream over', () => {
  const sim = simulation.freshSim();
  const svc = simulation.findService(sim, 'search');
  const first = simulation.drawCall(sim, svc);
  simulation.drawCall(sim, svc);
  simulation.reseed(sim, simulation.DEFAULT_SEED);
  assert.deepEqual(simulation.drawCall(sim, svc), first);
});
