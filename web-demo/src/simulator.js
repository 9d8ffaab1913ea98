// Simulator mode: the in-page node driven by the simulated clock and the seeded downstream, the
// user's actions on it, and saving it all. Views read its fields and call its methods; every
// method that changes something ends with `this.changed()`, which renders.
import { lastTransition } from './history.js';
import { LocalNode, NODE_DEST } from './local-node.js';
import { createLog, logClear, logPush } from './message-log.js';
import * as simulation from './simulation.js';
import { describeReply, fmtTime, STATE_LABEL } from './util.js';

const SAVE_EVERY_MS = 2000;

export class Simulator {
  /**
   * `store`: store.js over localStorage; `ui.toast(text)`, `ui.announce(text)`; `changed()`;
   * `saveExtra()` what the page adds to a save (the mode and the node URL).
   */
  constructor({ store, ui, changed, saveExtra = () => ({}) }) {
    this.store = store;
    this.saveExtra = saveExtra;
    this.ui = ui;
    this.changed = changed;
    this.log = createLog();
    /** Which of the page's own messages the console keeps. */
    this.logTraffic = true;
    this.logInternal = false;
    /** The outcome of the last action, shown under the buttons. */
    this.result = { text: '', error: false };
    this.savedText = '';
    this.replayResult = null;
    this.carry = 0;
    this.lastSave = 0;
    this.saveTimer = null;
    this.sim = null;
    this.node = null;
  }

  onMessage(m) {
    if (m.internal && !this.logInternal) return;
    logPush(this.log, m);
  }

  /** A new node: from the saved state unless `fresh`, else the defaults. Returns the saved data. */
  boot({ fresh = false } = {}) {
    this.node?.free();
    this.node = new LocalNode((m) => this.onMessage(m));
    const saved = fresh ? null : this.store.load();
    let restored = false;
    if (saved?.snapshot) {
      this.sim = { ...simulation.freshSim(), ...saved.sim };
      this.node.nextId = saved.msgId;
      const problem = this.node.restore(saved.snapshot, this.sim.now);
      if (problem) this.ui.toast(`Could not restore the saved state: ${problem}. Starting fresh.`);
      else restored = true;
    }
    if (!restored) this.sim = simulation.freshSim();
    this.node.readDefaults(this.sim.now);
    this.refresh();
    return restored ? saved : null;
  }

  save() {
    clearTimeout(this.saveTimer);
    const snapshot = this.node?.snapshot(this.sim.now);
    if (!snapshot) return;
    try {
      this.store.save({
        sim: this.sim,
        snapshot,
        msgId: this.node.nextId,
        ...this.saveExtra(),
      });
      this.savedText = `Saved at ${fmtTime(this.sim.now)}`;
    } catch (e) {
      this.savedText = `Not saved: ${e.message}`;
    }
  }

  saveSoon() {
    clearTimeout(this.saveTimer);
    this.saveTimer = setTimeout(() => this.save(), 250);
  }

  /** Reads the node's status and events if anything changed; announces the selected service's. */
  refresh() {
    const added = this.node.refresh(
      this.sim.services.map((s) => s.name),
      this.sim.now,
    );
    for (const e of added) {
      if (e.service === this.sim.selected) {
        this.ui.announce(
          `${e.service}: ${STATE_LABEL[e.from]} to ${STATE_LABEL[e.to]}, ${e.reason}`,
        );
      }
    }
  }

  send(dest, body, opts) {
    return this.node.send(dest, body, this.sim.now, opts);
  }

  /** A call through the breaker for the simulation (traffic is logged when the box is ticked). */
  callFor(opts) {
    return (service, body) => this.send(service, body, opts);
  }

  selected() {
    return simulation.findService(this.sim, this.sim.selected);
  }

  /** The animation frame: moves a playing clock by `realMs` of wall time at the chosen speed. */
  tick(realMs, wallMs) {
    if (!this.sim.playing) return;
    const [ms, carry] = simulation.clockStep(realMs, this.sim.speed, this.carry);
    this.carry = carry;
    if (ms > 0) simulation.advance(this.sim, ms, this.callFor({ internal: !this.logTraffic }));
    if (wallMs - this.lastSave > SAVE_EVERY_MS) {
      this.lastSave = wallMs;
      this.save();
    }
  }

  act(reply, attempts) {
    const svc = this.selected();
    if (attempts) simulation.countReply(this.sim, svc.name, reply, attempts);
    this.result = { text: describeReply(reply), error: reply?.code != null };
    this.done();
  }

  done() {
    this.refresh();
    this.changed();
    this.saveSoon();
  }

  sendCall() {
    const svc = this.selected();
    if (!svc) return;
    const reply = simulation.simulatedCall(this.sim, svc, this.callFor());
    this.act(reply, 0);
  }

  inject(count) {
    const svc = this.selected();
    if (!svc) return;
    const n = Number(count);
    if (!Number.isInteger(n) || n < 1) {
      this.result = { text: 'Enter a whole number of failures (1 or more).', error: true };
      this.changed();
      return;
    }
    this.act(this.send(svc.name, { type: 'call', force_failures: n }), n);
  }

