// Transitions as the page keeps them, from either node.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  lastTransition,
  mergeEvents,
  recentTransitions,
  stateIntervals,
  transitionMarks,
} from '../../src/history.js';

const ev = (seq, at_ms, service, from, to) => ({
  seq,
  at_ms,
  service,
  from,
  to,
  reason: `r${seq}`,
});
const WALK = [
  ev(1, 5000, 'a', 'closed', 'open'),
  ev(2, 6000, 'b', 'closed', 'open'),
  ev(3, 10000, 'a', 'open', 'half_open'),
  ev(4, 10000, 'a', 'half_open', 'closed'),
];

test('merging keeps each event once, in seq order, and at most `keep`', () => {
  const kept = [];
  assert.equal(mergeEvents(kept, WALK.slice(0, 2)).length, 2);
  // A resent or older event (a reconnect that overlaps) is dropped.
  assert.deepEqual(
    mergeEvents(kept, [WALK[1], WALK[0], WALK[2]]).map((e) => e.seq),
    [3],
  );
  mergeEvents(kept, [WALK[3]], 3);
  assert.deepEqual(
    kept.map((e) => e.seq),
    [2, 3, 4],
  );
});

test('a service’s states as intervals, closed before its first event', () => {
  assert.deepEqual(stateIntervals(WALK, 'a', 'closed', 12000), [
    { from: 0, to: 5, state: 'closed' },
    { from: 5, to: 10, state: 'open' },
    { from: 10, to: 13, state: 'closed' },
  ]);
  // The node's current state wins for the last interval (an open period that has run out).
  assert.equal(stateIntervals(WALK.slice(0, 2), 'b', 'half_open', 9000).at(-1).state, 'half_open');
  assert.deepEqual(stateIntervals([], 'x', undefined, 0), [{ from: 0, to: 1, state: 'closed' }]);
});

test('a half-open moment with no length still has its marker', () => {
  assert.deepEqual(transitionMarks(WALK, 'a'), [
    { at: 5, to: 'open' },
    { at: 10, to: 'half_open' },
    { at: 10, to: 'closed' },
  ]);
});

test('the last and the recent transitions of one service', () => {
  assert.equal(lastTransition(WALK, 'a').seq, 4);
  assert.equal(lastTransition(WALK, 'b').seq, 2);
  assert.equal(lastTransition(WALK, 'c'), null);
  assert.deepEqual(
    recentTransitions(WALK, 'a', 2).map((e) => e.seq),
    [4, 3],
  );
});
