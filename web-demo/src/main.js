// The page: a simulated clock and downstream traffic driving the breaker core, and views of it.
import './style.css';
import { loadCore, Core } from './core.js';
import { h, fmtTime, fmtDuration, STATE_LABEL, Prng, parseValue } from './util.js';
import { createDiagram } from './diagram.js';
import { createTimeline } from './timeline.js';

const STORE_KEY = 'breaker-demo/v1';
const LOG_MAX = 200;
const BUCKET_KEEP_S = 90;
const NODE_DEST = 'breaker';
const SPEEDS = [0.25, 0.5, 1, 2, 5, 10, 20];
const STEPS = [
  { ms: 100, label: '0.1 s' },
  { ms: 1000, label: '1 s' },
  { ms: 5000, label: '5 s' },
  { ms: 10000, label: '10 s' },
];
const DEFAULT_SEED = 20240601;
const DEFAULT_SERVICES = [
  { name: 'payments', failPct: 5, latency: 120, rate: 4 },
  { name: 'inventory', failPct: 20, latency: 40, rate: 3 },
  { name: 'search', failPct: 45, latency: 250, rate: 5 },
];
const EXAMPLE = [
  '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":1,"force_failures":5}}',
  '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":2,"state":"open"}}',
  '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":3,"state":"half_open","force_success":true}}',
].join('\n');

// ---------------------------------------------------------------------------------------------
// State

/** The simulation: everything needed to carry on after a reload (with the core's snapshot). */
let sim;
/** The live node. */
let core;
/** What the core last told us. */
const view = { status: new Map(), events: [], lastSeq: 0, defaults: null };
/** The protocol console. */
const log = { entries: [], seq: 0, dirty: true };
let needsRefresh = true;
let structureDirty = true;

function freshSim() {
  const seed = DEFAULT_SEED;
  return {
    now: 0,
    playing: true,
    speed: 1,
    step: 1000,
    seed,
    rng: seed,
    selected: 'payments',
    services: DEFAULT_SERVICES.map((s, i) => ({
      ...s,
      nextAt: s.rate > 0 ? (1000 / s.rate) * (0.35 + 0.2 * i) : null,
    })),
    buckets: {},
  };
}

function onMessage(m) {
  if (m.internal && !ui.logInternal.checked) return;
  log.entries.push({ ...m, seq: ++log.seq });
  if (log.entries.length > LOG_MAX) log.entries.splice(0, log.entries.length - LOG_MAX);
  log.dirty = true;
}

function send(dest, body, opts) {
  needsRefresh = true;
  return core.send(dest, body, sim.now, opts);
}

const internal = { internal: true };

// ---------------------------------------------------------------------------------------------
// Persistence

function save() {
  if (!core) return;
  try {
    const reply = core.send(NODE_DEST, { type: 'snapshot' }, sim.now, internal);
    if (reply?.type !== 'snapshot_ok') return;
    const data = {
      version: 1,
      sim: { ...sim, buckets: serializeBuckets() },
      snapshot: reply.snapshot,
      msgId: core.nextId,
    };
    localStorage.setItem(STORE_KEY, JSON.stringify(data));
    ui.saved.textContent = `Saved at ${fmtTime(sim.now)}`;
  } catch (e) {
    ui.saved.textContent = `Not saved: ${e.message}`;
  }
}

let saveTimer = null;
function saveSoon() {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(save, 250);
}

function serializeBuckets() {
  const out = {};
  for (const [svc, m] of Object.entries(sim.buckets)) out[svc] = [...m.entries()];
  return out;
}

function loadSaved() {
  try {
    const text = localStorage.getItem(STORE_KEY);
    if (!text) return null;
    const data = JSON.parse(text);
    return data?.version === 1 ? data : null;
  } catch {
    return null;
  }
}

/** Starts a new node: from the saved state when there is one, else from the defaults. */
function boot({ fresh = false } = {}) {
  core?.free();
  core = new Core({ onMessage });
  view.status.clear();
  view.events = [];
  view.lastSeq = 0;
  const saved = fresh ? null : loadSaved();
  let restored = false;
  if (saved) {
    sim = { ...freshSim(), ...saved.sim };
    const buckets = {};
    for (const [svc, entries] of Object.entries(saved.sim.buckets ?? {}))
      buckets[svc] = new Map(entries);
    sim.buckets = buckets;
    core.nextId = saved.msgId ?? 1;
    const reply = core.send(
      NODE_DEST,
      { type: 'restore', snapshot: saved.snapshot },
      sim.now,
      internal,
    );
    if (reply?.type === 'restore_ok') restored = true;
    else toast(`Could not restore the saved state: ${reply?.text ?? 'no reply'}. Starting fresh.`);
  }
  if (!restored) {
    sim = freshSim();
    for (const s of sim.services) sim.buckets[s.name] = new Map();
  }
  prng = new Prng(sim.rng);
  const d = core.send(NODE_DEST, { type: 'configure', config: {} }, sim.now, internal);
  view.defaults = d?.config ?? null;
  needsRefresh = true;
  structureDirty = true;
  configForm.sig = '';
  return restored;
}

let prng;

// ---------------------------------------------------------------------------------------------
// Simulated downstream traffic

function tally(service, t, ok, fail, rej) {
  let m = sim.buckets[service];
  if (!m) m = sim.buckets[service] = new Map();
  const sec = Math.floor(t / 1000);
  const b = m.get(sec) ?? [0, 0, 0];
  b[0] += ok;
  b[1] += fail;
  b[2] += rej;
  m.set(sec, b);
}

function pruneBuckets() {
  const oldest = Math.floor(sim.now / 1000) - BUCKET_KEEP_S;
  for (const m of Object.values(sim.buckets)) for (const k of m.keys()) if (k < oldest) m.delete(k);
}

/** Counts a call's reply on the timeline; `attempts` is how many downstream calls it asked for. */
function countReply(service, reply, attempts) {
  if (!reply) return;
  const t = sim.now;
  switch (reply.type) {
    case 'call_ok':
    case 'circuit_breaker_closed':
      tally(service, t, 1, 0, 0);
      break;
    case 'call_failed':
      tally(service, t, 0, attempts, 0);
      break;
    case 'circuit_breaker_open': {
      const rejected = reply.rejected ?? 0;
      tally(service, t, 0, Math.max(0, attempts - rejected), rejected);
      break;
    }
    case 'error':
      if (reply.error) tally(service, t, 0, 0, 1);
      break;
  }
}

