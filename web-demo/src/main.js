// The page: two modes (the simulator, and Connect to a running node), the views, and the one
// render path every change goes through.
import './styles/base.css';
import './styles/layout.css';
import { Connection } from './connection.js';
import { loadCore } from './core.js';
import { Simulator } from './simulator.js';
import { createStore } from './store.js';
import { fmtTime, h, setText } from './util.js';
import { createConfigForm } from './views/config-form.js';
import { createConsole } from './views/console.js';
import { createControls } from './views/controls.js';
import { createDiagramPanel } from './views/diagram.js';
import { createHeader } from './views/header.js';
import { createNotices } from './views/notices.js';
import { createReplay } from './views/replay.js';
import { createServicesPanel } from './views/services.js';
import { createTimelinePanel } from './views/timeline.js';

const notices = createNotices();
const app = { mode: 'simulate', views: null };
const changed = () => render({ force: true });
const connection = new Connection({ ui: notices, changed });
const simulator = new Simulator({
  store: createStore(localStorage),
  ui: notices,
  changed,
  saveExtra: () => ({ mode: app.mode, connectUrl: connection.url }),
});

/** The mode's controller: where the shared views (cards, diagram, timeline) read and act. */
const current = () => (app.mode === 'simulate' ? simulator : connection);

function setMode(mode) {
  if (mode === app.mode) return;
  app.mode = mode;
  if (mode === 'simulate') connection.disconnect();
  changed();
  simulator.save();
  if (mode === 'connect' && connection.phase === 'idle') app.views.header.focusUrl();
}

function removeService(name) {
  simulator.removeService(name);
  const next = document.querySelector(
    `[data-testid="select-${CSS.escape(simulator.sim.selected ?? '')}"]`,
  );
  if (next) next.focus();
  else app.views.services.focusAdd();
}

function buildViews(root, abiVersion) {
  const services = createServicesPanel({
    select: (name) => current().select(name),
    remove: removeService,
    add: (name) => simulator.addService(name),
  });
  const views = {
    header: createHeader({ setMode, resetAll: () => simulator.resetAll() }, simulator, connection),
    services,
    diagram: createDiagramPanel(),
    timeline: createTimelinePanel(),
    controls: createControls(simulator),
    config: createConfigForm(simulator),
    console: createConsole(simulator),
    replay: createReplay(simulator),
  };
  const main = h(
    'main',
    { id: 'main', class: 'layout' },
    h(
      'div',
      { class: 'col-main' },
      h(
        'div',
        { class: 'stack' },
        views.services.el,
        h('div', { class: 'pair' }, views.diagram.el, views.timeline.el),
      ),
      views.console.el,
    ),
    h(
      'div',
      { class: 'col-side' },
      h('div', { class: 'side' }, views.controls.el, views.config.el),
      views.replay.el,
    ),
  );
  const foot = h('footer', { class: 'foot muted small' });
  views.foot = { el: foot, abiVersion };
  root.replaceChildren(views.header.el, main, ...notices.els, foot);
  views.main = main;
  return views;
}

function footText(abiVersion) {
  if (app.mode === 'connect') {
    return `Watching ${connection.url || 'no node yet'}: what it reports through /status and /events.`;
  }
  const saved = simulator.savedText ? ` (${simulator.savedText.toLowerCase()})` : '';
  return `Core ABI v${abiVersion} · everything runs locally; state is kept in this browser${saved}.`;
}

/** Renders every view from the current state; `force` skips the redraw-rate limits. */
function render({ force = false } = {}) {
  const v = app.views;
  if (!v) return;
  const simulate = app.mode === 'simulate';
  if (simulate) simulator.refresh();
  const vm = current().view();
  v.main.dataset.mode = app.mode;
  v.header.render(app.mode);
  setText(v.foot.el, footText(v.foot.abiVersion));
  v.services.render(vm);
  v.diagram.render(vm);
  v.timeline.render(vm, { force });
  for (const panel of [v.controls, v.config, v.console, v.replay]) panel.el.hidden = !simulate;
  if (!simulate) return;
  v.controls.render();
  v.config.render();
  v.console.render({ force });
  v.replay.render();
}

let lastFrame = 0;
function frame(t) {
  const realMs = t - (lastFrame || t);
  lastFrame = t;
  if (app.mode === 'simulate') simulator.tick(realMs, t);
  render();
  requestAnimationFrame(frame);
}

async function start() {
  const root = document.getElementById('app');
  let abiVersion;
  try {
    ({ abiVersion } = await loadCore());
  } catch (e) {
    root.replaceChildren(
      h('p', { class: 'loading error' }, `Could not load the breaker core: ${e.message}`),
    );
    throw e;
  }
  app.views = buildViews(root, abiVersion);
  const saved = simulator.boot();
  if (saved) notices.toast(`Restored the saved state at ${fmtTime(simulator.sim.now)}.`);
  connection.url = saved?.connectUrl ?? '';
  if (saved?.mode === 'connect') {
    app.mode = 'connect';
    if (saved.connectUrl) connection.connect(saved.connectUrl);
  }
  render({ force: true });
  window.addEventListener('pagehide', () => simulator.save());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') simulator.save();
  });
  document.body.dataset.ready = 'true';
  requestAnimationFrame(frame);
}

start();
