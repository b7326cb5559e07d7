// Browser test of the map client, against a running wangge server.
//
//   WANGGE_URL=http://127.0.0.1:18080 WANGGE_DEMO_PASSWORD=... node --test tests/browser/
//
// Uses Debian's Chromium (/usr/bin/chromium) with SwiftShader WebGL. Waits on
// the map's own events (`ready`, `idle`), never on fixed delays.
//
// The page starts on the sign-in form; the tests sign in as the demo's
// `operator` (password from WANGGE_DEMO_PASSWORD). Chromium logs every 4xx
// answer to a fetch as a console error ("Failed to load resource: ... 401");
// each test states exactly which of those it expects (e.g. the 401 of
// `GET /api/v1/session` before signing in) and fails on any other.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  DEMO_USER,
  VIEWPORT,
  WANGGE_URL,
  apiSignIn,
  demoPassword,
  jumpToAndWaitIdle,
  launchBrowser,
  submitLogin,
  waitForLoginForm,
  waitForReady,
  waitIdle,
} from './browser.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TIMEOUT = 180_000;
const PREFERRED_COUNTY = '530402'; // 红塔区, the county of the small demo

const SESSION_PATH = '/api/v1/session';

/** Cookie header of the tests' own (Node-side) session, for reading the API directly. */
let apiCookie;

async function api(pathAndQuery) {
  const res = await fetch(`${WANGGE_URL}${pathAndQuery}`, { headers: { Cookie: apiCookie } });
  assert.equal(res.status, 200, `GET ${pathAndQuery} answered ${res.status}`);
  return res.json();
}

/** The console error Chromium logs for a fetch answered with `status`, at `path` of the server under test. */
function resourceError(status, path) {
  return { status, path };
}

function isResourceError(entry, { status, path }) {
  return (
    entry.text.startsWith(`Failed to load resource: the server responded with a status of ${status} `) &&
    entry.url === `${WANGGE_URL}${path}`
  );
}

/** Waits for the console error of an expected failed fetch (register before the action that causes it). */
function waitForResourceError(page, expected) {
  return page.waitForEvent('console', {
    predicate: (msg) =>
      msg.type() === 'error' && isResourceError({ text: msg.text(), url: msg.location().url }, expected),
  });
}

async function sessionCookies(context) {
  return (await context.cookies(WANGGE_URL)).filter((c) => c.name === 'wangge_session');
}

function bounds(geometry) {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      minX = Math.min(minX, c[0]);
      minY = Math.min(minY, c[1]);
      maxX = Math.max(maxX, c[0]);
      maxY = Math.max(maxY, c[1]);
    } else c.forEach(visit);
  };
  visit(geometry.coordinates);
  return [minX, minY, maxX, maxY];
}

/** Rendered features in the whole viewport, by source: {source: [{code, parent_code}]}. */
function renderedBySource(page) {
  return page.evaluate(() => {
    const { map } = window.__wangge;
    const out = {};
    for (const f of map.queryRenderedFeatures()) {
      (out[f.source] ??= []).push({ code: f.properties.code, parent_code: f.properties.parent_code });
    }
    return out;
  });
}