/** One call to `svc` whose outcome the seeded downstream decides. */
function simulatedCall(svc, opts) {
  const fails = prng.next() * 100 < svc.failPct;
  const duration = Math.max(1, Math.round(svc.latency * (0.6 + 0.8 * prng.next())));
  sim.rng = prng.state;
  const body = fails
    ? { type: 'call', force_failures: 1, duration_ms: duration }
    : { type: 'call', force_success: true, duration_ms: duration };
  const reply = send(svc.name, body, opts);
  countReply(svc.name, reply, 1);
  return reply;
}

/** Moves the simulated clock on by `dt` ms, making every scheduled call at its own time. */
function advance(dt) {
  const target = sim.now + dt;
  for (;;) {
    let next = null;
    for (const svc of sim.services) {
      if (
        svc.rate > 0 &&
        svc.nextAt != null &&
        svc.nextAt <= target &&
        (!next || svc.nextAt < next.nextAt)
      )
        next = svc;
    }
    if (!next) break;
    sim.now = Math.max(sim.now, Math.floor(next.nextAt));
    simulatedCall(next, { internal: !ui.logTraffic.checked });
    next.nextAt += 1000 / next.rate;
  }
  sim.now = target;
  needsRefresh = true;
}

function setRate(svc, rate) {
  svc.rate = rate;
  svc.nextAt = rate > 0 ? sim.now + 1000 / rate : null;
}

// ---------------------------------------------------------------------------------------------
// Reading the core

function refresh() {
  for (const svc of sim.services) {
    const st = core.send(svc.name, { type: 'status', service: svc.name }, sim.now, internal);
    if (st?.type === 'status_ok') view.status.set(svc.name, st);
  }
  const ev = core.send(NODE_DEST, { type: 'events', after: view.lastSeq }, sim.now, internal);
  if (ev?.type === 'events_ok' && ev.events.length) {
    for (const e of ev.events) {
      view.events.push(e);
      if (e.service === sim.selected)
        announce(`${e.service}: ${STATE_LABEL[e.from]} to ${STATE_LABEL[e.to]}, ${e.reason}`);
    }
    view.lastSeq = ev.events[ev.events.length - 1].seq;
    if (view.events.length > 1000) view.events.splice(0, view.events.length - 1000);
  }
  needsRefresh = false;
}

function lastTransition(service) {
  for (let i = view.events.length - 1; i >= 0; i--)
    if (view.events[i].service === service) return view.events[i];
  return null;
}

function stateIntervals(service, currentState) {
  const out = [];
  let from = 0;
  let state = 'closed';
  for (const e of view.events) {
    if (e.service !== service) continue;
    if (e.at_ms > from) out.push({ from: from / 1000, to: e.at_ms / 1000, state });
    from = e.at_ms;
    state = e.to;
  }
  out.push({ from: from / 1000, to: sim.now / 1000 + 1, state: currentState ?? state });
  return out;
}

// ---------------------------------------------------------------------------------------------
// User actions

function selectedSvc() {
  return sim.services.find((s) => s.name === sim.selected) ?? null;
}

function afterAction() {
  refresh();
  renderAll(true);
  saveSoon();
}

function actionSendCall() {
  const svc = selectedSvc();
  if (!svc) return;
  const reply = simulatedCall(svc);
  flash(ui.actionResult, describeReply(reply));
  afterAction();
}

function actionInject() {
  const svc = selectedSvc();
  if (!svc) return;
  const n = Number(ui.injectCount.value);
  if (!Number.isInteger(n) || n < 1) {
    flash(ui.actionResult, 'Enter a whole number of failures (1 or more).', true);
    return;
  }
  const reply = send(svc.name, { type: 'call', force_failures: n });
  countReply(svc.name, reply, n);
  flash(ui.actionResult, describeReply(reply), reply?.code != null);
  afterAction();
}

function actionForce(mode) {
  const svc = selectedSvc();
  if (!svc) return;
  const reply = send(svc.name, { type: 'force', service: svc.name, mode });
  flash(ui.actionResult, describeReply(reply), reply?.code != null);
  afterAction();
}

function actionResetBreaker() {
  const svc = selectedSvc();
  if (!svc) return;
  const reply = send(svc.name, { type: 'reset', service: svc.name });
  flash(ui.actionResult, describeReply(reply));
  afterAction();
}

function describeReply(r) {
  if (!r) return 'No reply.';
  switch (r.type) {
    case 'call_ok':
      return `Call succeeded (${STATE_LABEL[r.state]}).`;
    case 'call_failed':
      return `Call failed: ${r.failures} consecutive failure${r.failures === 1 ? '' : 's'}.`;
    case 'circuit_breaker_open':
      return `Breaker opened after ${r.failures} failure${r.failures === 1 ? '' : 's'}${r.rejected ? `; ${r.rejected} rejected` : ''}.`;
    case 'circuit_breaker_closed':
      return 'Probe succeeded: breaker closed.';
    case 'force_ok':
      return `Forced mode ${r.mode}: now ${STATE_LABEL[r.state] ?? r.state}.`;
    case 'reset_ok':
      return 'Breaker reset.';
    case 'error':
      return r.error ? `Rejected: ${r.error}.` : `Error ${r.code}: ${r.text}`;
    default:
      return r.type;
  }
}

function addService(name) {
  const n = name.trim();
  if (!n) return 'Enter a name.';
  if (new TextEncoder().encode(n).length > 256) return 'At most 256 bytes.';
  if (sim.services.some((s) => s.name === n)) return `${n} is already there.`;
  const svc = { name: n, failPct: 10, latency: 80, rate: 0, nextAt: null };
  setRate(svc, 2);
  sim.services.push(svc);
  sim.buckets[n] ??= new Map();
  sim.selected = n;
  structureDirty = true;
  afterAction();
  return null;
}

function removeService(name) {
  const i = sim.services.findIndex((s) => s.name === name);
  if (i < 0) return;
  sim.services.splice(i, 1);
  // The core has no delete: reset the breaker so a service added again later starts fresh.
  send(name, { type: 'reset', service: name });
  delete sim.buckets[name];
  view.status.delete(name);
  if (sim.selected === name)
    sim.selected = sim.services[Math.min(i, sim.services.length - 1)]?.name ?? null;
  structureDirty = true;
  afterAction();
  (
    document.querySelector(`[data-testid="select-${CSS.escape(sim.selected ?? '')}"]`) ?? ui.addName
  ).focus();
}

function select(name) {
  sim.selected = name;
  structureDirty = true;
  configForm.sig = '';
  renderAll(true);
  saveSoon();
}

