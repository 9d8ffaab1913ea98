// node --test: the installed package on the real module and on tiny hand-written ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  Breaker,
  BreakerLoadError,
  AbiVersionError,
  BreakerOpenError,
  BreakerTrappedError,
  ProtocolError,
  systemClock,
} from 'breaker-wasm';

import { withExports } from './exports.mjs';
import { EMBED, WASM } from './paths.mjs';

const TRANSCRIPT = join(EMBED, 'conformance.jsonl');

// Tiny modules with the breaker's exports, assembled from this WAT (wat2wasm), V being the
// version and H the body of breaker_handle:
//   (module
//     (memory (export "memory") 1)
//     (func (export "breaker_abi_version") (result i32) i32.const V)
//     (func (export "breaker_alloc") (param i32) (result i32) i32.const 1024)
//     (func (export "breaker_free") (param i32 i32))
//     (func (export "breaker_handle") (param i32 i32 i64) (result i64) H)
//     (func (export "breaker_diagnostics") (result i64) i64.const 0))
const HEAD = [
  0, 97, 115, 109, 1, 0, 0, 0, 1, 26, 5, 96, 0, 1, 127, 96, 1, 127, 1, 127, 96, 2, 127, 127, 0, 96,
  3, 127, 127, 126, 1, 126, 96, 0, 1, 126, 3, 6, 5, 0, 1, 2, 3, 4, 5, 3, 1, 0, 1, 7, 102, 6, 6, 109,
  101, 109, 111, 114, 121, 2, 0, 19, 98, 114, 101, 97, 107, 101, 114, 95, 97, 98, 105, 95, 118, 101,
  114, 115, 105, 111, 110, 0, 0, 13, 98, 114, 101, 97, 107, 101, 114, 95, 97, 108, 108, 111, 99, 0,
  1, 12, 98, 114, 101, 97, 107, 101, 114, 95, 102, 114, 101, 101, 0, 2, 14, 98, 114, 101, 97, 107,
  101, 114, 95, 104, 97, 110, 100, 108, 101, 0, 3, 19, 98, 114, 101, 97, 107, 101, 114, 95, 100,
  105, 97, 103, 110, 111, 115, 116, 105, 99, 115, 0, 4,
];
// V = 2, H = i64.const 0
const WRONG_ABI = new Uint8Array([
  ...HEAD,
  10,
  25,
  5,
  4,
  0,
  65,
  2,
  11,
  5,
  0,
  65,
  128,
  8,
  11,
  2,
  0,
  11,
  4,
  0,
  66,
  0,
  11,
  4,
  0,
  66,
  0,
  11,
]);
// V = 1, H = unreachable
const TRAPS = new Uint8Array([
  ...HEAD,
  10,
  24,
  5,
  4,
  0,
  65,
  1,
  11,
  5,
  0,
  65,
  128,
  8,
  11,
  2,
  0,
  11,
  3,
  0,
  0,
  11,
  4,
  0,
  66,
  0,
  11,
]);

const fakeClock = (start = 0) => {
  const clock = () => clock.now;
  clock.now = start;
  return clock;
};
const quiet = { onDiagnostics: () => {} };

test('the shared conformance transcript, byte for byte', async () => {
  const breaker = await Breaker.load(WASM, quiet);
  const lines = readFileSync(TRANSCRIPT, 'utf8')
    .split('\n')
    .filter((l) => l.trim());
  assert.ok(lines.length >= 50);
  const decoder = new TextDecoder();
  lines.forEach((line, i) => {
    const step = JSON.parse(line);
    const send = JSON.stringify(step.send);
    const { replies } = breaker.handleRaw(send, step.now_ms);
    assert.equal(
      decoder.decode(replies),
      step.expect.map((e) => `${e}\n`).join(''),
      `conformance.jsonl line ${i + 1}: ${send}`,
    );
  });
});

