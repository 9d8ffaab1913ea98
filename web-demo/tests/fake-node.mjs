// A stand-in for a node's HTTP side, as the page expects it (web-demo/README.md, "What the page
// expects from a node"): GET /status with every service's state, GET /events as Server-Sent
// Events with an `id:` line per transition, resumed after the id in `Last-Event-ID`, and CORS for
// one origin. Its breakers and events outlive stop() and start(), as a node's state file would.
import http from 'node:http';

/** One event as an SSE frame: its seq as the id, the event as JSON. */
const frame = (e) => `id: ${e.seq}\ndata: ${JSON.stringify(e)}\n\n`;

/** The all-services status_ok body, with a field the page does not know (it must ignore it). */
function statusBody(states) {
  const services = [...states.keys()]
    .sort()
    .map((service) => ({ service, state: states.get(service), window: { calls: 0 } }));
  return JSON.stringify({ type: 'status_ok', services, evicted: 0 });
}

export function createFakeNode({ origin, services = {} }) {
  const states = new Map(Object.entries(services));
  const events = [];
  /** Every request: { path, lastEventId, origin }. */
  const requests = [];
  const streams = new Set();
  let server = null;
  let port = 0;

  const cors = (req) =>
    req.headers.origin === origin ? { 'access-control-allow-origin': origin, vary: 'Origin' } : {};

  function status(req, res) {
    res.writeHead(200, { 'content-type': 'application/json', ...cors(req) });
    res.end(statusBody(states));
  }

  function stream(req, res) {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      ...cors(req),
    });
    res.write('retry: 300\n\n');
    const after = Number(req.headers['last-event-id']);
    if (Number.isInteger(after)) for (const e of events) if (e.seq > after) res.write(frame(e));
    streams.add(res);
    req.on('close', () => streams.delete(res));
  }

  function handle(req, res) {
    const path = new URL(req.url, 'http://node').pathname;
    requests.push({
      path,
      lastEventId: req.headers['last-event-id'] ?? null,
      origin: req.headers.origin ?? null,
    });
    if (req.method === 'GET' && path === '/status') return status(req, res);
    if (req.method === 'GET' && path === '/events') return stream(req, res);
    res.writeHead(404, cors(req));
    res.end();
  }

  return {
    requests,
    events,
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    /** Listens on 127.0.0.1: a free port the first time, the same port after a stop(). */
    async start() {
      server = http.createServer(handle);
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      port = server.address().port;
    },
    /** Goes away as a killed node does: every open stream is cut. */
    async stop() {
      for (const res of streams) res.destroy();
      streams.clear();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
    /** Forgets every breaker and event, as a node restarted without its state file. */
    forget() {
      states.clear();
      events.length = 0;
    },
    /** Sets a state without an event (a breaker only /status reports). */
    setState(service, state) {
      states.set(service, state);
    },
    /** Moves `service` to `to` and tells every open stream, as the node does for a transition. */
    transition(service, to, reason) {
      const e = {
        seq: events.length + 1,
        at_ms: Date.now(),
        service,
        from: states.get(service) ?? 'closed',
        to,
        reason,
      };
      states.set(service, to);
      events.push(e);
      for (const res of streams) res.write(frame(e));
      return e;
    },
  };
}
