// A planner's whole round on a running demo (meant for the full one), timed, with the
// command centre watching: not a test (CI runs plans.test.mjs on the small demo), a
// walkthrough that prints what each step took and leaves screenshots in artifacts/.
//
//   WANGGE_URL=http://127.0.0.1:8080 WANGGE_DEMO_PASSWORD=... node tests/browser/walkthrough-plans.mjs [TOWNSHIP]
//
// The planner creates a draft, splits a cell by drawing on the map, rebalances a whole
// township (default 530402005, about 20,000 households in the full demo) to its current
// number of cells, reads the diff and publishes; the operator's map, open all along, must
// show the new plan's cells without reloading. Publishing changes the demo's grid.

import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { VIEWPORT, WANGGE_URL, launchBrowser, signInAndWaitForReady } from './browser.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const township = process.argv[2] ?? '530402005';
const TIMEOUT = 10 * 60_000;

const started = performance.now();
let last = started;
function step(what) {
  const now = performance.now();
  console.log(`${((now - started) / 1000).toFixed(1).padStart(7)} s  (+${((now - last) / 1000).toFixed(1)} s)  ${what}`);
  last = now;
}

async function api(page, url, init) {
  return page.evaluate(
    async ({ url, init }) => {
      const res = await fetch(url, { headers: { Accept: 'application/json', 'Content-Type': 'application/json' }, ...init });
      return { status: res.status, body: await res.json() };
    },
    { url, init },
  );
}

function idle(page) {
  return page.evaluate(() => window.__wangge.plans.idle());
}

