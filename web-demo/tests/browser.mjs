// Headless Chromium for the browser tests, through playwright-core: the built page (dist/) served
// on a free loopback port, a fresh profile, and nothing reachable but the origins a test allows.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const shots = path.resolve(here, '..', '..', 'target', 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const byId = (id) => `[data-testid="${id}"]`;

/**
 * Starts the page's server and a browser. `allow(url)` says which other URLs may be reached.
 * Returns { server, newPage(width, height), open(page), shot(page, name), shotPath(name),
 * problems, close() }.
 */
export async function startBrowser({ allow = () => false } = {}) {
  assert.ok(
    fs.existsSync(path.join(dist, 'index.html')),
    'dist/ is missing: run web-demo/build.sh',
  );
  const server = await startServer(dist);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'breaker-chromium-'));
  // A persistent context is how playwright takes a fresh --user-data-dir of our own.
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    serviceWorkers: 'block',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  // Offline: nothing but the local server (and what the test allows) may be reached.
  await context.route('**/*', (route) => {
    const url = route.request().url();
    return url.startsWith(server.url) || allow(url) ? route.continue() : route.abort();
  });
  const problems = [];

  async function newPage(width = 1280, height = 900) {
    const p = await context.newPage();
    await p.setViewportSize({ width, height });
    p.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
    });
    p.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    p.on('requestfailed', (r) => problems.push(`requestfailed: ${r.url()}`));
    return p;
  }

  async function open(p) {
    await p.goto(server.url, { waitUntil: 'load' });
    await p.waitForSelector('body[data-ready="true"]', { timeout: 15000 });
  }

  /** Where a screenshot called `name` goes (target/screenshots/). */
  function shotPath(name) {
    fs.mkdirSync(shots, { recursive: true });
    return path.join(shots, name);
  }

  /** A full-page screenshot. */
  async function shot(p, name) {
    await p.screenshot({ path: shotPath(name), fullPage: true });
  }

  async function close() {
    await context.close();
    await server.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }

  return { server, newPage, open, shot, shotPath, problems, close };
}