function resetDemo() {
  localStorage.removeItem(STORE_KEY);
  log.entries = [];
  log.dirty = true;
  boot({ fresh: true });
  ui.replayOutput.textContent = '';
  ui.replayDiag.textContent = '';
  refresh();
  renderAll(true);
  save();
  toast('Everything reset: a new node with the default services.');
}

// ---------------------------------------------------------------------------------------------
// Transcript replay

function replay() {
  const text = ui.transcript.value;
  if (!text.trim()) {
    ui.replayStatus.textContent = 'Paste or upload a transcript first.';
    return;
  }
  const live = ui.replayMode.value === 'live';
  let result;
  if (live) {
    result = core.raw(text, sim.now);
    needsRefresh = true;
  } else {
    const node = new Core({ manualClock: true });
    result = node.raw(text, 0);
    node.free();
  }
  const where = live ? 'live node' : 'fresh node';
  log.entries.push({
    dir: 'in',
    text: text.trim(),
    now: sim.now,
    seq: ++log.seq,
    tag: `replay · ${where}`,
  });
  for (const line of result.out.split('\n'))
    if (line)
      log.entries.push({
        dir: 'out',
        text: line,
        now: sim.now,
        seq: ++log.seq,
        tag: `replay · ${where}`,
      });
  if (result.diagnostics)
    log.entries.push({
      dir: 'diag',
      text: result.diagnostics.trimEnd(),
      now: sim.now,
      seq: ++log.seq,
      tag: `replay · ${where}`,
    });
  if (log.entries.length > LOG_MAX) log.entries.splice(0, log.entries.length - LOG_MAX);
  log.dirty = true;
  ui.replayOutput.textContent = result.out;
  ui.replayDiag.textContent = result.diagnostics;
  ui.replayDiag.hidden = !result.diagnostics;
  const replies = result.out.split('\n').filter(Boolean).length;
  const problems = result.diagnostics.split('\n').filter(Boolean).length;
  ui.replayStatus.textContent = `${replies} repl${replies === 1 ? 'y' : 'ies'}${problems ? `, ${problems} diagnostic${problems === 1 ? '' : 's'}` : ''} from the ${where}.`;
  if (live) {
    // Services the transcript created appear as cards (without traffic of their own).
    const all = core.send(NODE_DEST, { type: 'status' }, sim.now, internal);
    for (const s of all?.services ?? []) {
      if (!sim.services.some((x) => x.name === s.service)) {
        sim.services.push({ name: s.service, failPct: 0, latency: 50, rate: 0, nextAt: null });
        sim.buckets[s.service] ??= new Map();
        structureDirty = true;
      }
    }
    afterAction();
  }
  renderConsole();
}

// ---------------------------------------------------------------------------------------------
// UI skeleton

const ui = {};

function field(labelText, input, extra) {
  return h('div', { class: 'field' }, h('label', { for: input.id }, labelText), input, extra);
}

