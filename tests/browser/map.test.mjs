// Browser test of the map client, against a running wangge server.
//
//   WANGGE_URL=http://127.0.0.1:18080 node --test tests/browser/
//
// Uses Debian's Chromium (/usr/bin/chromium) with SwiftShader WebGL. Waits on
// the map's own events (`ready`, `idle`), never on fixed delays.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { VIEWPORT, WANGGE_URL, jumpToAndWaitIdle, launchBrowser, waitForReady } from './browser.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TIMEOUT = 180_000;
const PREFERRED_COUNTY = '530402'; // 红塔区, the county of the small demo

async function api(pathAndQuery) {
  const res = await fetch(`${WANGGE_URL}${pathAndQuery}`);
  assert.equal(res.status, 200, `GET ${pathAndQuery} answered ${res.status}`);
  return res.json();
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
  const consoleErrors = [];

  function watch(p) {
    p.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(`${p.url()}: ${msg.text()}`);
    });
    p.on('pageerror', (err) => consoleErrors.push(`${p.url()}: uncaught ${err.message}`));
    p.setDefaultTimeout(TIMEOUT / 2);
    return p;
  }

  let county; // the county feature the view is moved to
  let stats;

  before(async () => {
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
  });

  it('loads in Chinese and window.__wangge.ready resolves, without console errors', async () => {
    const response = await page.goto(`${WANGGE_URL}/`);
    assert.equal(response?.status(), 200);
    await waitForReady(page);
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
    assert.equal(await page.locator('#layers-panel h2').textContent(), '图层');
    assert.deepEqual(consoleErrors, []);
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
    await waitForReady(page);
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    assert.equal(await page.locator('#lang-switch').textContent(), '中文');

    // ?lang=en in a fresh context (empty localStorage)
    const fresh = await browser.newContext({ viewport: VIEWPORT });
    try {
      const p = watch(await fresh.newPage());
      await p.goto(`${WANGGE_URL}/?lang=en`);
      await waitForReady(p);
      assert.equal(await p.evaluate(() => document.documentElement.lang), 'en');
      assert.equal(await p.locator('#layers-panel h2').textContent(), 'Layers');
    } finally {
      await fresh.close();
    }
  });

  it('logged no console errors', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
