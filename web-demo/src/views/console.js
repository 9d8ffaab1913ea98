// The Protocol console: the documents to and from the in-page core, newest first, filtered by
// text and direction; two boxes say whether the simulated traffic and the page's own status
// polling are kept.
import { filterLog, logClear } from '../message-log.js';
import { fmtTime, h, setText } from '../util.js';
import './console.css';

/** While messages keep coming, the list is redrawn at most this often (ms). */
const REDRAW_MS = 250;
const ARROW = { in: '→ core', out: '← core', diag: '⚠ diag' };

function entry(e) {
  return h(
    'li',
    { class: `log-${e.dir}`, 'data-dir': e.dir },
    h(
      'span',
      { class: 'log-meta' },
      h('time', {}, fmtTime(e.now)),
      h('span', { class: 'log-dir' }, ARROW[e.dir]),
      e.tag ? h('span', { class: 'log-tag' }, e.tag) : null,
    ),
    h('code', {}, e.text),
  );
}

/** `sim` is the Simulator (simulator.js); its `log` is what is shown. */
export function createConsole(sim) {
  let shown = { key: '', query: '', at: 0 };
  const filter = h('input', {
    id: 'log-filter',
    type: 'search',
    placeholder: 'Filter, e.g. circuit_breaker_open',
    'data-testid': 'log-filter',
    oninput: () => render({ force: true }),
  });
  const dir = h(
    'select',
    { id: 'log-dir', 'data-testid': 'log-dir', onchange: () => render({ force: true }) },
    h('option', { value: 'all' }, 'In and out'),
    h('option', { value: 'in' }, 'To the core'),
    h('option', { value: 'out' }, 'From the core'),
    h('option', { value: 'diag' }, 'Diagnostics'),
  );
  const check = (id, checked, onchange) =>
    h('input', { id, type: 'checkbox', checked, 'data-testid': id, onchange });
  const traffic = check('log-traffic', sim.logTraffic, () => {
    sim.logTraffic = traffic.checked;
  });
  const polling = check('log-internal', sim.logInternal, () => {
    sim.logInternal = polling.checked;
  });
  const list = h('ol', { class: 'log', 'data-testid': 'log-list', 'aria-live': 'off' });
  const count = h('span', { class: 'muted small' });
  const el = h(
    'section',
    { class: 'panel console', 'aria-labelledby': 'console-h' },
    h('div', { class: 'panel-head' }, h('h2', { id: 'console-h' }, 'Protocol console'), count),
    h(
      'div',
      { class: 'log-tools' },
      h('label', { class: 'sr-only', for: 'log-filter' }, 'Filter messages'),
      filter,
      h('label', { class: 'sr-only', for: 'log-dir' }, 'Direction'),
      dir,
      h('label', { class: 'check' }, traffic, 'simulated traffic'),
      h('label', { class: 'check' }, polling, 'status polling'),
      h(
        'button',
        {
          type: 'button',
          class: 'btn ghost',
          'data-testid': 'log-clear',
          onclick: () => {
            logClear(sim.log);
            render({ force: true });
          },
        },
        'Clear',
      ),
    ),
    list,
  );

  /** Redraws the list when the filter changed, or the log did and the last redraw is not recent. */
  function render({ force = false } = {}) {
    const { log } = sim;
    const query = `${filter.value}|${dir.value}`;
    const key = `${log.seq}|${log.entries.length}|${query}`;
    const t = performance.now();
    if (key === shown.key) return;
    if (!force && query === shown.query && t - shown.at < REDRAW_MS) return;
    shown = { key, query, at: t };
    const rows = filterLog(log, filter.value, dir.value);
    setText(count, `${rows.length} of ${log.entries.length} (last ${log.max} kept)`);
    list.replaceChildren(...rows.reverse().map(entry));
    if (!rows.length) {
      const text = log.entries.length
        ? 'No message matches the filter.'
        : 'Messages to and from the core appear here.';
      list.append(h('li', { class: 'muted empty' }, text));
    }
  }

  return { el, render };
}
