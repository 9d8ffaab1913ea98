// A typed use of the package, checked with tsc --strict by embed/test.sh.
import { Breaker, type BreakerOpenError, type Transition } from 'breaker-wasm';

const breaker = new Breaker({ failureThreshold: 3, openTimeoutMs: 1000 });
breaker.on('open', (t: Transition) => console.log(t.service, t.reason, t.atMs));

async function stock(): Promise<number> {
  const count: number | 'unknown' = await breaker.guard('inventory', async () => 42, {
    timeoutMs: 500,
    fallback: (e: BreakerOpenError) => (e.retryAfterMs === null ? 'unknown' : 'unknown'),
  });
  return typeof count === 'number' ? count : -1;
}

const users = new Breaker({ service: 'users' });
const fetchUser: (id: number) => Promise<{ id: number } | null> = users.wrap(
  async (id: number) => ({ id }),
  { fallback: () => null },
);
const byName: () => Promise<string> = breaker.wrap('inventory', () => 'sync');

const status = breaker.status('inventory');
const state: 'closed' | 'open' | 'half_open' = status.state;
const failures: number = status.counts.failures;
const threshold: number = status.config.failure_threshold;
const why: string | undefined = status.last_failure?.error;
const permit: number = breaker.acquire('inventory');
const recorded: 'closed' | 'open' | 'half_open' = breaker.record(
  'inventory',
  permit,
  'failure',
  12,
  undefined,
  'Error: connection refused',
).state;
const all = breaker.status();
const names: string[] = all.services.map((s) => s.service);
console.log(
  state,
  failures,
  threshold,
  why,
  recorded,
  names,
  await stock(),
  await fetchUser(1),
  await byName(),
);