  force(mode) {
    const svc = this.selected();
    if (svc) this.act(this.send(svc.name, { type: 'force', service: svc.name, mode }), 0);
  }

  resetBreaker() {
    const svc = this.selected();
    if (svc) this.act(this.send(svc.name, { type: 'reset', service: svc.name }), 0);
  }

  setHealth(key, value) {
    const svc = this.selected();
    if (!svc) return;
    if (key === 'rate') simulation.setRate(this.sim, svc, value);
    else svc[key] = value;
    this.changed();
    this.saveSoon();
  }

  addService(name) {
    const error = simulation.addService(this.sim, name);
    if (!error) this.done();
    return error;
  }

  removeService(name) {
    if (!simulation.removeService(this.sim, name)) return;
    // The core has no delete: reset the breaker so a service added again later starts fresh.
    this.send(name, { type: 'reset', service: name });
    this.done();
  }

  select(name) {
    this.sim.selected = name;
    this.changed();
    this.saveSoon();
  }

  setPlaying(playing) {
    this.sim.playing = playing;
    this.changed();
    this.saveSoon();
  }

  setClock(key, value) {
    this.sim[key] = value;
    this.changed();
    this.saveSoon();
  }

  reseed(seed) {
    simulation.reseed(this.sim, seed);
    this.ui.toast(`Downstream re-seeded with ${this.sim.seed}.`);
    this.changed();
    this.saveSoon();
  }

  step() {
    simulation.advance(this.sim, this.sim.step, this.callFor({ internal: !this.logTraffic }));
    this.done();
  }

  resetAll() {
    this.store.clear();
    logClear(this.log);
    this.result = { text: '', error: false };
    this.replayResult = null;
    this.boot({ fresh: true });
    this.changed();
    this.save();
    this.ui.toast('Everything reset: a new node with the default services.');
  }

  /**
   * Applies a config `patch` to the defaults (`service` null) or as an override of `service`.
   * Returns the core's reply.
   */
  configure(service, patch) {
    const body = { type: 'configure', ...(service ? { service } : {}), config: patch };
    const reply = this.send(service ?? NODE_DEST, body);
    if (reply?.type === 'configure_ok') {
      if (!service) this.node.defaults = reply.config;
      this.done();
    }
    return reply;
  }

  /**
   * Drops every override of `service`: all fields set to null, leaving out those the core names
   * as node-wide settings. Returns the last reply.
   */
  clearOverrides(service, keys) {
    const left = new Set(keys);
    let reply = null;
    for (let i = 0; i < 20 && left.size; i++) {
      const config = Object.fromEntries([...left].map((k) => [k, null]));
      reply = this.send(service, { type: 'configure', service, config });
      if (reply?.type === 'configure_ok') break;
      const m = /^config\.([A-Za-z0-9_]+): a node-wide setting/.exec(reply?.text ?? '');
      if (!m || !left.delete(m[1])) break;
    }
    if (reply?.type === 'configure_ok') this.done();
    return reply;
  }

  /**
   * Replays raw documents into a fresh node with a manual clock (as `breaker-host --clock manual`)
   * or into the live one; the replies and diagnostics go to the console too.
   */
  replay(text, live) {
    let result;
    if (live) {
      result = this.node.raw(text, this.sim.now);
    } else {
      const fresh = new LocalNode(() => {});
      result = fresh.raw(text, 0);
      fresh.free();
    }
    const tag = `replay · ${live ? 'live node' : 'fresh node'}`;
    const now = this.sim.now;
    logPush(this.log, { dir: 'in', text: text.trim(), now, tag });
    for (const line of result.out.split('\n')) {
      if (line) logPush(this.log, { dir: 'out', text: line, now, tag });
    }
    if (result.diagnostics) {
      logPush(this.log, { dir: 'diag', text: result.diagnostics.trimEnd(), now, tag });
    }
    this.replayResult = { ...result, live };
    if (live) {
      // Services the transcript created appear as cards (without traffic of their own).
      const all = this.send(NODE_DEST, { type: 'status' }, { internal: true });
      for (const s of all?.services ?? []) simulation.adoptService(this.sim, s.service);
      this.done();
    } else {
      this.changed();
    }
  }

  /** The shared views' input: services with their status, the selection, events and time. */
  view() {
    const { sim, node } = this;
    return {
      mode: 'simulate',
      nowMs: sim.now,
      selected: sim.selected,
      services: sim.services.map((svc) => ({
        name: svc.name,
        status: node.status.get(svc.name) ?? null,
        health: `${svc.failPct}% failing · ${svc.latency} ms · ${svc.rate}/s`,
      })),
      events: node.events,
      last: sim.selected ? lastTransition(node.events, sim.selected) : null,
      buckets: sim.buckets[sim.selected] ?? new Map(),
      removable: true,
      emptyText: 'No services: add one above.',
    };
  }
}
