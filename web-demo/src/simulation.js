// The simulation: a seeded downstream per service and the simulated clock. Pure: no DOM and no
// core; a call to the breaker goes through the `call(service, body)` function it is given, so a
// test can drive it with a stub.

export const DEFAULT_SEED = 20240601;
export const DEFAULT_SERVICES = [
  { name: 'payments', failPct: 5, latency: 120, rate: 4 },
  { name: 'inventory', failPct: 20, latency: 40, rate: 3 },
  { name: 'search', failPct: 45, latency: 250, rate: 5 },
];
/** How many simulated seconds of call counts are kept per service. */
export const BUCKET_KEEP_S = 90;

/** mulberry32: a small seeded PRNG whose whole state is one 32-bit integer. */
export class Prng {
  constructor(state) {
    this.state = state >>> 0;
  }
  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/**
 * A new simulation: the clock at 0 and playing, the default services with their first calls
 * spread out. `buckets` maps a service to Map(second → [successes, failures, rejections]).
 */
export function freshSim(seed = DEFAULT_SEED) {
  const services = DEFAULT_SERVICES.map((s, i) => ({
    ...s,
    nextAt: s.rate > 0 ? (1000 / s.rate) * (0.35 + 0.2 * i) : null,
  }));
  const buckets = Object.fromEntries(services.map((s) => [s.name, new Map()]));
  return {
    now: 0,
    playing: true,
    speed: 1,
    step: 1000,
    seed,
    rng: seed,
    selected: 'payments',
    services,
    buckets,
  };
}

export function findService(sim, name) {
  return sim.services.find((s) => s.name === name) ?? null;
}

/** Sets a service's traffic rate (calls per simulated second); the next call is one period away. */
export function setRate(sim, svc, rate) {
  svc.rate = rate;
  svc.nextAt = rate > 0 ? sim.now + 1000 / rate : null;
}

/** Starts the downstream's outcomes over from `seed`. */
export function reseed(sim, seed) {
  sim.seed = seed >>> 0;
  sim.rng = sim.seed;
}

function tally(sim, service, ok, fail, rej) {
  sim.buckets[service] ??= new Map();
  const m = sim.buckets[service];
  const sec = Math.floor(sim.now / 1000);
  const b = m.get(sec) ?? [0, 0, 0];
  b[0] += ok;
  b[1] += fail;
  b[2] += rej;
  m.set(sec, b);
}

/** Counts a call's reply in the current second; `attempts` is how many downstream calls it asked for. */
export function countReply(sim, service, reply, attempts) {
  switch (reply?.type) {
    case 'call_ok':
    case 'circuit_breaker_closed':
      tally(sim, service, 1, 0, 0);
      break;
    case 'call_failed':
      tally(sim, service, 0, attempts, 0);
      break;
    case 'circuit_breaker_open': {
      const rejected = reply.rejected ?? 0;
      tally(sim, service, 0, Math.max(0, attempts - rejected), rejected);
      break;
    }
    case 'error':
      // A rejection by the breaker has `error`; a protocol error (`code`) is not a call.
      if (reply.error) tally(sim, service, 0, 0, 1);
      break;
  }
}

/** The request for one call to `svc`, its outcome drawn from the seeded downstream. */
export function drawCall(sim, svc) {
  const prng = new Prng(sim.rng);
  const fails = prng.next() * 100 < svc.failPct;
  const duration = Math.max(1, Math.round(svc.latency * (0.6 + 0.8 * prng.next())));
  sim.rng = prng.state;
  return fails
    ? { type: 'call', force_failures: 1, duration_ms: duration }
    : { type: 'call', force_success: true, duration_ms: duration };
}

/** One call to `svc` through `call`, counted on the timeline; returns the reply. */
export function simulatedCall(sim, svc, call) {
  const reply = call(svc.name, drawCall(sim, svc));
  countReply(sim, svc.name, reply, 1);
  return reply;
}

/** Moves the clock on by `dt` ms, making every scheduled call at its own time, in time order. */
export function advance(sim, dt, call) {
  const target = sim.now + dt;
  for (;;) {
    let next = null;
    for (const svc of sim.services) {
      if (svc.rate > 0 && svc.nextAt != null && svc.nextAt <= target) {
        if (!next || svc.nextAt < next.nextAt) next = svc;
      }
    }
    if (!next) break;
    sim.now = Math.max(sim.now, Math.floor(next.nextAt));
    simulatedCall(sim, next, call);
    next.nextAt += 1000 / next.rate;
  }
  sim.now = target;
  pruneBuckets(sim);
}

/**
 * How far a playing clock moves for `realMs` of wall time at `speed`: whole milliseconds, with
 * the fraction carried to the next frame. Returns [advance, carry].
 */
export function clockStep(realMs, speed, carry) {
  const total = carry + Math.min(250, Math.max(0, realMs)) * speed;
  const whole = Math.floor(total);
  return [whole, total - whole];
}

export function pruneBuckets(sim) {
  const oldest = Math.floor(sim.now / 1000) - BUCKET_KEEP_S;
  for (const m of Object.values(sim.buckets)) {
    for (const k of m.keys()) if (k < oldest) m.delete(k);
  }
}

/** Adds a service with a mildly failing downstream and selects it; returns an error text or null. */
export function addService(sim, name) {
  const n = name.trim();
  if (!n) return 'Enter a name.';
  if (new TextEncoder().encode(n).length > 256) return 'At most 256 bytes.';
  if (findService(sim, n)) return `${n} is already there.`;
  const svc = { name: n, failPct: 10, latency: 80, rate: 0, nextAt: null };
  setRate(sim, svc, 2);
  sim.services.push(svc);
  sim.buckets[n] ??= new Map();
  sim.selected = n;
  return null;
}

/** Adds a service without traffic of its own (one a replayed transcript created), if missing. */
export function adoptService(sim, name) {
  if (findService(sim, name)) return false;
  sim.services.push({ name, failPct: 0, latency: 50, rate: 0, nextAt: null });
  sim.buckets[name] ??= new Map();
  return true;
}

/** Removes a service; the selection moves to its neighbour. Returns false if it was not there. */
export function removeService(sim, name) {
  const i = sim.services.findIndex((s) => s.name === name);
  if (i < 0) return false;
  sim.services.splice(i, 1);
  delete sim.buckets[name];
  if (sim.selected === name) {
    sim.selected = sim.services[Math.min(i, sim.services.length - 1)]?.name ?? null;
  }
  return true;
}