function buildUi(root) {
  root.replaceChildren();
  // Header: title and the simulated clock.
  ui.playBtn = h('button', {
    type: 'button',
    class: 'btn primary',
    'data-testid': 'play-toggle',
    onclick: () => setPlaying(!sim.playing),
  });
  ui.stepBtn = h(
    'button',
    { type: 'button', class: 'btn', 'data-testid': 'step-button', onclick: () => stepClock() },
    'Step',
  );
  ui.stepSize = h(
    'select',
    {
      id: 'step-size',
      'data-testid': 'step-size',
      onchange: () => {
        sim.step = Number(ui.stepSize.value);
        renderClock();
        saveSoon();
      },
    },
    STEPS.map((s) => h('option', { value: s.ms }, `+${s.label}`)),
  );
  ui.speed = h(
    'select',
    {
      id: 'speed',
      'data-testid': 'speed',
      onchange: () => {
        sim.speed = Number(ui.speed.value);
        saveSoon();
      },
    },
    SPEEDS.map((v) => h('option', { value: v }, `×${v}`)),
  );
  ui.simTime = h(
    'output',
    { class: 'sim-time', 'data-testid': 'sim-time', 'aria-live': 'off' },
    '0:00.0',
  );
  ui.resetDemo = h(
    'button',
    {
      type: 'button',
      class: 'btn ghost danger',
      'data-testid': 'reset-demo',
      onclick: resetDemo,
      title: 'Forget the saved state and start again with the default services',
    },
    'Reset all',
  );
  ui.saved = h('span', { class: 'muted small saved', 'data-testid': 'saved' }, '');
  ui.seed = h('input', {
    id: 'seed',
    type: 'number',
    inputmode: 'numeric',
    class: 'seed-input',
    'data-testid': 'seed',
    onchange: () => {
      const v = Math.trunc(Number(ui.seed.value));
      if (!Number.isFinite(v)) return;
      sim.seed = v >>> 0;
      sim.rng = sim.seed;
      prng = new Prng(sim.rng);
      toast(`Downstream re-seeded with ${sim.seed}.`);
      saveSoon();
    },
  });

  const header = h(
    'header',
    { class: 'topbar' },
    h(
      'div',
      { class: 'brand' },
      logo(),
      h(
        'div',
        {},
        h('h1', {}, 'Circuit breaker'),
        h('p', { class: 'muted small' }, 'breaker-wasm, live in your browser'),
      ),
    ),
    h(
      'div',
      { class: 'clock', role: 'group', 'aria-label': 'Simulated clock' },
      h(
        'div',
        { class: 'clock-time' },
        h('span', { class: 'muted small' }, 'Simulated time'),
        ui.simTime,
      ),
      ui.playBtn,
      h(
        'div',
        { class: 'joined' },
        ui.stepBtn,
        h('label', { class: 'sr-only', for: 'step-size' }, 'Step size'),
        ui.stepSize,
      ),
      h('div', { class: 'inline-field' }, h('label', { for: 'speed' }, 'Speed'), ui.speed),
      h('div', { class: 'inline-field' }, h('label', { for: 'seed' }, 'Seed'), ui.seed),
    ),
    h('div', { class: 'topbar-end' }, ui.saved, ui.resetDemo),
  );

  // Services.
  ui.cards = h('div', { class: 'cards', 'data-testid': 'service-cards' });
  ui.addName = h('input', {
    id: 'add-name',
    type: 'text',
    placeholder: 'e.g. shipping',
    autocomplete: 'off',
    maxlength: 256,
    'data-testid': 'add-service-name',
  });
  ui.addError = h('p', { class: 'field-error', role: 'alert', 'data-testid': 'add-service-error' });
  const addForm = h(
    'form',
    {
      class: 'add-service',
      'data-testid': 'add-service-form',
      onsubmit: (e) => {
        e.preventDefault();
        const err = addService(ui.addName.value);
        ui.addError.textContent = err ?? '';
        if (!err) ui.addName.value = '';
      },
    },
    h('label', { for: 'add-name', class: 'sr-only' }, 'New service name'),
    h(
      'div',
      { class: 'joined' },
      ui.addName,
      h(
        'button',
        { type: 'submit', class: 'btn', 'data-testid': 'add-service-button' },
        'Add service',
      ),
    ),
    ui.addError,
  );
  const services = h(
    'section',
    { class: 'panel services', 'aria-labelledby': 'services-h' },
    h(
      'div',
      { class: 'panel-head' },
      h(
        'div',
        {},
        h('h2', { id: 'services-h' }, 'Services'),
        h('p', { class: 'muted small' }, 'Pick a service to inspect and control it.'),
      ),
      addForm,
    ),
    ui.cards,
  );

  // State machine.
  ui.diagram = createDiagram();
  ui.lastTransition = h('p', { class: 'last-transition', 'data-testid': 'last-transition' });
  ui.history = h('ol', { class: 'history', 'data-testid': 'transition-history' });
  ui.diagramTitle = h('h2', { id: 'diagram-h' }, 'State machine');
  const diagram = h(
    'section',
    { class: 'panel diagram-panel', 'aria-labelledby': 'diagram-h' },
    h('div', { class: 'panel-head' }, ui.diagramTitle),
    h('div', { class: 'diagram-wrap' }, ui.diagram.el),
    h(
      'p',
      { class: 'muted small diagram-note' },
      'Dashed arrows: reset, forced mode or the state fixture.',
    ),
    ui.lastTransition,
    h('h3', { class: 'sub' }, 'Recent transitions'),
    ui.history,
  );

  // Timeline.
  ui.timelineBox = h('div', { class: 'timeline-chart', 'data-testid': 'timeline' });
  ui.timelineTitle = h('h2', { id: 'timeline-h' }, 'Last minute');
  const timeline = h(
    'section',
    { class: 'panel timeline-panel', 'aria-labelledby': 'timeline-h' },
    h(
      'div',
      { class: 'panel-head' },
      ui.timelineTitle,
      h(
        'div',
        { class: 'band-legend', 'aria-label': 'State bands' },
        h('span', { class: 'swatch band-closed' }),
        'closed',
        h('span', { class: 'swatch band-open' }),
        'open',
        h('span', { class: 'swatch band-half_open' }),
        'half-open',
      ),
    ),
    ui.timelineBox,
  );

  // Controls for the selected service.
  ui.controlsTitle = h('h2', { id: 'controls-h' }, 'Controls');
  ui.failPct = h('input', {
    id: 'health-failure',
    type: 'range',
    min: 0,
    max: 100,
    step: 1,
    'data-testid': 'health-failure',
    oninput: () => updateHealth('failPct', Number(ui.failPct.value)),
  });
  ui.failPctOut = h('output', { for: 'health-failure', class: 'range-value' });
  ui.latency = h('input', {
    id: 'health-latency',
    type: 'number',
    min: 1,
    max: 60000,
    step: 1,
    inputmode: 'numeric',
    'data-testid': 'health-latency',
    onchange: () => updateHealth('latency', Math.max(1, Math.round(Number(ui.latency.value) || 1))),
  });
  ui.rate = h('input', {
    id: 'health-rate',
    type: 'range',
    min: 0,
    max: 20,
    step: 1,
    'data-testid': 'health-rate',
    oninput: () => updateHealth('rate', Number(ui.rate.value)),
  });
  ui.rateOut = h('output', { for: 'health-rate', class: 'range-value' });
  ui.injectCount = h('input', {
    id: 'inject-count',
    type: 'number',
    min: 1,
    step: 1,
    value: 5,
    inputmode: 'numeric',
    'data-testid': 'inject-count',
  });
  ui.actionResult = h('p', {
    class: 'action-result',
    role: 'status',
    'data-testid': 'action-result',
  });
  ui.forceBtns = ['open', 'closed', 'auto'].map((mode) =>
    h(
      'button',
      {
        type: 'button',
        class: 'btn seg',
        'data-testid': `force-${mode}`,
        onclick: () => actionForce(mode),
        'aria-pressed': 'false',
      },
      { open: 'Open', closed: 'Closed', auto: 'Auto' }[mode],
    ),
  );

  const controls = h(
    'section',
    { class: 'panel controls', 'aria-labelledby': 'controls-h' },
    h('div', { class: 'panel-head' }, ui.controlsTitle),
    h('h3', { class: 'sub' }, 'Downstream health'),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'health-failure' }, 'Failure probability'),
      h('div', { class: 'range-row' }, ui.failPct, ui.failPctOut),
    ),
    h(
      'div',
      { class: 'grid-2' },
      field('Latency (ms)', ui.latency),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'health-rate' }, 'Traffic (calls/s)'),
        h('div', { class: 'range-row' }, ui.rate, ui.rateOut),
      ),
    ),
    h('h3', { class: 'sub' }, 'Actions'),
    h(
      'div',
      { class: 'action-row' },
      h(
        'button',
        {
          type: 'button',
          class: 'btn primary',
          'data-testid': 'send-call',
          onclick: actionSendCall,
        },
        'Send one call',
      ),
      h(
        'div',
        { class: 'joined' },
        h('label', { class: 'sr-only', for: 'inject-count' }, 'Failures to inject'),
        ui.injectCount,
        h(
          'button',
          {
            type: 'button',
            class: 'btn danger',
            'data-testid': 'inject-button',
            onclick: actionInject,
          },
          'Inject failures',
        ),
      ),
    ),
    h(
      'div',
      { class: 'action-row' },
      h('span', { class: 'muted small', id: 'force-label' }, 'Force state'),
      h(
        'div',
        { class: 'segmented', role: 'group', 'aria-labelledby': 'force-label' },
        ui.forceBtns,
      ),
      h(
        'button',
        {
          type: 'button',
          class: 'btn ghost',
          'data-testid': 'reset-breaker',
          onclick: actionResetBreaker,
        },
        'Reset breaker',
      ),
    ),
    ui.actionResult,
    h('h3', { class: 'sub' }, 'Config'),
    buildConfigForm(),
  );

  // Protocol console.
  ui.logFilter = h('input', {
    id: 'log-filter',
    type: 'search',
    placeholder: 'Filter, e.g. circuit_breaker_open',
    'data-testid': 'log-filter',
    oninput: () => {
      log.dirty = true;
      renderConsole();
    },
  });
  ui.logDir = h(
    'select',
    {
      id: 'log-dir',
      'data-testid': 'log-dir',
      onchange: () => {
        log.dirty = true;
        renderConsole();
      },
    },
    h('option', { value: 'all' }, 'In and out'),
    h('option', { value: 'in' }, 'To the core'),
    h('option', { value: 'out' }, 'From the core'),
    h('option', { value: 'diag' }, 'Diagnostics'),
  );
  ui.logTraffic = h('input', {
    id: 'log-traffic',
    type: 'checkbox',
    checked: true,
    'data-testid': 'log-traffic',
  });
  ui.logInternal = h('input', {
    id: 'log-internal',
    type: 'checkbox',
    'data-testid': 'log-internal',
  });
  ui.logList = h('ol', { class: 'log', 'data-testid': 'log-list', 'aria-live': 'off' });
  ui.logCount = h('span', { class: 'muted small' });
  const consolePanel = h(
    'section',
    { class: 'panel console', 'aria-labelledby': 'console-h' },
    h(
      'div',
      { class: 'panel-head' },
      h('h2', { id: 'console-h' }, 'Protocol console'),
      ui.logCount,
    ),
    h(
      'div',
      { class: 'log-tools' },
      h('label', { class: 'sr-only', for: 'log-filter' }, 'Filter messages'),
      ui.logFilter,
      h('label', { class: 'sr-only', for: 'log-dir' }, 'Direction'),
      ui.logDir,
      h('label', { class: 'check' }, ui.logTraffic, 'simulated traffic'),
      h('label', { class: 'check' }, ui.logInternal, 'status polling'),
      h(
        'button',
        {
          type: 'button',
          class: 'btn ghost',
          'data-testid': 'log-clear',
          onclick: () => {
            log.entries = [];
            log.dirty = true;
            renderConsole();
          },
        },
        'Clear',
      ),
    ),
    ui.logList,
  );

  ui.transcript = h('textarea', {
    id: 'transcript',
    rows: 7,
    spellcheck: 'false',
    placeholder:
      '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":1,"force_failures":5}}',
    'data-testid': 'transcript-input',
  });
  ui.transcriptFile = h('input', {
    id: 'transcript-file',
    type: 'file',
    // Visually hidden; keyboard users reach it with Tab and its label shows the focus ring.
    class: 'sr-only file-input',
    accept: '.ndjson,.jsonl,.json,.txt,application/json,application/x-ndjson,text/plain',
    'data-testid': 'transcript-file',
    onchange: async () => {
      const f = ui.transcriptFile.files?.[0];
      if (!f) return;
      ui.transcript.value = await f.text();
      ui.replayStatus.textContent = `Loaded ${f.name} (${f.size} bytes).`;
      ui.transcriptFile.value = '';
    },
  });
  ui.replayMode = h(
    'select',
    { id: 'replay-mode', 'data-testid': 'replay-mode' },
    h('option', { value: 'fresh' }, 'Fresh node · manual clock'),
    h('option', { value: 'live' }, 'Live node · simulated time'),
  );
  ui.replayOutput = h('pre', {
    class: 'replay-output',
    'data-testid': 'replay-output',
    tabindex: '0',
    'aria-label': 'Replies',
  });
  ui.replayDiag = h('pre', {
    class: 'replay-diag',
    'data-testid': 'replay-diagnostics',
    hidden: true,
  });
  ui.replayStatus = h('p', {
    class: 'muted small',
    role: 'status',
    'data-testid': 'replay-status',
  });
  const replayPanel = h(
    'section',
    { class: 'panel replay', 'aria-labelledby': 'replay-h' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'replay-h' }, 'Replay a transcript')),
    h(
      'p',
      { class: 'muted small' },
      'NDJSON documents {"src","dest","body"}, as breaker-host reads them. Replies are shown exactly as the core returns them.',
    ),
    h('label', { for: 'transcript', class: 'sr-only' }, 'Transcript'),
    ui.transcript,
    h(
      'div',
      { class: 'action-row' },
      h(
        'button',
        { type: 'button', class: 'btn primary', 'data-testid': 'replay-button', onclick: replay },
        'Replay',
      ),
      ui.transcriptFile,
      h('label', { for: 'transcript-file', class: 'btn file-btn' }, 'Upload…'),
      h(
        'button',
        {
          type: 'button',
          class: 'btn ghost',
          'data-testid': 'load-example',
          onclick: () => {
            ui.transcript.value = EXAMPLE;
            ui.transcript.focus();
          },
        },
        'Task example',
      ),
    ),
    field(
      'Replay into',
      ui.replayMode,
      h(
        'p',
        { class: 'muted small' },
        'A fresh node answers like breaker-host --clock manual; the live node is the one the page drives.',
      ),
    ),
    ui.replayStatus,
    h('h3', { class: 'sub' }, 'Replies'),
    ui.replayOutput,
    ui.replayDiag,
  );

  ui.live = h('div', { class: 'sr-only', 'aria-live': 'polite', 'data-testid': 'announcer' });
  ui.toast = h('div', { class: 'toast', role: 'status', hidden: true });

  const main = h(
    'main',
    { id: 'main', class: 'layout' },
    h('div', { class: 'stack' }, services, h('div', { class: 'pair' }, diagram, timeline)),
    controls,
    consolePanel,
    replayPanel,
  );
  root.append(
    header,
    main,
    ui.live,
    ui.toast,
    h(
      'footer',
      { class: 'foot muted small' },
      `Core ABI v${abiVersion} · everything runs locally; state is kept in this browser.`,
    ),
  );

  ui.timeline = createTimeline(ui.timelineBox);
}

