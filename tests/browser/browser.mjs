// Shared by the tests (*.test.mjs) and screenshot.mjs: where the server is,
// how to start Debian's Chromium (never a downloaded browser build), how to
// sign in (the demo's users share one password: env WANGGE_DEMO_PASSWORD),
// polling with a timeout, and the console errors of expected failed fetches.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const WANGGE_URL = (process.env.WANGGE_URL ?? 'http://127.0.0.1:18080').replace(/\/+$/, '');

/** The demo user the tests and screenshots sign in as. */
export const DEMO_USER = 'operator';

/** The demo users' password, from env WANGGE_DEMO_PASSWORD; throws a clear error if it is not set. */
export function demoPassword() {
  const password = process.env.WANGGE_DEMO_PASSWORD;
  if (!password) {
    throw new Error(
      'WANGGE_DEMO_PASSWORD is not set: the map client needs a signed-in user. Set it to the password of the ' +
        "demo users (the value the demo was started with, or the one `wangge demo` printed).",
    );
  }
  return password;
}

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // nothing but the server under test is reachable
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

export const VIEWPORT = { width: 1280, height: 800 };

/**
 * How finely the tests' maps draw (MapLibre's pixel ratio): env
 * WANGGE_TEST_MAP_PIXEL_RATIO, 0.5 unless set. Chromium draws WebGL in
 * software here, and at 1280×800 a frame of the live map took about 270 ms
 * of CPU, 120 ms at half the pixels; every step of a test waited behind the
 * frames the live feed asks for. The map's features, clicks and
 * queryRenderedFeatures are in CSS pixels and do not change; only the map in
 * the tests' own screenshots is coarser.
 */
export const TEST_MAP_PIXEL_RATIO = Number(process.env.WANGGE_TEST_MAP_PIXEL_RATIO ?? 0.5);

/** Runs in every page before its scripts: once the map client's map exists, sets its pixel ratio. */
function drawMapAt(ratio) {
  const until = Date.now() + 60_000;
  const apply = () => {
    const map = window.__wangge?.map;
    if (map) map.setPixelRatio(ratio);
    else if (Date.now() < until) setTimeout(apply, 50);
  };
  apply();
}

/**
 * Starts Chromium; each context it makes draws maps at `mapPixelRatio`
 * (screenshots meant for people pass 1).
 */
export async function launchBrowser({ mapPixelRatio = TEST_MAP_PIXEL_RATIO } = {}) {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: LAUNCH_ARGS });
  if (mapPixelRatio !== 1) {
    const newContext = browser.newContext.bind(browser);
    browser.newContext = async (options) => {
      const context = await newContext(options);
      await context.addInitScript(drawMapAt, mapPixelRatio);
      return context;
    };
  }
  return browser;
}

/**
 * Signs in from Node (no browser): returns the `Cookie` header value to send
 * with API requests. Throws unless the server answers 200 with the cookie.
 */
