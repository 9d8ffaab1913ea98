// Connect mode: a running node watched through its /status and /events (remote.js). Keeps what the
// node last said (each service's status, the transitions) and gives the shared views their input.
import { isRepeat, lastTransition, mergeEvents } from './history.js';
import { createNodeClock, normalizeUrl, watchNode } from './remote.js';
import { STATE_LABEL } from './util.js';

const PHASE_TEXT = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
};

export class Connection {
  /** `ui.announce(text)`; `changed()` renders. */
  constructor({ ui, changed }) {
    this.ui = ui;
    this.changed = changed;
    this.url = '';
    this.phase = 'idle';
    this.problem = '';
    this.clear();
    this.watcher = null;
  }

  clear() {
    this.services = new Map();
    this.events = [];
    this.selected = null;
    this.clock = createNodeClock();
  }

  get phaseText() {
    return PHASE_TEXT[this.phase];
  }

  /** Starts watching the node at `text`; returns an error text for a URL it cannot use. */
  connect(text) {
    let url;
    try {
      url = normalizeUrl(text);
    } catch (e) {
      this.problem = e.message;
      this.changed();
      return this.problem;
    }
    this.disconnect();
    this.url = url;
    this.problem = '';
    this.watcher = watchNode(url, {
      phase: (p) => this.onPhase(p),
      statusAsked: () => this.lastSeq(),
      status: (services, asked) => this.onStatus(services, asked),
      event: (e) => this.onEvent(e),
      problem: (text) => {
        this.problem = text;
        this.changed();
      },
    });
    return null;
  }

  disconnect() {
    this.watcher?.stop();
    this.watcher = null;
    this.phase = 'idle';
    this.clear();
    this.changed();
  }

  onPhase(phase) {
    this.phase = phase;
    this.changed();
  }

  lastSeq() {
    return this.events.length ? this.events[this.events.length - 1].seq : 0;
  }

  /**
   * The node's status as of the request, with the events that arrived since it left (`asked` is
   * the last seq then) applied on top: an answer that crossed a transition does not undo it.
   */
  onStatus(services, asked) {
    this.problem = '';
    for (const e of this.events) {
      if (e.seq > asked) {
        services.set(e.service, { ...services.get(e.service), service: e.service, state: e.to });
      }
    }
    this.services = services;
    if (!services.has(this.selected)) this.selected = services.keys().next().value ?? null;
    this.changed();
  }

  /**
   * One transition from the stream. A seq the page has seen with another transition means the
   * node started over (restarted without its state): its history and clock start over too.
   */
  onEvent(e) {
    if (e.seq <= this.lastSeq()) {
      if (isRepeat(this.events, e)) return;
      this.events = [];
      this.clock = createNodeClock();
    }
    mergeEvents(this.events, [e]);
    this.clock.observe(e.at_ms, Date.now());
    const known = this.services.get(e.service);
    this.services.set(e.service, { ...known, service: e.service, state: e.to });
    this.selected ??= e.service;
    if (e.service === this.selected) {
      this.ui.announce(`${e.service}: ${STATE_LABEL[e.from]} to ${STATE_LABEL[e.to]}, ${e.reason}`);
    }
    this.changed();
  }

  select(name) {
    this.selected = name;
    this.changed();
  }

  /** The shared views' input, as Simulator.view() gives it. */
  view() {
    const names = [...this.services.keys()].sort();
    const seen = new Map();
    for (const e of this.events) seen.set(e.service, (seen.get(e.service) ?? 0) + 1);
    return {
      mode: 'connect',
      nowMs: this.clock.now(Date.now()),
      selected: this.selected,
      services: names.map((name) => ({
        name,
        status: this.services.get(name),
        health: `${seen.get(name) ?? 0} transitions seen`,
      })),
      events: this.events,
      last: this.selected ? lastTransition(this.events, this.selected) : null,
      buckets: new Map(),
      removable: false,
      emptyText:
        this.phase === 'idle'
          ? 'Give a node’s URL above and connect to see its breakers.'
          : 'No breakers on this node yet: they appear with its first traffic.',
    };
  }
}
