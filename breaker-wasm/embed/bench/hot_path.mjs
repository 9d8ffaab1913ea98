// Embedded hot path from Node: guarded decisions per second through the raw module
// (breaker.mjs), against opossum and cockatiel guarding the same no-op async function, on the
// same workload (1,000 services, 5 % failures, a fixed-seed PRNG), side by side in one run.
//
//   node hot_path.mjs [path/to/breaker.wasm] [decisions per round] [rounds]
//
// Rows (each the median of the rounds, decisions per second):
//   wasm guard       breaker.guard(service, fn): the batch path (ABI.md), awaiting fn, as
//                    opossum and cockatiel do
//   wasm wrap        breaker.wrap(service, downstream) made once per service, then called with
//                    each decision's argument (as opossum's row calls fire)
//   wasm call        breaker.handle({... type: "call" ...}): one JSON document per decision
//                    (the simulated downstream of the protocol; nothing awaited)
//   wasm batch       breaker.handleRaw(): 1,000 "call" documents per call into the module
//   opossum          new CircuitBreaker(fn).fire()
//   cockatiel        circuitBreaker(handleAll, ConsecutiveBreaker(5)).execute(fn)
import { fileURLToPath } from 'node:url';
import CircuitBreaker from 'opossum';
import { ConsecutiveBreaker, circuitBreaker, handleAll } from 'cockatiel';
import { Breaker } from 'breaker-wasm';
import { workload } from './workload.mjs';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const wasmPath = process.argv[2] ?? `${root}/target/breaker.wasm`;
const N = Number(process.argv[3] ?? 200_000);
const ROUNDS = Number(process.argv[4] ?? 5);
const BATCH = 1000;
const { names, svc, fails } = workload(N);

const boom = new Error('downstream failed');
const downstream = async (fail) => {
  if (fail) throw boom;
};
const ok = async () => {};
const bad = async () => {
  throw boom;
};

// The guard's node is not the one of the JSON rows: a message voids every grant (ABI.md), which
// would make each round's guard row pay 1,000 re-grants.
const breaker = await Breaker.load(wasmPath);
const wrapping = await Breaker.load(wasmPath);
const wrapped = names.map((name) => wrapping.wrap(name, downstream));
const messages = await Breaker.load(wasmPath);
const opossum = names.map(
  () =>
    new CircuitBreaker(downstream, {
      timeout: false,
      resetTimeout: 5000,
      volumeThreshold: 5,
      errorThresholdPercentage: 50,
    }),
);
const cockatiel = names.map(() =>
  circuitBreaker(handleAll, {
    halfOpenAfter: 5000,
    breaker: new ConsecutiveBreaker(5),
  }),
);

let msgId = 0;
const runs = {
  async 'wasm guard'() {
    for (let i = 0; i < N; i++) {
      try {
        await breaker.guard(names[svc[i]], fails[i] ? bad : ok);
      } catch {}
    }
  },
  async 'wasm wrap'() {
    for (let i = 0; i < N; i++) {
      try {
        await wrapped[svc[i]](fails[i]);
      } catch {}
    }
  },
  async 'wasm call'() {
    for (let i = 0; i < N; i++) {
      const body = fails[i]
        ? { type: 'call', msg_id: ++msgId, force_failures: 1 }
        : { type: 'call', msg_id: ++msgId };
      messages.handle({ src: 'bench', dest: names[svc[i]], body });
    }
  },
  async 'wasm batch'() {
    let answered = 0;
    for (let start = 0; start < N; start += BATCH) {
      let doc = '';
      const end = Math.min(N, start + BATCH);
      for (let i = start; i < end; i++) {
        const extra = fails[i] ? ',"force_failures":1' : '';
        doc += `{"src":"bench","dest":"${names[svc[i]]}","body":{"type":"call","msg_id":${++msgId}${extra}}}\n`;
      }
      const { replies } = messages.handleRaw(doc);
      for (let j = 0; j < replies.length; j++) if (replies[j] === 10) answered++;
    }
    if (answered !== N) throw new Error(`batch: ${answered} replies for ${N} documents`);
  },
  async opossum() {
    for (let i = 0; i < N; i++) {
      try {
        await opossum[svc[i]].fire(fails[i]);
      } catch {}
    }
  },
  async cockatiel() {
    for (let i = 0; i < N; i++) {
      try {
        await cockatiel[svc[i]].execute(fails[i] ? bad : ok);
      } catch {}
    }
  },
};

const rates = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
for (const run of Object.values(runs)) await run(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run] of Object.entries(runs)) {
    const t0 = process.hrtime.bigint();
    await run();
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    rates[name].push(N / s);
  }
}
// A guard that lost its records would still be fast: each guarded node must have every call of
// its rounds (the warm-up's too) as a success, a failure or a rejection.
for (const [row, node] of [
  ['wasm guard', breaker],
  ['wasm wrap', wrapping],
]) {
  let recorded = 0;
  let failed = 0;
  for (const name of names) {
    const { counts } = node.status(name);
    recorded += counts.successes + counts.failures + counts.rejections;
    failed += counts.failures;
  }
  if (recorded !== N * (ROUNDS + 1) || failed === 0) {
    throw new Error(
      `${row}: ${recorded} calls recorded (${failed} failures), not ${N * (ROUNDS + 1)}`,
    );
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
console.log(`node ${process.version}: ${N} decisions x ${ROUNDS} rounds, median decisions/s`);
for (const [k, v] of Object.entries(m)) console.log(`node.${k.replace(' ', '_')} ${Math.round(v)}`);
console.log(`node.ratio.guard_vs_opossum ${(m['wasm guard'] / m.opossum).toFixed(2)}`);
console.log(`node.ratio.guard_vs_cockatiel ${(m['wasm guard'] / m.cockatiel).toFixed(2)}`);
console.log(`node.ratio.wrap_vs_opossum ${(m['wasm wrap'] / m.opossum).toFixed(2)}`);
console.log(`node.ratio.wrap_vs_cockatiel ${(m['wasm wrap'] / m.cockatiel).toFixed(2)}`);
console.log(`node.ratio.batch_vs_opossum ${(m['wasm batch'] / m.opossum).toFixed(2)}`);
console.log(`node.ratio.batch_vs_cockatiel ${(m['wasm batch'] / m.cockatiel).toFixed(2)}`);
for (const b of opossum) b.shutdown();
