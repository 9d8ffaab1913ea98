// Browser tests of the simulator: the built page (dist/) in headless Chromium.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { byId, startBrowser } from './browser.mjs';

const EXAMPLE_IN = [
  '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":1,"force_failures":5}}',
  '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":2,"state":"open"}}',
  '{"src":"service-a","dest":"service-b","body":{"type":"call","msg_id":3,"state":"half_open","force_success":true}}',
];
const EXAMPLE_OUT = [
  '{"src":"service-b","dest":"service-a","body":{"type":"circuit_breaker_open","in_reply_to":1,"service":"service-b","failures":5}}',
  '{"src":"service-b","dest":"service-a","body":{"type":"error","in_reply_to":2,"error":"Circuit breaker OPEN","service":"service-b"}}',
  '{"src":"service-b","dest":"service-a","body":{"type":"circuit_breaker_closed","in_reply_to":3,"service":"service-b","state":"closed"}}',
];

let browser;
let page;
const open = (p) => browser.open(p);
const shot = (p, name) => browser.shot(p, name);

/** Stops the clock and the simulated traffic of `service`, so the test alone drives it. */
async function quiet(p, service) {
  if ((await p.getAttribute(byId('play-toggle'), 'aria-pressed')) === 'true')
    await p.click(byId('play-toggle'));
  await p.click(byId(`select-${service}`));
  await p.fill(byId('health-rate'), '0');
  await p.fill(byId('health-failure'), '0');
}

before(async () => {
  browser = await startBrowser();
  page = await browser.newPage();
});

after(async () => {
  await browser?.close();
});

test('the page loads with three services and no console errors', async () => {
  await open(page);
  for (const name of ['payments', 'inventory', 'search']) {
    await page.waitForSelector(byId(`service-card-${name}`));
  }
  // Let the clock run a moment so traffic flows, then check again.
  await page.waitForTimeout(1200);
  assert.notEqual(await page.textContent(byId('sim-time')), '0:00.0');
  assert.deepEqual(browser.problems, []);
});

