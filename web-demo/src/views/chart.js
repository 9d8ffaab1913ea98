// The last minute for one service: calls per second by outcome (stacked bars) over bands coloured
// by the breaker's state, a marker at every transition (so a half-open moment of a few
// milliseconds still shows), and a legend with the minute's totals (the hovered second's values
// while the pointer is on the chart).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { fmtAt, h, setText } from '../util.js';

const WINDOW_S = 60;
const HEIGHT = 220;
const COLORS = { success: '#34d399', failure: '#f87171', rejected: '#a78bfa' };
const BAND = {
  open: 'rgba(248,113,113,0.16)',
  half_open: 'rgba(251,191,36,0.30)',
  closed: 'rgba(52,211,153,0.05)',
};
const MARK = { open: '#f87171', half_open: '#fbbf24', closed: '#34d399' };
/** A half-open band is drawn at least this wide (CSS pixels), however short it was. */
const MIN_BAND_PX = 4;
const SERIES = [
  ['success', 1],
  ['failure', 2],
  ['rejected', 3],
];

/** Seconds on the axis: m:ss, or the time of day for a node on the system clock. */
export function fmtAxis(sec) {
  return fmtAt(Math.round(sec) * 1000).replace(/\.\d$/, '');
}

function drawBands(u, bands, marks) {
  const { ctx, bbox } = u;
  const px = devicePixelRatio || 1;
  ctx.save();
  ctx.beginPath();
  ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
  ctx.clip();
  for (const b of bands) {
    const x0 = u.valToPos(b.from, 'x', true);
    let x1 = u.valToPos(b.to, 'x', true);
    if (b.state === 'half_open') x1 = Math.max(x1, x0 + MIN_BAND_PX * px);
    if (x1 <= bbox.left || x0 >= bbox.left + bbox.width) continue;
    ctx.fillStyle = BAND[b.state];
    ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
  }
  // Transition markers: a line in the colour of the state entered, with a tab at the top; the tabs
  // of transitions at the same moment (open → half_open → closed in one call) stack downwards.
  const stacked = new Map();
  for (const m of marks) {
    const x = Math.round(u.valToPos(m.at, 'x', true));
    if (x < bbox.left || x > bbox.left + bbox.width) continue;
    const n = stacked.get(x) ?? 0;
    stacked.set(x, n + 1);
    ctx.fillStyle = MARK[m.to];
    if (n === 0) ctx.fillRect(x - px, bbox.top, 2 * px, bbox.height);
    ctx.fillRect(x - 4 * px, bbox.top + n * 8 * px, 8 * px, 6 * px);
  }
  ctx.restore();
}

function axis(extra) {
  return {
    stroke: '#94a3b8',
    grid: { stroke: 'rgba(148,163,184,0.12)' },
    ticks: { stroke: 'rgba(148,163,184,0.25)' },
    ...extra,
  };
}

function barSeries(label, color, paths) {
  return { label, stroke: color, fill: color, width: 0, paths, points: { show: false } };
}

/** `update({buckets, intervals, marks, nowMs})`; see createTimelinePanel for their shapes. */
export function createChart(container, legend) {
  let bands = [];
  let marks = [];
  let raw = [[], [], [], []];
  let range = [0, WINDOW_S];

  const legendValues = {};
  const legendCaption = h('span', { class: 'legend-caption muted' });
  legend.replaceChildren(
    ...SERIES.map(([name]) => {
      legendValues[name] = h('strong', { 'data-testid': `legend-${name}` });
      return h(
        'span',
        { class: `legend-item legend-${name}` },
        h('span', { class: 'legend-swatch' }),
        `${name} `,
        legendValues[name],
      );
    }),
    legendCaption,
  );

  function showLegend(idx) {
    const hovered = idx != null && raw[0][idx] != null;
    for (const [name, col] of SERIES) {
      const v = hovered ? raw[col][idx] : raw[col].reduce((a, b) => a + b, 0);
      setText(legendValues[name], v);
    }
    setText(legendCaption, hovered ? `in second ${fmtAxis(raw[0][idx])}` : 'in the last minute');
  }

  const bars = uPlot.paths.bars({ size: [0.78, 40], align: 0 });
  const opts = {
    width: Math.max(300, container.clientWidth),
    height: HEIGHT,
    padding: [12, 24, 0, 4],
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    legend: { show: false },
    scales: {
      x: { time: false, range: () => range },
      y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] },
    },
    axes: [
      axis({ values: (_u, vals) => vals.map((v) => (v < 0 ? '' : fmtAxis(v))), space: 70 }),
      axis({
        size: 40,
        label: 'calls / s',
        labelSize: 18,
        labelFont: '12px system-ui, sans-serif',
        font: '12px system-ui, sans-serif',
      }),
    ],
    series: [
      { label: 'time' },
      barSeries('rejected', COLORS.rejected, bars),
      barSeries('failure', COLORS.failure, bars),
      barSeries('success', COLORS.success, bars),
    ],
    hooks: {
      drawClear: [(u) => drawBands(u, bands, marks)],
      setCursor: [(u) => showLegend(u.cursor.idx)],
    },
  };

  const plot = new uPlot(opts, [[], [], [], []], container);
  const ro = new ResizeObserver(() => {
    const w = Math.max(280, Math.floor(container.clientWidth));
    if (w !== plot.width) plot.setSize({ width: w, height: HEIGHT });
  });
  ro.observe(container);

  function update({ buckets, intervals, marks: m, nowMs }) {
    const end = nowMs / 1000;
    const first = Math.floor(end) - WINDOW_S + 1;
    range = [end - WINDOW_S, end + 0.5];
    const xs = [];
    const ok = [];
    const bad = [];
    const rej = [];
    for (let sec = Math.max(0, first - 1); sec <= Math.floor(end); sec++) {
      const b = buckets.get(sec) ?? [0, 0, 0];
      xs.push(sec);
      ok.push(b[0]);
      bad.push(b[1]);
      rej.push(b[2]);
    }
    raw = [xs, ok, bad, rej];
    bands = intervals;
    marks = m;
    const sumFail = ok.map((v, i) => v + bad[i]);
    const sumAll = sumFail.map((v, i) => v + rej[i]);
    plot.setData([xs, sumAll, sumFail, ok]);
    showLegend(plot.cursor.idx);
  }

  return { update, plot };
}
