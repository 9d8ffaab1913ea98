// Small helpers shared by the page's modules.

/** Creates an element: h('button', { class: 'x', onclick }, 'text', child). */
export function h(tag, attrs = {}, ...children) {
  const el =
    tag === 'svg' || attrs.svg
      ? document.createElementNS('http://www.w3.org/2000/svg', tag)
      : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'svg' || v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && !(el instanceof SVGElement) && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** An SVG element with attributes. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) if (v != null) el.setAttribute(k, String(v));
  for (const c of children.flat()) {
    if (c == null) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Simulated milliseconds as m:ss.d */
export function fmtTime(ms) {
  const total = Math.max(0, Math.floor(ms / 100));
  const tenths = total % 10;
  const secs = Math.floor(total / 10);
  const m = Math.floor(secs / 60);
  const sec = String(secs % 60).padStart(2, '0');
  return `${m}:${sec}.${tenths}`;
}

/** Milliseconds as a short duration: 4.2 s, 850 ms. */
export function fmtDuration(ms) {
  if (ms >= 10000) return `${Math.ceil(ms / 1000)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.max(0, Math.round(ms))} ms`;
}

export const STATE_LABEL = { closed: 'CLOSED', open: 'OPEN', half_open: 'HALF-OPEN' };

/** mulberry32: a small seeded PRNG whose whole state is one 32-bit integer. */
export class Prng {
  constructor(state) {
    this.state = state >>> 0;
  }
  next() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
}

/** Parses a form value the way a user means it: numbers, booleans, null, JSON objects, else text. */
export function parseValue(text) {
  const t = text.trim();
  if (t === '') return { value: null };
  if (/^-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return { value: Number(t) };
  if (t === 'true' || t === 'false' || t === 'null') return { value: JSON.parse(t) };
  if (t.startsWith('{') || t.startsWith('[') || t.startsWith('"')) {
    try {
      return { value: JSON.parse(t) };
    } catch (e) {
      return { error: `not valid JSON: ${e.message}` };
    }
  }
  return { value: t };
}
