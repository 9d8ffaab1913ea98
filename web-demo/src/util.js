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

/**
 * A node's time: Unix milliseconds (a node on the system clock) as the local time of day
 * hh:mm:ss.d, anything smaller (a simulated or manual clock) as m:ss.d.
 */
export function fmtAt(ms) {
  if (ms < 1e11) return fmtTime(ms);
  const d = new Date(ms);
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${Math.floor(d.getMilliseconds() / 100)}`;
}

/** Milliseconds as a short duration: 4.2 s, 850 ms. */
export function fmtDuration(ms) {
  if (ms >= 10000) return `${Math.ceil(ms / 1000)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.max(0, Math.round(ms))} ms`;
}

export const STATE_LABEL = { closed: 'CLOSED', open: 'OPEN', half_open: 'HALF-OPEN' };

/** Sets an element's text only when it differs, so a render that changes nothing touches nothing. */
export function setText(el, text) {
  const t = String(text);
  if (el.textContent !== t) el.textContent = t;
}

/** Sets an attribute only when it differs. */
export function setAttr(el, name, value) {
  const v = String(value);
  if (el.getAttribute(name) !== v) el.setAttribute(name, v);
}

const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** A reply of the core in a sentence, for the line under the action buttons. */
export function describeReply(r) {
  if (!r) return 'No reply.';
  switch (r.type) {
    case 'call_ok':
      return `Call succeeded (${STATE_LABEL[r.state]}).`;
    case 'call_failed':
      return `Call failed: ${plural(r.failures, 'consecutive failure', 'consecutive failures')}.`;
    case 'circuit_breaker_open':
      return `Breaker opened after ${plural(r.failures, 'failure', 'failures')}${r.rejected ? `; ${r.rejected} rejected` : ''}.`;
    case 'circuit_breaker_closed':
      return 'Probe succeeded: breaker closed.';
    case 'force_ok':
      return `Forced mode ${r.mode}: now ${STATE_LABEL[r.state] ?? r.state}.`;
    case 'reset_ok':
      return 'Breaker reset.';
    case 'error':
      return r.error ? `Rejected: ${r.error}.` : `Error ${r.code}: ${r.text}`;
    default:
      return r.type;
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