await mkdir(ARTIFACTS, { recursive: true });
const browser = await launchBrowser({ mapPixelRatio: 1 });
try {
  const operatorContext = await browser.newContext({ viewport: VIEWPORT, locale: 'zh-CN' });
  const operator = await operatorContext.newPage();
  await operator.goto(WANGGE_URL);
  await signInAndWaitForReady(operator, 'operator');
  step('operator: command centre map ready');
  const plannerContext = await browser.newContext({ viewport: VIEWPORT, locale: 'zh-CN' });
  const planner = await plannerContext.newPage();
  planner.setDefaultTimeout(TIMEOUT);
  planner.on('dialog', (d) => void d.accept());
  await planner.goto(WANGGE_URL);
  await signInAndWaitForReady(planner, 'planner');
  step('planner: map ready');

  await planner.locator('#plans-toggle').click();
  await planner.waitForFunction(() => document.getElementById('plans-list-status').dataset.state === 'ready');
  const published = (await api(planner, '/api/v1/plans')).body.find((p) => p.status === 'published');
  step(`planner: plan list (published v${published.version}, ${published.cells} cells)`);

  await planner.locator('#plans-new-name').fill(`演练 ${township}`);
  await planner.locator('#plans-new').click();
  await planner.waitForFunction(() => window.__wangge.plans.open()?.status === 'draft' && window.__wangge.plans.workload() !== null);
  await idle(planner);
  const draft = await planner.evaluate(() => window.__wangge.plans.open());
  const workload = await planner.evaluate(() => window.__wangge.plans.workload());
  const inTownship = workload.cells.filter((c) => c.village_code.startsWith(township));
  assert.ok(inTownship.length > 0, `no cell of township ${township}`);
  step(`planner: draft v${draft.version} copied and its workload shown (${workload.cells.length} cells; ${inTownship.length} in ${township})`);

  // Redraw: split one of the township's most loaded single-part cells along a line through
  // its middle, across or along; an outline of hexagon edges may need the other way, or the
  // next cell, for the line to make exactly two pieces.
  const candidates = [...inTownship].filter((c) => c.parts === 1 && c.deviation !== null).sort((a, b) => b.deviation - a.deviation).slice(0, 10);
  let split;
  let target;
  for (const cell of candidates) {
    const cells = (await api(planner, `/api/v1/plans/${draft.version}/cells?codes=${encodeURIComponent(cell.code)}`)).body;
    const ring = cells.features[0].geometry.coordinates.flat(2);
    const lons = ring.map((p) => p[0]);
    const lats = ring.map((p) => p[1]);
    const [w, e, s, n] = [Math.min(...lons), Math.max(...lons), Math.min(...lats), Math.max(...lats)];
    const lines = [
      [[w - (e - w) * 0.1, (s + n) / 2], [e + (e - w) * 0.1, (s + n) / 2]],
      [[(w + e) / 2, s - (n - s) * 0.1], [(w + e) / 2, n + (n - s) * 0.1]],
    ];
    for (const line of lines) {
      split = await api(planner, `/api/v1/plans/${draft.version}/edits`, {
        method: 'POST',
        body: JSON.stringify({ revision: draft.revision, op: 'split', cell: cell.code, line }),
      });
      if (split.status !== 422) break;
    }
    if (split.status !== 422) {
      target = cell;
      break;
    }
  }
  assert.equal(split.status, 200, JSON.stringify(split.body));
  await planner.evaluate((code) => window.__wangge.plans.select([code]), target.code);
  await planner.waitForFunction((rev) => window.__wangge.plans.open().revision >= rev, split.body.revision);
  await idle(planner);
  step(`planner: split ${target.code} (deviation ${(target.deviation * 100).toFixed(1)}%) → revision ${split.body.revision}`);

  // Rebalance the township to its number of cells (now one more).
  await planner.locator('#plan-rebalance-open').click();
  await planner.locator('#plan-rebalance-scope').selectOption('township');
  await planner.locator('#plan-rebalance-township').fill(township);
  const request = planner.waitForResponse((r) => r.url().endsWith(`/api/v1/plans/${draft.version}/rebalance`), { timeout: TIMEOUT });
  const revision = await planner.evaluate(() => window.__wangge.plans.open().revision);
  await planner.locator('#plan-rebalance-run').click();
  const response = await request;
  const outcome = await response.json();
  assert.equal(response.status(), 200, JSON.stringify(outcome));
  step(
    `planner: rebalanced ${township}: ${outcome.cells} cells, ${outcome.households} households, largest deviation ${(outcome.max_deviation * 100).toFixed(2)}%, ` +
      `tolerance met: ${outcome.tolerance_met}, households moved ${outcome.households_moved}, shortfalls ${JSON.stringify(outcome.shortfalls)}`,
  );
  await planner.waitForFunction((rev) => window.__wangge.plans.open().revision > rev, revision);
  await idle(planner);
  step('planner: map, workload and history show the rebalanced draft');
  await planner.screenshot({ path: path.join(ARTIFACTS, 'walkthrough-rebalance.png') });

  const issues = (await api(planner, `/api/v1/plans/${draft.version}/issues`)).body;
  step(`planner: checked the draft: ${issues.errors} errors, ${issues.warnings} warnings`);

  await planner.locator('#plan-diff-open').click();
  await planner.locator('#plan-diff').waitFor({ state: 'visible' });
  await idle(planner);
  const diff = (await api(planner, `/api/v1/plans/${draft.version}/diff`)).body;
  step(
    `planner: diff: ${diff.added.length} added, ${diff.removed.length} removed, ${diff.reshaped.length} reshaped, ` +
      `${diff.households_moving} households and ${diff.workers_moving.length} workers move`,
  );
  await planner.screenshot({ path: path.join(ARTIFACTS, 'walkthrough-diff.png') });

  // The operator's map: wait for it to hear of the new plan.
  await operator.evaluate(() => {
    window.__walkthroughResync = new Promise((resolve) =>
      window.__wangge.live.addEventListener('resync', () => resolve(performance.now()), { once: true }),
    );
  });
  const publishedAt = Date.now();
  const publishing = planner.waitForResponse((r) => r.url().endsWith(`/api/v1/plans/${draft.version}/publish`), { timeout: TIMEOUT });
  await planner.locator('#plan-publish').click();
  const answer = await (await publishing).json();
  step(`planner: published v${answer.version} (v${answer.archived_version} archived): ${answer.changed_cells} cells changed, ${answer.open_cases} open cases re-linked`);

  await operator.evaluate(() => window.__walkthroughResync);
  step(`operator: told to reload ${((Date.now() - publishedAt) / 1000).toFixed(1)} s after the publish click`);
  // The operator's map draws the new plan's cells where the township is.
  const box = inTownship.length ? await api(operator, `/api/v1/plans/${answer.version}/cells?codes=${encodeURIComponent(target.code)}`) : null;
  const bbox = box?.body.features?.[0] ? box.body.features[0].geometry.coordinates.flat(2) : null;
  if (bbox) {
    const xs = bbox.map((p) => p[0]);
    const ys = bbox.map((p) => p[1]);
    await operator.evaluate(
      (b) => window.__wangge.map.fitBounds(b, { animate: false, padding: 200 }),
      [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)],
    );
  }
  await operator.waitForFunction(
    (version) => {
      const map = window.__wangge.map;
      const drawn = map.queryRenderedFeatures().filter((f) => f.sourceLayer === 'grid-cells');
      return drawn.length > 0 && drawn.every((f) => f.properties.plan_version === version);
    },
    answer.version,
    { timeout: TIMEOUT },
  );
  step(`operator: the map draws only v${answer.version}'s cells`);
  await operator.screenshot({ path: path.join(ARTIFACTS, 'walkthrough-operator.png') });
} finally {
  await browser.close();
}