test('injecting 5 failures opens the card, with a countdown', async () => {
  await page.click(byId('reset-demo'));
  await quiet(page, 'payments');
  await shot(page, 'closed-1280.png');
  await page.fill(byId('inject-count'), '5');
  await page.click(byId('inject-button'));
  const card = byId('service-card-payments');
  await page.waitForSelector(`${card}[data-state="open"]`);
  assert.match(await page.textContent(byId('card-state-payments')), /OPEN/);
  assert.match(await page.textContent(byId('card-countdown-payments')), /Probe allowed in 5\.0 s/);
  assert.match(await page.textContent(byId('card-failures-payments')), /^5 \/ 5$/);
  assert.match(
    await page.textContent(byId('last-reason')),
    /5 consecutive failures \(threshold 5\)/,
  );
  assert.equal(await page.getAttribute(byId('state-diagram'), 'data-current'), 'open');
  // The chart's legend shows the minute's totals without hovering: the card's counts.
  for (const [legend, count] of [
    ['success', 'successes'],
    ['failure', 'failed'],
    ['rejected', 'rejected'],
  ]) {
    assert.equal(
      await page.textContent(byId(`legend-${legend}`)),
      await page.textContent(byId(`card-${count}-payments`)),
      legend,
    );
  }
  assert.ok(Number(await page.textContent(byId('legend-failure'))) >= 5);
  assert.equal(
    await page.textContent(byId('diagram-reason')),
    'CLOSED → OPEN: 5 consecutive failures (threshold 5)',
  );
  // The countdown moves with the simulated clock.
  await page.selectOption(byId('step-size'), '1000');
  await page.click(byId('step-button'));
  assert.match(await page.textContent(byId('card-countdown-payments')), /Probe allowed in 4\.0 s/);
  await shot(page, 'open-1280.png');
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, 'open-390.png');
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('past the open timeout it is half-open, and a successful call closes it', async () => {
  for (let i = 0; i < 4; i++) await page.click(byId('step-button'));
  await page.waitForSelector(`${byId('service-card-payments')}[data-state="half_open"]`);
  assert.match(await page.textContent(byId('card-state-payments')), /HALF-OPEN/);
  assert.match(await page.textContent(byId('last-reason')), /open timeout of 5000 ms elapsed/);
  await shot(page, 'half-open-1280.png');
  await page.click(byId('send-call'));
  await page.waitForSelector(`${byId('service-card-payments')}[data-state="closed"]`);
  assert.match(await page.textContent(byId('last-reason')), /1 successful probe \(threshold 1\)/);
  assert.match(await page.textContent(byId('action-result')), /closed/i);
});

test('a config change through the form takes effect; an invalid value shows the core error', async () => {
  await page.check(byId('config-scope-defaults'));
  await page.fill(byId('config-failure_threshold'), '2');
  await page.click(byId('config-apply'));
  await page.waitForFunction(() =>
    document.querySelector('[data-testid="card-failures-payments"]').textContent.endsWith('/ 2'),
  );
  await page.fill(byId('inject-count'), '2');
  await page.click(byId('inject-button'));
  await page.waitForSelector(`${byId('service-card-payments')}[data-state="open"]`);
  assert.match(
    await page.textContent(byId('last-reason')),
    /2 consecutive failures \(threshold 2\)/,
  );

  await page.fill(byId('config-failure_threshold'), '0');
  await page.click(byId('config-apply'));
  const err = await page.textContent(byId('config-error-failure_threshold'));
  assert.match(err, /^config\.failure_threshold: expected an integer from 1 to \d+/);
  assert.equal(await page.getAttribute(byId('config-failure_threshold'), 'aria-invalid'), 'true');
  // Nothing changed in the core.
  assert.match(await page.textContent(byId('card-failures-payments')), /\/ 2$/);

  // A value that is not a number is refused by the core too, naming the field.
  await page.click(byId('config-revert'));
  await page.fill(byId('config-open_timeout_ms'), 'soon');
  await page.click(byId('config-apply'));
  assert.match(
    await page.textContent(byId('config-error-open_timeout_ms')),
    /^config\.open_timeout_ms: /,
  );
  await page.click(byId('config-revert'));
});

test('replaying the task transcript shows exactly the task replies', async () => {
  await page.fill(byId('transcript-input'), `${EXAMPLE_IN.join('\n')}\n`);
  await page.click(byId('replay-button'));
  const out = await page.textContent(byId('replay-output'));
  assert.deepEqual(out.split('\n').filter(Boolean), EXAMPLE_OUT);
  // The same replies are in the protocol console.
  const logged = await page.$$eval(`${byId('log-list')} li[data-dir="out"] code`, (els) =>
    els.map((e) => e.textContent),
  );
  for (const line of EXAMPLE_OUT) assert.ok(logged.includes(line), `console lacks ${line}`);
  // The console filter narrows it down.
  await page.fill(byId('log-filter'), 'circuit_breaker_closed');
  const filtered = await page.$$eval(`${byId('log-list')} li[data-dir="out"] code`, (els) =>
    els.map((e) => e.textContent),
  );
  assert.ok(filtered.length >= 1 && filtered.every((t) => t.includes('circuit_breaker_closed')));
  await page.fill(byId('log-filter'), '');
});

test('the state survives a reload', async () => {
  const before = await page.textContent(byId('sim-time'));
  const counts = await page.textContent(byId('card-failed-payments'));
  await page.waitForTimeout(400); // the debounced save
  await page.reload({ waitUntil: 'load' });
  await page.waitForSelector('body[data-ready="true"]');
  await page.waitForSelector(`${byId('service-card-payments')}[data-state="open"]`);
  assert.equal(await page.textContent(byId('sim-time')), before);
  assert.equal(await page.textContent(byId('card-failed-payments')), counts);
  assert.match(await page.textContent(byId('card-failures-payments')), /^2 \/ 2$/);
  assert.equal(await page.inputValue(byId('config-failure_threshold')), '2');
  assert.match(await page.textContent(byId('last-reason')), /2 consecutive failures/);

  // Reset all: back to the defaults, and the reset survives a reload too.
  await page.click(byId('reset-demo'));
  await page.waitForSelector(`${byId('service-card-payments')}[data-state="closed"]`);
  assert.match(await page.textContent(byId('card-failures-payments')), /\/ 5$/);
});

test('services can be added and removed', async () => {
  await page.fill(byId('add-service-name'), 'shipping');
  await page.click(byId('add-service-button'));
  await page.waitForSelector(byId('service-card-shipping'));
  await page.fill(byId('add-service-name'), 'shipping');
  await page.click(byId('add-service-button'));
  assert.match(await page.textContent(byId('add-service-error')), /already/);
  await page.click(byId('remove-shipping'));
  assert.equal(await page.$(byId('service-card-shipping')), null);
});

test('phone width: no sideways scrolling, and an action’s result right under it', async () => {
  const p = await browser.newPage(390, 844);
  await open(p);
  await quiet(p, 'search');
  // The user has scrolled to the actions.
  await p.$eval(byId('send-call'), (el) =>
    el.closest('section').scrollIntoView({ block: 'start' }),
  );
  await p.fill(byId('inject-count'), '5');
  await p.click(byId('inject-button'));
  await p.waitForSelector(`${byId('service-card-search')}[data-state="open"]`);
  const overflow = await p.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  );
  assert.ok(overflow <= 0, `page scrolls sideways by ${overflow}px`);
  // The state diagram and the chart come before the config form, and the diagram is in view.
  const box = (id) =>
    p.$eval(byId(id), (el) => {
      const r = el.getBoundingClientRect();
      return { top: r.top, bottom: r.bottom };
    });
  const [diagram, chart, config] = [
    await box('state-diagram'),
    await box('timeline'),
    await box('config-form'),
  ];
  await p.waitForTimeout(300); // the diagram's colours fade over 0.2 s
  await p.screenshot({ path: browser.shotPath('open-search-390-view.png') });
  assert.ok(diagram.bottom <= chart.top && chart.bottom <= config.top, 'config form comes first');
  assert.ok(
    diagram.top >= 0 && diagram.bottom <= 844,
    `diagram at ${diagram.top}–${diagram.bottom}px`,
  );
  assert.equal(await p.getAttribute(byId('state-diagram'), 'data-current'), 'open');
  await shot(p, 'open-search-390.png');
  await p.close();
});

test('keyboard: every control is reachable and focus is visible', async () => {
  await page.focus(byId('play-toggle'));
  const seen = new Set();
  for (let i = 0; i < 80; i++) {
    await page.keyboard.press('Tab');
    const info = await page.evaluate(() => {
      const el = document.activeElement;
      const style = getComputedStyle(el);
      return {
        id: el.dataset.testid ?? el.id ?? el.tagName,
        outline: style.outlineStyle,
        width: style.outlineWidth,
      };
    });
    seen.add(info.id);
    if (info.id === 'inject-button')
      assert.notEqual(info.outline, 'none', 'focus ring on the inject button');
  }
  for (const id of [
    'step-button',
    'select-payments',
    'inject-button',
    'send-call',
    'config-failure_threshold',
  ])
    assert.ok(seen.has(id), `Tab never reached ${id}`);
  await page.focus(byId('select-inventory'));
  await page.keyboard.press('Enter');
  assert.equal(await page.getAttribute(byId('select-inventory'), 'aria-pressed'), 'true');
});

test('no console errors or failed requests during the whole run', () => {
  assert.deepEqual(browser.problems, []);
});
