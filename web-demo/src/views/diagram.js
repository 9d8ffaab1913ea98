// The State machine panel: the selected breaker's diagram, its last transition with the reason
// the core gives, and its recent transitions.
import { recentTransitions } from '../history.js';
import { fmtAt, h, STATE_LABEL, setText } from '../util.js';
import { createDiagram } from './diagram-svg.js';
import './diagram.css';

function lastLine(name, last) {
  if (!name) return h('span', { class: 'muted' }, 'No service to show yet.');
  if (!last) {
    return h('span', { class: 'muted' }, 'No transitions yet: the breaker has stayed CLOSED.');
  }
  return h(
    'span',
    {},
    h('span', { class: 'muted' }, `Last transition at ${fmtAt(last.at_ms)}: `),
    h('strong', {}, `${STATE_LABEL[last.from]} → ${STATE_LABEL[last.to]}`),
    h('span', { class: 'muted' }, ' — '),
    h('span', { class: 'reason', 'data-testid': 'last-reason' }, last.reason),
  );
}

function historyItem(e) {
  return h(
    'li',
    {},
    h('time', { class: 'muted' }, fmtAt(e.at_ms)),
    h('span', { class: `pill pill-${e.to}` }, STATE_LABEL[e.to]),
    h('span', { class: 'reason' }, e.reason),
  );
}

export function createDiagramPanel() {
  const diagram = createDiagram();
  const title = h('h2', { id: 'diagram-h' }, 'State machine');
  const last = h('p', { class: 'last-transition', 'data-testid': 'last-transition' });
  const history = h('ol', { class: 'history', 'data-testid': 'transition-history' });
  const el = h(
    'section',
    { class: 'panel diagram-panel', 'aria-labelledby': 'diagram-h' },
    h('div', { class: 'panel-head' }, title),
    h('div', { class: 'diagram-wrap' }, diagram.el),
    h(
      'p',
      { class: 'muted small diagram-note' },
      'Dashed arrows: reset, forced mode or the state fixture.',
    ),
    last,
    h('h3', { class: 'sub' }, 'Recent transitions'),
    history,
  );
  let shown = null;

  function render(vm) {
    const name = vm.selected;
    const status = vm.services.find((s) => s.name === name)?.status;
    const state = name ? (status?.state ?? 'closed') : null;
    setText(title, name ? `State machine · ${name}` : 'State machine');
    const recent = name ? recentTransitions(vm.events, name, 6) : [];
    const key = `${name}|${state}|${recent.map((e) => e.seq).join(',')}`;
    if (key === shown) return;
    shown = key;
    diagram.update(state, vm.last);
    last.replaceChildren(lastLine(name, vm.last));
    history.replaceChildren(...recent.map(historyItem));
    if (!recent.length) history.append(h('li', { class: 'muted' }, 'None yet.'));
  }

  return { el, render };
}