export async function apiSignIn(username, password) {
  const res = await fetch(`${WANGGE_URL}/api/v1/session`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (res.status !== 200) throw new Error(`POST /api/v1/session as ${username} answered ${res.status}: ${await res.text()}`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .find((c) => c.startsWith('wangge_session='));
  if (!cookie) throw new Error('POST /api/v1/session set no wangge_session cookie');
  return cookie;
}

/** Waits until the page shows the sign-in form, ready for input (the session check has answered). */
export async function waitForLoginForm(page) {
  await page.waitForFunction(() => document.body.dataset.auth === 'signed-out');
  await page.locator('#login-form').waitFor({ state: 'visible' });
}

/** Fills in and submits the sign-in form (Enter in the password field). Does not wait for the result. */
export async function submitLogin(page, username, password) {
  await waitForLoginForm(page);
  await page.locator('#login-username').fill(username);
  await page.locator('#login-password').fill(password);
  await page.locator('#login-password').press('Enter');
}

/** Signs in through the form if the page has no session yet, then waits for `ready`. */
export async function signInAndWaitForReady(page, username = DEMO_USER, password = demoPassword()) {
  await page.waitForFunction(() => window.__wangge !== undefined);
  const session = await page.evaluate(() => window.__wangge.session);
  if (session === null) await submitLogin(page, username, password);
  await waitForReady(page);
}

/** Waits until the page's `window.__wangge.ready` has resolved (rejects if it rejected). */
export async function waitForReady(page) {
  await page.waitForFunction(() => window.__wangge !== undefined);
  await page.evaluate(() => window.__wangge.ready);
}

/**
 * Moves the map and waits until it has settled there: the tile sources and
 * area labels loaded for the new view and a frame drawn with them
 * (`window.__wangge.settled()`). Not the map's `idle` event: with the live
 * feed moving workers every second, the map as a whole is hardly ever idle.
 * `view` is either a camera ({center, zoom}) or {bounds: [minLon, minLat,
 * maxLon, maxLat], padding}. Returns the resulting {zoom, center}.
 */
export function jumpToAndWaitSettled(page, view) {
  return page.evaluate(async (view) => {
    const { map } = window.__wangge;
    const camera = view.bounds ? map.cameraForBounds(view.bounds, { padding: view.padding ?? 40 }) : view;
    map.jumpTo(camera);
    await window.__wangge.settled();
    return { zoom: map.getZoom(), center: map.getCenter().toArray() };
  }, view);
}

/** Waits until the map has settled (see jumpToAndWaitSettled) after forcing a repaint. */
export function waitSettled(page) {
  return page.evaluate(async () => {
    window.__wangge.map.triggerRepaint();
    await window.__wangge.settled();
  });
}

/**
 * Clicks the `nth` row of the incident list and answers its case's id. The list
 * changes under the test: the simulator reports and resolves cases, and an
 * overdue case escalated by its deadline moves down from the top, so a row read
 * may leave the page before the click lands. Then another row is read and
 * clicked. `beforeClick(id)` runs before each click (to route that case's
 * answer, say) and may return an undo, run if that row was gone.
 */
export async function clickIncident(page, { nth = 0, beforeClick = async () => undefined, attempts = 8 } = {}) {
  const row = page.locator('#incident-list .incident-item').nth(nth);
  for (let attempt = 1; ; attempt++) {
    await row.waitFor();
    const id = await row.getAttribute('data-id');
    const undo = await beforeClick(id);
    try {
      await page.locator(`#incident-list .incident-item[data-id="${id}"]`).click({ timeout: 5_000 });
      return id;
    } catch (error) {
      await undo?.();
      if (error?.name !== 'TimeoutError' || attempt >= attempts) throw error;
    }
  }
}

/** Polls `check` (async, returns a truthy value when done) until it passes or `timeout` ms have gone; `message` may be a function, read at the failure. */
export async function eventually(check, { timeout = 20_000, interval = 500, message = 'condition not met' } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    last = await check();
    if (last) return last;
    if (Date.now() > end) throw new Error(`${typeof message === 'function' ? message() : message} (after ${timeout} ms)`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/**
 * Collects the console errors and uncaught exceptions of the pages given to
 * `watch`, which also sets their default timeout. `assertConsoleErrors(expected)`
 * takes what was logged so far: each expected resource error once, and nothing else.
 */
export function consoleWatch(timeout) {
  const consoleErrors = [];
  return {
    consoleErrors,
    watch(page) {
      page.on('console', (msg) => {
        if (msg.type() === 'error') consoleErrors.push({ page: page.url(), text: msg.text(), url: msg.location().url });
      });
      page.on('pageerror', (err) => consoleErrors.push({ page: page.url(), text: `uncaught ${err.message}`, url: '' }));
      page.setDefaultTimeout(timeout);
      return page;
    },
    assertConsoleErrors(expected = []) {
      const logged = consoleErrors.splice(0);
      const rest = [...logged];
      for (const e of expected) {
        const i = rest.findIndex((entry) => isResourceError(entry, e));
        assert.ok(i >= 0, `expected console error for ${e.status} at ${e.path} not logged; got ${JSON.stringify(logged)}`);
        rest.splice(i, 1);
      }
      assert.deepEqual(rest, [], 'unexpected console errors');
    },
  };
}

/** The console error Chromium logs for a fetch answered with `status`, at `path` of the server under test. */
export function resourceError(status, path) {
  return { status, path };
}

export function isResourceError(entry, { status, path }) {
  return (
    entry.text.startsWith(`Failed to load resource: the server responded with a status of ${status} `) &&
    entry.url === `${WANGGE_URL}${path}`
  );
}

/** Waits for the console error of an expected failed fetch (register before the action that causes it). */
export function waitForResourceError(page, expected) {
  return page.waitForEvent('console', {
    predicate: (msg) =>
      msg.type() === 'error' && isResourceError({ text: msg.text(), url: msg.location().url }, expected),
  });
}

/**
 * The demo users' API sessions for a test file: `signIn(users)` signs each in (cookies from
 * apiSignIn), `api(user, path, init, expected)` checks the answer's status and answers its
 * JSON body (a string body is sent as JSON; bytes as they are), `signOut()` ends them all.
 */
export function apiSessions() {
  const cookies = {};
  async function api(user, pathAndQuery, init = {}, expected = [200, 201]) {
    const res = await fetch(`${WANGGE_URL}${pathAndQuery}`, {
      ...init,
      headers: {
        Cookie: cookies[user],
        Accept: 'application/json',
        ...(typeof init.body === 'string' ? { 'Content-Type': 'application/json' } : {}),
        ...(init.headers ?? {}),
      },
    });
    const body = res.status === 204 ? null : await res.json().catch(() => null);
    assert.ok(expected.includes(res.status), `${init.method ?? 'GET'} ${pathAndQuery} as ${user} answered ${res.status}: ${JSON.stringify(body)}`);
    return body;
  }
  return {
    cookies,
    api,
    async signIn(users, password = demoPassword()) {
      for (const user of users) cookies[user] = await apiSignIn(user, password);
    },
    async signOut() {
      for (const cookie of Object.values(cookies)) await fetch(`${WANGGE_URL}/api/v1/session`, { method: 'DELETE', headers: { Cookie: cookie } });
    },
  };
}

/**
 * A new page (in a context made with `contextOptions`: a 1280×800 desk by default) signed in
 * as `user` through the form, in Chinese, ready; its console errors and uncaught exceptions
 * are pushed to `errors`, prefixed with the user.
 */
export async function openSignedIn(browser, user, { password = demoPassword(), contextOptions = { viewport: VIEWPORT, deviceScaleFactor: 1 }, errors = [], timeout = 60_000 } = {}) {
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  page.setDefaultTimeout(timeout);
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`${user}: ${msg.text()} ${msg.location().url}`);
  });
  page.on('pageerror', (err) => errors.push(`${user}: uncaught ${err.message}`));
  await page.goto(`${WANGGE_URL}/?lang=zh-CN`);
  await submitLogin(page, user, password);
  await waitForReady(page);
  return { page, context };
}
