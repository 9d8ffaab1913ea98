// Where a guarded call's time goes from Node: the hot path's workload (1,000 services, 5 %
// failures, a fixed-seed PRNG, one call at a time) through wrappers that each add one part of
// what breaker.guard(service, fn) has to do, beside guard itself and cockatiel, side by side in
// one run (rounds alternating, medians). Each round is timed in CPU time (process.cpuUsage, all
// threads), not wall time: on a shared machine, time spent waiting for a core is not the call's.
// The figure is ns per call.
//
//   node guard_floor.mjs [path/to/breaker.wasm] [calls per round] [rounds]
//
// Rows, each including the ones above it:
//   bare         await fn(): the guarded function and the loop, no wrapper
//   reaction     one reaction on fn's promise that the caller's await waits for (a wrapper
//                must know the outcome before its caller resumes)
//   clocks       + Date.now() before fn and in the reaction (the acquire's and the record's time)
//   lookup       + the service's handle found by name in a Map (guard takes a name)
//   guard        breaker.guard(service, fn): + the log entry, and the module's replay of it
//   wrap         breaker.wrap(service, downstream) made once per service (it holds the service's
//                handle: no lookup by name), called with each call's argument
//   wrap, clock stubbed   the same on a node whose clock option returns a constant: what the
//                call costs without its two clock reads (not a real setting; it shows their
//                share)
//   cockatiel    circuitBreaker(handleAll, ConsecutiveBreaker(5)).execute(fn)
import { fileURLToPath } from 'node:url';
import { ConsecutiveBreaker, circuitBreaker, handleAll } from 'cockatiel';
import { Breaker } from 'breaker-wasm';
import { workload } from './workload.mjs';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const wasmPath = process.argv[2] ?? `${root}/target/breaker.wasm`;
const N = Number(process.argv[3] ?? 200_000);
const ROUNDS = Number(process.argv[4] ?? 9);
const { names, svc, fails } = workload(N);

const boom = new Error('downstream failed');
const ok = async () => {};
const bad = async () => {
  throw boom;
};

// What the wrappers compute goes here, so none of it is optimised away.
let sink = 0;
const handles = new Map(names.map((name, i) => [name, { slot: i, calls: 0 }]));
const wrappers = {
  reaction: (_service, fn) =>
    fn().then(
      (value) => value,
      (error) => {
        throw error;
      },
    ),
  clocks: (_service, fn) => {
    const started = Date.now();
    return fn().then(
      (value) => {
        sink += Date.now() - started;
        return value;
      },
      (error) => {
        sink += Date.now() - started;
        throw error;
      },
    );
  },
  lookup: (service, fn) => {
    const h = handles.get(service);
    const started = Date.now();
    return fn().then(
      (value) => {
        h.calls += Date.now() - started;
        return value;
      },
      (error) => {
        h.calls += Date.now() - started;
        throw error;
      },
    );
  },
};

const breaker = await Breaker.load(wasmPath);
const downstream = async (fail) => {
  if (fail) throw boom;
};
const wrapping = await Breaker.load(wasmPath);
const wrapped = names.map((name) => wrapping.wrap(name, downstream));
const stubbed = await Breaker.load(wasmPath, { clock: () => 1_000_000 });
const wrappedStubbed = names.map((name) => stubbed.wrap(name, downstream));
const cockatiel = names.map(() =>
  circuitBreaker(handleAll, { halfOpenAfter: 5000, breaker: new ConsecutiveBreaker(5) }),
);

const through = (wrap) => async () => {
  for (let i = 0; i < N; i++) {
    try {
      await wrap(names[svc[i]], fails[i] ? bad : ok);
    } catch {}
  }
};
const runs = {
  async bare() {
    for (let i = 0; i < N; i++) {
      try {
        await (fails[i] ? bad : ok)();
      } catch {}
    }
  },
  reaction: through(wrappers.reaction),
  clocks: through(wrappers.clocks),
  lookup: through(wrappers.lookup),
  guard: through((service, fn) => breaker.guard(service, fn)),
  async wrap() {
    for (let i = 0; i < N; i++) {
      try {
        await wrapped[svc[i]](fails[i]);
      } catch {}
    }
  },
  async 'wrap, clock stubbed'() {
    for (let i = 0; i < N; i++) {
      try {
        await wrappedStubbed[svc[i]](fails[i]);
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

const ns = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
for (const run of Object.values(runs)) await run(); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, run] of Object.entries(runs)) {
    const before = process.cpuUsage();
    await run();
    const used = process.cpuUsage(before);
    ns[name].push(((used.user + used.system) * 1000) / N);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const m = Object.fromEntries(Object.entries(ns).map(([k, v]) => [k, median(v)]));
console.log(`node ${process.version}: ${N} calls x ${ROUNDS} rounds, median CPU ns per call`);
// The rows down to guard each add one part to the one above: the step is printed beside them.
const STEPS = ['bare', 'reaction', 'clocks', 'lookup', 'guard'];
for (const [k, v] of Object.entries(m)) {
  const at = STEPS.indexOf(k);
  const step = at > 0 ? ` (+${(v - m[STEPS[at - 1]]).toFixed(0)})` : '';
  console.log(`floor.${k.replaceAll(/[ ,]+/g, '_')} ${v.toFixed(0)}${step}`);
}
console.log(`floor.cockatiel_over_bare ${(m.cockatiel - m.bare).toFixed(0)}`);
console.log(`floor.guard_over_bare ${(m.guard - m.bare).toFixed(0)}`);
console.log(`floor.ratio.guard_vs_cockatiel ${(m.cockatiel / m.guard).toFixed(2)}`);
console.log(`floor.ratio.wrap_vs_cockatiel ${(m.cockatiel / m.wrap).toFixed(2)}`);
const free = m['wrap, clock stubbed'];
console.log(`floor.ratio.wrap_clock_stubbed_vs_cockatiel ${(m.cockatiel / free).toFixed(2)}`);
if (sink < 0) console.log(sink);
