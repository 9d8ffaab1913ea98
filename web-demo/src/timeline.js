// The last minute of simulated time for one service: calls per second by outcome (stacked bars),
// over bands coloured by the breaker's state.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const WINDOW_S = 60;
const COLORS = { success: '#34d399', failure: '#f87171', rejected: '#a78bfa' };
const BAND = {
  open: 'rgba(248,113,113,0.16)',
  half_open: 'rgba(251,191,36,0.18)',
  closed: 'rgba(52,211,153,0.05)',
};

function fmtAxis(sec) {
  const neg = sec < 0;
  const v = Math.abs(Math.round(sec));
  return `${neg ? '-' : ''}${Math.floor(v / 60)}:${String(v % 60).padStart(2, '0')}`;
}

export function createTimeline(container) {
  let bands = [];
  let raw = [[], [], [], []];
  let range = [0, WINDOW_S];

  const bars = uPlot.paths.bars({ size: [0.78, 40], align: 0 });
  const legendValue = (idx) => (_u, _v, _si, i) =>
    i == null || raw[idx][i] == null ? '–' : raw[idx][i];

  const opts = {
    width: Math.max(300, container.clientWidth),
    height: 220,
    padding: [12, 12, 0, 4],
    cursor: { drag: { x: false, y: false }, points: { show: false } },
    legend: { show: true, live: true },
    scales: {
      x: { time: false, range: () => range },
      y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] },
    },
    axes: [
      {
        stroke: '#94a3b8',
        grid: { stroke: 'rgba(148,163,184,0.12)' },
        ticks: { stroke: 'rgba(148,163,184,0.25)' },
        values: (_u, vals) => vals.map((v) => (v < 0 ? '' : fmtAxis(v))),
        space: 60,
      },
      {
        stroke: '#94a3b8',
        grid: { stroke: 'rgba(148,163,184,0.12)' },
        ticks: { stroke: 'rgba(148,163,184,0.25)' },
        size: 40,
        label: 'calls / s',
        labelSize: 18,
        labelFont: '12px system-ui, sans-serif',
        font: '12px system-ui, sans-serif',
      },
    ],
    series: [
      { label: 'time', value: (_u, v) => (v == null ? '–' : fmtAxis(v)) },
      {
        label: 'rejected',
        stroke: COLORS.rejected,
        fill: COLORS.rejected,
        width: 0,
        paths: bars,
        points: { show: false },
        value: legendValue(3),
      },
      {
        label: 'failure',
        stroke: COLORS.failure,
        fill: COLORS.failure,
        width: 0,
        paths: bars,
        points: { show: false },
        value: legendValue(2),
      },
      {
        label: 'success',
        stroke: COLORS.success,
        fill: COLORS.success,
        width: 0,
        paths: bars,
        points: { show: false },
        value: legendValue(1),
      },
    ],
    hooks: {
      drawClear: [
        (u) => {
          const { ctx, bbox } = u;
          ctx.save();
          ctx.beginPath();
          ctx.rect(bbox.left, bbox.top, bbox.width, bbox.height);
          ctx.clip();
          for (const b of bands) {
            const x0 = u.valToPos(b.from, 'x', true);
            const x1 = u.valToPos(b.to, 'x', true);
            if (x1 <= bbox.left || x0 >= bbox.left + bbox.width) continue;
            ctx.fillStyle = BAND[b.state];
            ctx.fillRect(x0, bbox.top, x1 - x0, bbox.height);
          }
          ctx.restore();
        },
      ],
    },
  };

  const plot = new uPlot(opts, [[], [], [], []], container);
  const ro = new ResizeObserver(() => {
    const w = Math.max(280, Math.floor(container.clientWidth));
    if (w !== plot.width) plot.setSize({ width: w, height: 220 });
  });
  ro.observe(container);

  /**
   * buckets: Map second -> [successes, failures, rejections]; intervals: [{from, to, state}] in
   * seconds; nowMs: the simulated time.
   */
  function update(buckets, intervals, nowMs) {
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
    const sumFail = ok.map((v, i) => v + bad[i]);
    const sumAll = sumFail.map((v, i) => v + rej[i]);
    plot.setData([xs, sumAll, sumFail, ok]);
  }

  return { update, plot };
}
