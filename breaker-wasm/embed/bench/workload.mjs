// The embedded benchmarks' workload: n calls over 1,000 services, 5 % of them failing, from a
// fixed-seed PRNG (mulberry32), so every run and every script sees the same calls.
export const SERVICES = 1000;

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The service names, and for each of n calls its service index and whether it fails. */
export function workload(n) {
  const next = rng(42);
  const names = Array.from({ length: SERVICES }, (_, i) => `svc-${i}`);
  const svc = new Uint16Array(n);
  const fails = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    svc[i] = Math.floor(next() * SERVICES);
    fails[i] = next() < 0.05 ? 1 : 0;
  }
  return { names, svc, fails };
}
