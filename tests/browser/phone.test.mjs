// Browser test of the grid worker's phone: their day's work on a 390 × 844 screen.
//
//   WANGGE_URL=http://127.0.0.1:18080 WANGGE_DEMO_PASSWORD=... node --test tests/browser/phone.test.mjs
//
// As the demo's `worker` (a grid worker whose area is one grid cell), on a
// touch screen of 390 × 844 with the browser's Geolocation at a place inside
// their cell: the map opens on their cell (the URL's view is centred in it,
// zoomed in), not on the whole city; the bottom sheet shows who they are and
// whether they are on duty; going off duty and on again changes their status
// as the dispatchers see it; on duty, their position reaches the server over
// the live socket (the dispatcher's worker list places them where the phone
// is, and again after the phone moves); 在我的位置上报 files a case at that
// place; assigned to them by a dispatcher, the case comes first in 我的待办,
// and is accepted, started and resolved with a photo from the sheet, each
// button at least 44 px high; resolved, it leaves 我的待办; off duty, no
// position is sent. (Where each role's map opens comes from the session's
// `bbox`, checked for a township's staff in tests/auth.rs.)

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { apiSessions, demoPassword, eventually, launchBrowser, openSignedIn } from './browser.mjs';
import { png } from './images.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TIMEOUT = 120_000;
const SUITE_TIMEOUT = 10 * 60_000;
const PHONE = { width: 390, height: 844 };
const RUN = `p${Date.now().toString(36)}`;

const sessions = apiSessions();
const { api } = sessions;

/** Whether [lon, lat] is inside a GeoJSON Polygon or MultiPolygon (even-odd rule). */
function inside([x, y], geometry) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
  let hit = false;
  for (const rings of polygons) {
    for (const ring of rings) {
      for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
        const [xi, yi] = ring[i];
        const [xj, yj] = ring[j];
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
      }
    }
  }
  return hit;
}

/** Points inside `geometry`, from the middle of its box outwards. */
function pointsInside(geometry, [w, s, e, n], count) {
  const found = [];
  for (let step = 0; step <= 8 && found.length < count; step++) {
    for (const [fx, fy] of [[0.5, 0.5], [0.4, 0.5], [0.6, 0.5], [0.5, 0.4], [0.5, 0.6], [0.35, 0.35], [0.65, 0.65], [0.35, 0.65], [0.65, 0.35]]) {
      const jitter = step * 0.01;
      const p = [w + (e - w) * (fx + jitter), s + (n - s) * (fy - jitter)];
      if (inside(p, geometry) && !found.some((q) => Math.hypot(q[0] - p[0], q[1] - p[1]) < (e - w) / 20)) found.push(p);
      if (found.length >= count) break;
    }
  }
  return found;
}

/** The view in the URL (MapLibre's `#zoom/lat/lon`). */
function hashView(url) {
  const [zoom, lat, lon] = new URL(url).hash.slice(1).split('/').map(Number);
  return { zoom, lon, lat };
}

