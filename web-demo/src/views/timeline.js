// The Last minute panel: the selected service's chart (calls by outcome over state bands, with a
// marker at each transition) and its legend.
import { stateIntervals, transitionMarks } from '../history.js';
import { h, setText } from '../util.js';
import { createChart } from './chart.js';
import './timeline.css';

/** While time runs, the chart is redrawn at most this often (ms of wall time). */
const REDRAW_MS = 150;

export function createTimelinePanel() {
  const title = h('h2', { id: 'timeline-h' }, 'Last minute');
  const box = h('div', { class: 'timeline-chart', 'data-testid': 'timeline' });
  const legend = h('p', { class: 'chart-legend', 'data-testid': 'chart-legend' });
  const note = h('p', { class: 'muted small chart-note' });
  const el = h(
    'section',
    { class: 'panel timeline-panel', 'aria-labelledby': 'timeline-h' },
    h(
      'div',
      { class: 'panel-head' },
      title,
      h(
        'div',
        { class: 'band-legend', 'aria-label': 'State bands' },
        h('span', { class: 'swatch band-closed' }),
        'closed',
        h('span', { class: 'swatch band-open' }),
        'open',
        h('span', { class: 'swatch band-half_open' }),
        'half-open',
        h('span', { class: 'swatch mark' }),
        'transition',
      ),
    ),
    box,
    legend,
    note,
  );
  let chart = null;
  let drawn = { at: 0, key: '' };

  function render(vm, { force = false } = {}) {
    chart ??= createChart(box, legend);
    const name = vm.selected;
    setText(title, name ? `Last minute · ${name}` : 'Last minute');
    setText(
      note,
      vm.mode === 'simulate'
        ? ''
        : 'Calls are counted in the simulator only; here the bands and markers are the node’s transitions.',
    );
    note.hidden = vm.mode === 'simulate';
    const state = vm.services.find((s) => s.name === name)?.status?.state;
    const lastSeq = vm.events.length ? vm.events[vm.events.length - 1].seq : 0;
    const key = `${vm.mode}|${name}|${state}|${lastSeq}|${vm.nowMs}`;
    const t = performance.now();
    if (key === drawn.key || (!force && t - drawn.at < REDRAW_MS)) return;
    drawn = { at: t, key };
    chart.update({
      buckets: vm.buckets,
      intervals: name ? stateIntervals(vm.events, name, state, vm.nowMs) : [],
      marks: name ? transitionMarks(vm.events, name) : [],
      nowMs: vm.nowMs,
    });
  }

  return { el, render };
}
