// Connect mode's parsing and clock, without a browser or a node.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createNodeClock, normalizeUrl, parseEvent, parseStatus } from '../../src/remote.js';

test('the node URL: http(s) only, scheme added when missing, no trailing slash', () => {
  assert.equal(normalizeUrl(' 127.0.0.1:9100/ '), 'http://127.0.0.1:9100');
  assert.equal(normalizeUrl('https://node.example/breaker/'), 'https://node.example/breaker');
  assert.throws(() => normalizeUrl(''), /Enter the node/);
  assert.throws(() => normalizeUrl('ftp://node.example'), /Only http and https/);
  assert.throws(() => normalizeUrl('http://'), TypeError);
});

test('status: every service with a known state, unknown fields kept and ignored', () => {
  const body = {
    type: 'status_ok',
    services: [
      { service: 'a', state: 'open', window: { calls: 3 } },
      { service: 'b', state: 'half_open' },
      { service: 'c', state: 'sideways' },
      { state: 'closed' },
    ],
    evicted: 0,
    uptime_ms: 5,
  };
  const s = parseStatus(body);
  assert.deepEqual([...s.keys()], ['a', 'b']);
  assert.deepEqual(s.get('a').window, { calls: 3 });
  assert.throws(() => parseStatus({ type: 'error', code: 10 }), /status_ok/);
  assert.throws(() => parseStatus(null), /status_ok/);
});

test('events: the contract’s fields, anything else refused', () => {
  const data = JSON.stringify({
    seq: 7,
    at_ms: 1700000000000,
    service: 'pay',
    from: 'open',
    to: 'half_open',
    reason: 'open timeout of 5000 ms elapsed',
    extra: true,
  });
  assert.deepEqual(parseEvent(data), {
    seq: 7,
    at_ms: 1700000000000,
    service: 'pay',
    from: 'open',
    to: 'half_open',
    reason: 'open timeout of 5000 ms elapsed',
  });
  assert.equal(parseEvent('not json'), null);
  assert.equal(parseEvent('{"seq":1,"at_ms":0,"service":"a","from":"closed","to":"up"}'), null);
  assert.equal(parseEvent('{"seq":"1","at_ms":0,"service":"a","from":"closed","to":"open"}'), null);
  assert.equal(
    parseEvent('{"seq":1,"at_ms":0,"service":"a","from":"closed","to":"open"}').reason,
    '',
  );
});

test('the node clock runs on from the latest event’s time', () => {
  const clock = createNodeClock();
  assert.equal(clock.now(1000), 1000);
  // A manual clock far behind the page's: the page follows the node.
  clock.observe(5000, 1_000_000);
  assert.equal(clock.now(1_000_500), 5500);
  // An event dated at an earlier deadline does not pull the clock back.
  clock.observe(4000, 1_000_600);
  assert.equal(clock.now(1_000_600), 5600);
  clock.observe(9000, 1_001_000);
  assert.equal(clock.now(1_001_000), 9000);
});
