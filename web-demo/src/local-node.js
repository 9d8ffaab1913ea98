// The protocol client of the in-page node: requests to the wasm core, and what the page last read
// back from it (every service's `status`, the transitions from `events`, the default config).
import { Core } from './core.js';
import { mergeEvents } from './history.js';

/** The envelope's `dest` for messages to the node as a whole. */
export const NODE_DEST = 'breaker';
const internal = { internal: true };

/**
 * Reads the node through `send(dest, body)`: the status of each of `names` and the events after
 * `afterSeq`. Returns `{ statuses: Map(name → status_ok body), events }`.
 */
export function readNode(send, names, afterSeq) {
  const statuses = new Map();
  for (const name of names) {
    const st = send(name, { type: 'status', service: name });
    if (st?.type === 'status_ok') statuses.set(name, st);
  }
  const ev = send(NODE_DEST, { type: 'events', after: afterSeq });
  return { statuses, events: ev?.type === 'events_ok' ? ev.events : [] };
}

export class LocalNode {
  /** `onMessage({dir, text, now, internal})` sees every document in and out. */
  constructor(onMessage) {
    this.core = new Core({ onMessage });
    this.status = new Map();
    this.events = [];
    this.defaults = null;
    /** The msg_id and time of the last read, so a read happens only after something changed. */
    this.readAt = null;
  }

  free() {
    this.core.free();
  }

  get nextId() {
    return this.core.nextId;
  }

  set nextId(id) {
    this.core.nextId = id;
  }

  /** One request; returns the reply body (null when none). */
  send(dest, body, now, opts) {
    return this.core.send(dest, body, now, opts);
  }

  /** Raw documents in, raw replies and diagnostics out (the transcript replay). */
  raw(text, now) {
    return this.core.raw(text, now);
  }

  snapshot(now) {
    const reply = this.core.send(NODE_DEST, { type: 'snapshot' }, now, internal);
    return reply?.type === 'snapshot_ok' ? reply.snapshot : null;
  }

  /** Restores a snapshot; returns null when it worked, else the core's reason. */
  restore(snapshot, now) {
    const reply = this.core.send(NODE_DEST, { type: 'restore', snapshot }, now, internal);
    return reply?.type === 'restore_ok' ? null : (reply?.text ?? 'no reply');
  }

  readDefaults(now) {
    const reply = this.core.send(NODE_DEST, { type: 'configure', config: {} }, now, internal);
    this.defaults = reply?.config ?? null;
  }

  /** Reads status and events when a message went in or the clock moved since the last read. */
  refresh(names, now) {
    const key = `${this.core.nextId}@${now}`;
    if (key === this.readAt) return [];
    const send = (dest, body) => this.core.send(dest, body, now, internal);
    const seen = this.events.length ? this.events[this.events.length - 1].seq : 0;
    const { statuses, events } = readNode(send, names, seen);
    this.status = statuses;
    this.readAt = `${this.core.nextId}@${now}`;
    return mergeEvents(this.events, events);
  }
}
