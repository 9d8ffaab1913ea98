// The breaker core (wasm-bindgen build of breaker-wasm) behind a small message API.
import init, { WebNode } from '../pkg/breaker_wasm.js';

let ready = null;

/** Loads the WebAssembly module once. */
export function loadCore() {
  ready ??= init();
  return ready.then(() => ({ abiVersion: WebNode.abiVersion() }));
}

/**
 * One breaker node. `send` builds an envelope, hands it to the core at `now_ms` and returns the
 * parsed reply body; every document in and out is reported to `onMessage`.
 */
export class Core {
  constructor({ manualClock = false, onMessage = () => {} } = {}) {
    this.node = new WebNode(manualClock);
    this.nextId = 1;
    this.onMessage = onMessage;
  }

  free() {
    this.node.free();
  }

  /** Sends one body to `dest` at `now`; returns the reply body (or null when none). */
  send(dest, body, now, { internal = false } = {}) {
    const full = { ...body, msg_id: this.nextId++ };
    const text = JSON.stringify({ src: 'ui', dest, body: full });
    const out = this.node.handle(`${text}\n`, now);
    this.onMessage({ dir: 'in', text, now, internal });
    const diagnostics = this.node.diagnostics();
    if (diagnostics) this.onMessage({ dir: 'diag', text: diagnostics.trimEnd(), now, internal });
    const line = out.split('\n').find((l) => l.length > 0);
    if (!line) return null;
    this.onMessage({ dir: 'out', text: line, now, internal });
    return JSON.parse(line).body;
  }

  /** Hands raw input (one or more documents) to the core; returns the raw replies and diagnostics. */
  raw(input, now) {
    const text = input.endsWith('\n') ? input : `${input}\n`;
    const out = this.node.handle(text, now);
    return { out, diagnostics: this.node.diagnostics() };
  }
}
