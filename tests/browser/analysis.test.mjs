// Browser test of the heat & hotspot analysis panel (热力与热点分析) and the
// hot spot alerts, against a running wangge server:
//
//   WANGGE_URL=http://127.0.0.1:18080 WANGGE_DEMO_PASSWORD=... node --test tests/browser/analysis.test.mjs
//
// What the map draws is compared with the server's own answers, fetched in
// the page with the same session. The demo's simulator keeps reporting cases,
// so a count read from the tiles is bracketed by the list's totals read just
// before the tiles were fetched again and just after they were read; a
// comparison with an analysis answer that fails is retried after the panel's
// 刷新 (Refresh). No fixed delays: every wait is on a condition.

import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  VIEWPORT,
  WANGGE_URL,
  consoleWatch,
  eventually,
  jumpToAndWaitSettled,
  launchBrowser,
  resourceError,
  signInAndWaitForReady,
  waitForReady,
  waitForResourceError,
} from './browser.mjs';

/** Where the middle of the map between the side panels is, [lon, lat]. */
function visibleMiddle(page) {
  return page.evaluate(() => {
    const { map } = window.__wangge;
    const left = document.querySelector('.side').getBoundingClientRect().right;
    const right = document.querySelector('#side-right').getBoundingClientRect().left;
    return map.unproject([(left + right) / 2, map.getContainer().clientHeight / 2]).toArray();
  });
}

/** After a reload (still signed in): the map ready again and the alerts listed. */
async function waitForReadyAgain(page) {
  await waitForReady(page);
  await page.waitForFunction(() => document.getElementById('alerts-panel')?.dataset.state === 'ready');
}

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TIMEOUT = 60_000;
const SUITE_TIMEOUT = 10 * 60_000;
const SESSION_PATH = '/api/v1/session';
const PREFERRED_COUNTY = '530402'; // 红塔区, the county of the small demo

const BIN_COLORS = {
  3: '#d62f27',
  2: '#ed7551',
  1: '#fab984',
  0: '#f7f7f2',
  '-1': '#c0ccbe',
  '-2': '#849eba',
  '-3': '#4575b5',
};
const EMERGING_ZH = {
  'new-hot-spot': '新热点',
  'consecutive-hot-spot': '连续热点',
  'intensifying-hot-spot': '加剧热点',
  'persistent-hot-spot': '持续热点',
  'diminishing-hot-spot': '减弱热点',
  'sporadic-hot-spot': '零星热点',
  'oscillating-hot-spot': '振荡热点',
  'historical-hot-spot': '历史热点',
};

/** GET in the page, with the page's session: {status, type, body}. */
function fetchInPage(page, url) {
  return page.evaluate(async (url) => {
    const res = await fetch(url, { headers: { Accept: 'application/geo+json, application/json' } });
    return { status: res.status, type: res.headers.get('content-type'), body: await res.json() };
  }, url);
}

async function getJson(page, url) {
  const { status, body } = await fetchInPage(page, url);
  assert.equal(status, 200, `GET ${url} answered ${status}: ${JSON.stringify(body)}`);
  return body;
}

/** The incident list's total for analysis filter parameters (the same names). */
async function listTotal(page, params) {
  return (await getJson(page, `/api/v1/incidents?${new URLSearchParams({ ...params, limit: '1' })}`)).total;
}

/** The analysis filter the panel applies now, as query parameters (from its period label and selects). */
function panelFilter(page) {
  return page.evaluate(() => {
    const out = {};
    for (const [id, key] of [
      ['analysis-status', 'status'],
      ['analysis-category', 'category'],
      ['analysis-severity', 'severity'],
    ]) {
      const value = document.getElementById(id).value;
      if (value) out[key] = value;
    }
    const period = document.getElementById('analysis-period').dataset;
    if (period.since) out.since = period.since;
    if (period.until) out.until = period.until;
    return out;
  });
}

/**
 * The cases the heat map's tiles count in the view: one feature per H3
 * hexagon (features repeat in the tiles around a hexagon's centre), summed.
 */
function heatSum(page) {
  return page.evaluate(() => {
    const byCell = new Map();
    for (const f of window.__wangge.map.querySourceFeatures('analysis-heat', { sourceLayer: 'incidents' })) {
      byCell.set(f.properties.h3, { count: f.properties.count, resolution: f.properties.resolution });
    }
    const cells = [...byCell.values()];
    return { cells: cells.length, sum: cells.reduce((s, c) => s + c.count, 0), resolutions: [...new Set(cells.map((c) => c.resolution))] };
  });
}

/** Refreshes the heat map's tiles (the panel's 刷新) and waits until they are drawn again. */
async function refreshHeat(page) {
  await page.locator('#analysis-refresh').click();
  assert.equal(await page.evaluate(() => window.__wangge.analysis.drawn('heat')), 'ready');
}

/**
 * Asserts that the heat map's tiles count, in all, the cases the list counts
 * for the panel's filter: the tiles are fetched again between two reads of the
 * list's total, and their sum must lie between the two (the simulator only adds cases).
 */
async function assertHeatMatchesList(page, what) {
  const params = await panelFilter(page);
  let last;
  await eventually(
    async () => {
      const before = await listTotal(page, params);
      await refreshHeat(page);
      const heat = await heatSum(page);
      const afterTotal = await listTotal(page, params);
      last = { before, heat, after: afterTotal };
      return heat.sum >= before && heat.sum <= afterTotal;
    },
    { timeout: 45_000, interval: 0, message: () => `${what}: the heat map's hexagons do not count the list's cases: ${JSON.stringify(last)}` },
  );
  return last;
}

