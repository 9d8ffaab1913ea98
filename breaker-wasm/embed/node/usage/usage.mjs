// ES module use of the installed package, run by embed/test.sh.
import { Breaker, BreakerOpenError } from 'breaker-wasm';

const breaker = await Breaker.load({ failureThreshold: 1 });
await breaker.guard('db', () => Promise.reject(new Error('down'))).catch(() => {});
const rejected = await breaker.guard('db', () => 'never').catch((e) => e);
if (!(rejected instanceof BreakerOpenError)) throw new Error('expected a rejection');
console.log(`esm: ${rejected.text}`);
