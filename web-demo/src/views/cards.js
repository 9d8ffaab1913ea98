// The service cards: one per service, its state by colour and text, failures against the
// threshold, the counts `status` reports, and while open the time until a probe is allowed.
import { fmtDuration, h, STATE_LABEL, setAttr, setText } from '../util.js';
import './cards.css';

function countdownText(state, st) {
  if (state === 'open') {
    if (st?.retry_after_ms != null) return `Probe allowed in ${fmtDuration(st.retry_after_ms)}`;
    return st?.forced === 'open' ? 'Forced open: rejects every call' : 'Open: rejects calls';
  }
  if (state === 'half_open') return 'Half-open: the next call is a probe';
  if (st?.forced === 'closed') return 'Forced closed: admits everything, records nothing';
  return 'Calls flow to the downstream';
}

function buildCard(name, actions) {
  const tid = (s) => `${s}-${name}`;
  const el = {};
  el.state = h('span', { class: 'badge', 'data-testid': tid('card-state') });
  el.countdown = h('p', { class: 'countdown', 'data-testid': tid('card-countdown') });
  el.failures = h('span', { class: 'meter-value', 'data-testid': tid('card-failures') });
  el.meterFill = h('span', { class: 'meter-fill' });
  el.meterRow = h(
    'div',
    { class: 'meter-block' },
    h(
      'div',
      { class: 'meter-row' },
      h('span', { class: 'muted small' }, 'Consecutive failures'),
      el.failures,
    ),
    h('span', { class: 'meter', role: 'presentation' }, el.meterFill),
  );
  el.ok = h('dd', { 'data-testid': tid('card-successes') });
  el.fail = h('dd', { 'data-testid': tid('card-failed') });
  el.rej = h('dd', { 'data-testid': tid('card-rejected') });
  el.opened = h('dd', { 'data-testid': tid('card-opened') });
  el.counts = h(
    'dl',
    { class: 'counts' },
    h('div', { class: 'c-ok' }, h('dt', {}, 'Successes'), el.ok),
    h('div', { class: 'c-fail' }, h('dt', {}, 'Failures'), el.fail),
    h('div', { class: 'c-rej' }, h('dt', {}, 'Rejected'), el.rej),
    h('div', { class: 'c-opened' }, h('dt', {}, 'Times opened'), el.opened),
  );
  el.health = h('p', { class: 'muted small health' });
  el.select = h(
    'button',
    {
      type: 'button',
      class: 'card-select',
      'data-testid': `select-${name}`,
      onclick: () => actions.select(name),
    },
    name,
  );
  el.remove = h(
    'button',
    {
      type: 'button',
      class: 'btn icon ghost',
      'aria-label': `Remove ${name}`,
      title: `Remove ${name}`,
      'data-testid': tid('remove'),
      onclick: () => actions.remove(name),
    },
    '✕',
  );
  el.root = h(
    'article',
    { class: 'card', 'data-testid': tid('service-card'), 'aria-label': `Service ${name}` },
    h('div', { class: 'card-head' }, el.select, el.state),
    el.countdown,
    el.meterRow,
    el.counts,
    h('div', { class: 'card-foot' }, el.health, el.remove),
  );
  return el;
}

function renderCard(el, svc, vm) {
  const st = svc.status;
  const state = st?.state ?? 'closed';
  const selected = svc.name === vm.selected;
  setAttr(el.root, 'data-state', state);
  el.root.classList.toggle('selected', selected);
  setAttr(el.select, 'aria-pressed', selected);
  setText(el.state, STATE_LABEL[state] + (st?.forced ? ' · forced' : ''));
  setAttr(el.state, 'class', `badge badge-${state}`);
  setText(el.countdown, countdownText(state, st));
  el.countdown.classList.toggle('live', state === 'open' && st?.retry_after_ms != null);
  const threshold = st?.config?.failure_threshold;
  const f = st?.failures;
  el.meterRow.hidden = f == null;
  setText(el.failures, threshold != null ? `${f} / ${threshold}` : String(f));
  el.meterFill.style.width = `${threshold ? Math.min(100, (100 * f) / threshold) : 0}%`;
  const c = st?.counts;
  el.counts.hidden = !c;
  if (c) {
    setText(el.ok, c.successes);
    setText(el.fail, c.failures);
    setText(el.rej, c.rejections);
    setText(el.opened, c.opened);
  }
  setText(el.health, svc.health);
  el.remove.hidden = !vm.removable;
}

/** `actions.select(name)`, `actions.remove(name)`; `render(vm)` keeps one card per service. */
export function createCards(actions) {
  const el = h('div', { class: 'cards', 'data-testid': 'service-cards' });
  const cards = new Map();
  let order = null;

  function render(vm) {
    const names = vm.services.map((s) => s.name);
    const key = names.length ? names.join('\n') : `\n${vm.emptyText}`;
    if (key !== order) {
      order = key;
      for (const name of cards.keys()) if (!names.includes(name)) cards.delete(name);
      for (const name of names) if (!cards.has(name)) cards.set(name, buildCard(name, actions));
      el.replaceChildren(...names.map((n) => cards.get(n).root));
      if (!names.length) el.append(h('p', { class: 'muted empty-cards' }, vm.emptyText ?? ''));
    }
    for (const svc of vm.services) renderCard(cards.get(svc.name), svc, vm);
  }

  return { el, render };
}
