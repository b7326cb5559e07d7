// Browser test of the map client, against a running wangge server.
//
//   WANGGE_URL=http://127.0.0.1:18080 WANGGE_DEMO_PASSWORD=... node --test tests/browser/
//
// Uses Debian's Chromium (/usr/bin/chromium) with SwiftShader WebGL. Waits on
// the map itself (`ready`, `settled()`), never on fixed delays; where the
// live server may change things meanwhile, it polls with a timeout.
//
// The command centre: vector tile layers from `/tiles/L`, the incident side
// panel and headline strip, and the live feed (`/api/v1/live`). The live
// tests wait for the demo's simulator to change something (a worker moving,
// an incident reported), with a timeout.
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
  clickIncident,
  consoleWatch,
  apiSignIn,
  demoPassword,
  eventually,
  jumpToAndWaitSettled,
  launchBrowser,
  resourceError,
  submitLogin,
  waitForLoginForm,
  waitForReady,
  waitForResourceError,
  waitSettled,
} from './browser.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
/** Per step (page default timeout: half of it) and per test. */
const TIMEOUT = 180_000;
/** The whole suite: its tests run one after the other on one page. */
const SUITE_TIMEOUT = 20 * 60_000;
/** How long the live tests wait for the demo's simulator to change something. */
const LIVE_TIMEOUT = 90_000;
const PREFERRED_COUNTY = '530402'; // 红塔区, the county of the small demo

const SESSION_PATH = '/api/v1/session';

/** Cookie header of the tests' own (Node-side) session, for reading the API directly. */
let apiCookie;

async function api(pathAndQuery) {
  const res = await fetch(`${WANGGE_URL}${pathAndQuery}`, { headers: { Cookie: apiCookie } });
  assert.equal(res.status, 200, `GET ${pathAndQuery} answered ${res.status}`);
  return res.json();
}