test("guard rejections carry the transcript's replies", async () => {
  // Every rejected acquire of the transcript, made through a guard instead: the error's reply is
  // the transcript's reply with in_reply_to 0 (ABI.md), and the node ends as the JSON-only one.
  const clock = fakeClock(0);
  const jsonOnly = await Breaker.load(WASM, { ...quiet, clock });
  const guarded = await Breaker.load(WASM, { ...quiet, clock });
  let checked = 0;
  for (const line of readFileSync(TRANSCRIPT, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const step = JSON.parse(line);
    const send = JSON.stringify(step.send);
    jsonOnly.handleRaw(send, step.now_ms);
    const rejected = step.expect.filter((e) => e.includes('"code":11')).map((e) => JSON.parse(e));
    if (step.send.body?.type !== 'acquire' || rejected.length === 0) {
      guarded.handleRaw(send, step.now_ms);
      continue;
    }
    clock.now = step.now_ms;
    const error = await guarded
      .guard(rejected[0].body.service, () => assert.fail('a rejected call must not run'))
      .catch((e) => e);
    assert.ok(error instanceof BreakerOpenError);
    assert.deepEqual(error.reply, { ...rejected[0].body, in_reply_to: 0 });
    checked++;
  }
  assert.ok(checked >= 3);
  assert.deepEqual(guarded.snapshot(), jsonOnly.snapshot());
});

test("the task's three examples as objects", async () => {
  const breaker = await Breaker.load(WASM);
  const env = { src: 'service-a', dest: 'service-b' };
  const [r1] = breaker.handle({ ...env, body: { type: 'call', msg_id: 1, force_failures: 5 } }, 0);
  const [r2] = breaker.handle({ ...env, body: { type: 'call', msg_id: 2, state: 'open' } }, 0);
  const [r3] = breaker.handle(
    { ...env, body: { type: 'call', msg_id: 3, state: 'half_open', force_success: true } },
    0,
  );
  assert.deepEqual(r1, {
    src: 'service-b',
    dest: 'service-a',
    body: { type: 'circuit_breaker_open', in_reply_to: 1, service: 'service-b', failures: 5 },
  });
  assert.equal(r2.body.error, 'Circuit breaker OPEN');
  assert.equal(r3.body.type, 'circuit_breaker_closed');
});

test('guard: opens, fails fast with retryAfterMs, probes and closes', async () => {
  const clock = fakeClock(1000);
  const breaker = await Breaker.load(WASM, { clock });
  breaker.configure({ failure_threshold: 2, open_timeout_ms: 500 }, 'db');
  let ran = 0;
  const down = async () => {
    ran++;
    throw new Error('down');
  };
  for (let i = 0; i < 2; i++) await assert.rejects(breaker.guard('db', down), /down/);
  assert.equal(breaker.status('db').state, 'open');

  clock.now += 100;
  const err = await breaker.guard('db', down).catch((e) => e);
  assert.ok(err instanceof BreakerOpenError);
  assert.equal(err.retryAfterMs, 400);
  assert.equal(err.service, 'db');
  assert.equal(ran, 2);

  clock.now += 400;
  const value = await breaker.guard('db', async () => {
    assert.equal(breaker.status('db').state, 'half_open');
    return 42;
  });
  assert.equal(value, 42);
  assert.equal(breaker.status('db').state, 'closed');
  assert.deepEqual(
    breaker.events(0, 'db').map((e) => [e.from, e.to]),
    [
      ['closed', 'open'],
      ['open', 'half_open'],
      ['half_open', 'closed'],
    ],
  );
});

test('guard: sync functions, ignored errors, wrap', async () => {
  const breaker = await Breaker.load(WASM, { clock: fakeClock(0) });
  breaker.configure({ failure_threshold: 1 });
  assert.equal(await breaker.guard('s', () => 'sync'), 'sync');
  await assert.rejects(
    breaker.guard(
      's',
      () => {
        throw new RangeError('404');
      },
      { ignore: (e) => e instanceof RangeError },
    ),
    RangeError,
  );
  assert.equal(breaker.status('s').state, 'closed');
  const fetchUser = breaker.wrap('s', async (id) => ({ id }));
  assert.deepEqual(await fetchUser(7), { id: 7 });
  await assert.rejects(
    breaker.wrap('s', async () => {
      throw new Error('boom');
    })(),
    /boom/,
  );
  await assert.rejects(fetchUser(8), BreakerOpenError);
});

test("wrap(fn): the breaker's service, else the function's name", async () => {
  const named = await Breaker.load(WASM, { clock: fakeClock(0), service: 'users' });
  named.configure({ failure_threshold: 1 }, 'users');
  const fetchUser = named.wrap(async (id) => ({ id }));
  assert.deepEqual(await fetchUser(7), { id: 7 });
  await assert.rejects(
    named.wrap(
      async () => {
        throw new Error('boom');
      },
      { fallback: () => 'unused' },
    )(),
    /boom/,
  );
  assert.equal(named.status('users').state, 'open');
  assert.equal(await named.wrap(fetchUser, { fallback: () => 'cached' })(8), 'cached');

  const breaker = await Breaker.load(WASM, { clock: fakeClock(0) });
  async function inventory() {
    return 3;
  }
  assert.equal(await breaker.wrap(inventory)(), 3);
  assert.equal(breaker.status('inventory').counts.successes, 1);
  assert.throws(() => breaker.wrap(() => 1), TypeError);
  await assert.rejects(Breaker.load(WASM, { service: 5 }), TypeError);
});

test('acquire/record and stale permits', async () => {
  const breaker = await Breaker.load(WASM, { clock: fakeClock(0) });
  const permit = breaker.acquire('db');
  assert.equal(breaker.record('db', permit, 'success', 5).state, 'closed');
  assert.equal(breaker.record('db', permit, 'success').stale, true);
  assert.throws(
    () => breaker.record('db', permit, 'maybe'),
    (e) => e instanceof ProtocolError && e.code === 12 && /outcome/.test(e.text),
  );
});

test('snapshot and restore across instances', async () => {
  const clock = fakeClock(10_000);
  const first = await Breaker.load(WASM, { clock });
  first.configure({ failure_threshold: 1, open_timeout_ms: 3000 });
  await assert.rejects(
    first.guard('db', async () => {
      throw new Error('down');
    }),
  );
  const file = join(mkdtempSync(join(tmpdir(), 'breaker-')), 'state.json');
  writeFileSync(file, JSON.stringify(first.snapshot()));
  clock.now += 1000;
  const second = await Breaker.load(WASM, { clock });
  assert.equal(second.restore(JSON.parse(readFileSync(file, 'utf8'))), 1);
  assert.throws(
    () => second.acquire('db'),
    (e) => e instanceof BreakerOpenError && e.retryAfterMs === 2000,
  );
  assert.throws(
    () => second.restore({ version: 99 }),
    (e) => e instanceof ProtocolError && e.code === 12,
  );
});

test('options: no fixtures, manual clock; the system clock never goes back', async () => {
  const strict = await Breaker.load(WASM, { fixtures: false });
  const body = strict.request({ type: 'call', force_failures: 1 }, { dest: 'svc', nowMs: 0 });
  assert.equal(body.code, 12);
  const manual = await Breaker.load(WASM, { manualClock: true });
  assert.equal(manual.request({ type: 'advance_clock', ms: 42 }, { nowMs: 999999 }).now_ms, 42);
  const clock = systemClock();
  const a = clock();
  assert.ok(clock() >= a && a > 1_600_000_000_000);
  assert.ok((await Breaker.load(WASM)).snapshot().now_ms > 1_600_000_000_000);
});

test('bad use: wrong path', async () => {
  await assert.rejects(
    Breaker.load('/nonexistent/breaker.wasm'),
    (e) => e instanceof BreakerLoadError && /cannot read the breaker module/.test(e.message),
  );
});

test('bad use: not WebAssembly', async () => {
  await assert.rejects(
    Breaker.load(new TextEncoder().encode('not wasm')),
    (e) => e instanceof BreakerLoadError && /not a valid WebAssembly module/.test(e.message),
  );
});

test('bad use: wrong ABI version', async () => {
  await assert.rejects(
    Breaker.load(WRONG_ABI),
    (e) => e instanceof AbiVersionError && e.version === 2 && /ABI version 2/.test(e.message),
  );
});

test('bad use: missing exports', async () => {
  // (module (memory (export "memory") 1))
  const memoryOnly = new Uint8Array([
    0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1, 7, 10, 1, 6, 109, 101, 109, 111, 114, 121, 2, 0,
  ]);
  await assert.rejects(
    Breaker.load(memoryOnly),
    (e) => e instanceof BreakerLoadError && /missing export/.test(e.message),
  );
});

test('bad use: invalid JSON is reported through diagnostics, and the node carries on', async () => {
  const seen = [];
  const breaker = await Breaker.load(WASM, { onDiagnostics: (lines) => seen.push(...lines) });
  assert.deepEqual(breaker.handle('{not json', 0), []);
  assert.equal(seen.length, 1);
  assert.match(seen[0], /^line 1/);
  assert.deepEqual(breaker.lastDiagnostics, seen);
  const [reply] = breaker.handle({ src: 'a', dest: 'b', body: { type: 'init', msg_id: 1 } }, 0);
  assert.equal(reply.body.type, 'init_ok');
  assert.deepEqual(breaker.lastDiagnostics, []);
});

test('bad use: a guest trap poisons the instance', async () => {
  const breaker = await Breaker.load(TRAPS);
  const msg = { src: 'a', dest: 'b', body: { type: 'init', msg_id: 1 } };
  assert.throws(
    () => breaker.handle(msg, 0),
    (e) => e instanceof BreakerTrappedError && /trapped: wasm trap: unreachable/.test(e.message),
  );
  assert.equal(breaker.trapped, true);
  for (let i = 0; i < 2; i++)
    assert.throws(
      () => breaker.handle(msg, 0),
      (e) => e instanceof BreakerTrappedError && /unusable/.test(e.message),
    );
  await assert.rejects(
    breaker.guard('db', async () => 1),
    BreakerTrappedError,
  );
});

test('guard takes the batch path and agrees with the JSON messages', async () => {
  const clock = fakeClock(1000);
  const breaker = await Breaker.load(WASM, { clock, onDiagnostics: () => {} });
  assert.notEqual(breaker._batch, null, 'the real module has the batch path');
  breaker.configure({ failure_threshold: 2, open_timeout_ms: 3000, slow_call_ms: 50 });
  const slow = async () => {
    clock.now += 60; // the guard times the call with the breaker's clock
    return 'late';
  };
  assert.equal(await breaker.guard('db', slow), 'late');
  assert.equal(
    breaker.status('db').counts.failures,
    1,
    'a slow call counts as a failure (consecutive policy)',
  );
  await assert.rejects(
    breaker.guard('db', async () => {
      throw new Error('down');
    }),
    /down/,
  );
  // Open now: the fast path's rejection carries what a JSON acquire says.
  const fast = await breaker.guard('db', async () => 'never').catch((e) => e);
  const json = (() => {
    try {
      breaker.acquire('db');
    } catch (e) {
      return e;
    }
  })();
  assert.ok(fast instanceof BreakerOpenError && json instanceof BreakerOpenError);
  assert.equal(fast.text, 'Circuit breaker OPEN');
  assert.equal(fast.retryAfterMs, 3000);
  assert.equal(fast.retryAfterMs, json.retryAfterMs);
  // The typed rejection has no room for the last failure's text: status has it.
  assert.deepEqual(json.reply.last_failure, { at_ms: 1060, error: 'Error: down' });
  assert.deepEqual(breaker.status('db').last_failure, json.reply.last_failure);
  const { last_failure, ...withoutText } = json.reply;
  assert.deepEqual(fast.reply, { ...withoutText, in_reply_to: 0 });
  // Forced open: no time to give.
  breaker.request({ type: 'force', service: 'db', mode: 'open' });
  const forced = await breaker.guard('db', async () => 'never').catch((e) => e);
  assert.equal(forced.retryAfterMs, null);
  // A name that is not a service falls back to the JSON path, which says why.
  await assert.rejects(
    breaker.guard('', async () => 1),
    ProtocolError,
  );
  const events = breaker.events(0, 'db').map((e) => `${e.from}>${e.to}`);
  assert.deepEqual(events, ['closed>open']);
});

// A module with the batch exports whose second breaker_sync traps (wat2wasm of):
//   (module (memory (export "memory") 1) (global $synced (mut i32) (i32.const 0))
//     breaker_abi_version: 1, breaker_alloc: 1024, breaker_slot: 0, breaker_grant: 1000,
//     breaker_sync: (if synced: unreachable) synced = 1, return 1;
//     breaker_last_permit, breaker_event_seq: 0.0; breaker_events_after, handle, diagnostics: 0)
// plus breaker_failure_texts, another name of breaker_slot (a function (i32, i32) -> i32 of 0).
const SECOND_SYNC_TRAPS = Buffer.from(
  [
    'AGFzbQEAAAABNApgAAF/YAF/AX9gAn9/AGADf39+AX5gAAF+YAJ/fwF/YAF/AX5gAn9/AX5gAAF8YAF8',
    'AX4DDAsAAQIDBAUGBwgICQUDAQABBgYBfwFBAAsH1QEMBm1lbW9yeQIAE2JyZWFrZXJfYWJpX3ZlcnNp',
    'b24AAA1icmVha2VyX2FsbG9jAAEMYnJlYWtlcl9mcmVlAAIOYnJlYWtlcl9oYW5kbGUAAxNicmVha2Vy',
    'X2RpYWdub3N0aWNzAAQMYnJlYWtlcl9zbG90AAUNYnJlYWtlcl9ncmFudAAGDGJyZWFrZXJfc3luYwAH',
    'E2JyZWFrZXJfbGFzdF9wZXJtaXQACBFicmVha2VyX2V2ZW50X3NlcQAJFGJyZWFrZXJfZXZlbnRzX2Fm',
    'dGVyAAoKUAsEAEEBCwUAQYAICwIACwQAQgALBABCAAsEAEEACwUAQugHCw4AIwAEQAALQQEkAEIBCwsA',
    'RAAAAAAAAAAACwsARAAAAAAAAAAACwQAQgALABAEbmFtZQcJAQAGc3luY2Vk',
  ].join(''),
  'base64',
);

test('bad use: a trap while reporting a batch stops local admissions', async () => {
  const bytes = withExports(new Uint8Array(SECOND_SYNC_TRAPS), (exports) => [
    ...exports,
    { ...exports.find((e) => e.name === 'breaker_slot'), name: 'breaker_failure_texts' },
  ]);
  const breaker = await Breaker.load(bytes, { clock: fakeClock(0) });
  assert.notEqual(breaker._batch, null, 'the module has the batch path');
  await breaker.guard('db', () => 1); // crosses once for the permit and the grant
  await breaker.guard('db', () => 2); // within the grant: no crossing
  assert.throws(() => breaker.handleRaw('', 0), /trapped/); // reports both calls: it traps
  let ran = false;
  await assert.rejects(
    breaker.guard('db', () => {
      ran = true;
    }),
    (e) => e instanceof BreakerTrappedError && /unusable/.test(e.message),
  );
  assert.equal(ran, false, 'a dead instance admits nothing');
});
