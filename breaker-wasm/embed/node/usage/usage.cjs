// CommonJS use of the installed package, run by embed/test.sh.
const { Breaker, BreakerOpenError } = require('breaker-wasm');

const breaker = new Breaker({ failureThreshold: 1 });
breaker
  .guard('db', () => {
    throw new Error('down');
  })
  .catch(() => breaker.guard('db', () => 'never'))
  .catch((e) => {
    if (!(e instanceof BreakerOpenError)) throw e;
    console.log(`cjs: ${e.text}`);
  });