describe("a grid worker's day on a phone", { timeout: SUITE_TIMEOUT }, () => {
  let browser;
  let password;
  const consoleErrors = [];

  before(async () => {
    password = demoPassword();
    await sessions.signIn(['dispatcher', 'worker'], password);
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await sessions.signOut();
  });

  /** A phone-sized page (touch, Chinese) whose Geolocation answers `at`, signed in as `user`. */
  async function phoneAs(user, at) {
    return openSignedIn(browser, user, {
      password,
      errors: consoleErrors,
      timeout: TIMEOUT / 2,
      contextOptions: {
        viewport: PHONE,
        deviceScaleFactor: 1,
        isMobile: true,
        hasTouch: true,
        ...(at ? { geolocation: { longitude: at[0], latitude: at[1], accuracy: 12 }, permissions: ['geolocation'] } : {}),
      },
    });
  }

  function assertConsole() {
    // the first session check's 401 is expected
    const unexpected = consoleErrors.filter((e) => !e.includes('401'));
    assert.deepEqual(unexpected, [], 'unexpected console errors');
  }

  /** Height of the element a finger presses, CSS pixels. */
  const height = async (locator) => (await locator.boundingBox()).height;

  it('opens on their cell and works a case from report to resolved with a photo', async () => {
    const session = await api('worker', '/api/v1/session');
    assert.ok(session.worker, 'the `worker` sign-in is no grid worker');
    const me = session.worker;
    const cells = await api('worker', '/api/v1/grid-cells');
    assert.equal(cells.features.length, 1, 'a grid worker sees their one cell');
    const cell = cells.features[0];
    const [home, moved] = pointsInside(cell.geometry, session.bbox, 2);
    assert.ok(home && moved, 'no two points found inside the cell');

    const { page, context } = await phoneAs('worker', home);

    // the map opens on their cell
    const view = hashView(page.url());
    const [w, s, e, n] = session.bbox;
    assert.ok(view.lon >= w && view.lon <= e && view.lat >= s && view.lat <= n, `the view ${page.url()} is not on the cell ${JSON.stringify(session.bbox)}`);
    assert.ok(view.zoom >= 14, `the cell is a speck at zoom ${view.zoom}`);
    // the sheet: who they are, and their duty
    const panel = page.locator('#field-panel');
    await panel.waitFor();
    assert.ok((await page.locator('#field-who').textContent()).includes(me.name));
    const box = await panel.boundingBox();
    assert.ok(box.width >= PHONE.width - 2 && box.y > PHONE.height / 3, `the worker's panel is not a bottom sheet: ${JSON.stringify(box)}`);
    assert.equal(await page.locator('#analysis-toggle').isVisible(), false, 'the desk-only buttons show on a phone');
    const duty = page.locator('#field-duty');
    assert.ok((await height(duty)) >= 44, 'the duty button is smaller than a thumb');

    // off duty and on again, as the dispatchers see it
    const status = async () => (await api('dispatcher', '/api/v1/workers')).features.find((f) => f.properties.id === me.id)?.properties.status;
    if ((await duty.getAttribute('aria-pressed')) === 'true') {
      await duty.click();
      await page.locator('#field-panel[data-duty="off"]').waitFor();
      assert.equal(await status(), 'off_duty');
      assert.equal(await page.locator('#field-position').getAttribute('data-state'), 'off');
    }
    await duty.click();
    await page.locator('#field-panel[data-duty="on"]').waitFor();
    assert.notEqual(await status(), 'off_duty');

    // on duty: the phone's position reaches the server over the live socket
    await page.locator('#field-position[data-state="stored"]').waitFor({ timeout: TIMEOUT });
    const placed = async () => {
      const f = (await api('dispatcher', '/api/v1/workers')).features.find((x) => x.properties.id === me.id);
      return f?.geometry?.coordinates ?? null;
    };
    await eventually(async () => {
      const at = await placed();
      return at && Math.abs(at[0] - home[0]) < 1e-6 && Math.abs(at[1] - home[1]) < 1e-6;
    }, { timeout: 30_000, message: 'the dispatcher does not see the worker where the phone is' });
    await context.setGeolocation({ longitude: moved[0], latitude: moved[1], accuracy: 8 });
    await eventually(async () => {
      const at = await placed();
      return at && Math.abs(at[0] - moved[0]) < 1e-6 && Math.abs(at[1] - moved[1]) < 1e-6;
    }, { timeout: 60_000, message: 'the phone moved and the server did not follow' });

    // a report at their position
    const reportHere = page.locator('#field-report');
    assert.ok((await height(reportHere)) >= 44);
    await reportHere.click();
    await page.locator('#report-panel').waitFor();
    const point = await page.evaluate(() => window.__wangge.report.point());
    assert.ok(Math.abs(point[0] - moved[0]) < 1e-6 && Math.abs(point[1] - moved[1]) < 1e-6, `the report is placed at ${point}, not at the phone ${moved}`);
    const categories = await api('worker', '/api/v1/incident-categories');
    await page.locator('#report-category').selectOption(categories[0].code);
    await page.locator('#report-severity').selectOption('moderate');
    await page.locator('#report-description').fill(`井盖缺失 ${RUN}`);
    const submit = page.locator('#report-submit');
    assert.ok((await height(submit)) >= 44);
    const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/incidents') && r.request().method() === 'POST');
    await submit.click();
    const response = await created;
    assert.equal(response.status(), 201, await response.text());
    const id = (await response.json()).id;
    await page.locator(`#incident-detail[data-id="${id}"][data-state="ready"]`).waitFor();
    const filed = await api('dispatcher', `/api/v1/incidents/${id}`);
    assert.equal(filed.grid_cell_code, cell.properties.code);

    // a dispatcher assigns it to them (with room for one more case: earlier runs of the
    // tests may have filled their caseload): it comes up in 我的待办
    const load = (await api('dispatcher', '/api/v1/workers')).features.find((f) => f.properties.id === me.id).properties;
    // (two: the server's automatic dispatch may hand them a new case meanwhile)
    if (load.caseload + 1 >= load.capacity) {
      await api('dispatcher', `/api/v1/workers/${me.id}`, { method: 'PATCH', body: JSON.stringify({ capacity: load.caseload + 2 }) });
    }
    await api('dispatcher', `/api/v1/incidents/${id}/assignment`, { method: 'POST', body: JSON.stringify({ worker_id: me.id }) });
    await page.locator('#incident-detail-close').click();
    const mine = page.locator(`#field-cases .field-case[data-id="${id}"]`);
    await mine.waitFor({ timeout: 30_000 });
    assert.ok((await height(mine)) >= 44);
    await mine.click();
    await page.locator(`#incident-detail[data-id="${id}"][data-state="ready"]`).waitFor();
    assert.equal(await page.locator('#incidents-panel').isVisible(), false, 'the list stays under the open case');

    // accept, start, resolve with a photo
    const action = (name) => page.locator(`#case-actions-buttons button[data-action="${name}"]`);
    assert.ok((await height(action('accept'))) >= 44);
    await action('accept').click();
    await page.locator('#incident-detail .badges .badge-status[data-status="accepted"]').waitFor();
    await action('start').click();
    await page.locator('#incident-detail .badges .badge-status[data-status="in_progress"]').waitFor();
    await action('resolve').click();
    const dialog = page.locator('#app-dialog');
    await dialog.waitFor();
    await page.locator('#app-dialog input[type="file"]').setInputFiles({ name: 'done.png', mimeType: 'image/png', buffer: png(64, 64, Date.now() % 251) });
    if (await page.locator('#app-dialog-input').count()) await page.locator('#app-dialog-input').fill('已修复');
    await page.locator('#app-dialog-ok').click();
    await dialog.waitFor({ state: 'detached', timeout: TIMEOUT });
    await page.locator('#incident-detail .badges .badge-status[data-status="resolved"]').waitFor();
    const resolved = await api('dispatcher', `/api/v1/incidents/${id}`);
    assert.equal(resolved.status, 'resolved');
    const proof = resolved.photos.filter((p) => p.stage === 'resolution');
    assert.equal(proof.length, 1, `resolution photos: ${JSON.stringify(resolved.photos)}`);
    await page.locator(`#incident-detail img[src="${proof[0].thumbnail_url}"]`).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'phone-worker-resolved.png') });

    // resolved, it leaves 我的待办
    await page.locator('#incident-detail-close').click();
    await mine.waitFor({ state: 'detached', timeout: 30_000 });

    // off duty: no more positions
    await duty.click();
    await page.locator('#field-panel[data-duty="off"]').waitFor();
    assert.equal(await page.locator('#field-position').getAttribute('data-state'), 'off');
    const sent = await page.evaluate(() => window.__wangge.field.sent());
    await context.setGeolocation({ longitude: home[0], latitude: home[1], accuracy: 8 });
    await page.waitForTimeout(12_000);
    assert.equal(await page.evaluate(() => window.__wangge.field.sent()), sent, 'a position was sent off duty');
    const last = await placed();
    assert.ok(Math.abs(last[0] - moved[0]) < 1e-6, 'the server moved the worker while off duty');
    await context.close();
    // back on duty for the other test files, which assign cases to this worker
    await api('worker', `/api/v1/workers/${me.id}/status`, { method: 'PUT', body: JSON.stringify({ status: 'available' }) });
    assertConsole();
  });
});
