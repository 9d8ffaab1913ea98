// What survives a reload, without a browser: a Map-backed stand-in for localStorage.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { freshSim } from '../../src/simulation.js';
import { createStore, decodeSave, encodeSave, STORE_KEY } from '../../src/store.js';

function memoryStorage() {
  const m = new Map();
  return {
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => m.set(k, String(v)),
    removeItem: (k) => m.delete(k),
    m,
  };
}

test('a save comes back with its bucket Maps, snapshot, msg_id, mode and node URL', () => {
  const sim = freshSim(7);
  sim.now = 12345;
  sim.buckets.payments.set(12, [3, 1, 0]);
  const text = encodeSave({
    sim,
    snapshot: { version: 1, now_ms: 12345 },
    msgId: 99,
    mode: 'connect',
    connectUrl: 'http://127.0.0.1:9100',
  });
  const back = decodeSave(text);
  assert.equal(back.sim.now, 12345);
  assert.equal(back.sim.seed, 7);
  assert.ok(back.sim.buckets.payments instanceof Map);
  assert.deepEqual(back.sim.buckets.payments.get(12), [3, 1, 0]);
  assert.deepEqual(back.sim.services, sim.services);
  assert.deepEqual(back.snapshot, { version: 1, now_ms: 12345 });
  assert.equal(back.msgId, 99);
  assert.equal(back.mode, 'connect');
  assert.equal(back.connectUrl, 'http://127.0.0.1:9100');
});

test('anything unreadable or foreign loads as nothing', () => {
  assert.equal(decodeSave(null), null);
  assert.equal(decodeSave('{not json'), null);
  assert.equal(decodeSave('[]'), null);
  assert.equal(decodeSave(JSON.stringify({ version: 2, sim: {} })), null);
  assert.equal(decodeSave(JSON.stringify({ version: 1, sim: null })), null);
  // Missing optional parts take their defaults.
  const old = decodeSave(JSON.stringify({ version: 1, sim: { now: 5 }, snapshot: {} }));
  assert.equal(old.mode, 'simulate');
  assert.equal(old.connectUrl, '');
  assert.equal(old.msgId, 1);
  assert.deepEqual(old.sim.buckets, {});
});

test('the store saves, loads and forgets under its key', () => {
  const storage = memoryStorage();
  const store = createStore(storage);
  assert.equal(store.load(), null);
  store.save({ sim: freshSim(), snapshot: { version: 1 }, msgId: 3 });
  assert.ok(storage.m.has(STORE_KEY));
  assert.equal(store.load().msgId, 3);
  store.clear();
  assert.equal(store.load(), null);
});

test('a storage that throws loads as nothing, and a failed save throws for the caller', () => {
  const broken = {
    getItem() {
      throw new Error('denied');
    },
    setItem() {
      throw new Error('quota exceeded');
    },
    removeItem() {},
  };
  const store = createStore(broken);
  assert.equal(store.load(), null);
  assert.throws(() => store.save({ sim: freshSim(), snapshot: {}, msgId: 1 }), /quota/);
});