describe('wangge map client', { timeout: TIMEOUT }, () => {
  let browser;
  let context;
  let page;
  let password;
  /** Console errors not yet checked: {page, text, url (of the failed resource, if any)}. */
  const consoleErrors = [];

  function watch(p) {
    p.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push({ page: p.url(), text: msg.text(), url: msg.location().url });
    });
    p.on('pageerror', (err) => consoleErrors.push({ page: p.url(), text: `uncaught ${err.message}`, url: '' }));
    p.setDefaultTimeout(TIMEOUT / 2);
    return p;
  }

  /**
   * Takes the console errors logged so far and checks them: each of
   * `expected` (resourceError(...)) must be there once, and nothing else.
   */
  function assertConsoleErrors(expected = []) {
    const logged = consoleErrors.splice(0);
    const rest = [...logged];
    for (const e of expected) {
      const i = rest.findIndex((entry) => isResourceError(entry, e));
      assert.ok(i >= 0, `expected console error for ${e.status} at ${e.path} not logged; got ${JSON.stringify(logged)}`);
      rest.splice(i, 1);
    }
    assert.deepEqual(rest, [], 'unexpected console errors');
  }

  let county; // the county feature the view is moved to
  let stats;

  before(async () => {
    password = demoPassword();
    apiCookie = await apiSignIn(DEMO_USER, password);
    stats = await api('/api/v1/stats/summary');
    const counties = await api('/api/v1/admin-units?level=county');
    assert.ok(counties.features.length > 0, 'the server has no county');
    county = counties.features.find((f) => f.properties.code === PREFERRED_COUNTY) ?? counties.features[0];
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    page = watch(await context.newPage());
  });

  after(async () => {
    await browser?.close();
    if (apiCookie) await fetch(`${WANGGE_URL}${SESSION_PATH}`, { method: 'DELETE', headers: { Cookie: apiCookie } });
  });

  it('first shows the sign-in form in Chinese, with only the expected 401 of the session check', async () => {
    const sessionCheck = waitForResourceError(page, resourceError(401, SESSION_PATH));
    const response = await page.goto(`${WANGGE_URL}/`);
    assert.equal(response?.status(), 200);
    await waitForLoginForm(page);
    await sessionCheck;
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    assert.equal(await page.evaluate(() => window.__wangge.session), null);
    assert.equal(await page.locator('#login-heading').textContent(), '用户登录');
    assert.equal(await page.locator('#login-submit').textContent(), '登录');
    assert.equal(await page.locator('#login-username').getAttribute('autocomplete'), 'username');
    assert.equal(await page.locator('#login-password').getAttribute('autocomplete'), 'current-password');
    assert.equal(await page.locator('#login-password').getAttribute('type'), 'password');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'login-username');
    assert.ok(await page.locator('#login-lang-switch').isVisible(), 'no language switch on the sign-in form');
    // no data panels, and no data requested
    assert.equal(await page.locator('#layers-panel').isVisible(), false);
    assert.equal(await page.locator('#login-message').isVisible(), false);
    await page.screenshot({ path: path.join(ARTIFACTS, 'login.png') });
    assertConsoleErrors([resourceError(401, SESSION_PATH)]);
  });

  it('refuses a wrong password with 用户名或密码错误 and stays signed out', async () => {
    const refused = waitForResourceError(page, resourceError(401, SESSION_PATH));
    const answer = page.waitForResponse((r) => r.url() === `${WANGGE_URL}${SESSION_PATH}` && r.request().method() === 'POST');
    await submitLogin(page, DEMO_USER, `${password}-wrong`);
    assert.equal((await answer).status(), 401);
    await refused;
    const message = page.locator('#login-message');
    await message.waitFor({ state: 'visible' });
    assert.equal(await message.textContent(), '用户名或密码错误');
    assert.equal(await message.getAttribute('data-kind'), 'invalid');
    assert.equal(await page.evaluate(() => document.body.dataset.auth), 'signed-out');
    assert.equal(await page.evaluate(() => window.__wangge.session), null);
    assert.equal(await page.locator('#layers-panel').isVisible(), false);
    assert.deepEqual(await sessionCookies(context), [], 'a session cookie after a wrong password');
    assert.equal(await page.locator('#login-password').inputValue(), '', 'the wrong password is left in the field');
    assertConsoleErrors([resourceError(401, SESSION_PATH)]);
  });

  it('signs in as operator (Enter), loads the map, shows the user, and window.__wangge.ready resolves', async () => {
    await submitLogin(page, DEMO_USER, password);
    await waitForReady(page);
    const session = await page.evaluate(() => window.__wangge.session);
    assert.equal(session.username, DEMO_USER);
    assert.equal(session.role, 'operator');
    assert.equal(await page.locator('#login-screen').isVisible(), false);
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    assert.equal(await page.locator('#layers-panel h2').textContent(), '图层');
    const user = page.locator('#user-info');
    assert.equal(await user.locator('[data-user="username"]').textContent(), DEMO_USER);
    assert.equal(await user.locator('[data-user="role"]').textContent(), '指挥中心操作员');
    assert.equal(await user.locator('[data-user="area"]').textContent(), session.area.name);
    assert.equal(await page.locator('#sign-out').textContent(), '退出登录');
    assert.equal((await sessionCookies(context)).length, 1, 'no session cookie after signing in');
    assertConsoleErrors();
  });

  it('shows the grid cell count the API reports in the info panel', async () => {
    const stat = page.locator('#stats-panel [data-stat="grid_cells"]');
    assert.equal(await stat.getAttribute('data-value'), String(stats.grid_cells));
    const shown = (await stat.locator('dd').textContent()).replace(/\D/g, '');
    assert.equal(shown, String(stats.grid_cells));
  });

  it('renders county and township features for the county view', async () => {
    const view = await jumpToAndWaitIdle(page, { bounds: bounds(county.geometry), padding: 40 });
    const rendered = await renderedBySource(page);
    const countyCodes = new Set((rendered.county ?? []).map((f) => f.code));
    assert.ok(countyCodes.has(county.properties.code), `county ${county.properties.code} not rendered at zoom ${view.zoom}`);
    const townships = rendered.township ?? [];
    assert.ok(townships.length > 0, `no township rendered at zoom ${view.zoom}`);
    assert.ok(
      townships.some((f) => f.parent_code === county.properties.code),
      `no township of ${county.properties.code} rendered`,
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'map.png') });
  });

  it('renders grid cells when zoomed in, and a click opens a popup', async () => {
    const cells = await api(`/api/v1/grid-cells?bbox=${bounds(county.geometry).join(',')}`);
    assert.ok(cells.features.length > 0, 'no grid cell in the county bbox');
    const cell = cells.features[Math.floor(cells.features.length / 2)];
    const [x0, y0, x1, y1] = bounds(cell.geometry);
    const view = await jumpToAndWaitIdle(page, { center: [(x0 + x1) / 2, (y0 + y1) / 2], zoom: 14 });
    const rendered = await renderedBySource(page);
    const gridCodes = new Set((rendered.grid ?? []).map((f) => f.code));
    assert.ok(gridCodes.size > 0, `no grid cell rendered at zoom ${view.zoom}`);
    assert.ok(gridCodes.has(cell.properties.code), `grid cell ${cell.properties.code} not rendered`);
    assert.ok((rendered.village ?? []).length > 0, 'no village rendered at zoom 14');

    await page.mouse.click(VIEWPORT.width / 2, VIEWPORT.height / 2);
    const popup = page.locator('.maplibregl-popup .popup');
    await popup.waitFor({ state: 'visible' });
    assert.ok((await popup.locator('h3').textContent()).trim().length > 0, 'popup without a name');
    assert.equal(await popup.locator('.field-level dt').textContent(), '层级');
    await page.screenshot({ path: path.join(ARTIFACTS, 'map-zoomed.png') });
  });

  it('switches the interface to English, remembers it, and honours ?lang=en', async () => {
    const before = await page.locator('#stats-panel [data-stat="grid_cells"] dt').textContent();
    await page.locator('#lang-switch').click();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    assert.equal(await page.locator('#layers-panel h2').textContent(), 'Layers');
    const after = await page.locator('#stats-panel [data-stat="grid_cells"] dt').textContent();
    assert.notEqual(after, before);
    assert.equal(after, 'Grid cells');
    // the open popup is relabelled too
    assert.equal(await page.locator('.maplibregl-popup .popup .field-level dt').textContent(), 'Level');

    // remembered across a reload (localStorage)
    await page.reload();
    await waitForReady(page); // still signed in: no form
    assert.equal(await page.locator('#login-screen').isVisible(), false, 'sign-in screen over the map after a reload');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    assert.equal(await page.locator('#lang-switch').textContent(), '中文');

    // ?lang=en in a fresh context (empty localStorage, no session): the form is in English
    const fresh = await browser.newContext({ viewport: VIEWPORT });
    try {
      const p = watch(await fresh.newPage());
      const sessionCheck = waitForResourceError(p, resourceError(401, SESSION_PATH));
      await p.goto(`${WANGGE_URL}/?lang=en`);
      await waitForLoginForm(p);
      await sessionCheck;
      assert.equal(await p.evaluate(() => document.documentElement.lang), 'en');
      assert.equal(await p.locator('#login-heading').textContent(), 'Sign in');
      assert.equal(await p.locator('label[for="login-password"]').textContent(), 'Password');
      await submitLogin(p, DEMO_USER, password);
      await waitForReady(p);
      assert.equal(await p.locator('#layers-panel h2').textContent(), 'Layers');
      assert.equal(await p.locator('#user-info [data-user="role"]').textContent(), 'Command-centre operator');
    } finally {
      await fresh.close();
    }
    assertConsoleErrors([resourceError(401, SESSION_PATH)]);
  });

  it('signs out: back to the sign-in form, the map emptied, and the data endpoints answer 401', async () => {
    const data = '/api/v1/admin-units?level=county';
    assert.equal((await context.request.get(`${WANGGE_URL}${data}`)).status(), 200, 'signed in, yet the API refuses');
    const signedOut = page.waitForResponse((r) => r.url() === `${WANGGE_URL}${SESSION_PATH}` && r.request().method() === 'DELETE');
    await page.locator('#sign-out').click();
    assert.equal((await signedOut).status(), 204);
    await waitForLoginForm(page);
    assert.equal(await page.evaluate(() => window.__wangge.session), null);
    assert.equal(await page.locator('#layers-panel').isVisible(), false);
    assert.equal(await page.locator('#login-message').textContent(), 'Signed out'); // still in English
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'login-username');
    assert.deepEqual(await sessionCookies(context), [], 'the session cookie is still there');
    await waitIdle(page);
    assert.equal(
      await page.evaluate(() => window.__wangge.map.querySourceFeatures('county').length),
      0,
      'county features still on the map after signing out',
    );

    for (const endpoint of [data, '/api/v1/grid-cells', '/api/v1/facilities', '/api/v1/stats/summary', SESSION_PATH]) {
      const res = await context.request.get(`${WANGGE_URL}${endpoint}`);
      assert.equal(res.status(), 401, `GET ${endpoint} after signing out answered ${res.status()}`);
      assert.equal((await res.json()).type, '/problems/unauthenticated');
    }

    // signing in again loads the data again (a new `ready`)
    await submitLogin(page, DEMO_USER, password);
    await waitForReady(page);
    assert.equal(
      await page.locator('#stats-panel [data-stat="grid_cells"]').getAttribute('data-value'),
      String(stats.grid_cells),
    );
    assertConsoleErrors();
  });

  it('shows the wait of a 429 (too many attempts) and "session expired" after a 401 from a data call', async () => {
    // Both answers are simulated with page.route: the real rate limit would
    // lock the demo user out, and a session cannot be made to expire on demand.
    const isolated = await browser.newContext({ viewport: VIEWPORT });
    try {
      const p = watch(await isolated.newPage());
      await p.route(`${WANGGE_URL}${SESSION_PATH}`, (route) =>
        route.request().method() === 'POST'
          ? route.fulfill({
              status: 429,
              headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '30' },
              body: JSON.stringify({ type: '/problems/too-many-attempts', title: 'Too many attempts', status: 429 }),
            })
          : route.fallback(),
      );
      await p.goto(`${WANGGE_URL}/?lang=zh-CN`);
      const limited = waitForResourceError(p, resourceError(429, SESSION_PATH));
      await submitLogin(p, DEMO_USER, password);
      await limited;
      const message = p.locator('#login-message[data-kind="too-many"]');
      await message.waitFor({ state: 'visible' });
      assert.equal(await message.textContent(), '登录尝试次数过多，请在 30 秒后重试');
      assert.equal(await p.locator('#login-submit').isDisabled(), true, 'sign-in button enabled during the wait');
      assert.equal(await p.evaluate(() => window.__wangge.session), null);
      await p.unroute(`${WANGGE_URL}${SESSION_PATH}`);

      // A data call answering 401 (the session ran out) brings the form back.
      const stats401 = '/api/v1/stats/summary';
      await p.route(`${WANGGE_URL}${stats401}`, (route) =>
        route.fulfill({
          status: 401,
          headers: { 'Content-Type': 'application/problem+json' },
          body: JSON.stringify({ type: '/problems/unauthenticated', title: 'Unauthenticated', status: 401 }),
        }),
      );
      await p.reload(); // a fresh form, without the 429's wait
      const expired = waitForResourceError(p, resourceError(401, stats401));
      await submitLogin(p, DEMO_USER, password);
      await expired;
      await p.locator('#login-message[data-kind="expired"]').waitFor({ state: 'visible' });
      assert.equal(await p.locator('#login-message').textContent(), '会话已过期，请重新登录');
      await waitForLoginForm(p);
      assert.equal(await p.locator('#error-banner').isVisible(), false, 'a 401 shown as a load error');
      await p.unroute(`${WANGGE_URL}${stats401}`);
      await submitLogin(p, DEMO_USER, password);
      await waitForReady(p);
      assert.equal(await p.locator('#layers-panel h2').textContent(), '图层');
    } finally {
      await isolated.close();
    }
    assertConsoleErrors([
      resourceError(401, SESSION_PATH), // the session check on load
      resourceError(429, SESSION_PATH),
      resourceError(401, SESSION_PATH), // the session check after the reload
      resourceError(401, '/api/v1/stats/summary'),
    ]);
  });

  it('logged no other console errors', () => {
    assertConsoleErrors();
  });
});
