// Browser test of the planner's screen (网格规划), against a running wangge server:
//
//   WANGGE_URL=http://127.0.0.1:18080 WANGGE_DEMO_PASSWORD=... node --test tests/browser/plans.test.mjs
//
// A planner creates a draft from the panel, splits a cell by drawing a line on
// the map, undoes it, drags a vertex far across its neighbours and sees the
// refusal on the map, rebalances a village, opens the diff and publishes; an
// operator sees no planning panel. What the page shows is compared with the
// server's own answers (fetched in the page with the same session, or the very
// responses the page got). Publishing changes the demo's grid: run this file
// last, or on a fresh server.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  VIEWPORT,
  WANGGE_URL,
  consoleWatch,
  eventually,
  launchBrowser,
  resourceError,
  signInAndWaitForReady,
  waitSettled,
} from './browser.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TIMEOUT = 60_000;
const SUITE_TIMEOUT = 10 * 60_000;

/** GET in the page, with the page's session: {status, body}. */
function fetchInPage(page, url) {
  return page.evaluate(async (url) => {
    const res = await fetch(url, { headers: { Accept: 'application/geo+json, application/json' } });
    return { status: res.status, body: await res.json() };
  }, url);
}

async function apiGet(page, url) {
  const { status, body } = await fetchInPage(page, url);
  assert.equal(status, 200, `GET ${url}: ${JSON.stringify(body)}`);
  return body;
}

/** Waits until no request of the planning panel is under way. */
function plansIdle(page) {
  return page.evaluate(() => window.__wangge.plans.idle());
}

/** The bounding box of a GeoJSON geometry: [minLon, minLat, maxLon, maxLat]. */
function bboxOf(geometry) {
  const b = [Infinity, Infinity, -Infinity, -Infinity];
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      b[0] = Math.min(b[0], c[0]);
      b[1] = Math.min(b[1], c[1]);
      b[2] = Math.max(b[2], c[0]);
      b[3] = Math.max(b[3], c[1]);
    } else c.forEach(visit);
  };
  visit(geometry.coordinates);
  return b;
}

/** Screen point of [lon, lat] in the page's map (CSS pixels of the page). */
function toScreen(page, lonlat) {
  return page.evaluate((lonlat) => {
    const { map } = window.__wangge;
    const p = map.project(lonlat);
    const r = map.getCanvas().getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  }, lonlat);
}

/** Fits the map to `bbox` between the side panels and waits until it has drawn the plan's tiles there. */
async function showArea(page, bbox) {
  const left = await page.evaluate(() => document.querySelector('.side').getBoundingClientRect().right);
  await page.evaluate(
    ({ bbox, left }) => {
      const { map } = window.__wangge;
      map.fitBounds(
        [
          [bbox[0], bbox[1]],
          [bbox[2], bbox[3]],
        ],
        { padding: { left: left + 60, right: 420, top: 140, bottom: 80 }, duration: 0, maxZoom: 17 },
      );
    },
    { bbox, left },
  );
  await waitSettled(page);
  await page.waitForFunction(() => window.__wangge.map.isSourceLoaded('plan-cells'));
}

/** The plan cell the map draws at [lon, lat] (null: none). */
function planCellAt(page, lonlat) {
  return page.evaluate((lonlat) => {
    const { map } = window.__wangge;
    const f = map.queryRenderedFeatures(map.project(lonlat), { layers: ['plan-cells-fill'] })[0];
    return f ? f.properties.code : null;
  }, lonlat);
}

