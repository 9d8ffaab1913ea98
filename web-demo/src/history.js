// Transitions as the page keeps them, whichever node they come from: events in `seq` order,
// `{seq, at_ms, service, from, to, reason}`. Pure.

export const EVENTS_KEEP = 1000;

/** Appends the events newer than the last one kept (older or repeated ones are dropped). */
export function mergeEvents(events, incoming, keep = EVENTS_KEEP) {
  let last = events.length ? events[events.length - 1].seq : 0;
  const added = [];
  for (const e of incoming) {
    if (e.seq > last) {
      events.push(e);
      added.push(e);
      last = e.seq;
    }
  }
  if (events.length > keep) events.splice(0, events.length - keep);
  return added;
}

/** Whether `e` is one of `events` sent again (same seq, same transition at the same time). */
export function isRepeat(events, e) {
  const known = events.find((x) => x.seq === e.seq);
  return (
    known !== undefined &&
    known.at_ms === e.at_ms &&
    known.service === e.service &&
    known.from === e.from &&
    known.to === e.to
  );
}

export function lastTransition(events, service) {
  for (let i = events.length - 1; i >= 0; i--) if (events[i].service === service) return events[i];
  return null;
}

export function recentTransitions(events, service, n) {
  const out = [];
  for (let i = events.length - 1; i >= 0 && out.length < n; i--) {
    if (events[i].service === service) out.push(events[i]);
  }
  return out;
}

/**
 * The states `service` went through, as intervals in seconds `{from, to, state}` ending at
 * `nowMs` (the last one runs a second past it). Before the first event it was closed; the last
 * interval takes `currentState` when given (a node reports an open breaker whose period has passed
 * as half_open before any event says so).
 */
export function stateIntervals(events, service, currentState, nowMs) {
  const out = [];
  let from = 0;
  let state = 'closed';
  for (const e of events) {
    if (e.service !== service) continue;
    if (e.at_ms > from) out.push({ from: from / 1000, to: e.at_ms / 1000, state });
    from = e.at_ms;
    state = e.to;
  }
  out.push({ from: from / 1000, to: nowMs / 1000 + 1, state: currentState ?? state });
  return out;
}

/** The transitions of `service` as markers `{at, to}` (seconds), for the timeline. */
export function transitionMarks(events, service) {
  return events.filter((e) => e.service === service).map((e) => ({ at: e.at_ms / 1000, to: e.to }));
}