function pointInRing([x, y], ring) {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function pointInFeature(point, geometry) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  return polygons.some(([outer, ...holes]) => pointInRing(point, outer) && !holes.some((h) => pointInRing(point, h)));
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

/** The panel as a fresh user finds it: open, nothing drawn, default filters. */
async function resetPanel(page) {
  await page.evaluate(() => {
    const set = (id, value) => {
      const node = document.getElementById(id);
      if (node.value !== value) {
        node.value = value;
        node.dispatchEvent(new Event('change'));
      }
    };
    for (const id of ['analysis-status', 'analysis-category', 'analysis-severity']) set(id, '');
    set('analysis-from', '12');
    set('analysis-to', '23');
    set('analysis-unit', 'grid-cell');
    for (const id of ['analysis-heat', 'analysis-hexagons']) {
      const box = document.getElementById(id);
      if (box.checked) box.click();
    }
    const none = document.getElementById('analysis-area-none');
    if (!none.checked) none.click();
  });
  if ((await page.locator('#analysis-toggle').getAttribute('aria-pressed')) !== 'true') await page.locator('#analysis-toggle').click();
  await page.locator('#analysis-panel').waitFor({ state: 'visible' });
}

/** Switches an area analysis on and waits until it is drawn; answers its final state. */
async function showArea(page, layer) {
  await page.locator(`#analysis-area-${layer}`).check();
  return page.evaluate((layer) => window.__wangge.analysis.drawn(layer), layer);
}

/** The area analysis the panel shows, compared with a fresh fetch of the same URL; retried after 刷新 while the simulator changes counts. */
async function agreeWithApi(page, layer, differences) {
  let last = [];
  await eventually(
    async () => {
      const shown = await page.evaluate(() => window.__wangge.analysis.data());
      assert.equal(shown?.layer, layer);
      const answer = await getJson(page, shown.url);
      last = differences(shown.collection, answer);
      if (last.length === 0) return { shown, answer };
      await page.locator('#analysis-refresh').click();
      assert.equal(await page.evaluate((layer) => window.__wangge.analysis.drawn(layer), layer), 'ready');
      return false;
    },
    { timeout: 60_000, interval: 0, message: () => `${layer}: the map does not show what the API answers: ${last.slice(0, 8).join('; ')}` },
  );
  return page.evaluate(() => window.__wangge.analysis.data());
}

const countBy = (features, key) => {
  const out = {};
  for (const f of features) out[String(f.properties[key])] = (out[String(f.properties[key])] ?? 0) + 1;
  return out;
};

describe('wangge heat & hotspot analysis', { timeout: SUITE_TIMEOUT }, () => {
  let browser;
  let context;
  let page;
  let county;
  const { watch, assertConsoleErrors } = consoleWatch(TIMEOUT);
  /** URLs of the tiles the page requested. */
  const tileRequests = [];

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    page = watch(await context.newPage());
    page.on('request', (r) => {
      if (r.url().includes('/tiles/')) tileRequests.push(r.url());
    });
    const sessionCheck = waitForResourceError(page, resourceError(401, SESSION_PATH));
    await page.goto(`${WANGGE_URL}/?lang=zh-CN`);
    await signInAndWaitForReady(page);
    await sessionCheck;
    const counties = await getJson(page, '/api/v1/admin-units?level=county');
    county = counties.features.find((f) => f.properties.code === PREFERRED_COUNTY) ?? counties.features[0];
    assertConsoleErrors([resourceError(401, SESSION_PATH)]);
  });

  beforeEach(async () => {
    await resetPanel(page);
  });

  after(async () => {
    await browser?.close();
  });

  it('opens from the header in Chinese, with every layer off and the last 12 months chosen', async () => {
    assert.equal(await page.locator('#analysis-toggle').textContent(), '热力与热点');
    assert.equal(await page.locator('#analysis-heading').textContent(), '热力与热点分析');
    for (const layer of ['heat', 'hexagons', 'choropleth', 'hotspots', 'moran', 'emerging']) {
      assert.equal(await page.evaluate((l) => window.__wangge.analysis.state(l), layer), 'off', `${layer} on by default`);
    }
    const labels = await page.locator('#analysis-panel .analysis-layer label').allTextContents();
    for (const label of ['热力图', '六边形计数', '分级统计（网格/村）', '热点（Gi*）', '时空热点']) {
      assert.ok(labels.some((l) => l.includes(label)), `no switch ${label}: ${labels}`);
    }
    // the period: the 1st of the month 11 months back (CST), up to now
    const { since, until } = await page.locator('#analysis-period').evaluate((n) => ({ ...n.dataset }));
    assert.match(since, /^\d{4}-\d{2}-01T00:00:00\+08:00$/);
    assert.equal(until, '');
    const months = (Date.parse(new Date().toISOString()) - Date.parse(since)) / (30.5 * 86_400_000);
    assert.ok(months > 11 && months < 12.2, `the period starts ${since}`);
    assert.equal(await page.locator('#analysis-weights').inputValue(), 'queen');
    await page.locator('#analysis-unit').selectOption('h3:8');
    assert.equal(await page.locator('#analysis-weights').inputValue(), 'ring:1', 'the default weights of hexagons');
    assertConsoleErrors();
  });

  it('draws the heat map at zoom 9 from hexagon counts that add up to the list total for the same filters', async () => {
    const [x0, y0, x1, y1] = bounds(county.geometry);
    await jumpToAndWaitSettled(page, { center: [(x0 + x1) / 2, (y0 + y1) / 2], zoom: 9 });
    const view = await page.evaluate(() => window.__wangge.map.getBounds().toArray().flat());
    assert.ok(view[0] <= x0 && view[1] <= y0 && view[2] >= x1 && view[3] >= y1, 'the county is not all in view at zoom 9');
    await page.locator('#analysis-heat').check();
    assert.equal(await page.evaluate(() => window.__wangge.analysis.drawn('heat')), 'ready');
    await page.locator('.analysis-legend[data-legend="heat"]').waitFor({ state: 'visible' });
    // the heat map's tiles are the incidents tiles with the panel's filter in their URL
    const template = await page.evaluate(() => window.__wangge.analysis.tiles('heat'));
    const since = (await panelFilter(page)).since;
    assert.equal(new URL(template.replace('{z}/{x}/{y}', '0/0/0')).searchParams.get('since'), since);
    assert.ok(
      tileRequests.some((u) => /\/tiles\/incidents\/9\/\d+\/\d+/.test(u) && new URL(u).searchParams.get('since') === since),
      'no incidents tile requested at zoom 9 with the panel filter',
    );
    const rendered = await page.evaluate(() => window.__wangge.map.queryRenderedFeatures({ layers: ['analysis-heat'] }).length);
    assert.ok(rendered > 0, 'no heat map feature rendered');
    const { heat } = await assertHeatMatchesList(page, 'all statuses');
    assert.ok(heat.cells > 0 && heat.sum > 0, 'no case counted');
    assert.deepEqual(heat.resolutions, [6], 'hexagons of the resolution of zoom 9');
    await page.screenshot({ path: path.join(ARTIFACTS, 'analysis-heat.png') });
    assertConsoleErrors();
  });

  it('gives the heat map new tile URLs and counts when a category is chosen', async () => {
    const [x0, y0, x1, y1] = bounds(county.geometry);
    await jumpToAndWaitSettled(page, { center: [(x0 + x1) / 2, (y0 + y1) / 2], zoom: 9 });
    await page.locator('#analysis-heat').check();
    assert.equal(await page.evaluate(() => window.__wangge.analysis.drawn('heat')), 'ready');
    const all = await assertHeatMatchesList(page, 'all categories');
    // a category that has cases in the period
    const categories = await page.locator('#analysis-category option').evaluateAll((os) => os.map((o) => o.value).filter(Boolean));
    assert.ok(categories.length > 1, 'no categories to choose from');
    const params = await panelFilter(page);
    let category = null;
    for (const c of categories) {
      const n = await listTotal(page, { ...params, category: c });
      if (n > 0 && n < all.before) {
        category = c;
        break;
      }
    }
    assert.ok(category, 'no category with some but not all cases');
    const requested = page.waitForRequest((r) => /\/tiles\/incidents\/9\//.test(r.url()) && new URL(r.url()).searchParams.get('category') === category);
    await page.locator('#analysis-category').selectOption(category);
    await requested;
    const template = await page.evaluate(() => window.__wangge.analysis.tiles('heat'));
    assert.equal(new URL(template.replace('{z}/{x}/{y}', '0/0/0')).searchParams.get('category'), category);
    assert.equal(await page.evaluate(() => window.__wangge.analysis.drawn('heat')), 'ready');
    const one = await assertHeatMatchesList(page, `category ${category}`);
    assert.ok(one.heat.sum < all.heat.sum, `category ${category}: ${one.heat.sum} cases, all: ${all.heat.sum}`);
    // a severity too: both in the URL, and the count follows
    await page.locator('#analysis-severity').selectOption('minor');
    assert.equal(await page.evaluate(() => window.__wangge.analysis.drawn('heat')), 'ready');
    const url = new URL((await page.evaluate(() => window.__wangge.analysis.tiles('heat'))).replace('{z}/{x}/{y}', '0/0/0'));
    assert.equal(url.searchParams.get('severity'), 'minor');
    assert.equal(url.searchParams.get('category'), category);
    await assertHeatMatchesList(page, `category ${category}, minor`);
    assertConsoleErrors();
  });

  it('draws hexagons with their counts at zoom 13, with a legend', async () => {
    // the busiest place: where the most recent case is
    const recent = (await getJson(page, '/api/v1/incidents?limit=1')).items[0];
    await jumpToAndWaitSettled(page, { center: [recent.lon, recent.lat], zoom: 13 });
    await page.locator('#analysis-hexagons').check();
    assert.equal(await page.evaluate(() => window.__wangge.analysis.drawn('hexagons')), 'ready');
    const hexagons = await page.evaluate(() =>
      window.__wangge.map.queryRenderedFeatures({ layers: ['analysis-hexagons-fill'] }).map((f) => ({ ...f.properties, type: f.geometry.type })),
    );
    assert.ok(hexagons.length > 0, 'no hexagon rendered at zoom 13');
    assert.ok(hexagons.every((h) => h.count >= 1 && h.open_count <= h.count && h.type === 'Polygon'), 'a hexagon without cases or polygon');
    assert.deepEqual([...new Set(hexagons.map((h) => h.resolution))], [9], 'hexagons of the resolution of zoom 13');
    const since = (await panelFilter(page)).since;
    assert.ok(
      tileRequests.some((u) => /\/tiles\/hexagons\/13\/\d+\/\d+/.test(u) && new URL(u).searchParams.get('since') === since),
      'no hexagons tile requested at zoom 13 with the panel filter',
    );
    const legend = await page.locator('.analysis-legend[data-legend="hexagons"] li').allTextContents();
    assert.equal(legend.length, 7, `hexagon classes: ${legend}`);
    // the hexagon under the recent case counts it
    const here = await page.evaluate(({ lon, lat }) => {
      const { map } = window.__wangge;
      const p = map.project([lon, lat]);
      return map.queryRenderedFeatures(p, { layers: ['analysis-hexagons-fill'] }).map((f) => f.properties.count);
    }, recent);
    assert.ok(here.length === 1 && here[0] >= 1, `the hexagon of case ${recent.id}: ${here}`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'analysis-hexagons.png') });
    assertConsoleErrors();
  });

  it('refreshes the heat map and hexagon tiles when the live feed reports a case, and counts it', async () => {
    const [x0, y0, x1, y1] = bounds(county.geometry);
    const at = { lon: (x0 + x1) / 2, lat: (y0 + y1) / 2 };
    await jumpToAndWaitSettled(page, { center: [at.lon, at.lat], zoom: 12 });
    await page.locator('#analysis-heat').check();
    await page.locator('#analysis-hexagons').check();
    assert.equal(await page.evaluate(() => window.__wangge.analysis.drawn('heat')), 'ready');
    assert.equal(await page.evaluate(() => window.__wangge.analysis.drawn('hexagons')), 'ready');
    /** The count of the hexagon drawn at the point (0: none). */
    const hexagonCount = () =>
      page.evaluate(({ lon, lat }) => {
        const { map } = window.__wangge;
        const f = map.queryRenderedFeatures(map.project([lon, lat]), { layers: ['analysis-hexagons-fill'] })[0];
        return f ? { h3: f.properties.h3, count: f.properties.count } : { h3: null, count: 0 };
      }, at);
    const before = await hexagonCount();
    const refreshes = await page.evaluate(() => ({ ...window.__wangge.tileRefreshes }));
    // a case reported there (the operator may report one): the live feed tells the page
    const reported = await page.evaluate(async ({ lon, lat }) => {
      const res = await fetch('/api/v1/incidents', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ category: 'neighbour', severity: 'minor', description: '浏览器测试：热力图随新事件刷新', location: { lon, lat } }),
      });
      return { status: res.status, body: await res.json() };
    }, at);
    assert.equal(reported.status, 201, JSON.stringify(reported.body));
    await eventually(
      () =>
        page.evaluate(
          (before) => ['analysis-heat', 'hexagons'].every((id) => (window.__wangge.tileRefreshes[id] ?? 0) > (before[id] ?? 0)),
          refreshes,
        ),
      { timeout: 20_000, message: 'the heat map or hexagon tiles were not refreshed after the live change' },
    );
    // (others may report there meanwhile: at least one more)
    let now;
    await eventually(
      async () => {
        await page.evaluate(() => window.__wangge.analysis.drawn('hexagons'));
        now = await hexagonCount();
        return now.count >= before.count + 1;
      },
      { timeout: 20_000, message: () => `the hexagon of the new case counts ${now?.count}, before ${before.count}` },
    );
    assertConsoleErrors();
  });

  it('plays the period a month at a time, the heat map following', async () => {
    await page.evaluate(() => {
      // far from the current month: playing goes on for a while (a month per 1.5 s)
      for (const [id, value] of [['analysis-from', '0'], ['analysis-to', '1']]) {
        const node = document.getElementById(id);
        node.value = value;
        node.dispatchEvent(new Event('change'));
      }
    });
    await page.locator('#analysis-heat').check();
    assert.equal(await page.evaluate(() => window.__wangge.analysis.drawn('heat')), 'ready');
    const start = await panelFilter(page);
    assert.ok(start.until, 'a period ending before this month has an until');
    await page.locator('#analysis-play').click();
    assert.equal(await page.locator('#analysis-play').getAttribute('aria-pressed'), 'true');
    await page.waitForFunction((since) => document.getElementById('analysis-period').dataset.since !== since, start.since);
    await page.locator('#analysis-play').click();
    assert.equal(await page.locator('#analysis-play').getAttribute('aria-pressed'), 'false');
    const next = await panelFilter(page);
    // moved on by whole months, keeping its width (two months)
    const month = (iso) => {
      const [y, m] = iso.slice(0, 7).split('-').map(Number);
      return y * 12 + m;
    };
    const moved = month(next.since) - month(start.since);
    assert.ok(moved >= 1 && moved < 20, `${start.since} → ${next.since}`);
    assert.equal(month(next.until) - month(next.since), 2, `the period ${next.since} – ${next.until}`);
    const template = await page.evaluate(() => window.__wangge.analysis.tiles('heat'));
    assert.equal(new URL(template.replace('{z}/{x}/{y}', '0/0/0')).searchParams.get('since'), next.since);
    assertConsoleErrors();
  });

  it('draws the Gi* hot spots by bin as the API answers them, with a legend', async () => {
    const [x0, y0, x1, y1] = bounds(county.geometry);
    await jumpToAndWaitSettled(page, { bounds: [x0, y0, x1, y1], padding: 40 });
    assert.equal(await showArea(page, 'hotspots'), 'ready');
    const shown = await agreeWithApi(page, 'hotspots', (mine, answer) => {
      const out = [];
      const a = countBy(answer.features, 'bin');
      const b = countBy(mine.features, 'bin');
      if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`bins ${JSON.stringify(b)} ≠ ${JSON.stringify(a)}`);
      const counts = new Map(answer.features.map((f) => [f.properties.code, f.properties.count]));
      for (const f of mine.features) if (counts.get(f.properties.code) !== f.properties.count) out.push(`${f.properties.code}: ${f.properties.count} ≠ ${counts.get(f.properties.code)}`);
      return out;
    });
    // the request: grid cells, queen contiguity, 999 permutations, FDR, the panel's period
    const url = new URL(shown.url, WANGGE_URL);
    assert.equal(url.pathname, '/api/v1/analysis/hotspots');
    const q = Object.fromEntries(url.searchParams);
    assert.equal(q.unit, 'grid-cell');
    assert.equal(q.weights, 'queen');
    assert.equal(q.permutations, '999');
    assert.equal(q.fdr, 'true');
    assert.equal(q.since, (await panelFilter(page)).since);
    assert.equal(shown.collection.weights, 'queen');
    // what is drawn: each rendered place in the colour of its bin
    const rendered = await page.evaluate(() =>
      window.__wangge.map.queryRenderedFeatures({ layers: ['analysis-hotspots-fill'] }).map((f) => ({ code: f.properties.code, bin: f.properties.bin })),
    );
    assert.ok(rendered.length > 0, 'no hot spot place rendered');
    const bins = new Map(shown.collection.features.map((f) => [f.properties.code, f.properties.bin]));
    assert.ok(rendered.every((r) => bins.get(r.code) === r.bin), 'a place drawn with another bin than the answer');
    const color = await page.evaluate(() => window.__wangge.map.getPaintProperty('analysis-hotspots-fill', 'fill-color'));
    for (const [bin, hex] of Object.entries(BIN_COLORS)) {
      const i = color.indexOf(bin);
      assert.ok(i > 0 && color[i + 1] === hex, `bin ${bin} not drawn ${hex}: ${JSON.stringify(color)}`);
    }
    // the legend: seven bins, hot first, in those colours
    const legend = await page.locator('.analysis-legend[data-legend="hotspots"] li').evaluateAll((items) =>
      items.map((li) => ({ bin: li.dataset.bin, text: li.textContent, color: getComputedStyle(li.querySelector('.legend-swatch')).backgroundColor })),
    );
    assert.deepEqual(legend.map((l) => l.bin), ['3', '2', '1', '0', '-1', '-2', '-3']);
    assert.equal(legend[0].text, '热点（99% 置信度）');
    assert.equal(legend[0].color, 'rgb(214, 47, 39)');
    assert.equal(legend[6].text, '冷点（99% 置信度）');
    assert.equal(legend[6].color, 'rgb(69, 117, 181)');
    await page.screenshot({ path: path.join(ARTIFACTS, 'analysis-hotspots.png') });
    assertConsoleErrors();
  });

  it('lists the 20 most significant places by |z|; a click flies to one and outlines it', async () => {
    assert.equal(await showArea(page, 'hotspots'), 'ready');
    const shown = await page.evaluate(() => window.__wangge.analysis.data());
    const expected = [...shown.collection.features]
      .sort((a, b) => Math.abs(b.properties.z) - Math.abs(a.properties.z) || b.properties.count - a.properties.count || a.properties.code.localeCompare(b.properties.code))
      .slice(0, 20);
    const rows = await page.locator('#hotspot-table tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({ code: tr.dataset.code, z: Number(tr.dataset.z), bin: tr.dataset.bin, count: Number(tr.dataset.count), cells: [...tr.cells].map((c) => c.textContent) })),
    );
    assert.equal(rows.length, Math.min(20, shown.collection.features.length));
    assert.deepEqual(rows.map((r) => r.code), expected.map((f) => f.properties.code), 'not the top places by |z|');
    for (let i = 1; i < rows.length; i++) assert.ok(Math.abs(rows[i - 1].z) >= Math.abs(rows[i].z), 'rows not sorted by |z|');
    const first = expected[0].properties;
    assert.equal(rows[0].cells[1], first.name || first.code);
    assert.equal(rows[0].cells[3], String(first.count));
    assert.equal(rows[0].cells[4], new Intl.NumberFormat('zh-CN', { maximumFractionDigits: 2 }).format(first.z));
    assert.match(rows[0].cells[5], /^(热点|冷点) (99|95|90)%|不显著$/);
    // a click on the third row (or the last) flies there and outlines it
    const pick = expected[Math.min(2, expected.length - 1)];
    const moved = page.evaluate(() => new Promise((resolve) => window.__wangge.map.once('moveend', resolve)));
    await page.locator(`#hotspot-table tbody tr[data-code="${pick.properties.code}"]`).click();
    await moved;
    await page.evaluate(() => window.__wangge.settled());
    assert.equal(await page.evaluate(() => window.__wangge.analysis.highlighted()), pick.properties.code);
    assert.equal(await page.locator(`#hotspot-table tbody tr[data-code="${pick.properties.code}"]`).getAttribute('aria-current'), 'true');
    // the middle of the map between the side panels is inside the place, and the outline is drawn
    const centre = await page.evaluate(() => {
      const { map } = window.__wangge;
      const left = document.querySelector('.side').getBoundingClientRect().right;
      const right = document.querySelector('#side-right').getBoundingClientRect().left;
      return map.unproject([(left + right) / 2, map.getContainer().clientHeight / 2]).toArray();
    });
    assert.ok(pointInFeature(centre, pick.geometry), `the view's middle ${centre} is not inside ${pick.properties.code}`);
    const outline = await page.evaluate(() => window.__wangge.map.queryRenderedFeatures({ layers: ['analysis-highlight'] }).map((f) => f.properties.code));
    assert.ok(outline.includes(pick.properties.code), `no outline of ${pick.properties.code} drawn`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'analysis-hotspot-picked.png') });
    assertConsoleErrors();
  });

  it('draws a choropleth of counts or per 1,000 households, classed in its legend', async () => {
    const [x0, y0, x1, y1] = bounds(county.geometry);
    await jumpToAndWaitSettled(page, { bounds: [x0, y0, x1, y1], padding: 40 });
    await page.locator('#analysis-unit').selectOption('village');
    assert.equal(await showArea(page, 'choropleth'), 'ready');
    const shown = await agreeWithApi(page, 'choropleth', (mine, answer) => {
      const counts = new Map(answer.features.map((f) => [f.properties.code, f.properties.count]));
      return mine.features.filter((f) => counts.get(f.properties.code) !== f.properties.count).map((f) => f.properties.code);
    });
    assert.equal(new URL(shown.url, WANGGE_URL).pathname, '/api/v1/analysis/aggregates');
    assert.equal(new URL(shown.url, WANGGE_URL).searchParams.get('unit'), 'village');
    assert.ok(shown.collection.features.every((f) => f.properties.unit === 'village'));
    // the summary counts the cases the list counts (the simulator may add some meanwhile)
    const total = shown.collection.features.reduce((s, f) => s + f.properties.count, 0);
    assert.equal(await page.locator('#analysis-state').getAttribute('data-total'), String(total));
    const classes = () => page.locator('#choropleth-classes li').allTextContents();
    const byCount = await classes();
    assert.ok(byCount.length >= 2, `choropleth classes: ${byCount}`);
    await page.locator('#analysis-measure').selectOption('per_1000_households');
    const per1000 = await classes();
    assert.notDeepEqual(per1000, byCount, 'the legend did not follow the measure');
    const color = JSON.stringify(await page.evaluate(() => window.__wangge.map.getPaintProperty('analysis-choropleth-fill', 'fill-color')));
    assert.ok(color.includes('per_1000_households'), 'the fill does not use per_1000_households');
    assertConsoleErrors();
  });

  it('draws emerging hot spot categories with a legend in Chinese', async () => {
    const [x0, y0, x1, y1] = bounds(county.geometry);
    await jumpToAndWaitSettled(page, { bounds: [x0, y0, x1, y1], padding: 40 });
    assert.equal(await showArea(page, 'emerging'), 'ready');
    const shown = await page.evaluate(() => window.__wangge.analysis.data());
    const url = new URL(shown.url, WANGGE_URL);
    assert.equal(url.pathname, '/api/v1/analysis/emerging');
    assert.equal(url.searchParams.get('step'), 'month');
    assert.equal(url.searchParams.get('steps'), '12');
    const legend = await page.locator('#emerging-legend li').evaluateAll((items) => items.map((li) => ({ category: li.dataset.category, text: li.textContent })));
    for (const [category, name] of Object.entries(EMERGING_ZH)) {
      assert.equal(legend.find((l) => l.category === category)?.text, name, `legend of ${category}`);
      assert.equal(legend.find((l) => l.category === category.replace('-hot-', '-cold-'))?.text, name.replace('热点', '冷点'));
    }
    const known = new Set(legend.map((l) => l.category));
    const categories = new Set(shown.collection.features.map((f) => f.properties.category));
    for (const c of categories) assert.ok(known.has(c), `category ${c} not in the legend`);
    for (const f of shown.collection.features) assert.equal(f.properties.bins.length, 12, `${f.properties.code}: ${f.properties.bins.length} bins`);
    const rendered = await page.evaluate(() =>
      window.__wangge.map.queryRenderedFeatures({ layers: ['analysis-emerging-fill'] }).map((f) => f.properties.category),
    );
    assert.ok(rendered.length > 0, 'no emerging hot spot category rendered');
    await page.screenshot({ path: path.join(ARTIFACTS, 'analysis-emerging.png') });
    assertConsoleErrors();
  });

  it('draws local Moran clusters and outliers as the API answers them', async () => {
    const [x0, y0, x1, y1] = bounds(county.geometry);
    await jumpToAndWaitSettled(page, { bounds: [x0, y0, x1, y1], padding: 40 });
    assert.equal(await showArea(page, 'moran'), 'ready');
    const shown = await agreeWithApi(page, 'moran', (mine, answer) => {
      const key = (f) => `${f.properties.quadrant}:${f.properties.significant}`;
      const a = JSON.stringify(countBy(answer.features.map((f) => ({ properties: { k: key(f) } })), 'k'));
      const b = JSON.stringify(countBy(mine.features.map((f) => ({ properties: { k: key(f) } })), 'k'));
      return a === b ? [] : [`${b} ≠ ${a}`];
    });
    assert.equal(new URL(shown.url, WANGGE_URL).pathname, '/api/v1/analysis/local-moran');
    assert.ok(shown.collection.features.every((f) => ['HH', 'HL', 'LH', 'LL'].includes(f.properties.quadrant) || !f.properties.significant));
    const legend = await page.locator('.analysis-legend[data-legend="moran"] li').allTextContents();
    assert.deepEqual(legend, ['高-高聚集', '高-低异常', '低-高异常', '低-低聚集', '不显著']);
    assertConsoleErrors();
  });

  it('switches the panel to English and back', async () => {
    assert.equal(await showArea(page, 'hotspots'), 'ready');
    await page.locator('#lang-switch').click();
    try {
      assert.equal(await page.locator('#analysis-heading').textContent(), 'Heat & hotspots');
      assert.equal(await page.locator('#analysis-toggle').textContent(), 'Heat & hotspots');
      const labels = await page.locator('#analysis-panel .analysis-layer label').allTextContents();
      for (const label of ['Heat map', 'Hexagon counts', 'Hot spots (Gi*)', 'Emerging hot spots']) assert.ok(labels.some((l) => l.includes(label)), `no ${label}: ${labels}`);
      assert.equal(await page.locator('.analysis-legend[data-legend="hotspots"] li[data-bin="3"]').textContent(), 'Hot spot, 99% confidence');
      assert.equal(await page.locator('#hotspot-heading').textContent(), 'Most significant places');
      assert.deepEqual(await page.locator('#hotspot-table thead th').allTextContents(), ['#', 'Name', 'Where', 'Incidents', 'z', 'Confidence']);
      assert.match(await page.locator('#hotspot-table tbody tr td.confidence').first().textContent(), /^(Hot|Cold) (99|95|90)%|Not significant$/);
      assert.equal(await page.locator('#analysis-unit option:checked').textContent(), 'Grid cells');
      assert.match(await page.locator('#analysis-period').textContent(), /^\d{4}-\d{2} to \d{4}-\d{2}$/);
      assert.ok(!/[\u4e00-\u9fff]/.test(await page.locator('#analysis-filters').innerText()), 'Chinese left in the filters');
    } finally {
      await page.locator('#lang-switch').click();
    }
    assert.equal(await page.locator('#analysis-heading').textContent(), '热力与热点分析');
    assertConsoleErrors();
  });

  it('shows the detail of a refused analysis (problem+json) and recovers', async () => {
    const detail = 'unknown weights `bogus`: use queen, rook, knn:K, distance:M or ring:K';
    await page.route('**/api/v1/analysis/hotspots?**', (route) =>
      route.fulfill({
        status: 400,
        contentType: 'application/problem+json',
        body: JSON.stringify({ type: '/problems/invalid-parameter', title: 'Invalid parameter', status: 400, detail }),
      }),
    );
    let refusedPath;
    try {
      const requested = page.waitForRequest((r) => r.url().includes('/api/v1/analysis/hotspots?'));
      assert.equal(await showArea(page, 'hotspots'), 'failed');
      const u = new URL((await requested).url());
      refusedPath = u.pathname + u.search;
      await page.locator('#analysis-error').waitFor({ state: 'visible' });
      const shown = await page.locator('#analysis-error').textContent();
      assert.ok(shown.includes(detail), `the error shows ${shown}`);
      assert.ok(shown.includes('400'), `no status in ${shown}`);
      assert.equal(await page.locator('#analysis-state').getAttribute('data-state'), 'failed');
      assert.equal(await page.locator('#hotspot-places').isVisible(), false, 'a table of places for a refused analysis');
      assert.equal(await page.evaluate(() => window.__wangge.analysis.data()), null);
    } finally {
      await page.unroute('**/api/v1/analysis/hotspots?**');
    }
    // the real answer once asked again
    await page.locator('#analysis-refresh').click();
    assert.equal(await page.evaluate(() => window.__wangge.analysis.drawn('hotspots')), 'ready');
    assert.equal(await page.locator('#analysis-error').isVisible(), false);
    assertConsoleErrors([resourceError(400, refusedPath)]);
  });
});

