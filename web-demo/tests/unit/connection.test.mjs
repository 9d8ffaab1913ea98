// Connect mode's state, fed by hand what watchNode would deliver (no browser, no node).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Connection } from '../../src/connection.js';

function connection() {
  const said = [];
  const conn = new Connection({ ui: { announce: (t) => said.push(t) }, changed: () => {} });
  return { conn, said };
}

const ev = (seq, service, from, to) => ({ seq, at_ms: seq * 1000, service, from, to, reason: 'r' });
const status = (entries) =>
  new Map(entries.map(([service, state]) => [service, { service, state, extra: 1 }]));

test('events move the cards; the first service seen is selected and its changes announced', () => {
  const { conn, said } = connection();
  conn.onEvent(ev(1, 'pay', 'closed', 'open'));
  conn.onEvent(ev(2, 'search', 'closed', 'open'));
  conn.onEvent(ev(2, 'search', 'closed', 'open')); // resent after a reconnect: ignored
  const vm = conn.view();
  assert.equal(vm.selected, 'pay');
  assert.deepEqual(
    vm.services.map((s) => [s.name, s.status.state]),
    [
      ['pay', 'open'],
      ['search', 'open'],
    ],
  );
  assert.equal(vm.last.seq, 1);
  assert.equal(conn.events.length, 2);
  assert.deepEqual(said, ['pay: CLOSED to OPEN, r']);
});

test('a status answer replaces the services, keeping the fields the node adds', () => {
  const { conn } = connection();
  conn.onStatus(
    status([
      ['a', 'closed'],
      ['b', 'half_open'],
    ]),
    0,
  );
  assert.equal(conn.selected, 'a');
  assert.equal(conn.view().services[1].status.state, 'half_open');
  assert.equal(conn.view().services[1].status.extra, 1);
  conn.selected = 'b';
  conn.onStatus(status([['a', 'open']]), 0);
  assert.equal(conn.selected, 'a', 'a service gone from the node is no longer selected');
});

test('a status answer that crossed an event does not undo it', () => {
  const { conn } = connection();
  conn.onEvent(ev(1, 'pay', 'closed', 'open'));
  const asked = conn.lastSeq();
  // The node moves on while the request is out; the answer was taken before that.
  conn.onEvent(ev(2, 'pay', 'open', 'half_open'));
  conn.onStatus(
    status([
      ['pay', 'open'],
      ['search', 'closed'],
    ]),
    asked,
  );
  const states = Object.fromEntries(conn.view().services.map((s) => [s.name, s.status.state]));
  assert.deepEqual(states, { pay: 'half_open', search: 'closed' });
  // A later answer is taken as it is.
  conn.onStatus(status([['pay', 'closed']]), conn.lastSeq());
  assert.equal(conn.view().services[0].status.state, 'closed');
});

test('the timeline follows the node’s clock, not the page’s', () => {
  const { conn } = connection();
  conn.onEvent({ ...ev(1, 'pay', 'closed', 'open'), at_ms: 5000 });
  const now = conn.view().nowMs;
  assert.ok(now >= 5000 && now < 6000, `node time ${now}`);
});

test('a node that starts over (seq from 1 again) is followed, not ignored', () => {
  const { conn } = connection();
  conn.onEvent(ev(1, 'pay', 'closed', 'open'));
  conn.onEvent(ev(2, 'pay', 'open', 'half_open'));
  conn.onEvent(ev(2, 'pay', 'open', 'half_open')); // sent again: nothing changes
  assert.equal(conn.events.length, 2);
  // Restarted without its state file: its first transition is seq 1 again, another one.
  conn.onEvent({ ...ev(1, 'search', 'closed', 'open'), at_ms: 100 });
  assert.deepEqual(
    conn.events.map((e) => [e.seq, e.service]),
    [[1, 'search']],
  );
  assert.equal(conn.view().services.find((s) => s.name === 'search').status.state, 'open');
  assert.ok(conn.view().nowMs < 1100, 'the clock follows the restarted node');
});