function logo() {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('class', 'logo');
  svg.setAttribute('aria-hidden', 'true');
  svg.innerHTML =
    '<rect width="32" height="32" rx="7" fill="#111827" stroke="#1f2937"/><path d="M6 16h6l3-7 4 14 3-7h4" fill="none" stroke="#34d399" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>';
  return svg;
}

function updateHealth(key, value) {
  const svc = selectedSvc();
  if (!svc) return;
  if (key === 'rate') setRate(svc, value);
  else svc[key] = value;
  renderControls();
  renderCards();
  saveSoon();
}

function setPlaying(p) {
  sim.playing = p;
  renderClock();
  saveSoon();
}

function stepClock() {
  advance(sim.step);
  afterAction();
}

// ---------------------------------------------------------------------------------------------
// Config form: built from the `config` object the core returns, so new fields appear by themselves.

const configForm = { sig: '', dirty: new Set(), fields: new Map(), scope: 'defaults' };

function buildConfigForm() {
  ui.scopeDefaults = h('input', {
    type: 'radio',
    name: 'config-scope',
    id: 'scope-defaults',
    value: 'defaults',
    checked: true,
    'data-testid': 'config-scope-defaults',
    onchange: () => setScope('defaults'),
  });
  ui.scopeService = h('input', {
    type: 'radio',
    name: 'config-scope',
    id: 'scope-service',
    value: 'service',
    'data-testid': 'config-scope-service',
    onchange: () => setScope('service'),
  });
  ui.scopeServiceLabel = h('label', { for: 'scope-service' }, 'This service only');
  ui.configFields = h('div', { class: 'config-fields' });
  ui.configStatus = h('p', {
    class: 'config-status',
    role: 'status',
    'data-testid': 'config-status',
  });
  ui.clearOverrides = h(
    'button',
    {
      type: 'button',
      class: 'btn ghost',
      'data-testid': 'config-clear',
      onclick: clearOverrides,
      hidden: true,
    },
    'Clear overrides',
  );
  ui.configForm = h(
    'form',
    {
      class: 'config-form',
      novalidate: true,
      'data-testid': 'config-form',
      onsubmit: (e) => {
        e.preventDefault();
        applyConfig();
      },
    },
    h(
      'fieldset',
      { class: 'scope' },
      h('legend', { class: 'sr-only' }, 'Apply to'),
      h(
        'label',
        { for: 'scope-defaults', class: 'radio' },
        ui.scopeDefaults,
        ' All services (defaults)',
      ),
      h('span', { class: 'radio' }, ui.scopeService, ' ', ui.scopeServiceLabel),
    ),
    ui.configFields,
    h(
      'div',
      { class: 'action-row' },
      h('button', { type: 'submit', class: 'btn primary', 'data-testid': 'config-apply' }, 'Apply'),
      h(
        'button',
        {
          type: 'button',
          class: 'btn ghost',
          'data-testid': 'config-revert',
          onclick: () => {
            configForm.dirty.clear();
            clearConfigErrors();
            renderConfig(true);
          },
        },
        'Revert',
      ),
      ui.clearOverrides,
    ),
    ui.configStatus,
  );
  return ui.configForm;
}

