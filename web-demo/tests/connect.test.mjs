// Browser tests of Connect mode: the page watching a node (a fake one, tests/fake-node.mjs, on
// another loopback port, so every request is cross-origin as in real use).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { byId, startBrowser } from './browser.mjs';
import { createFakeNode } from './fake-node.mjs';

/** How soon a transition must be on the page after the node sends it. */
const WITHIN_MS = 1000;

let browser;
let node;
let page;

const card = (service, state) => `${byId(`service-card-${service}`)}[data-state="${state}"]`;
const phase = (name) => `${byId('connect-phase')}[data-phase="${name}"]`;

before(async () => {
  node = null;
  browser = await startBrowser({ allow: (url) => node !== null && url.startsWith(node.url) });
  node = createFakeNode({
    origin: new URL(browser.server.url).origin,
    services: { payments: 'closed', search: 'open' },
  });
  await node.start();
  page = await browser.newPage();
  await browser.open(page);
});

after(async () => {
  await browser?.close();
  await node?.stop().catch(() => {});
});

test('a URL the page cannot use is refused with a reason', async () => {
  await page.click(byId('mode-connect'));
  assert.equal(await page.getAttribute(byId('mode-connect'), 'aria-pressed'), 'true');
  // The simulator's panels are gone; the shared ones wait for a node.
  assert.equal(await page.isVisible(byId('inject-button')), false);
  assert.equal(await page.isVisible(byId('config-form')), false);
  // Nothing is lit before there is a node to show.
  assert.equal(await page.getAttribute(byId('state-diagram'), 'data-current'), '');
  await browser.shot(page, 'connect-idle-1280.png');
  await page.fill(byId('connect-url'), 'ftp://127.0.0.1:1');
  await page.click(byId('connect-button'));
  assert.match(await page.textContent(byId('connect-problem')), /Only http and https/);
  assert.equal(await page.getAttribute(byId('connect-phase'), 'data-phase'), 'idle');
});

test('connecting shows the node’s services from /status', async () => {
  await page.fill(byId('connect-url'), node.url);
  await page.click(byId('connect-button'));
  await page.waitForSelector(phase('live'), { timeout: 5000 });
  await page.waitForSelector(card('search', 'open'), { timeout: WITHIN_MS });
  await page.waitForSelector(card('payments', 'closed'), { timeout: WITHIN_MS });
  assert.match(await page.textContent(byId('card-state-search')), /^OPEN$/);
  // Cross-origin, as from a real node.
  const status = node.requests.find((r) => r.path === '/status');
  assert.equal(status.origin, new URL(browser.server.url).origin);
  assert.equal(await page.textContent(byId('connect-problem')), '');
});

test('each transition the node sends is on the page within a second', async () => {
  await page.click(byId('select-payments'));
  const steps = [
    ['open', '5 consecutive failures (threshold 5)', 'CLOSED → OPEN'],
    ['half_open', 'open timeout of 5000 ms elapsed', 'OPEN → HALF-OPEN'],
    ['closed', '1 successful probe (threshold 1)', 'HALF-OPEN → CLOSED'],
  ];
  for (const [to, reason, arrow] of steps) {
    node.transition('payments', to, reason);
    await page.waitForSelector(card('payments', to), { timeout: WITHIN_MS });
    await page.waitForFunction(
      (text) => document.querySelector('[data-testid="diagram-reason"]')?.textContent === text,
      `${arrow}: ${reason}`,
      { timeout: WITHIN_MS },
    );
    assert.equal(await page.getAttribute(byId('state-diagram'), 'data-current'), to);
    assert.equal(await page.textContent(byId('last-reason')), reason);
  }
  const history = await page.$$eval(`${byId('transition-history')} .pill`, (els) =>
    els.map((e) => e.textContent),
  );
  assert.deepEqual(history, ['CLOSED', 'HALF-OPEN', 'OPEN']);
  await page.waitForTimeout(300); // the diagram's colours fade over 0.2 s
  await browser.shot(page, 'connect-1280.png');
  await page.setViewportSize({ width: 390, height: 844 });
  await browser.shot(page, 'connect-390.png');
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('after the node restarts the page reconnects, resumes with Last-Event-ID, and re-reads /status', async () => {
  const lastSeen = node.events.at(-1).seq;
  const statusReads = () => node.requests.filter((r) => r.path === '/status').length;
  await node.stop();
  await page.waitForSelector(phase('reconnecting'), { timeout: 5000 });
  // While the page is away the node moves on: a transition it must catch up with, and a state
  // only /status tells (no event).
  node.transition('search', 'half_open', 'open timeout of 5000 ms elapsed');
  node.setState('inventory', 'open');
  const readsBefore = statusReads();
  await node.start();
  await page.waitForSelector(phase('live'), { timeout: 10000 });
  await page.waitForSelector(card('search', 'half_open'), { timeout: WITHIN_MS });
  const resumed = node.requests.filter((r) => r.path === '/events' && r.lastEventId !== null);
  assert.ok(resumed.length >= 1, 'the reconnect sent no Last-Event-ID');
  assert.equal(resumed[0].lastEventId, String(lastSeen));
  await page.waitForSelector(card('inventory', 'open'), { timeout: WITHIN_MS });
  assert.ok(statusReads() > readsBefore, 'no /status after the reconnect');
  // And it is live again: a new transition arrives.
  node.transition('payments', 'open', '5 consecutive failures (threshold 5)');
  await page.waitForSelector(card('payments', 'open'), { timeout: WITHIN_MS });
});

test('a node that restarts without its state starts the page over', async () => {
  await node.stop();
  await page.waitForSelector(phase('reconnecting'), { timeout: 5000 });
  node.forget();
  await node.start();
  await page.waitForSelector(phase('live'), { timeout: 10000 });
  // Its /status has no breakers yet; its first transition has seq 1 again.
  await page.waitForFunction(
    () => !document.querySelector('[data-testid="service-card-payments"]'),
    null,
    { timeout: WITHIN_MS },
  );
  node.transition('payments', 'open', '5 consecutive failures (threshold 5)');
  await page.waitForSelector(card('payments', 'open'), { timeout: WITHIN_MS });
  await page.click(byId('select-payments'));
  const history = await page.$$eval(`${byId('transition-history')} .pill`, (els) =>
    els.map((e) => e.textContent),
  );
  assert.deepEqual(history, ['OPEN']);
});

test('back to the simulator: its clock and services return', async () => {
  await page.click(byId('mode-simulate'));
  await page.waitForSelector(byId('service-card-inventory'));
  assert.equal(await page.isVisible(byId('inject-button')), true);
  assert.equal(await page.isVisible(byId('connect-url')), false);
});

test('no page errors; network errors only from the node while it was down', () => {
  // Chromium reports the cut stream and the refused reconnects; nothing else may appear.
  const unexpected = browser.problems.filter(
    (p) => p.startsWith('pageerror') || !(p.includes(node.url) || /net::ERR_/.test(p)),
  );
  assert.deepEqual(unexpected, []);
});
