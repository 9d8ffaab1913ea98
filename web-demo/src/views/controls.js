// The Actions panel of the simulator: the selected service's downstream health (failure
// probability, latency, traffic) and what can be done to its breaker.
import { h, setAttr, setText } from '../util.js';

function rangeInput(id, max, oninput) {
  return h('input', { id, type: 'range', min: 0, max, step: 1, 'data-testid': id, oninput });
}

/** The downstream's health: failure probability, latency and traffic of the selected service. */
function createHealth(sim) {
  const failPct = rangeInput('health-failure', 100, () =>
    sim.setHealth('failPct', Number(failPct.value)),
  );
  const failPctOut = h('output', { for: 'health-failure', class: 'range-value' });
  const latency = h('input', {
    id: 'health-latency',
    type: 'number',
    min: 1,
    max: 60000,
    step: 1,
    inputmode: 'numeric',
    'data-testid': 'health-latency',
    onchange: () => sim.setHealth('latency', Math.max(1, Math.round(Number(latency.value) || 1))),
  });
  const rate = rangeInput('health-rate', 20, () => sim.setHealth('rate', Number(rate.value)));
  const rateOut = h('output', { for: 'health-rate', class: 'range-value' });
  const el = h(
    'div',
    {},
    h('h3', { class: 'sub' }, 'Downstream health'),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'health-failure' }, 'Failure probability'),
      h('div', { class: 'range-row' }, failPct, failPctOut),
    ),
    h(
      'div',
      { class: 'grid-2' },
      h('div', { class: 'field' }, h('label', { for: 'health-latency' }, 'Latency (ms)'), latency),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'health-rate' }, 'Traffic (calls/s)'),
        h('div', { class: 'range-row' }, rate, rateOut),
      ),
    ),
  );

  function render(svc) {
    for (const input of [failPct, latency, rate]) input.disabled = !svc;
    if (!svc) return;
    put(failPct, svc.failPct);
    setText(failPctOut, `${svc.failPct}%`);
    put(latency, svc.latency);
    put(rate, svc.rate);
    setText(rateOut, `${svc.rate}/s`);
  }

  return { el, render };
}

/** Sets an input's value, unless the user is in it. */
function put(input, value) {
  if (document.activeElement !== input && input.value !== String(value)) input.value = value;
}

/** `sim` is the Simulator (simulator.js). */
export function createControls(sim) {
  const title = h('h2', { id: 'controls-h' }, 'Actions');
  const health = createHealth(sim);
  const injectCount = h('input', {
    id: 'inject-count',
    type: 'number',
    min: 1,
    step: 1,
    value: 5,
    inputmode: 'numeric',
    'data-testid': 'inject-count',
  });
  const result = h('p', { class: 'action-result', role: 'status', 'data-testid': 'action-result' });
  const modes = { open: 'Open', closed: 'Closed', auto: 'Auto' };
  const forceBtns = Object.entries(modes).map(([mode, label]) =>
    h(
      'button',
      {
        type: 'button',
        class: 'btn seg',
        'data-testid': `force-${mode}`,
        'data-mode': mode,
        onclick: () => sim.force(mode),
        'aria-pressed': 'false',
      },
      label,
    ),
  );
  const button = (cls, testid, label, onclick) =>
    h('button', { type: 'button', class: `btn ${cls}`, 'data-testid': testid, onclick }, label);

  const el = h(
    'section',
    { class: 'panel controls', 'aria-labelledby': 'controls-h' },
    h('div', { class: 'panel-head' }, title),
    h(
      'div',
      { class: 'action-row' },
      button('primary', 'send-call', 'Send one call', () => sim.sendCall()),
      h(
        'div',
        { class: 'joined' },
        h('label', { class: 'sr-only', for: 'inject-count' }, 'Failures to inject'),
        injectCount,
        button('danger', 'inject-button', 'Inject failures', () => sim.inject(injectCount.value)),
      ),
    ),
    h(
      'div',
      { class: 'action-row' },
      h('span', { class: 'muted small', id: 'force-label' }, 'Force state'),
      h('div', { class: 'segmented', role: 'group', 'aria-labelledby': 'force-label' }, forceBtns),
      button('ghost', 'reset-breaker', 'Reset breaker', () => sim.resetBreaker()),
    ),
    result,
    health.el,
  );

  function render() {
    const svc = sim.selected();
    setText(title, svc ? `Actions · ${svc.name}` : 'Actions');
    for (const input of [injectCount, ...forceBtns]) input.disabled = !svc;
    setText(result, sim.result.text);
    result.classList.toggle('error', sim.result.error);
    health.render(svc);
    const forced = (svc && sim.node.status.get(svc.name)?.forced) ?? 'auto';
    for (const b of forceBtns) setAttr(b, 'aria-pressed', b.dataset.mode === forced);
  }

  return { el, render };
}