/** An RFC 3339 time as the client shows it: China Standard Time, 2026-11-25 18:30:05. */
function cst(rfc3339) {
  const d = new Date(Date.parse(rfc3339) + 8 * 3600 * 1000);
  return d.toISOString().slice(0, 19).replace('T', ' ');
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

/** Rendered features in the whole viewport, by source: {source: [{id, code, parent_code}]}. */
function renderedBySource(page) {
  return page.evaluate(() => {
    const { map } = window.__wangge;
    const out = {};
    for (const f of map.queryRenderedFeatures()) {
      (out[f.source] ??= []).push({ id: f.properties.id, code: f.properties.code, parent_code: f.properties.parent_code });
    }
    return out;
  });
}

/** Ids of the incidents drawn in the view (the incident circles). */
function renderedIncidentIds(page) {
  return page.evaluate(() =>
    window.__wangge.map.queryRenderedFeatures({ layers: ['incidents-circle'] }).map((f) => String(f.properties.id)),
  );
}

/**
 * Waits in the page for the next live `changes` message that moves a worker
 * (`kind: 'worker'`) or reports an open incident whose id is not in `exclude`
 * (`kind: 'incident'`); resolves with {message, item}: the message and the
 * worker or incident in it.
 */
function nextLiveChange(page, kind, exclude = [], timeout = LIVE_TIMEOUT) {
  return page.evaluate(
    ({ kind, exclude, timeout }) =>
      new Promise((resolve, reject) => {
        const known = new Set(exclude);
        const find = (m) =>
          kind === 'worker'
            ? (m.workers ?? []).find((w) => typeof w.lon === 'number' && typeof w.lat === 'number')
            : (m.incidents ?? []).find((i) => i.open === true && !known.has(String(i.id)));
        const { live } = window.__wangge;
        const listener = (e) => {
          const item = find(e.detail);
          if (!item) return;
          clearTimeout(timer);
          live.removeEventListener('changes', listener);
          resolve({ message: e.detail, item });
        };
        const timer = setTimeout(() => {
          live.removeEventListener('changes', listener);
          reject(new Error(`no live change with a ${kind} within ${timeout} ms (is the demo's simulator running?)`));
        }, timeout);
        live.addEventListener('changes', listener);
      }),
    { kind, exclude, timeout },
  );
}

describe('wangge map client', { timeout: SUITE_TIMEOUT }, () => {
  let browser;
  let context;
  let page;
  let password;
  const { watch, assertConsoleErrors } = consoleWatch(TIMEOUT / 2);

  let county; // the county feature the view is moved to
  let stats;
  /** URLs of the vector tiles and TileJSON the main page requested. */
  const tileRequests = [];

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
    page.on('request', (r) => {
      if (r.url().includes('/tiles/')) tileRequests.push(r.url());
    });
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
    // the live feed connects (same origin, the session cookie) and says hello
    await page.locator('#live-status[data-status="live"]').waitFor();
    assert.equal(await page.locator('#live-status .live-label').textContent(), '实时');
    const live = await page.evaluate(() => ({ epoch: window.__wangge.live.epoch, seq: window.__wangge.live.seq }));
    assert.equal(typeof live.epoch, 'string', 'no epoch from the hello');
    assert.equal(typeof live.seq, 'number', 'no seq from the hello');
    assertConsoleErrors();
  });

  it('shows the grid cell count the API reports in the info panel', async () => {
    const stat = page.locator('#stats-panel [data-stat="grid_cells"]');
    assert.equal(await stat.getAttribute('data-value'), String(stats.grid_cells));
    const shown = (await stat.locator('dd').textContent()).replace(/\D/g, '');
    assert.equal(shown, String(stats.grid_cells));
  });

  it('shows the headline figures of /api/v1/stats/headline', async () => {
    // The simulator may change them meanwhile: the strip follows (live), so poll.
    await eventually(
      async () => {
        const h = await api('/api/v1/stats/headline');
        const shown = await page.evaluate(() =>
          Object.fromEntries([...document.querySelectorAll('#headline [data-figure]')].map((n) => [n.dataset.figure, n.dataset.value])),
        );
        return (
          ['village', 'township', 'county', 'city'].every((tier) => shown[`open-${tier}`] === String(h.open_by_tier[tier] ?? 0)) &&
          shown.overdue === String(h.overdue) &&
          shown['resolved-this-month'] === String(h.resolved_this_month) &&
          (h.share_at_township_or_below === null || shown.share === String(h.share_at_township_or_below))
        );
      },
      { message: 'the headline strip does not show the API figures' },
    );
    assert.equal(await page.locator('#headline [data-figure="open-village"] .label').textContent(), '村级');
    assert.match(await page.locator('#headline [data-figure="share"] .value').textContent(), /^\d+(\.\d)?%$/);
  });

  it('renders the tile layers (counties, townships, grid cells, incidents) for the county view', async () => {
    const view = await jumpToAndWaitSettled(page, { bounds: bounds(county.geometry), padding: 40 });
    const rendered = await renderedBySource(page);
    const countyCodes = new Set((rendered.counties ?? []).map((f) => f.code));
    assert.ok(countyCodes.has(county.properties.code), `county ${county.properties.code} not rendered at zoom ${view.zoom}`);
    const townships = rendered.townships ?? [];
    assert.ok(townships.length > 0, `no township rendered at zoom ${view.zoom}`);
    assert.ok(
      townships.some((f) => f.parent_code === county.properties.code),
      `no township of ${county.properties.code} rendered`,
    );
    assert.ok((rendered['grid-cells'] ?? []).length > 0, `no grid cell rendered at zoom ${view.zoom}`);
    // Below zoom 13 the incidents tiles count cases per H3 hexagon: circles with
    // the count, no single case. (The simulator resolves cases quickly: there
    // may be a moment with none open.)
    assert.ok(view.zoom < 13, `the county view is at zoom ${view.zoom}`);
    const counted = () =>
      page.evaluate(() => window.__wangge.map.queryRenderedFeatures({ layers: ['incidents-clusters'] }).map((f) => f.properties));
    await eventually(async () => (await counted()).length > 0, {
      timeout: 60_000,
      message: `no incident count rendered at zoom ${view.zoom}`,
    });
    assert.deepEqual(await renderedIncidentIds(page), [], `single incidents drawn at zoom ${view.zoom}`);
    // under the open filter every case counted is open
    assert.ok(
      (await counted()).every((p) => typeof p.h3 === 'string' && p.count >= 1 && p.open_count === p.count),
      'a hexagon count with closed cases under the open filter',
    );
    // one label per county and township (label points, not tile pieces)
    const labels = (rendered['townships-label'] ?? []).map((f) => f.code);
    assert.equal(new Set(labels).size, labels.length, 'a township labelled twice');
    // the data came as vector tiles from /tiles/L/{z}/{x}/{y}, the incidents filtered to open ones
    for (const layer of ['counties', 'townships', 'grid-cells', 'incidents']) {
      assert.ok(
        tileRequests.some((url) => new RegExp(`/tiles/${layer}/\\d+/\\d+/\\d+`).test(url)),
        `no tile of ${layer} requested`,
      );
    }
    assert.ok(
      tileRequests.filter((url) => url.includes('/tiles/incidents/')).every((url) => new URL(url).searchParams.get('status') === 'open'),
      'incident tiles requested without status=open',
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'map.png') });
    assertConsoleErrors();
  });

  it('lists the open incidents in the side panel; a click flies to one and shows its details and timeline', async () => {
    const list = page.locator('#incident-list .incident-item');
    await list.first().waitFor();
    await eventually(
      async () => {
        const apiTotal = (await api('/api/v1/incidents?status=open&limit=1')).total;
        return (await page.locator('#incident-count').getAttribute('data-total')) === String(apiTotal);
      },
      { message: 'the list total is not the API total of open incidents' },
    );
    const count = await list.count();
    assert.ok(count > 0 && count <= 50, `${count} items on the first page`);
    const statuses = await list.evaluateAll((items) => items.map((n) => n.dataset.status));
    assert.ok(
      statuses.every((st) => ['reported', 'assigned', 'accepted', 'in_progress'].includes(st)),
      `a closed incident in the open list: ${statuses}`,
    );
    assert.equal(await page.locator('#incidents-heading').textContent(), '事件列表');

    const moved = page.evaluate(() => new Promise((resolve) => window.__wangge.map.once('moveend', resolve)));
    const id = await clickIncident(page);
    await moved;
    await page.locator(`#incident-detail[data-id="${id}"][data-state="ready"]`).waitFor();
    const detail = await api(`/api/v1/incidents/${id}`);
    // (the list may have been refreshed by live changes meanwhile, and the
    // incident resolved and gone from it: look it up by id, in one go)
    const current = await page.evaluate(
      (id) => document.querySelector(`#incident-list .incident-item[data-id="${id}"]`)?.getAttribute('aria-current') ?? 'gone',
      id,
    );
    assert.ok(current === 'true' || current === 'gone', `the selected item is not marked: ${current}`);
    assert.equal(await page.locator('#incident-title').textContent(), detail.title);
    assert.equal(await page.locator('#incident-detail .field-reported_at dd').textContent(), cst(detail.reported_at));
    const entries = page.locator('#incident-timeline .timeline-entry');
    assert.ok(detail.timeline.length > 0, `incident ${id} has no timeline`);
    // the simulator may have added events since the API was asked
    assert.ok((await entries.count()) >= detail.timeline.length, 'timeline entries missing');
    assert.equal(await entries.first().locator('time').textContent(), cst(detail.timeline[0].at));
    // operators do not see the reporter
    assert.equal(await page.locator('#incident-detail .field-reporter').count(), detail.reporter ? 1 : 0);

    // the map is there: the incident is drawn, with the selection ring on it
    await waitSettled(page);
    const drawn = await page.evaluate(
      ({ id, lon, lat }) => {
        const { map } = window.__wangge;
        const p = map.project([lon, lat]);
        const box = [[p.x - 6, p.y - 6], [p.x + 6, p.y + 6]];
        const { clientHeight: h } = map.getContainer();
        const left = document.querySelector('.side').getBoundingClientRect().right;
        const right = document.querySelector('#side-right').getBoundingClientRect().left;
        return {
          zoom: map.getZoom(),
          between: p.x >= left && p.x <= right && p.y >= 0 && p.y <= h,
          ranked: document.querySelector('#dispatch-section')?.hidden === false,
          incident: map.queryRenderedFeatures(box, { layers: ['incidents-circle'] }).some((f) => String(f.properties.id) === id),
          ring: map.queryRenderedFeatures(box, { layers: ['selection-ring'] }).length,
        };
      },
      { id, lon: detail.lon, lat: detail.lat },
    );
    assert.ok(drawn.between, 'the incident is not shown between the panels');
    // with its ranking shown, the view is fitted to the lines to its candidates, however far
    assert.ok(drawn.ranked || drawn.zoom >= 14, `flew to zoom ${drawn.zoom}`);
    if (!drawn.incident) {
      // not drawn under the open filter: only acceptable if it has been resolved meanwhile
      const now = await api(`/api/v1/incidents/${id}`);
      assert.equal(now.open, false, `open incident ${id} not drawn where the list says it is`);
    }
    assert.equal(drawn.ring, 1, 'no selection ring on the selected incident');
    await page.screenshot({ path: path.join(ARTIFACTS, 'incident-selected.png') });
    assertConsoleErrors();
  });

  it('selects an incident clicked on the map', async () => {
    await page.locator('#incident-detail-close').click();
    assert.equal(await page.locator('#incident-detail').isVisible(), false);
    // single cases are drawn from zoom 13 (below it, counts per hexagon): around the first listed one
    const first = (await api('/api/v1/incidents?status=open&limit=1')).items[0];
    assert.ok(first, 'no open incident');
    await jumpToAndWaitSettled(page, { center: [first.lon, first.lat], zoom: 14 });
    // an incident drawn alone at its point, clear of the panels
    const target = await page.evaluate(() => {
      const { map } = window.__wangge;
      const { clientWidth: w, clientHeight: h } = map.getContainer();
      for (const f of map.queryRenderedFeatures({ layers: ['incidents-circle'] })) {
        const p = map.project(f.geometry.coordinates);
        if (p.x < 300 || p.x > w - 400 || p.y < 120 || p.y > h - 60) continue;
        const here = map.queryRenderedFeatures([[p.x - 5, p.y - 5], [p.x + 5, p.y + 5]], { layers: ['incidents-circle'] });
        if (here.length === 1) return { id: String(f.properties.id), x: p.x, y: p.y };
      }
      return null;
    });
    assert.ok(target, `no incident drawn on its own around incident ${first.id} to click`);
    await page.mouse.click(target.x, target.y);
    await page.locator(`#incident-detail[data-id="${target.id}"][data-state="ready"]`).waitFor();
    assert.equal(await page.locator('.maplibregl-popup').count(), 0, 'an incident click opened a popup');
    assert.ok((await page.locator('#incident-timeline .timeline-entry').count()) > 0, 'no timeline for the clicked incident');
    await page.locator('#incident-detail-close').click();
    assert.equal(await page.locator('#incident-detail').isVisible(), false);
    assertConsoleErrors();
  });

  it('filters the list and the incident tiles by tier, and searches', async () => {
    await jumpToAndWaitSettled(page, { bounds: bounds(county.geometry), padding: 40 });
    // the tier holding the most open incidents now (the simulator moves them along)
    const totals = {};
    for (const t of ['village', 'township', 'county', 'city']) totals[t] = (await api(`/api/v1/incidents?status=open&tier=${t}&limit=1`)).total;
    const tier = Object.entries(totals).sort((a, b) => b[1] - a[1])[0][0];
    const refiltered = page.waitForRequest((r) => /\/tiles\/incidents\/\d+\/\d+\/\d+/.test(r.url()) && new URL(r.url()).searchParams.get('tier') === tier);
    const listed = page.waitForResponse((r) => r.url().includes('/api/v1/incidents?') && new URL(r.url()).searchParams.get('tier') === tier);
    await page.locator('#filter-tier').selectOption(tier);
    const url = new URL((await listed).url());
    assert.equal(url.searchParams.get('status'), 'open');
    assert.equal(url.searchParams.get('limit'), '50');
    await refiltered;
    await page.waitForFunction(
      (tier) => [...document.querySelectorAll('#incident-list .incident-item')].every((n) => n.dataset.tier === tier),
      tier,
    );
    await eventually(
      async () => {
        const apiTotal = (await api(`/api/v1/incidents?status=open&tier=${tier}&limit=1`)).total;
        return (await page.locator('#incident-count').getAttribute('data-total')) === String(apiTotal);
      },
      { message: 'the filtered total is not the API total' },
    );
    // single cases (zoom 13 and up) around one of that tier
    const ofTier = (await api(`/api/v1/incidents?status=open&tier=${tier}&limit=1`)).items[0];
    if (ofTier) await jumpToAndWaitSettled(page, { center: [ofTier.lon, ofTier.lat], zoom: 14 });
    await waitSettled(page);
    const tiers = await page.evaluate(() =>
      window.__wangge.map.queryRenderedFeatures({ layers: ['incidents-circle'] }).map((f) => f.properties.tier),
    );
    assert.ok(!ofTier || tiers.length > 0, `no incident drawn around incident ${ofTier?.id} of tier ${tier}`);
    assert.ok(tiers.every((t) => t === tier), `incidents of other tiers than ${tier} drawn: ${[...new Set(tiers)]}`);

    // search: the list only (q), by an incident's id
    const items = page.locator('#incident-list .incident-item');
    const first = (await items.count()) > 0 ? await items.first().getAttribute('data-id') : null;
    // search: the list only (q), by an incident's id
    if (first) {
      const searched = page.waitForResponse((r) => r.url().includes('/api/v1/incidents?') && new URL(r.url()).searchParams.get('q') === first);
      await page.locator('#filter-q').fill(first);
      await page.locator('#filter-q').press('Enter');
      assert.equal((await searched).status(), 200);
      await page.waitForFunction(
        (id) => [...document.querySelectorAll('#incident-list .incident-item')].some((n) => n.dataset.id === id),
        first,
      );
      await page.locator('#filter-q').fill('');
      await page.locator('#filter-q').press('Enter');
    }
    const reset = page.waitForResponse((r) => r.url().includes('/api/v1/incidents?') && !new URL(r.url()).searchParams.has('tier'));
    await page.locator('#filter-tier').selectOption('');
    await reset;
    assertConsoleErrors();
  });

  it('renders grid cells when zoomed in, and a click opens a popup', async () => {
    const cells = await api(`/api/v1/grid-cells?bbox=${bounds(county.geometry).join(',')}`);
    assert.ok(cells.features.length > 0, 'no grid cell in the county bbox');
    const cell = cells.features[Math.floor(cells.features.length / 2)];
    const [x0, y0, x1, y1] = bounds(cell.geometry);
    const view = await jumpToAndWaitSettled(page, { center: [(x0 + x1) / 2, (y0 + y1) / 2], zoom: 14 });
    const rendered = await renderedBySource(page);
    const gridCodes = new Set((rendered['grid-cells'] ?? []).map((f) => f.code));
    assert.ok(gridCodes.size > 0, `no grid cell rendered at zoom ${view.zoom}`);
    assert.ok(gridCodes.has(cell.properties.code), `grid cell ${cell.properties.code} not rendered`);
    assert.ok((rendered.villages ?? []).length > 0, 'no village rendered at zoom 14');
    assert.ok((rendered.households ?? []).length > 0, 'no household rendered at zoom 14');
    // grid-cell names: one label per cell, however many tiles it spans
    const labels = await eventually(
      async () => {
        await waitSettled(page);
        const codes = await page.evaluate(() =>
          window.__wangge.map.queryRenderedFeatures({ layers: ['grid-cells-label'] }).map((f) => f.properties.code),
        );
        return codes.length > 0 && codes;
      },
      { message: 'no grid cell labelled at zoom 14' },
    );
    assert.equal(new Set(labels).size, labels.length, 'a grid cell labelled twice');

    // points over the cell would take the click: switch them off in the legend
    const points = ['incidents', 'workers', 'facilities', 'households'];
    for (const group of points) await page.locator(`#toggle-${group}`).uncheck();
    assert.equal(
      await page.evaluate(() => window.__wangge.map.getLayoutProperty('incidents-circle', 'visibility')),
      'none',
      'the incidents toggle did not hide the incidents',
    );
    await waitSettled(page);
    await page.mouse.click(VIEWPORT.width / 2, VIEWPORT.height / 2);
    const popup = page.locator('.maplibregl-popup .popup');
    await popup.waitFor({ state: 'visible' });
    assert.equal(await popup.getAttribute('data-kind'), 'grid');
    assert.ok((await popup.locator('h3').textContent()).trim().length > 0, 'popup without a name');
    assert.equal(await popup.locator('.field-level dt').textContent(), '层级');
    assert.match(await popup.locator('.field-open_incidents dd').textContent(), /^\d+$/);
    for (const group of points) await page.locator(`#toggle-${group}`).check();
    await page.screenshot({ path: path.join(ARTIFACTS, 'map-zoomed.png') });
    assertConsoleErrors();
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
    // the command centre's panels
    assert.equal(await page.locator('#incidents-heading').textContent(), 'Incidents');
    assert.equal(await page.locator('#filter-status option[value="open"]').textContent(), 'Open');
    assert.equal(await page.locator('#headline [data-figure="overdue"] .label').textContent(), 'Overdue');
    assert.equal(await page.locator('#live-status .live-label').textContent(), 'Live');
    assert.equal(await page.locator('#layers-panel .layer-incidents label').textContent(), 'Incidents');
    const statusNames = await page.locator('#incident-list .incident-item .status').allTextContents();
    assert.ok(
      statusNames.every((n) => ['Reported', 'Assigned', 'Accepted', 'In progress'].includes(n)),
      `statuses not in English: ${[...new Set(statusNames)]}`,
    );

    // remembered across a reload (localStorage)
    await page.reload();
    await waitForReady(page); // still signed in: no form
    assert.equal(await page.locator('#login-screen').isVisible(), false, 'sign-in screen over the map after a reload');
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    assert.equal(await page.locator('#lang-switch').textContent(), '中文');
    assert.equal(await page.locator('#incidents-heading').textContent(), 'Incidents');

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

    // back to Chinese for the rest
    await page.locator('#lang-switch').click();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    assert.equal(await page.locator('#incidents-heading').textContent(), '事件列表');
  });

  it('moves a grid worker live, without reloading the page', async () => {
    await page.locator('#live-status[data-status="live"]').waitFor();
    await page.evaluate(() => {
      window.__samePage = true;
      // the latest position the live feed gave for each worker
      window.__lastWorker = {};
      window.__wangge.live.addEventListener('changes', (e) => {
        for (const w of e.detail.workers ?? []) if (typeof w.lon === 'number') window.__lastWorker[w.id] = [w.lon, w.lat];
      });
    });
    const { item: worker } = await nextLiveChange(page, 'worker');
    await jumpToAndWaitSettled(page, { center: [worker.lon, worker.lat], zoom: 15 });
    // drawn by the overlay where the feed last put it (once its glide is over), its tile feature hidden
    const where = await eventually(
      () =>
        page.evaluate((id) => {
          const { map, workers } = window.__wangge;
          const last = window.__lastWorker[id];
          const shown = workers.position(id);
          const drawn = map
            .queryRenderedFeatures({ layers: ['workers-live'] })
            .find((f) => String(f.properties.id) === String(id));
          if (!last || !shown || !drawn) return null;
          const near = (a, b) => Math.abs(a[0] - b[0]) < 2e-5 && Math.abs(a[1] - b[1]) < 2e-5;
          if (!near(shown, last) || !near(drawn.geometry.coordinates, last)) return null;
          return { last, state: map.getFeatureState({ source: 'workers', sourceLayer: 'workers', id }) };
        }, worker.id),
      { timeout: 30_000, message: `worker ${worker.id} not drawn where the live feed put it` },
    );
    assert.equal(where.state.live, true, 'the tile feature of a live worker is still shown');
    assert.equal(await page.evaluate(() => window.__samePage), true, 'the page was reloaded');
    assertConsoleErrors();
  });

  it('shows a newly reported incident live: map, list and headline, without reloading the page', async () => {
    // all counties in view, so that wherever the incident is, it is drawn
    const counties = await api('/api/v1/admin-units?level=county');
    const all = counties.features.map((f) => bounds(f.geometry)).reduce((a, b) => [
      Math.min(a[0], b[0]),
      Math.min(a[1], b[1]),
      Math.max(a[2], b[2]),
      Math.max(a[3], b[3]),
    ]);
    await jumpToAndWaitSettled(page, { bounds: all, padding: 20 });
    await page.evaluate(() => {
      window.__samePage = true;
    });
    const drawnBefore = await renderedIncidentIds(page);
    const refreshesBefore = await page.evaluate(() => window.__wangge.tileRefreshes.incidents ?? 0);
    const headlineRefetched = page.waitForResponse((r) => r.url().endsWith('/api/v1/stats/headline'), { timeout: LIVE_TIMEOUT + 10_000 });
    const listRefetched = page.waitForResponse((r) => r.url().includes('/api/v1/incidents?'), { timeout: LIVE_TIMEOUT + 10_000 });
    const { item: incident } = await nextLiveChange(page, 'incident', drawnBefore);
    // single cases are drawn from zoom 13 (the tiles below count per hexagon)
    await jumpToAndWaitSettled(page, { center: [incident.lon, incident.lat], zoom: 14 });
    await eventually(async () => (await renderedIncidentIds(page)).includes(String(incident.id)), {
      timeout: 30_000,
      message: `incident ${incident.id} from the live feed not drawn`,
    });
    assert.ok((await page.evaluate(() => window.__wangge.tileRefreshes.incidents ?? 0)) > refreshesBefore, 'incident tiles not refreshed');
    assert.equal((await headlineRefetched).status(), 200);
    assert.equal((await listRefetched).status(), 200);
    assert.equal(await page.evaluate(() => window.__samePage), true, 'the page was reloaded');
    await waitSettled(page);
    await page.screenshot({ path: path.join(ARTIFACTS, 'command-centre.png') });
    assertConsoleErrors();
  });

  it('keeps the rows of unchanged cases as they are when a new case comes in: the focus stays on its row', async () => {
    // From now on the n-th answer of the list is the first one seen with n new cases on top
    // (the live feed refreshes the list): only the new rows may be added.
    let first = null;
    let answers = 0;
    const fresh = (n) => Array.from({ length: n }, (_, i) => ({ ...first.items[0], id: 999_999_000 + n - i, title: `新上报的事件 ${n - i}` }));
    const isList = (url) => url.pathname === '/api/v1/incidents' && url.searchParams.get('status') === 'open';
    let done = false;
    await page.route(isList, async (route) => {
      try {
        const response = await route.fetch();
        const body = await response.json();
        first ??= body;
        answers += 1;
        const items = [...fresh(answers), ...first.items].slice(0, first.items.length);
        await route.fulfill({ response, json: { ...first, total: first.total + answers, items } });
      } catch (error) {
        // A refresh still being answered when the test ends and unroutes: Playwright then
        // refuses the late fulfil ("Route is already handled"), which says nothing of the client.
        if (!done) throw error;
      }
    });
    try {
      await page.locator('#incident-list .incident-item[data-id="999999001"]').waitFor({ timeout: LIVE_TIMEOUT });
      const kept = first.items[0].id;
      const seen = answers;
      await page.locator(`#incident-list .incident-item[data-id="${kept}"]`).focus();
      await page.evaluate((id) => {
        window.__keptRow = document.querySelector(`#incident-list .incident-item[data-id="${id}"]`);
      }, kept);
      // the next live refresh, drawn
      await page.locator(`#incident-list .incident-item[data-id="${999_999_000 + seen + 1}"]`).waitFor({ timeout: LIVE_TIMEOUT });
      const after = await page.evaluate(() => ({
        connected: window.__keptRow.isConnected,
        focused: document.activeElement === window.__keptRow,
        ids: [...document.querySelectorAll('#incident-list .incident-item')].map((n) => Number(n.dataset.id)),
      }));
      const shownAnswer = after.ids[0] - 999_999_000;
      assert.deepEqual(after.ids, [...fresh(shownAnswer), ...first.items].slice(0, first.items.length).map((i) => i.id));
      assert.ok(after.connected, 'the row of an unchanged case was drawn again');
      assert.ok(after.focused, 'the focus left the row of an unchanged case');
    } finally {
      done = true;
      await page.unroute(isList);
    }
    assertConsoleErrors();
  });

  it('stays signed in, with the map and list loaded again, when the server does not take the sign-out', async () => {
    const failed = resourceError(503, SESSION_PATH);
    const logged = waitForResourceError(page, failed);
    await page.route(`${WANGGE_URL}${SESSION_PATH}`, (route) =>
      route.request().method() === 'DELETE'
        ? route.fulfill({
            status: 503,
            contentType: 'application/problem+json',
            body: JSON.stringify({ type: '/problems/unavailable', title: 'Service unavailable', status: 503 }),
          })
        : route.fallback(),
    );
    try {
      await page.locator('#sign-out').click();
      await logged;
      await page.locator('#error-banner').filter({ hasText: '退出登录失败' }).waitFor();
      await waitForReady(page);
    } finally {
      await page.unroute(`${WANGGE_URL}${SESSION_PATH}`);
    }
    assert.equal(await page.evaluate(() => document.body.dataset.auth), 'signed-in');
    assert.ok(await page.evaluate(() => window.__wangge.map.getSource('counties') !== undefined), 'no tile source after the failed sign-out');
    await page.locator('#incident-list .incident-item').first().waitFor();
    await page.locator('#live-status[data-status="live"]').waitFor();
    assert.equal(await context.request.get(`${WANGGE_URL}/api/v1/admin-units?level=county`).then((r) => r.status()), 200);
    await page.locator('#error-banner .dismiss').first().click();
    assertConsoleErrors([failed]);
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
    assert.equal(await page.locator('#login-message').textContent(), '已退出登录');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'login-username');
    assert.deepEqual(await sessionCookies(context), [], 'the session cookie is still there');
    await waitSettled(page);
    const left = await page.evaluate(() => {
      const { map, live } = window.__wangge;
      return {
        tileSources: ['counties', 'grid-cells', 'incidents', 'workers'].filter((id) => map.getSource(id) !== undefined),
        labels: map.querySourceFeatures('counties-label').length + map.querySourceFeatures('townships-label').length,
        live: live.status,
        panel: document.querySelectorAll('#incident-list .incident-item').length,
      };
    });
    assert.deepEqual(left.tileSources, [], 'tile sources still on the map after signing out');
    assert.equal(left.labels, 0, 'area labels still on the map after signing out');
    assert.equal(left.live, 'idle', 'the live feed is still connected');
    assert.equal(left.panel, 0, 'incidents still listed after signing out');

    for (const endpoint of [
      data,
      '/api/v1/grid-cells',
      '/api/v1/facilities',
      '/api/v1/stats/summary',
      '/api/v1/stats/headline',
      '/api/v1/incidents?status=open',
      '/api/v1/incident-categories',
      '/tiles/counties',
      '/tiles/incidents/10/820/442',
      SESSION_PATH,
    ]) {
      const res = await context.request.get(`${WANGGE_URL}${endpoint}`);
      assert.equal(res.status(), 401, `GET ${endpoint} after signing out answered ${res.status()}`);
      assert.equal((await res.json()).type, '/problems/unauthenticated');
    }

    // signing in again loads the data again (a new `ready`)
    await submitLogin(page, DEMO_USER, password);
    await waitForReady(page);
    assert.ok(await page.evaluate(() => window.__wangge.map.getSource('counties') !== undefined), 'no tile source after signing in again');
    await page.locator('#live-status[data-status="live"]').waitFor();
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
