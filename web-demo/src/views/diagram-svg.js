// The state machine of one breaker as an SVG: CLOSED → OPEN → HALF_OPEN → …, the current state lit
// and the last transition drawn in the accent colour with its reason.
import { s, STATE_LABEL } from '../util.js';

const W = 480;
const H = 300;
const NODE = { w: 118, h: 46 };
const POS = { closed: { x: 96, y: 62 }, open: { x: 384, y: 62 }, half_open: { x: 240, y: 226 } };
const EDGES = [
  { from: 'closed', to: 'open', label: 'failures reach threshold' },
  { from: 'open', to: 'half_open', label: 'open timeout elapses' },
  { from: 'half_open', to: 'closed', label: 'probes succeed' },
  { from: 'half_open', to: 'open', label: 'probe fails' },
  { from: 'open', to: 'closed', label: 'reset / forced' },
  { from: 'closed', to: 'half_open', label: 'fixture' },
];

/** Where the ray from the centre of a node towards (tx, ty) leaves its box. */
function exitPoint(c, tx, ty, pad = 4) {
  const dx = tx - c.x;
  const dy = ty - c.y;
  const t = Math.min(
    (NODE.w / 2 + pad) / Math.abs(dx || 1e-9),
    (NODE.h / 2 + pad) / Math.abs(dy || 1e-9),
  );
  return { x: c.x + dx * t, y: c.y + dy * t };
}

function edgeGeometry(from, to, bend) {
  const a = POS[from];
  const b = POS[to];
  const mx = (a.x + b.x) / 2;
  const my = (a.y + b.y) / 2;
  const dx = b.x - a.x;
  const dy = b.y - a.y;
  const len = Math.hypot(dx, dy);
  // Bend to the left of the direction of travel, so the two directions of a pair never overlap.
  const nx = dy / len;
  const ny = -dx / len;
  const cx = mx + nx * bend;
  const cy = my + ny * bend;
  const p0 = exitPoint(a, cx, cy);
  const p1 = exitPoint(b, cx, cy, 7);
  // The curve's midpoint, and a spot for the label a little further out.
  const qx = 0.25 * p0.x + 0.5 * cx + 0.25 * p1.x;
  const qy = 0.25 * p0.y + 0.5 * cy + 0.25 * p1.y;
  return {
    d: `M${p0.x.toFixed(1)},${p0.y.toFixed(1)} Q${cx.toFixed(1)},${cy.toFixed(1)} ${p1.x.toFixed(1)},${p1.y.toFixed(1)}`,
    lx: qx + nx * 12,
    ly: qy + ny * 12,
    nx,
  };
}

export function createDiagram() {
  const svg = s('svg', {
    viewBox: `-16 0 ${W + 32} ${H}`,
    class: 'diagram',
    role: 'img',
    'aria-labelledby': 'diagram-title',
    'data-testid': 'state-diagram',
  });
  const title = s('title', { id: 'diagram-title' }, 'Breaker state machine');
  const defs = s(
    'defs',
    {},
    s(
      'marker',
      {
        id: 'arrow',
        viewBox: '0 0 10 10',
        refX: '8',
        refY: '5',
        markerWidth: '7',
        markerHeight: '7',
        orient: 'auto-start-reverse',
      },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head' }),
    ),
    s(
      'marker',
      {
        id: 'arrow-hot',
        viewBox: '0 0 10 10',
        refX: '8',
        refY: '5',
        markerWidth: '7',
        markerHeight: '7',
        orient: 'auto-start-reverse',
      },
      s('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-head hot' }),
    ),
  );
  svg.append(title, defs);

  const edges = {};
  for (const e of EDGES) {
    const major = !['open->closed', 'closed->half_open'].includes(`${e.from}->${e.to}`);
    const g = edgeGeometry(e.from, e.to, major ? 34 : 16);
    const path = s('path', {
      d: g.d,
      class: `edge${major ? '' : ' minor'}`,
      'marker-end': 'url(#arrow)',
    });
    const anchor = Math.abs(g.nx) < 0.3 ? 'middle' : g.nx > 0 ? 'start' : 'end';
    const label = s(
      'text',
      {
        x: g.lx.toFixed(1),
        y: (g.ly + 4).toFixed(1),
        class: `edge-label${major ? '' : ' minor'}`,
        'text-anchor': anchor,
      },
      e.label,
    );
    // The dashed edges (reset, forced mode, state fixture) are labelled only when they are the last one.
    if (!major) label.setAttribute('visibility', 'hidden');
    svg.append(path, label);
    edges[`${e.from}->${e.to}`] = { path, label, text: e.label };
  }

  const nodes = {};
  for (const [state, p] of Object.entries(POS)) {
    const rect = s('rect', {
      x: p.x - NODE.w / 2,
      y: p.y - NODE.h / 2,
      width: NODE.w,
      height: NODE.h,
      rx: 12,
      class: `node node-${state}`,
    });
    const text = s(
      'text',
      { x: p.x, y: p.y + 5, class: 'node-label', 'text-anchor': 'middle' },
      STATE_LABEL[state],
    );
    const g = s('g', { class: 'node-group', 'data-state': state }, rect, text);
    svg.append(g);
    nodes[state] = g;
  }
  // The last transition and its reason, inside the drawing.
  const reason = s('text', {
    x: W / 2,
    y: H - 8,
    class: 'diagram-reason',
    'text-anchor': 'middle',
    'data-testid': 'diagram-reason',
  });

  /** Lights `state` (none when null) and highlights the edge of `last` ({from, to, reason}). */
  function update(state, last) {
    for (const [name, g] of Object.entries(nodes)) g.classList.toggle('current', name === state);
    const key = last ? `${last.from}->${last.to}` : null;
    for (const [k, e] of Object.entries(edges)) {
      const hot = k === key;
      e.path.classList.toggle('hot', hot);
      e.path.setAttribute('marker-end', hot ? 'url(#arrow-hot)' : 'url(#arrow)');
      e.label.classList.toggle('hot', hot);
      if (e.path.classList.contains('minor'))
        e.label.setAttribute('visibility', hot ? 'visible' : 'hidden');
    }
    svg.setAttribute('data-current', state ?? '');
    reason.textContent = last
      ? `${STATE_LABEL[last.from]} → ${STATE_LABEL[last.to]}: ${last.reason}`
      : '';
    if (!reason.isConnected) svg.append(reason);
    title.textContent =
      (state ? `Breaker state machine: now ${STATE_LABEL[state]}` : 'Breaker state machine') +
      (last
        ? `; last transition ${STATE_LABEL[last.from]} to ${STATE_LABEL[last.to]}: ${last.reason}`
        : '');
  }

  return { el: svg, update };
}