function setScope(scope) {
  configForm.scope = scope;
  configForm.dirty.clear();
  clearConfigErrors();
  renderConfig(true);
}

function currentConfig() {
  if (configForm.scope === 'service') return view.status.get(sim.selected)?.config ?? null;
  return view.defaults;
}

function fieldLabel(key) {
  return key
    .replace(/_ms$/, ' (ms)')
    .replace(/_/g, ' ')
    .replace(/^./, (c) => c.toUpperCase());
}

function showValue(v) {
  return v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v ?? '');
}

function renderConfig(force = false) {
  const cfg = currentConfig();
  ui.scopeServiceLabel.textContent = sim.selected ? `Only ${sim.selected}` : 'This service only';
  ui.scopeService.disabled = !sim.selected;
  ui.clearOverrides.hidden = configForm.scope !== 'service';
  if (!cfg) return;
  const keys = Object.keys(cfg);
  const sig = `${configForm.scope}|${sim.selected}|${keys.join(',')}`;
  if (sig !== configForm.sig) {
    configForm.sig = sig;
    configForm.fields.clear();
    configForm.dirty.clear();
    ui.configFields.replaceChildren(
      ...keys.map((key) => {
        const isObj = cfg[key] !== null && typeof cfg[key] === 'object';
        const id = `config-${key}`;
        const err = h('p', {
          class: 'field-error',
          id: `${id}-error`,
          'data-testid': `config-error-${key}`,
          role: 'alert',
        });
        const input = isObj
          ? h('textarea', {
              id,
              rows: 2,
              spellcheck: 'false',
              'data-testid': `config-${key}`,
              'aria-describedby': `${id}-error`,
            })
          : h('input', {
              id,
              type: 'text',
              inputmode: typeof cfg[key] === 'number' ? 'numeric' : 'text',
              autocomplete: 'off',
              spellcheck: 'false',
              'data-testid': `config-${key}`,
              'aria-describedby': `${id}-error`,
            });
        input.addEventListener('input', () => {
          configForm.dirty.add(key);
          input.classList.add('dirty');
        });
        configForm.fields.set(key, { input, err });
        return h(
          'div',
          { class: 'field config-field' },
          h('label', { for: id }, fieldLabel(key), h('code', { class: 'key' }, key)),
          input,
          err,
        );
      }),
    );
    force = true;
  }
  for (const [key, f] of configForm.fields) {
    if (configForm.dirty.has(key)) continue;
    if (!force && document.activeElement === f.input) continue;
    f.input.value = showValue(cfg[key]);
    f.input.classList.remove('dirty');
  }
}

function clearConfigErrors() {
  for (const f of configForm.fields.values()) {
    f.err.textContent = '';
    f.input.removeAttribute('aria-invalid');
  }
  ui.configStatus.textContent = '';
  ui.configStatus.classList.remove('error');
}

function showConfigError(text) {
  const m = /^config\.([A-Za-z0-9_]+)/.exec(text);
  const f = m && configForm.fields.get(m[1]);
  if (f) {
    f.err.textContent = text;
    f.input.setAttribute('aria-invalid', 'true');
    f.input.focus();
    ui.configStatus.textContent = 'Not applied: the core refused a value.';
  } else {
    ui.configStatus.textContent = text;
  }
  ui.configStatus.classList.add('error');
}

function applyConfig() {
  clearConfigErrors();
  const patch = {};
  for (const key of configForm.dirty) {
    const f = configForm.fields.get(key);
    const parsed = parseValue(f.input.value);
    if (parsed.error) {
      f.err.textContent = `config.${key}: ${parsed.error}`;
      f.input.setAttribute('aria-invalid', 'true');
      return;
    }
    patch[key] = parsed.value;
  }
  if (!Object.keys(patch).length) {
    ui.configStatus.textContent = 'Nothing changed.';
    return;
  }
  const scopeService = configForm.scope === 'service' ? sim.selected : null;
  const body = {
    type: 'configure',
    ...(scopeService ? { service: scopeService } : {}),
    config: patch,
  };
  const reply = send(scopeService ?? NODE_DEST, body);
  if (reply?.type === 'configure_ok') {
    if (!scopeService) view.defaults = reply.config;
    configForm.dirty.clear();
    ui.configStatus.textContent = `Applied to ${scopeService ?? 'all services'}: ${Object.keys(patch).join(', ')}.`;
    afterAction();
    renderConfig(true);
  } else {
    showConfigError(reply?.text ?? 'No reply from the core.');
  }
}

