// node --test: a guarded call's failure becomes the breaker's last failure, with the text that
// ABI.md's "What a guard records" fixes, on the batch path and, for a module without
// breaker_failure_texts, on the messages.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { Breaker, BreakerError, BreakerTimeoutError, ProtocolError } from 'breaker-wasm';
import { withExports } from './exports.mjs';
import { WASM } from './paths.mjs';

const fakeClock = (start = 0) => {
  const clock = () => clock.now;
  clock.now = start;
  return clock;
};

const OLDER = new WebAssembly.Module(
  withExports(readFileSync(WASM), (exports) =>
    exports.filter((e) => e.name !== 'breaker_failure_texts'),
  ),
);

/** A breaker of the packaged module (the batch path), or of one without the texts' export. */
function breakerOn(path, options) {
  const breaker = path === 'batch' ? new Breaker(options) : new Breaker(OLDER, options);
  assert.equal(breaker._batch === null, path === 'messages');
  return breaker;
}

/** String(value), or the tag of a value String cannot convert. */
function safeString(value) {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

const fails = (value) => () => {
  throw value;
};
const rejects = (value) => async () => {
  throw value;
};

/** The last failure of service after guard(service, fn, options), which must reject. */
async function lastAfter(breaker, fn, options, service = 'db') {
  const settled = await breaker.guard(service, fn, options).then(
    () => 'resolved',
    () => 'rejected', // not assert.rejects: it cannot look at a revoked Proxy
  );
  assert.equal(settled, 'rejected');
  return breaker.status(service).last_failure;
}

const cases = [
  ['an Error with a message', new Error('connection refused'), 'Error: connection refused'],
  ['an Error subclass', new RangeError('bad port'), 'RangeError: bad port'],
  ['an Error without a message', new Error(), 'Error'],
  ['a thrown string', 'just text', 'just text'],
  ['a thrown number', 42, '42'],
  ['undefined', undefined, 'undefined'],
  ['an object', { code: 7 }, '[object Object]'],
  ['an object that cannot be converted', Object.create(null), '[object Object]'],
  ['a lone surrogate', new Error('a\ud800b'), 'Error: a\ufffdb'],
  // As String() prints them: the error's own name, toString or Symbol.toPrimitive when it has one.
  ['an Error named ""', Object.assign(new Error('bare'), { name: '' }), 'bare'],
  [
    'an Error with an object message',
    new Error({ toString: () => 'from toString' }),
    'Error: from toString',
  ],
  ['a DOMException', new DOMException('gone', 'NetworkError'), 'NetworkError: gone'],
  ['its own toString', Object.assign(new Error('m'), { toString: () => 'custom' }), 'custom'],
  [
    'Symbol.toPrimitive',
    Object.assign(new Error('m'), { [Symbol.toPrimitive]: () => 'prim' }),
    'prim',
  ],
  [
    'an error-like object',
    { name: 'Odd', message: 'one', toString: Error.prototype.toString },
    'Odd: one',
  ],
  ['a Symbol name', Object.assign(new Error('m'), { name: Symbol('s') }), '[object Error]'],
  ['a revoked Proxy', revoked(), '[object Object]'],
];

/** A Proxy revoked: String() and Object.prototype.toString both throw on it. */
function revoked() {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}

for (const path of ['batch', 'messages']) {
  test(`a failure's text is the breaker's last failure (${path})`, async () => {
    const clock = fakeClock(1000);
    const breaker = breakerOn(path, { clock, failureThreshold: 1000 });
    for (const [what, value, text] of cases) {
      if (!['a lone surrogate', 'a revoked Proxy'].includes(what))
        assert.equal(text, safeString(value), what);
      for (const fn of [fails(value), rejects(value)]) {
        clock.now += 10;
        const at = clock.now + 2; // the record's time, not the start's
        const call = () => {
          clock.now += 2;
          return fn();
        };
        assert.deepEqual(await lastAfter(breaker, call), { at_ms: at, error: text }, what);
      }
    }
    assert.equal(breaker.status('db').counts.failures, cases.length * 2);
  });

  test(`a timeout's and a counted abort's text (${path})`, async () => {
    const breaker = breakerOn(path, { failureThreshold: 1000 });
    const hang = () => new Promise(() => {});
    const timedOut = await lastAfter(breaker, hang, { timeoutMs: 5 });
    const timeout = new BreakerTimeoutError('db', 5);
    assert.equal(timedOut.error, String(timeout));
    assert.equal(
      timedOut.error,
      'BreakerTimeoutError: the call to "db" did not settle within 5 ms',
    );
    const aborted = await lastAfter(breaker, hang, { signal: AbortSignal.abort() });
    assert.equal(aborted.error, 'AbortError: This operation was aborted');
    const why = new Error('the user left');
    const left = await lastAfter(breaker, hang, { signal: AbortSignal.abort(why) });
    assert.equal(left.error, 'Error: the user left');
  });

  test(`an ignored outcome leaves the last failure as it was (${path})`, async () => {
    const clock = fakeClock(1000);
    const breaker = breakerOn(path, { clock, failureThreshold: 1000 });
    const first = await lastAfter(breaker, rejects(new Error('first')));
    assert.deepEqual(first, { at_ms: 1000, error: 'Error: first' });
    clock.now += 10;
    class Excluded extends Error {}
    const ignore = (e) => e instanceof Excluded;
    assert.deepEqual(await lastAfter(breaker, rejects(new Excluded('no')), { ignore }), first);
    const signal = AbortSignal.abort();
    const lenient = { signal, cancellation: 'ignored' };
    assert.deepEqual(await lastAfter(breaker, () => new Promise(() => {}), lenient), first);
    await breaker.guard('db', async () => 'up');
    assert.deepEqual(breaker.status('db').last_failure, first, 'a success keeps it too');
    assert.equal(breaker.status('db').counts.failures, 1);
  });

  test(`a long text is cut to 256 characters, then to 256 bytes (${path})`, async () => {
    const breaker = breakerOn(path, { failureThreshold: 1000 });
    const ascii = await lastAfter(breaker, rejects(new Error('x'.repeat(300))));
    assert.equal(ascii.error, `Error: ${'x'.repeat(249)}`);
    // Two bytes each: the module keeps whole characters within 256 bytes.
    const wide = await lastAfter(breaker, rejects(new Error('é'.repeat(300))));
    assert.equal(wide.error, `Error: ${'é'.repeat(124)}`);
    // The 256th UTF-16 unit starts a pair: the cut keeps the pair whole (no lone surrogate).
    const pairs = await lastAfter(breaker, rejects(new Error('😀'.repeat(200))));
    assert.equal(pairs.error, `Error: ${'😀'.repeat(62)}`);
  });

  test(`the texts of many failures in one batch, each service its own (${path})`, async () => {
    const breaker = breakerOn(path, { failureThreshold: 1000 });
    // 300 texts of 200 characters, some of them two bytes each: more than any first buffer.
    for (let i = 0; i < 300; i++) {
      const service = i % 2 === 0 ? 'even' : 'odd';
      const text = `${i % 4 >= 2 ? 'ü' : 'u'.repeat(i % 7)} failure ${i} `.padEnd(200, '.');
      await breaker.guard(service, async () => 'up');
      await breaker.guard(service, rejects(new Error(text))).catch(() => {});
      if (i >= 298) assert.equal(breaker.status(service).last_failure.error, `Error: ${text}`);
    }
  });
}

test('the breaker shows the last failure in its rejections, until it closes', async () => {
  const clock = fakeClock(1000);
  const breaker = new Breaker({ clock, failureThreshold: 2, openTimeoutMs: 100 });
  await breaker.guard('db', rejects(new Error('one'))).catch(() => {});
  await breaker.guard('db', rejects(new Error('two'))).catch(() => {});
  assert.equal(breaker.status('db').state, 'open');
  assert.throws(
    () => breaker.acquire('db'),
    (e) => e.reply.last_failure.error === 'Error: two',
  );
  clock.now += 100;
  await breaker.guard('db', async () => 'up');
  assert.equal(breaker.status('db').state, 'closed');
  assert.equal(breaker.status('db').last_failure, undefined);
});

test('record() takes a failure text; anything but a string is refused and loses nothing', () => {
  const breaker = new Breaker({ clock: fakeClock(500) });
  const permit = breaker.acquire('db');
  assert.throws(
    () => breaker.record('db', permit, 'failure', 3, undefined, new Error('not a text')),
    (e) => e instanceof TypeError && /error must be a string/.test(e.message),
  );
  assert.equal(breaker.status('db').counts.failures, 0);
  const reply = breaker.record('db', permit, 'failure', 3, undefined, 'timeout\ud800');
  assert.equal(reply.type, 'record_ok');
  assert.deepEqual(breaker.status('db').last_failure, { at_ms: 500, error: 'timeout\ufffd' });
  // Without a text, as before: the failure counts, the last failure stays.
  breaker.record('db', breaker.acquire('db'), 'failure');
  assert.equal(breaker.status('db').counts.failures, 2);
  assert.equal(breaker.status('db').last_failure.error, 'timeout\ufffd');
  assert.throws(() => breaker.record('db', 1, 'maybe'), ProtocolError);
});

test('a module that refuses the texts: the calls count all the same, and the guard says so', async () => {
  const breaker = new Breaker({ failureThreshold: 1000 });
  await breaker.guard('db', async () => 'up'); // db has a grant: its next calls stay local
  const { ex } = breaker._instance;
  breaker._instance.ex = { ...ex, breaker_failure_texts: () => -1 };
  await assert.rejects(breaker.guard('db', rejects(new Error('down'))), /down/);
  assert.throws(
    () => breaker.status('db'),
    (e) => e instanceof BreakerError && /did not take the failure texts/.test(e.message),
  );
  breaker._instance.ex = ex;
  const status = breaker.status('db');
  assert.equal(status.counts.failures, 1);
  assert.equal(status.last_failure, undefined);
});
