// Cold-start peer: reads one protocol message on stdin, runs it through an opossum breaker
// (force_failures: n failing calls of a no-op async function; 5 consecutive failures open it)
// and prints the same reply line breaker-host prints.
//   echo '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":1,"force_failures":5}}' | node cold_opossum.mjs
import { readFileSync } from 'node:fs';
import CircuitBreaker from 'opossum';

const msg = JSON.parse(readFileSync(0, 'utf8'));
const service = msg.body.service ?? msg.dest;
const breaker = new CircuitBreaker(
  async (fail) => {
    if (fail) throw new Error('failed');
  },
  {
    timeout: false,
    resetTimeout: 5000,
    volumeThreshold: 5,
    errorThresholdPercentage: 99,
  },
);
let failures = 0;
let body = { type: 'call_ok', in_reply_to: msg.body.msg_id, service, state: 'closed' };
for (let i = 0; i < (msg.body.force_failures ?? 0); i++) {
  if (breaker.opened) break;
  try {
    await breaker.fire(true);
  } catch {
    failures++;
  }
  body = breaker.opened
    ? { type: 'circuit_breaker_open', in_reply_to: msg.body.msg_id, service, failures }
    : { type: 'call_failed', in_reply_to: msg.body.msg_id, service, state: 'closed', failures };
}
process.stdout.write(`${JSON.stringify({ src: msg.dest, dest: msg.src, body })}\n`);
breaker.shutdown();
