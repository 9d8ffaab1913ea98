// The top bar: the name, the mode switch (simulator or a real node), then the simulated clock or
// the node's URL.
import { h, setAttr, setText } from '../util.js';
import { createClock } from './clock.js';
import { createConnectBar } from './connect-bar.js';
import './header.css';

function logo() {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('class', 'logo');
  svg.setAttribute('aria-hidden', 'true');
  svg.innerHTML =
    '<rect width="32" height="32" rx="7" fill="#111827" stroke="#1f2937"/><path d="M6 16h6l3-7 4 14 3-7h4" fill="none" stroke="#34d399" stroke-width="2.6" stroke-linecap="round" stroke-linejoin="round"/>';
  return svg;
}

/** `app.setMode(mode)`, `app.resetAll()`; `sim` the Simulator, `conn` the Connection. */
export function createHeader(app, sim, conn) {
  const clock = createClock(sim);
  const bar = createConnectBar(conn);
  const tab = (mode, label) =>
    h(
      'button',
      {
        type: 'button',
        class: 'btn seg',
        'data-testid': `mode-${mode}`,
        'data-mode': mode,
        onclick: () => app.setMode(mode),
      },
      label,
    );
  const tabs = [tab('simulate', 'Simulator'), tab('connect', 'Connect')];
  const reset = h(
    'button',
    {
      type: 'button',
      class: 'btn ghost danger',
      'data-testid': 'reset-demo',
      onclick: () => app.resetAll(),
      title: 'Forget the saved state and start again with the default services',
    },
    'Reset all',
  );
  const end = h('div', { class: 'topbar-end' }, reset);
  const subtitle = h('p', { class: 'muted small' });
  const el = h(
    'header',
    { class: 'topbar' },
    h('div', { class: 'brand' }, logo(), h('div', {}, h('h1', {}, 'Circuit breaker'), subtitle)),
    h('div', { class: 'segmented modes', role: 'group', 'aria-label': 'Mode' }, tabs),
    clock.el,
    bar.el,
    end,
  );

  function render(mode) {
    for (const t of tabs) setAttr(t, 'aria-pressed', t.dataset.mode === mode);
    const simulate = mode === 'simulate';
    setText(subtitle, simulate ? 'breaker-wasm, live in your browser' : 'watching a running node');
    clock.el.hidden = !simulate;
    end.hidden = !simulate;
    bar.el.hidden = simulate;
    if (simulate) clock.render();
    else bar.render();
  }

  return { el, render, focusUrl: () => bar.focus() };
}