// Hot spot alerts, the real way: the server scans the grid cells every
// WANGGE_HOTSPOT_SCAN_SECS (the demo must be started with a short one, e.g.
// 10: the default is 600) and raises one alert when a cell becomes a new or
// intensifying hot spot, on the live feed of its area's operators and
// dispatchers and in `GET /api/v1/analysis/alerts`. The test reports 80 cases
// through the API in a quiet grid cell (never a hot spot, never alerted) and
// waits for the page to tell.
const SCAN_SECS = Number(process.env.WANGGE_HOTSPOT_SCAN_SECS ?? 10);
const PLANTED = 80;

/** A point inside a polygon feature: its outer ring's centroid if inside, else a vertex pulled towards it. */
function insidePoint(geometry) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  const outer = polygons[0][0];
  const n = outer.length - 1;
  const c = [outer.slice(0, n).reduce((s, p) => s + p[0], 0) / n, outer.slice(0, n).reduce((s, p) => s + p[1], 0) / n];
  if (pointInFeature(c, geometry)) return c;
  for (const p of outer) {
    const q = [p[0] + (c[0] - p[0]) * 0.1, p[1] + (c[1] - p[1]) * 0.1];
    if (pointInFeature(q, geometry)) return q;
  }
  throw new Error('no point inside the cell');
}

