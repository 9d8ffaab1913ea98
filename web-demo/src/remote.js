// The protocol client of a running node (Connect mode): `GET {url}/status` for every service's
// state and `GET {url}/events`, Server-Sent Events with one transition each. The parsing and the
// node's clock are pure; `watchNode` adds fetch and EventSource.

const STATES = new Set(['closed', 'open', 'half_open']);

/** The node's base URL from what the user typed: http(s) only, no trailing slash. */
export function normalizeUrl(text) {
  let t = text.trim();
  if (!t) throw new Error('Enter the node’s URL, e.g. http://127.0.0.1:9100');
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) t = `http://${t}`;
  const url = new URL(t);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`Only http and https URLs: ${url.protocol} is not one`);
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

/**
 * The `status_ok` body of all services as Map(name → status): each entry keeps every field the
 * node sends (unknown ones included) and needs a service name and a known state. Throws when the
 * body is not such a reply.
 */
export function parseStatus(body) {
  if (body?.type !== 'status_ok' || !Array.isArray(body.services)) {
    throw new Error('not a status_ok reply with services');
  }
  const out = new Map();
  for (const s of body.services) {
    if (typeof s?.service === 'string' && STATES.has(s.state)) out.set(s.service, s);
  }
  return out;
}

/** One SSE `data:` payload as an event, or null when it is not a transition. */
export function parseEvent(data) {
  let e;
  try {
    e = JSON.parse(data);
  } catch {
    return null;
  }
  const ok =
    Number.isSafeInteger(e?.seq) &&
    Number.isFinite(e.at_ms) &&
    typeof e.service === 'string' &&
    STATES.has(e.from) &&
    STATES.has(e.to);
  if (!ok) return null;
  return {
    seq: e.seq,
    at_ms: e.at_ms,
    service: e.service,
    from: e.from,
    to: e.to,
    reason: typeof e.reason === 'string' ? e.reason : '',
  };
}

/**
 * The node's time as the page estimates it: the node dates events with its own clock (Unix
 * milliseconds, or a manual clock from 0), so the page keeps the largest offset seen between an
 * event's time and the local time it arrived, and runs on from there.
 */
export function createNodeClock() {
  let offset = null;
  return {
    observe(atMs, localMs) {
      const o = atMs - localMs;
      if (offset === null || o > offset) offset = o;
    },
    now(localMs) {
      return localMs + (offset ?? 0);
    },
  };
}

/**
 * Watches the node at `url` until `stop()`: status at the start, on every (re)connection and
 * every `statusEveryMs`, each event as it comes. The browser's EventSource reconnects by itself
 * and sends `Last-Event-ID`; if it gives up (an answer that is not an event stream), a new one is
 * opened after a growing pause. Calls `on.phase(name)` with 'connecting', 'live' or
 * 'reconnecting'; `on.statusAsked()` as a status request leaves, whose return value comes back
 * as `on.status(services, asked)`; `on.event(e)`; `on.problem(text)`.
 */
export function watchNode(url, on, { statusEveryMs = 2000 } = {}) {
  let source = null;
  let stopped = false;
  let retry = null;
  let retryMs = 500;

  async function readStatus() {
    const asked = on.statusAsked();
    try {
      const res = await fetch(`${url}/status`, { cache: 'no-store' });
      if (!res.ok) throw new Error(`GET /status answered ${res.status}`);
      const services = parseStatus(await res.json());
      if (!stopped) on.status(services, asked);
    } catch (e) {
      if (!stopped) on.problem(`status: ${e.message}`);
    }
  }

  function open() {
    on.phase(source ? 'reconnecting' : 'connecting');
    source?.close();
    const es = new EventSource(`${url}/events`);
    source = es;
    es.onopen = () => {
      retryMs = 500;
      on.phase('live');
      readStatus();
    };
    es.onmessage = (m) => {
      const e = parseEvent(m.data);
      if (e) on.event(e);
    };
    es.onerror = () => {
      if (stopped || es !== source) return;
      on.phase('reconnecting');
      if (es.readyState === EventSource.CLOSED) {
        on.problem('events: GET /events is not an event stream the page may read (CORS?)');
        clearTimeout(retry);
        retry = setTimeout(open, retryMs);
        retryMs = Math.min(10000, retryMs * 2);
      }
    };
  }

  open();
  readStatus();
  const poll = setInterval(() => {
    if (source?.readyState === EventSource.OPEN) readStatus();
  }, statusEveryMs);
  return {
    stop() {
      stopped = true;
      clearTimeout(retry);
      clearInterval(poll);
      source?.close();
    },
  };
}
