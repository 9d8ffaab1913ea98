// A circuit breaker protecting a real HTTP downstream on 127.0.0.1.
//
// Starts a small HTTP server on a free port that fails (503) on demand, then calls it through
// breaker.guard(): the breaker opens after 3 failures, fails fast while open, lets a probe through
// after 1 s (which fails while the server is still down, re-opening it), and closes on the first
// successful probe once the server has recovered. Every transition is printed.
//
//   npm install target/dist/breaker-wasm-*.tgz && node example.mjs
import { createServer } from 'node:http';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import { Breaker, BreakerOpenError } from 'breaker-wasm';

const SERVICE = 'inventory';

let failing = false;
let hits = 0;
const server = createServer((_req, res) => {
  hits++;
  if (failing) res.writeHead(503).end('unavailable\n');
  else res.writeHead(200).end('42 widgets\n');
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const url = `http://127.0.0.1:${server.address().port}/stock`;
console.log(`downstream listening on ${url}`);

const breaker = new Breaker({ failureThreshold: 3, openTimeoutMs: 1000 }); // the packaged module
breaker.on('transition', (t) => console.log(`  TRANSITION ${t.from} -> ${t.to} (${t.reason})`));

class HttpError extends Error {}
const getStock = breaker.wrap(SERVICE, async () => {
  const response = await fetch(url);
  const text = (await response.text()).trim();
  if (!response.ok) throw new HttpError(`HTTP ${response.status}`);
  return text;
});

async function attempt(label) {
  try {
    console.log(`${label}: ok, ${await getStock()}`);
  } catch (e) {
    if (e instanceof BreakerOpenError)
      console.log(
        `${label}: failed fast, breaker open (retry after ${e.retryAfterMs} ms; downstream not called)`,
      );
    else if (e instanceof HttpError) console.log(`${label}: downstream error ${e.message}`);
    else throw e;
  }
}

const started = performance.now();
for (let i = 1; i <= 2; i++) await attempt(`call ${i}`);
console.log('-- the downstream starts failing');
failing = true;
for (let i = 3; i <= 7; i++) await attempt(`call ${i}`);
console.log(`   (the downstream saw ${hits} requests for 7 calls)`);

await sleep(1050);
await attempt('probe 1 (still down)');
console.log('-- the downstream recovers');
failing = false;
await attempt('call while open');
await sleep(1050);
await attempt('probe 2');
await attempt('call after closing');
console.log(
  `state: ${breaker.status(SERVICE).state}, ${((performance.now() - started) / 1000).toFixed(1)} s`,
);
server.close();
server.closeAllConnections?.();
