// Connect mode against a real `breaker-host --listen` (target/release/breaker-host, or
// BREAKER_HOST): traffic on its stdin opens and closes a breaker, and the page shows each
// transition within a second, also after the host restarts with its state file. Skipped when the
// host has no --listen.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { byId, startBrowser } from './browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const HOST = process.env.BREAKER_HOST ?? path.resolve(here, '../../target/release/breaker-host');
const WITHIN_MS = 1000;

function hasListen() {
  try {
    return execFileSync(HOST, ['--help'], { encoding: 'utf8', stdio: 'pipe' }).includes('--listen');
  } catch (e) {
    return `${e.stdout ?? ''}${e.stderr ?? ''}`.includes('--listen');
  }
}

const skip = fs.existsSync(HOST) && hasListen() ? false : `${HOST} has no --listen`;

async function freePort() {
  const srv = net.createServer();
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function until(check, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The host on `port` with a manual clock and a state file; `send(body)` resolves to the reply. */
async function startHost(port, stateFile) {
  const args = ['--clock', 'manual', '--listen', `127.0.0.1:${port}`, '--state-file', stateFile];
  const child = spawn(HOST, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting = new Map();
  let msgId = 0;
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const { body } = JSON.parse(line);
    waiting.get(body.in_reply_to)?.(body);
  });
  const url = `http://127.0.0.1:${port}`;
  await until(() => fetch(`${url}/status`).then((r) => r.ok), 10000, 'the host to listen');
  return {
    url,
    send(body) {
      msgId++;
      const doc = {
        src: 'test',
        dest: body.service ?? 'breaker',
        body: { ...body, msg_id: msgId },
      };
      return new Promise((resolve) => {
        waiting.set(msgId, resolve);
        child.stdin.write(`${JSON.stringify(doc)}\n`);
      });
    },
    stop() {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      return gone;
    },
  };
}

let browser;
let host;
let page;
let port;
let dir;
const card = (state) => `${byId('service-card-payments')}[data-state="${state}"]`;

before(async () => {
  if (skip) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'breaker-node-'));
  port = await freePort();
  host = await startHost(port, path.join(dir, 'state.json'));
  browser = await startBrowser({ allow: (url) => url.startsWith(host.url) });
  page = await browser.newPage();
  await browser.open(page);
});

after(async () => {
  await browser?.close();
  await host?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('the node answers CORS for the page’s origin', { skip }, async () => {
  const origin = new URL(browser.server.url).origin;
  const res = await fetch(`${host.url}/status`, { headers: { origin } });
  assert.ok([origin, '*'].includes(res.headers.get('access-control-allow-origin')));
});

test('a breaker opened, probed and closed through stdin shows on the page within a second', {
  skip,
}, async () => {
  await page.click(byId('mode-connect'));
  await page.fill(byId('connect-url'), host.url);
  await page.click(byId('connect-button'));
  await page.waitForSelector(`${byId('connect-phase')}[data-phase="live"]`, { timeout: 5000 });
  await host.send({ type: 'call', service: 'payments', force_failures: 5 });
  await page.waitForSelector(card('open'), { timeout: WITHIN_MS });
  await host.send({ type: 'advance_clock', ms: 5000 });
  const { permit } = await host.send({ type: 'acquire', service: 'payments' });
  await page.waitForSelector(card('half_open'), { timeout: WITHIN_MS });
  await host.send({ type: 'record', service: 'payments', permit, outcome: 'success' });
  await page.waitForSelector(card('closed'), { timeout: WITHIN_MS });
  assert.match(await page.textContent(byId('last-reason')), /successful probe/);
  await browser.shot(page, 'connect-real-node-1280.png');
});

test('after the host restarts the page follows it again', { skip }, async () => {
  await host.stop();
  host = await startHost(port, path.join(dir, 'state.json'));
  await page.waitForSelector(`${byId('connect-phase')}[data-phase="live"]`, { timeout: 10000 });
  await host.send({ type: 'call', service: 'payments', force_failures: 5 });
  await page.waitForSelector(card('open'), { timeout: WITHIN_MS });
});
