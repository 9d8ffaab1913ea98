// The protocol console's memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLog, filterLog, logClear, logPush } from '../../src/message-log.js';

test('the log keeps the last `max` entries, numbered', () => {
  const log = createLog(3);
  for (let i = 1; i <= 5; i++) logPush(log, { dir: 'in', text: `m${i}`, now: i });
  assert.deepEqual(
    log.entries.map((e) => [e.seq, e.text]),
    [
      [3, 'm3'],
      [4, 'm4'],
      [5, 'm5'],
    ],
  );
  logClear(log);
  assert.equal(log.entries.length, 0);
  logPush(log, { dir: 'out', text: 'after', now: 6 });
  assert.ok(log.entries[0].seq > 5, 'numbers keep growing after a clear');
});

test('the filter matches text and tags case-insensitively, and the direction', () => {
  const log = createLog();
  logPush(log, { dir: 'in', text: '{"type":"call"}', now: 0 });
  logPush(log, { dir: 'out', text: '{"type":"circuit_breaker_open"}', now: 0 });
  logPush(log, { dir: 'diag', text: 'line 2: not JSON', now: 0, tag: 'Replay · fresh node' });
  assert.equal(filterLog(log, '', 'all').length, 3);
  assert.deepEqual(
    filterLog(log, 'CIRCUIT', 'all').map((e) => e.dir),
    ['out'],
  );
  assert.deepEqual(
    filterLog(log, 'replay', 'all').map((e) => e.dir),
    ['diag'],
  );
  assert.equal(filterLog(log, 'circuit', 'in').length, 0);
});