describe('wangge hot spot alerts', { timeout: SUITE_TIMEOUT }, () => {
  let browser;
  let context;
  let page;
  /** The quiet grid cell the cases are reported in. */
  let cell;
  const { watch, assertConsoleErrors } = consoleWatch(TIMEOUT);

  before(async () => {
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    page = watch(await context.newPage());
    const sessionCheck = waitForResourceError(page, resourceError(401, SESSION_PATH));
    await page.goto(`${WANGGE_URL}/?lang=zh-CN`);
    await signInAndWaitForReady(page);
    await sessionCheck;
    await page.waitForFunction(() => document.getElementById('alerts-panel')?.dataset.state === 'ready');
    // a cell never a hot spot in the last 12 months and never alerted, with few cases
    const alerted = new Set((await getJson(page, '/api/v1/analysis/alerts?limit=500')).items.map((a) => a.grid_cell_code));
    const emerging = await getJson(page, '/api/v1/analysis/emerging?unit=grid-cell&weights=queen&step=month&steps=12');
    const quiet = emerging.features
      .filter((f) => f.properties.category === 'no-pattern' && f.properties.bins.every((b) => b <= 0) && !alerted.has(f.properties.code))
      .sort((a, b) => a.properties.count - b.properties.count || a.properties.code.localeCompare(b.properties.code));
    assert.ok(quiet.length > 0, 'no quiet grid cell left to plant a hot spot in');
    cell = quiet[Math.floor(quiet.length / 2)];
    assertConsoleErrors([resourceError(401, SESSION_PATH)]);
  });

  after(async () => {
    await browser?.close();
  });

  it('shows the alert raised when cases pile up in a grid cell (a toast, or under the bell in a burst), counts it on the bell, and flies to the cell', async () => {
    const unseenBefore = Number(await page.locator('#alerts-count').getAttribute('data-count'));
    const [lon, lat] = insidePoint(cell.geometry);
    const statuses = await page.evaluate(
      async ({ lon, lat, n }) => {
        const out = [];
        for (let i = 0; i < n; i += 10) {
          const batch = Array.from({ length: Math.min(10, n - i) }, (_, k) =>
            fetch('/api/v1/incidents', {
              method: 'POST',
              headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
              body: JSON.stringify({
                category: 'neighbour',
                severity: 'minor',
                description: `浏览器测试：集中上报 ${i + k + 1}`,
                location: { lon: lon + ((i + k) % 5) * 1e-5, lat: lat + Math.floor((i + k) / 5) * 1e-6 },
              }),
            }).then((r) => r.status),
          );
          out.push(...(await Promise.all(batch)));
        }
        return out;
      },
      { lon, lat, n: PLANTED },
    );
    assert.deepEqual([...new Set(statuses)], [201], 'a case was not reported');
    // The alert arrives over the live feed. Gi* counts a cell with its neighbours, so the same
    // scan may raise the neighbours' alerts too, and only the newest three stay as toasts:
    // the planted cell's is then under the bell.
    const code = cell.properties.code;
    await page
      .waitForFunction((c) => window.__wangge.alerts().some((a) => a.grid_cell_code === c), code, {
        timeout: (3 * SCAN_SECS + 30) * 1000,
      })
      .catch((err) => {
        throw new Error(`no alert for ${code} within ${3 * SCAN_SECS + 30} s: is the demo started with WANGGE_HOTSPOT_SCAN_SECS=${SCAN_SECS}? (${err.message})`);
      });
    const alert = (await page.evaluate(() => window.__wangge.alerts())).find((a) => a.grid_cell_code === code);
    assert.ok(['new-hot-spot', 'intensifying-hot-spot'].includes(alert.category), alert.category);
    // (a scan may run while the cases are still being reported: it counts those in by then)
    assert.ok(Number(/本网格近一个月(\d+)件/.exec(alert.reason)?.[1]) > 0, alert.reason);
    assert.ok(Number(await page.locator('#alerts-count').getAttribute('data-count')) > unseenBefore, 'the bell does not count the new alert');
    const toast = page.locator(`#alerts-toasts .alert-toast[data-cell="${code}"]`);
    const asToast = (await toast.count()) > 0;
    if (!asToast) {
      await page.locator('#alerts-bell').click();
      await page.locator('#alerts-panel').waitFor({ state: 'visible' });
    }
    const shown = asToast ? toast : page.locator(`#alerts-list .alert-item[data-cell="${code}"]`);
    const text = await shown.textContent();
    assert.ok(text.includes(alert.category === 'new-hot-spot' ? '新热点' : '加剧热点'), text);
    assert.ok(text.includes(alert.reason), text);
    assert.ok(text.includes(cell.properties.name), text);
    const cstTime = new Date(Date.parse(alert.at) + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
    assert.equal(await shown.locator('time').textContent(), cstTime);
    // a click flies to the grid cell and outlines it
    const moved = page.evaluate(() => new Promise((resolve) => window.__wangge.map.once('moveend', resolve)));
    await (asToast ? toast.locator('.toast-body') : shown).click();
    await moved;
    await page.evaluate(() => window.__wangge.settled());
    assert.equal(await page.evaluate(() => window.__wangge.analysis.highlighted()), code);
    const centre = await visibleMiddle(page);
    assert.ok(pointInFeature(centre, cell.geometry), `the view's middle ${centre} is not inside ${code}`);
    if (asToast) assert.equal(await toast.count(), 0, 'the toast stayed after its click');
    else if (await page.locator('#alerts-panel').isVisible()) await page.locator('#alerts-bell').click();
    await page.screenshot({ path: path.join(ARTIFACTS, 'analysis-alert.png') });
    assertConsoleErrors();
  });

  it('lists the alerts under the bell as the API does, most recent first; opening it marks them seen', async () => {
    await page.locator('#alerts-bell').click();
    await page.locator('#alerts-panel').waitFor({ state: 'visible' });
    const answer = await getJson(page, '/api/v1/analysis/alerts');
    const items = await page.locator('#alerts-list .alert-item').evaluateAll((nodes) =>
      nodes.map((n) => ({ id: n.dataset.id, cell: n.dataset.cell, text: n.textContent })),
    );
    // (a scan may raise more meanwhile: the page hears of them live)
    const ids = items.map((i) => Number(i.id));
    assert.deepEqual(ids.slice(0, answer.items.length).filter((id) => answer.items.some((a) => a.id === id)), answer.items.map((a) => a.id).filter((id) => ids.includes(id)));
    for (const a of answer.items.slice(0, 5)) assert.ok(ids.includes(a.id), `alert ${a.id} not listed`);
    assert.ok(answer.items.length > 0, 'the server has raised no alert yet');
    const first = answer.items[0];
    const cst = new Date(Date.parse(first.at) + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
    assert.ok(items.find((i) => Number(i.id) === first.id).text.includes(cst), 'not the CST time');
    assert.equal(await page.locator('#alerts-count').getAttribute('data-count'), '0');
    assert.equal(await page.locator('#alerts-count').isVisible(), false);
    assert.ok((await page.locator('#alerts-total').textContent()).includes(String(items.length)));
    await page.locator('#lang-switch').click();
    try {
      assert.equal(await page.locator('#alerts-heading').textContent(), 'Hot spot alerts');
      assert.match(await page.locator(`#alerts-list .alert-item[data-id="${first.id}"] .alert-category`).textContent(), /^(New|Intensifying) hot spot$/);
    } finally {
      await page.locator('#lang-switch').click();
    }
    // a click on a row flies to its cell
    const cells = await getJson(page, '/api/v1/analysis/aggregates?unit=grid-cell');
    const firstCell = cells.features.find((f) => f.properties.code === first.grid_cell_code);
    const moved = page.evaluate(() => new Promise((resolve) => window.__wangge.map.once('moveend', resolve)));
    await page.locator(`#alerts-list .alert-item[data-id="${first.id}"]`).click();
    await moved;
    await page.evaluate(() => window.__wangge.settled());
    assert.equal(await page.evaluate(() => window.__wangge.analysis.highlighted()), first.grid_cell_code);
    assert.ok(pointInFeature(await visibleMiddle(page), firstCell.geometry), `the view's middle is not inside ${first.grid_cell_code}`);
    await page.locator('#alerts-close').click();
    assert.equal(await page.locator('#alerts-panel').isVisible(), false);
    // seen, also after a reload
    await page.reload();
    await waitForReadyAgain(page);
    assert.equal(await page.locator('#alerts-count').getAttribute('data-count'), '0');
    assertConsoleErrors();
  });
});

// The same toast, bell and fly-to with the live message simulated: the page's
// socket is proxied to the server, and one of the server's own `changes`
// messages is handed on with an `alerts` member added (an alert the server
// has raised, as `GET /api/v1/analysis/alerts` lists it). For a server whose
// scan cannot be made to run during the test.
describe('wangge hot spot alerts (live message simulated)', { timeout: SUITE_TIMEOUT }, () => {
  let browser;
  let page;
  let inject = null;
  const { watch, assertConsoleErrors } = consoleWatch(TIMEOUT);

  before(async () => {
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    page = watch(await context.newPage());
    await page.routeWebSocket(/\/api\/v1\/live/, (ws) => {
      const server = ws.connectToServer();
      server.onMessage((message) => {
        if (inject && typeof message === 'string') {
          const m = JSON.parse(message);
          if (m.type === 'changes') {
            m.alerts = [inject];
            inject = null;
            ws.send(JSON.stringify(m));
            return;
          }
        }
        ws.send(message);
      });
      ws.onMessage((message) => server.send(message));
    });
    const sessionCheck = waitForResourceError(page, resourceError(401, SESSION_PATH));
    await page.goto(`${WANGGE_URL}/?lang=zh-CN`);
    await signInAndWaitForReady(page);
    await sessionCheck;
    await page.waitForFunction(() => document.getElementById('alerts-panel')?.dataset.state === 'ready');
    assertConsoleErrors([resourceError(401, SESSION_PATH)]);
  });

  after(async () => {
    await browser?.close();
  });

  it('toasts an alert from the live feed with its reason and CST time, counts it on the bell, and flies to its grid cell', async () => {
    const listed = (await getJson(page, '/api/v1/analysis/alerts')).items;
    assert.ok(listed.length > 0, 'the server has raised no alert yet');
    const raised = listed[listed.length - 1];
    // a new one, as the scan would send it (an id above the listed ones, now)
    const alert = { ...raised, id: Math.max(...listed.map((a) => a.id)) + 1000, at: new Date().toISOString() };
    const unseenBefore = Number(await page.locator('#alerts-count').getAttribute('data-count'));
    inject = alert;
    const toast = page.locator(`#alerts-toasts .alert-toast[data-id="${alert.id}"]`);
    await toast.waitFor({ state: 'visible' });
    const text = await toast.textContent();
    assert.ok(text.includes(alert.category === 'new-hot-spot' ? '新热点' : '加剧热点'), text);
    assert.ok(text.includes(alert.reason) && text.includes(alert.grid_cell_name), text);
    const cstTime = new Date(Date.parse(alert.at) + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
    assert.equal(await toast.locator('time').textContent(), cstTime);
    assert.equal(Number(await page.locator('#alerts-count').getAttribute('data-count')), unseenBefore + 1);
    const cells = await getJson(page, '/api/v1/analysis/aggregates?unit=grid-cell');
    const cell = cells.features.find((f) => f.properties.code === alert.grid_cell_code);
    const moved = page.evaluate(() => new Promise((resolve) => window.__wangge.map.once('moveend', resolve)));
    await toast.locator('.toast-body').click();
    await moved;
    await page.evaluate(() => window.__wangge.settled());
    assert.equal(await page.evaluate(() => window.__wangge.analysis.highlighted()), alert.grid_cell_code);
    assert.ok(pointInFeature(await visibleMiddle(page), cell.geometry), `the view's middle is not inside ${alert.grid_cell_code}`);
    assert.equal(await toast.count(), 0, 'the toast stayed after its click');
    await page.screenshot({ path: path.join(ARTIFACTS, 'analysis-alert-simulated.png') });
    assertConsoleErrors();
  });
});