/** Drops every override of the selected service (fields the core calls node-wide are skipped). */
function clearOverrides() {
  clearConfigErrors();
  const service = sim.selected;
  const cfg = currentConfig();
  if (!service || !cfg) return;
  const keys = new Set(Object.keys(cfg));
  for (let i = 0; i < 20 && keys.size; i++) {
    const config = Object.fromEntries([...keys].map((k) => [k, null]));
    const reply = send(service, { type: 'configure', service, config });
    if (reply?.type === 'configure_ok') {
      configForm.dirty.clear();
      ui.configStatus.textContent = `${service} follows the defaults again.`;
      afterAction();
      renderConfig(true);
      return;
    }
    const m = /^config\.([A-Za-z0-9_]+): a node-wide setting/.exec(reply?.text ?? '');
    if (!m || !keys.delete(m[1])) {
      showConfigError(reply?.text ?? 'No reply from the core.');
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering

function renderClock() {
  ui.simTime.textContent = fmtTime(sim.now);
  ui.playBtn.textContent = sim.playing ? 'Pause' : 'Play';
  ui.playBtn.setAttribute('aria-pressed', String(sim.playing));
  ui.playBtn.setAttribute(
    'aria-label',
    sim.playing ? 'Pause the simulated clock' : 'Play the simulated clock',
  );
  ui.stepBtn.textContent = 'Step';
  ui.stepBtn.setAttribute('aria-label', `Step the clock by ${fmtDuration(sim.step)}`);
  if (document.activeElement !== ui.speed) ui.speed.value = String(sim.speed);
  if (document.activeElement !== ui.stepSize) ui.stepSize.value = String(sim.step);
  if (document.activeElement !== ui.seed) ui.seed.value = String(sim.seed);
}

const cardEls = new Map();

function buildCard(svc) {
  const name = svc.name;
  const tid = (s) => `${s}-${name}`;
  const els = {};
  els.state = h('span', { class: 'badge', 'data-testid': tid('card-state') });
  els.countdown = h('p', { class: 'countdown', 'data-testid': tid('card-countdown') });
  els.failures = h('span', { class: 'meter-value', 'data-testid': tid('card-failures') });
  els.meterFill = h('span', { class: 'meter-fill' });
  els.meter = h('span', { class: 'meter', role: 'presentation' }, els.meterFill);
  els.ok = h('dd', { 'data-testid': tid('card-successes') });
  els.fail = h('dd', { 'data-testid': tid('card-failed') });
  els.rej = h('dd', { 'data-testid': tid('card-rejected') });
  els.opened = h('dd', { 'data-testid': tid('card-opened') });
  els.health = h('p', { class: 'muted small health' });
  els.selectBtn = h(
    'button',
    {
      type: 'button',
      class: 'card-select',
      'data-testid': `select-${name}`,
      onclick: () => select(name),
    },
    name,
  );
  els.root = h(
    'article',
    { class: 'card', 'data-testid': tid('service-card'), 'aria-label': `Service ${name}` },
    h('div', { class: 'card-head' }, els.selectBtn, els.state),
    els.countdown,
    h(
      'div',
      { class: 'meter-row' },
      h('span', { class: 'muted small' }, 'Consecutive failures'),
      els.failures,
    ),
    els.meter,
    h(
      'dl',
      { class: 'counts' },
      h('div', { class: 'c-ok' }, h('dt', {}, 'Successes'), els.ok),
      h('div', { class: 'c-fail' }, h('dt', {}, 'Failures'), els.fail),
      h('div', { class: 'c-rej' }, h('dt', {}, 'Rejected'), els.rej),
      h('div', { class: 'c-opened' }, h('dt', {}, 'Times opened'), els.opened),
    ),
    h(
      'div',
      { class: 'card-foot' },
      els.health,
      h(
        'button',
        {
          type: 'button',
          class: 'btn icon ghost',
          'aria-label': `Remove ${name}`,
          title: `Remove ${name}`,
          'data-testid': tid('remove'),
          onclick: () => removeService(name),
        },
        '✕',
      ),
    ),
  );
  return els;
}

function renderCards() {
  if (structureDirty) {
    const names = new Set(sim.services.map((s) => s.name));
    for (const [n, els] of cardEls) {
      if (!names.has(n)) {
        els.root.remove();
        cardEls.delete(n);
      }
    }
    for (const svc of sim.services)
      if (!cardEls.has(svc.name)) cardEls.set(svc.name, buildCard(svc));
    ui.cards.replaceChildren(...sim.services.map((s) => cardEls.get(s.name).root));
  }
  for (const svc of sim.services) {
    const els = cardEls.get(svc.name);
    const st = view.status.get(svc.name);
    const state = st?.state ?? 'closed';
    const forced = st?.forced;
    els.root.dataset.state = state;
    els.root.classList.toggle('selected', svc.name === sim.selected);
    els.selectBtn.setAttribute('aria-pressed', String(svc.name === sim.selected));
    els.state.textContent = STATE_LABEL[state] + (forced ? ' · forced' : '');
    els.state.className = `badge badge-${state}`;
    let cd = '';
    if (state === 'open')
      cd =
        st?.retry_after_ms != null
          ? `Probe allowed in ${fmtDuration(st.retry_after_ms)}`
          : 'Forced open: rejects every call';
    else if (state === 'half_open') cd = 'Half-open: the next call is a probe';
    else if (forced === 'closed') cd = 'Forced closed: admits everything, records nothing';
    else cd = 'Calls flow to the downstream';
    els.countdown.textContent = cd;
    els.countdown.classList.toggle('live', state === 'open' && st?.retry_after_ms != null);
    const threshold = st?.config?.failure_threshold;
    const f = st?.failures ?? 0;
    els.failures.textContent = threshold != null ? `${f} / ${threshold}` : String(f);
    els.meterFill.style.width = `${threshold ? Math.min(100, (100 * f) / threshold) : 0}%`;
    const c = st?.counts ?? { successes: 0, failures: 0, rejections: 0, opened: 0 };
    els.ok.textContent = c.successes;
    els.fail.textContent = c.failures;
    els.rej.textContent = c.rejections;
    els.opened.textContent = c.opened;
    els.health.textContent = `${svc.failPct}% failing · ${svc.latency} ms · ${svc.rate}/s`;
  }
}

function renderControls() {
  const svc = selectedSvc();
  const name = svc?.name ?? '—';
  ui.controlsTitle.textContent = svc ? `Controls · ${name}` : 'Controls';
  ui.diagramTitle.textContent = svc ? `State machine · ${name}` : 'State machine';
  ui.timelineTitle.textContent = svc ? `Last minute · ${name}` : 'Last minute';
  for (const el of [ui.failPct, ui.latency, ui.rate, ui.injectCount, ...ui.forceBtns])
    el.disabled = !svc;
  if (!svc) return;
  if (document.activeElement !== ui.failPct) ui.failPct.value = String(svc.failPct);
  ui.failPctOut.textContent = `${svc.failPct}%`;
  if (document.activeElement !== ui.latency) ui.latency.value = String(svc.latency);
  if (document.activeElement !== ui.rate) ui.rate.value = String(svc.rate);
  ui.rateOut.textContent = `${svc.rate}/s`;
  const forced = view.status.get(svc.name)?.forced ?? 'auto';
  for (const b of ui.forceBtns)
    b.setAttribute('aria-pressed', String(b.dataset.testid === `force-${forced}`));
}

function renderDiagram() {
  const name = sim.selected;
  const st = view.status.get(name);
  const state = st?.state ?? 'closed';
  const last = name ? lastTransition(name) : null;
  ui.diagram.update(state, last);
  ui.lastTransition.replaceChildren(
    last
      ? h(
          'span',
          {},
          h('span', { class: 'muted' }, `Last transition at ${fmtTime(last.at_ms)}: `),
          h('strong', {}, `${STATE_LABEL[last.from]} → ${STATE_LABEL[last.to]}`),
          h('span', { class: 'muted' }, ' — '),
          h('span', { class: 'reason', 'data-testid': 'last-reason' }, last.reason),
        )
      : h('span', { class: 'muted' }, 'No transitions yet: the breaker has stayed CLOSED.'),
  );
  const recent = view.events
    .filter((e) => e.service === name)
    .slice(-6)
    .reverse();
  const sig = recent.map((e) => e.seq).join(',') + name;
  if (ui.history.dataset.sig !== sig) {
    ui.history.dataset.sig = sig;
    ui.history.replaceChildren(
      ...recent.map((e) =>
        h(
          'li',
          {},
          h('time', { class: 'muted' }, fmtTime(e.at_ms)),
          h('span', { class: `pill pill-${e.to}` }, STATE_LABEL[e.to]),
          h('span', { class: 'reason' }, e.reason),
        ),
      ),
    );
    if (!recent.length) ui.history.append(h('li', { class: 'muted' }, 'None yet.'));
  }
}

let lastTimelineDraw = 0;
function renderTimeline(force) {
  const t = performance.now();
  if (!force && t - lastTimelineDraw < 150) return;
  lastTimelineDraw = t;
  const name = sim.selected;
  const buckets = sim.buckets[name] ?? new Map();
  ui.timeline.update(buckets, stateIntervals(name, view.status.get(name)?.state), sim.now);
}

let lastConsoleDraw = 0;
function renderConsole() {
  if (!log.dirty) return;
  lastConsoleDraw = performance.now();
  log.dirty = false;
  const q = ui.logFilter.value.trim().toLowerCase();
  const dir = ui.logDir.value;
  const shown = log.entries.filter(
    (e) =>
      (dir === 'all' || e.dir === dir) &&
      (!q || e.text.toLowerCase().includes(q) || (e.tag ?? '').includes(q)),
  );
  ui.logCount.textContent = `${shown.length} of ${log.entries.length} (last ${LOG_MAX} kept)`;
  const arrow = { in: '→ core', out: '← core', diag: '⚠ diag' };
  ui.logList.replaceChildren(
    ...shown
      .slice()
      .reverse()
      .map((e) =>
        h(
          'li',
          { class: `log-${e.dir}`, 'data-dir': e.dir },
          h(
            'span',
            { class: 'log-meta' },
            h('time', {}, fmtTime(e.now)),
            h('span', { class: 'log-dir' }, arrow[e.dir]),
            e.tag ? h('span', { class: 'log-tag' }, e.tag) : null,
          ),
          h('code', {}, e.text),
        ),
      ),
  );
  if (!shown.length)
    ui.logList.append(
      h(
        'li',
        { class: 'muted empty' },
        log.entries.length
          ? 'No message matches the filter.'
          : 'Messages to and from the core appear here.',
      ),
    );
}

function renderAll(force = false) {
  renderClock();
  renderCards();
  structureDirty = false;
  renderControls();
  renderDiagram();
  renderTimeline(force);
  renderConfig();
  if (force || performance.now() - lastConsoleDraw > 250) renderConsole();
}

// ---------------------------------------------------------------------------------------------
// Small UI helpers

let toastTimer = null;
function toast(text) {
  if (!ui.toast) return;
  ui.toast.textContent = text;
  ui.toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (ui.toast.hidden = true), 4000);
}

function flash(el, text, isError = false) {
  el.textContent = text;
  el.classList.toggle('error', isError);
}

function announce(text) {
  if (ui.live) ui.live.textContent = text;
}

// ---------------------------------------------------------------------------------------------
// Main loop

let abiVersion = '?';
let lastFrame = 0;
let carry = 0;
let lastSave = 0;

function frame(t) {
  const realDt = Math.min(250, Math.max(0, t - (lastFrame || t)));
  lastFrame = t;
  if (sim.playing) {
    carry += realDt * sim.speed;
    const adv = Math.floor(carry);
    carry -= adv;
    if (adv > 0) advance(adv);
  }
  if (needsRefresh) {
    refresh();
    pruneBuckets();
    renderAll();
  }
  if (sim.playing && t - lastSave > 2000) {
    lastSave = t;
    save();
  }
  requestAnimationFrame(frame);
}

async function start() {
  const root = document.getElementById('app');
  try {
    ({ abiVersion } = await loadCore());
  } catch (e) {
    root.replaceChildren(
      h('p', { class: 'loading error' }, `Could not load the breaker core: ${e.message}`),
    );
    throw e;
  }
  buildUi(root);
  const restored = boot();
  refresh();
  renderAll(true);
  if (restored) toast(`Restored the saved state at ${fmtTime(sim.now)}.`);
  window.addEventListener('pagehide', save);
  document.addEventListener(
    'visibilitychange',
    () => document.visibilityState === 'hidden' && save(),
  );
  document.body.dataset.ready = 'true';
  requestAnimationFrame(frame);
}

start();