describe('grid planning (网格规划)', { timeout: SUITE_TIMEOUT }, () => {
  let browser;
  let context;
  let page;
  const watcher = consoleWatch(TIMEOUT);
  let published; // the published plan before the test
  let draft; // the draft the test creates
  let cell; // the cell it edits: its code and exact GeoJSON feature

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: VIEWPORT, locale: 'zh-CN' });
    page = watcher.watch(await context.newPage());
    await page.goto(WANGGE_URL);
    await signInAndWaitForReady(page, 'planner');
    // the session check before signing in
    watcher.assertConsoleErrors([resourceError(401, '/api/v1/session')]);
  });

  after(async () => {
    await browser?.close();
  });

  it('shows the planning panel to a planner with the plans the API lists', async () => {
    const toggle = page.locator('#plans-toggle');
    await toggle.waitFor({ state: 'visible' });
    assert.equal((await toggle.textContent()).trim(), '网格规划');
    await toggle.click();
    await page.locator('#plans-panel').waitFor({ state: 'visible' });
    await page.waitForFunction(() => document.getElementById('plans-list-status').dataset.state === 'ready');
    const plans = await apiGet(page, '/api/v1/plans');
    published = plans.find((p) => p.status === 'published');
    assert.ok(published, 'the demo has a published plan');
    const rows = await page.locator('#plans-list tbody tr').evaluateAll((trs) => trs.map((tr) => [Number(tr.dataset.version), tr.dataset.status]));
    assert.deepEqual(rows, plans.map((p) => [p.version, p.status]));
    assert.equal((await page.locator(`#plans-list tr[data-version="${published.version}"] td[data-status]`).textContent()).trim(), '已发布');
    watcher.assertConsoleErrors();
  });

  it('creates a draft from the panel and shows its workload on the map and in a table', async () => {
    await page.locator('#plans-new-name').fill('浏览器测试草案');
    await page.locator('#plans-new').click();
    await page.waitForFunction(() => window.__wangge.plans.open()?.status === 'draft' && window.__wangge.plans.workload() !== null);
    await plansIdle(page);
    const opened = await page.evaluate(() => window.__wangge.plans.open());
    draft = await apiGet(page, `/api/v1/plans/${opened.version}`);
    assert.equal(draft.name, '浏览器测试草案');
    assert.equal(draft.status, 'draft');
    assert.equal(draft.based_on, published.version);
    assert.equal(draft.created_by, 'planner');
    assert.equal(draft.cells, published.cells);
    const row = page.locator(`#plans-list tr[data-version="${draft.version}"]`);
    assert.equal(await row.getAttribute('data-status'), 'draft');
    assert.equal((await row.locator('td[data-status]').textContent()).trim(), '草案');

    // the figures and the table are the server's workload
    const workload = await apiGet(page, `/api/v1/plans/${draft.version}/workload`);
    assert.equal(await page.locator('#plan-summary dd[data-figure="plans.sum.cells"]').textContent(), workload.summary.cells.toLocaleString('zh-CN'));
    assert.equal(
      await page.locator('#plan-summary dd[data-figure="plans.sum.unstaffed"]').textContent(),
      workload.summary.unstaffed.toLocaleString('zh-CN'),
    );
    // the client's workload is the server's (cases keep coming in the demo: the codes and workers are compared)
    const shown = await page.evaluate(() => window.__wangge.plans.workload());
    assert.deepEqual(shown.cells.map((c) => [c.code, c.workers]).sort(), workload.cells.map((c) => [c.code, c.workers]).sort());
    // sorted by deviation, the worst first (cells without a worker above all)
    const worst = [...shown.cells].sort(
      (a, b) => (b.deviation ?? Infinity) - (a.deviation ?? Infinity) || a.code.localeCompare(b.code),
    )[0];
    const firstRow = page.locator('#plan-workload-table tbody tr').first();
    assert.equal(await firstRow.getAttribute('data-code'), worst.code);
    // sorting by households: the largest first
    await page.locator('#plan-workload-table button[data-sort="households"]').click();
    const most = Math.max(...shown.cells.map((c) => c.households));
    assert.equal(await page.locator('#plan-workload-table tbody tr').first().locator('td').nth(2).textContent(), most.toLocaleString('zh-CN'));

    // a row flies the map to its cell; the choropleth's state is the cell's deviation
    // a staffed cell in one piece, first by code (in the table sorted by code)
    const target = [...workload.cells].sort((a, b) => a.code.localeCompare(b.code)).find((c) => c.deviation !== null && c.parts === 1);
    cell = { code: target.code };
    await page.locator('#plan-workload-table button[data-sort="code"]').click();
    await page.locator(`#plan-workload-table tr[data-code="${target.code}"]`).first().click();
    const cells = await apiGet(page, `/api/v1/plans/${draft.version}/cells?codes=${encodeURIComponent(target.code)}`);
    cell.feature = cells.features[0];
    cell.bbox = bboxOf(cell.feature.geometry);
    await eventually(
      () =>
        page.evaluate((b) => {
          const c = window.__wangge.map.getBounds();
          return c.getWest() < b[0] && c.getEast() > b[2] && c.getSouth() < b[1] && c.getNorth() > b[3] && !window.__wangge.map.isMoving();
        }, cell.bbox),
      { message: 'the map did not fly to the cell' },
    );
    const state = await page.evaluate(
      (code) => window.__wangge.map.getFeatureState({ source: 'plan-cells', sourceLayer: 'grid-cells', id: code }),
      target.code,
    );
    const drawn = shown.cells.find((c) => c.code === target.code);
    assert.equal(state.staffed, drawn.deviation !== null);
    assert.equal(state.deviation, drawn.deviation);
    assert.deepEqual(await page.evaluate(() => window.__wangge.plans.selected()), [target.code]);
    await page.screenshot({ path: path.join(ARTIFACTS, 'plans-workload.png') });
    watcher.assertConsoleErrors();
  });

  it('splits a cell along a line drawn on the map, then undoes it', async () => {
    const [w, s, e, n] = cell.bbox;
    await showArea(page, [w - (e - w), s - (n - s), e + (e - w), n + (n - s)]);
    // select the cell by a click inside it
    const mid = [(w + e) / 2, (s + n) / 2];
    assert.equal(await planCellAt(page, mid), cell.code, 'the middle of the cell is in the cell');
    const at = await toScreen(page, mid);
    await page.mouse.click(at.x, at.y);
    await page.waitForFunction((code) => window.__wangge.plans.selected().join() === code, cell.code);

    const before = await page.evaluate(() => window.__wangge.plans.open().revision);
    await page.locator('#plan-toolbar button[data-tool="split"]').click();
    assert.equal(await page.evaluate(() => window.__wangge.plans.tool()), 'split');
    // the drawing tools are loaded on first use
    await page.waitForFunction(() => window.__wangge.plans.drawing() === 'linestring');
    // a line across the cell from west to east, through its middle
    const from = await toScreen(page, [w - (e - w) * 0.3, mid[1]]);
    const to = await toScreen(page, [e + (e - w) * 0.3, mid[1]]);
    const edit = page.waitForResponse((r) => r.url().endsWith(`/api/v1/plans/${draft.version}/edits`) && r.request().method() === 'POST');
    await page.mouse.click(from.x, from.y);
    await page.mouse.click(to.x, to.y);
    await page.mouse.click(to.x, to.y);
    const answer = await (await edit).json();
    assert.equal(answer.kind, 'split', JSON.stringify(answer));
    await page.waitForFunction((rev) => window.__wangge.plans.open().revision > rev, before);
    await plansIdle(page);

    const newCode = answer.changed.features.map((f) => f.properties.code).find((c) => c !== cell.code);
    assert.ok(newCode, 'the split made a new cell');
    const both = await apiGet(page, `/api/v1/plans/${draft.version}/cells?codes=${encodeURIComponent(`${cell.code},${newCode}`)}`);
    assert.equal(both.features.length, 2, 'the API has two cells where there was one');
    const plan = await apiGet(page, `/api/v1/plans/${draft.version}`);
    assert.equal(plan.cells, draft.cells + 1);
    assert.equal(plan.revision, await page.evaluate(() => window.__wangge.plans.open().revision));
    // the map draws both and the workload has both
    await page.evaluate(() => window.__wangge.map.triggerRepaint());
    await eventually(
      async () => {
        const drawn = await page.evaluate(() => window.__wangge.map.queryRenderedFeatures({ layers: ['plan-cells-fill'] }).map((f) => f.properties.code));
        return drawn.includes(cell.code) && drawn.includes(newCode);
      },
      { message: 'the map does not draw both halves' },
    );
    const codes = await page.evaluate(() => window.__wangge.plans.workload().cells.map((c) => c.code));
    assert.ok(codes.includes(newCode) && codes.includes(cell.code));
    assert.match(await page.locator('#plan-message').textContent(), /已保存/);
    assert.equal(await page.locator('#plan-history li').first().locator('.plan-history-summary').textContent(), answer.summary);
    await page.screenshot({ path: path.join(ARTIFACTS, 'plans-split.png') });

    // undo (Ctrl+Z on the map): the new cell is gone and the old one is back
    await page.locator('#map canvas').first().focus();
    await page.keyboard.press('Control+z');
    await page.waitForFunction((rev) => window.__wangge.plans.open().revision > rev, plan.revision);
    await plansIdle(page);
    const after = await apiGet(page, `/api/v1/plans/${draft.version}/cells?codes=${encodeURIComponent(`${cell.code},${newCode}`)}`);
    assert.deepEqual(
      after.features.map((f) => f.properties.code),
      [cell.code],
    );
    assert.deepEqual(after.features[0].geometry, cell.feature.geometry);
    assert.equal((await apiGet(page, `/api/v1/plans/${draft.version}`)).cells, draft.cells);
    const history = await apiGet(page, `/api/v1/plans/${draft.version}/edits`);
    assert.ok(history.some((h) => h.kind === 'split' && h.undone), 'the history has the split, undone');
    assert.equal(await page.locator('#plan-history li.undone').count(), history.filter((h) => h.undone).length);
    watcher.assertConsoleErrors();
  });

  it('follows an edit made to the open draft elsewhere (another tab, another planner) through the live feed', async () => {
    await plansIdle(page);
    const before = await page.evaluate(() => window.__wangge.plans.open().revision);
    // the same planner in another tab: a write the panel did not make
    const renamed = await page.evaluate(
      async ({ version, revision, code }) => {
        const res = await fetch(`/api/v1/plans/${version}/edits`, {
          method: 'POST',
          headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
          body: JSON.stringify({ revision, op: 'rename', cell: code, name: '另一标签页改名' }),
        });
        return { status: res.status, body: await res.json() };
      },
      { version: draft.version, revision: before, code: cell.code },
    );
    assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
    // the feed tells the panel, which shows the plan as it is now
    await page.waitForFunction((rev) => window.__wangge.plans.open().revision === rev, renamed.body.revision, { timeout: TIMEOUT });
    await plansIdle(page);
    assert.match(await page.locator('#plan-message').textContent(), /已被他人修改/);
    assert.equal(await page.locator('#plan-open-meta').getAttribute('data-revision'), String(renamed.body.revision));
    assert.equal(await page.locator('#plan-history li').first().locator('.plan-history-summary').textContent(), renamed.body.summary);
    // the panel's next edit starts from that revision: undo it from the panel
    await page.locator('#plan-undo').click();
    await page.waitForFunction((rev) => window.__wangge.plans.open().revision > rev, renamed.body.revision);
    await plansIdle(page);
    const back = await apiGet(page, `/api/v1/plans/${draft.version}/cells?codes=${encodeURIComponent(cell.code)}`);
    assert.equal(back.features[0].properties.name, cell.feature.properties.name);
    watcher.assertConsoleErrors();
  });

  it('shows a refused edit’s issues on the map, in Chinese and in English', async () => {
    await page.evaluate((code) => window.__wangge.plans.select([code]), cell.code);
    await page.locator('#plan-toolbar button[data-tool="vertex"]').click();
    await page.waitForFunction(() => window.__wangge.plans.vertices().length > 2);
    const vertices = await page.evaluate(() => window.__wangge.plans.vertices());
    const exact = cell.feature.geometry.type === 'Polygon' ? cell.feature.geometry.coordinates[0] : cell.feature.geometry.coordinates[0][0];
    assert.deepEqual(vertices[0], exact[0], 'the vertices are the ones /cells gave');
    const [w, s, e, n] = cell.bbox;
    // the vertex farthest from the others, so that the pointer takes it and no other
    const gap = (v) => Math.min(...vertices.filter((u) => u !== v).map((u) => Math.hypot(u[0] - v[0], u[1] - v[1])));
    const vertex = [...vertices].sort((a, b) => gap(b) - gap(a))[0];
    // far across the neighbours: three cell widths east of the cell
    const target = [e + 3 * (e - w), vertex[1]];
    await showArea(page, [Math.min(w, vertex[0]) - (e - w) * 0.5, s - (n - s), target[0] + (e - w) * 0.5, n + (n - s)]);
    await page.waitForFunction(() => window.__wangge.map.isSourceLoaded('plan-vertices'));
    const from = await toScreen(page, vertex);
    const to = await toScreen(page, target);
    const revision = await page.evaluate(() => window.__wangge.plans.open().revision);
    const refused = page.waitForResponse((r) => r.url().endsWith(`/api/v1/plans/${draft.version}/edits`) && r.request().method() === 'POST');
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 4 });
    await page.mouse.move(to.x, to.y, { steps: 4 });
    await page.mouse.up();
    const response = await refused;
    assert.equal(response.status(), 422);
    const problem = await response.json();
    assert.equal(problem.type, '/problems/invalid-plan');
    assert.equal(JSON.parse(response.request().postData()).op, 'move_vertex');
    assert.deepEqual(JSON.parse(response.request().postData()).from, vertex);
    await plansIdle(page);
    const markers = page.locator('.plan-issue-marker');
    assert.equal(await markers.count(), problem.issues.length);
    assert.deepEqual((await markers.allTextContents()).sort(), problem.issues.map((i) => i.message).sort());
    assert.ok((await page.evaluate(() => window.__wangge.plans.issues())).length > 0);
    assert.match(await page.locator('#plan-message').textContent(), /未通过规则检查/);
    assert.ok((await page.locator('#plan-message').textContent()).includes(problem.detail));
    // the markers stand where the issues are
    const first = problem.issues[0];
    const box = await markers.first().boundingBox();
    const spot = await toScreen(page, first.location);
    assert.ok(Math.abs(box.x + box.width / 2 - spot.x) < 2 && box.y + box.height < spot.y, 'the first marker stands over its location');
    await page.screenshot({ path: path.join(ARTIFACTS, 'plans-refused.png') });

    await page.locator('#lang-switch').click();
    assert.deepEqual((await markers.allTextContents()).sort(), problem.issues.map((i) => i.message_en).sort());
    assert.equal((await page.locator('#plans-toggle').textContent()).trim(), 'Grid planning');
    await page.locator('#lang-switch').click();
    assert.deepEqual((await markers.allTextContents()).sort(), problem.issues.map((i) => i.message).sort());

    // nothing changed
    assert.equal((await apiGet(page, `/api/v1/plans/${draft.version}`)).revision, revision);
    watcher.assertConsoleErrors([resourceError(422, `/api/v1/plans/${draft.version}/edits`)]);
  });

  it('checks the whole plan and shows its issues the same way', async () => {
    await page.locator('#plan-toolbar button[data-tool="select"]').click();
    await page.locator('#plan-check').click();
    await plansIdle(page);
    const answer = await apiGet(page, `/api/v1/plans/${draft.version}/issues`);
    assert.equal(await page.locator('.plan-issue-marker').count(), answer.issues.length);
    assert.match(await page.locator('#plan-message').textContent(), new RegExp(`${answer.errors} 个错误，${answer.warnings} 个警告`));
    watcher.assertConsoleErrors();
  });

  it('rebalances the village of the selected cell and shows the outcome', async () => {
    await page.evaluate((code) => window.__wangge.plans.select([code]), cell.code);
    await page.locator('#plan-rebalance-open').click();
    await page.locator('#plan-rebalance-scope').selectOption('villages');
    assert.equal(await page.locator('#plan-rebalance-tolerance').inputValue(), '5');
    const revision = await page.evaluate(() => window.__wangge.plans.open().revision);
    const request = page.waitForResponse((r) => r.url().endsWith(`/api/v1/plans/${draft.version}/rebalance`));
    await page.locator('#plan-rebalance-run').click();
    const response = await request;
    const body = await response.json();
    assert.equal(response.status(), 200, JSON.stringify(body));
    // by default as many cells as the village has
    const village = cell.feature.properties.village_code;
    const inVillage = (await apiGet(page, `/api/v1/plans/${draft.version}/workload`)).cells.filter((c) => c.village_code === village).length;
    assert.deepEqual(JSON.parse(response.request().postData()), { revision, villages: [village], target_cells: inVillage, tolerance: 0.05 });
    await page.waitForFunction((rev) => window.__wangge.plans.open().revision > rev, revision);
    await plansIdle(page);
    const figure = (k) => page.locator(`#plan-rebalance-outcome dd[data-figure="${k}"]`).textContent();
    assert.equal(await figure('plans.rb.cells'), body.cells.toLocaleString('zh-CN'));
    assert.equal(await figure('plans.rb.households'), body.households.toLocaleString('zh-CN'));
    assert.equal(await figure('plans.rb.moved'), body.households_moved.toLocaleString('zh-CN'));
    assert.equal(await figure('plans.rb.met'), body.tolerance_met ? '是' : '否');
    assert.equal(await page.locator('#plan-rebalance-outcome .plan-shortfalls li').count(), body.shortfalls.length);
    const plan = await apiGet(page, `/api/v1/plans/${draft.version}`);
    assert.equal(plan.revision, body.edit.revision);
    assert.equal(await page.locator('#plan-open-meta').getAttribute('data-revision'), String(plan.revision));
    await page.screenshot({ path: path.join(ARTIFACTS, 'plans-rebalance.png') });
    watcher.assertConsoleErrors();
  });

  it('shows the diff against the published plan', async () => {
    await page.locator('#plan-diff-open').click();
    await page.locator('#plan-diff').waitFor({ state: 'visible' });
    await plansIdle(page);
    const diff = await apiGet(page, `/api/v1/plans/${draft.version}/diff`);
    assert.equal(diff.published_version, published.version);
    assert.ok(diff.reshaped.length + diff.added.length + diff.removed.length > 0, 'the rebalance changed cells');
    for (const kind of ['added', 'removed', 'reshaped', 'renamed']) {
      const line = await page.locator(`#plan-diff li[data-change="${kind}"]`).textContent();
      assert.ok(line.includes(`: ${diff[kind].length}`), `${kind}: ${line}`);
    }
    assert.equal(await page.locator('#plan-diff-flows tbody tr').count(), diff.flows.length);
    assert.equal(await page.locator('#plan-diff-cells tbody tr').count(), diff.cells.length);
    assert.match(await page.locator('#plan-diff-moving').textContent(), new RegExp(`${diff.households_moving.toLocaleString('zh-CN')}`));
    // the changed cells are outlined by their kind
    const changed = diff.cells.find((c) => c.change !== 'removed');
    const state = await page.evaluate(
      (code) => window.__wangge.map.getFeatureState({ source: 'plan-cells', sourceLayer: 'grid-cells', id: code }),
      changed.code,
    );
    assert.equal(state.change, changed.change);
    await page.screenshot({ path: path.join(ARTIFACTS, 'plans-diff.png') });
    watcher.assertConsoleErrors();
  });

  it('publishes the draft after a confirmation stating what changes', async () => {
    const diff = await apiGet(page, `/api/v1/plans/${draft.version}/diff`);
    const dialog = page.waitForEvent('dialog');
    const click = page.locator('#plan-publish').click();
    const confirm = await dialog;
    assert.equal(confirm.type(), 'confirm');
    assert.ok(confirm.message().includes(`发布草案 v${draft.version}`), confirm.message());
    assert.ok(confirm.message().includes(`调整边界 ${diff.reshaped.length} 个`), confirm.message());
    assert.ok(confirm.message().includes(`${diff.households_moving} 户调整归属`), confirm.message());
    const publishing = page.waitForResponse((r) => r.url().endsWith(`/api/v1/plans/${draft.version}/publish`));
    await confirm.accept();
    await click;
    const response = await publishing;
    assert.equal(response.status(), 200);
    await page.waitForFunction((v) => window.__wangge.plans.plans().some((p) => p.version === v && p.status === 'published'), draft.version);
    await plansIdle(page);

    const plans = await apiGet(page, '/api/v1/plans');
    assert.equal(plans.find((p) => p.status === 'published')?.version, draft.version, 'the published plan is the draft');
    assert.equal(plans.find((p) => p.version === published.version)?.status, 'archived');
    assert.equal(await page.locator(`#plans-list tr[data-version="${draft.version}"]`).getAttribute('data-status'), 'published');
    assert.equal(await page.locator(`#plans-list tr[data-version="${published.version}"]`).getAttribute('data-status'), 'archived');
    assert.equal(await page.evaluate(() => window.__wangge.plans.open()), null);

    // the map's grid is the new published plan
    await eventually(
      async () => {
        await waitSettled(page);
        const versions = await page.evaluate(() => [
          ...new Set(window.__wangge.map.queryRenderedFeatures({ layers: ['grid-cells-fill'] }).map((f) => f.properties.plan_version)),
        ]);
        return versions.length === 1 && versions[0] === draft.version;
      },
      { message: 'the map does not draw the published draft' },
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'plans-published.png') });
    watcher.assertConsoleErrors();
  });

  it('shows no planning panel to a non-planner (operator)', async () => {
    const other = await browser.newContext({ viewport: VIEWPORT, locale: 'zh-CN' });
    try {
      const operator = watcher.watch(await other.newPage());
      await operator.goto(WANGGE_URL);
      await signInAndWaitForReady(operator, 'operator');
      assert.equal(await operator.locator('#plans-toggle').isVisible(), false);
      assert.equal(await operator.locator('#plans-panel').isVisible(), false);
      const { status, body } = await fetchInPage(operator, '/api/v1/plans');
      assert.equal(status, 403, JSON.stringify(body));
      watcher.assertConsoleErrors([resourceError(401, '/api/v1/session'), resourceError(403, '/api/v1/plans')]);
    } finally {
      await other.close();
    }
  });
});
