// Browser test of work done from the map: the report form and the case's actions.
//
//   WANGGE_URL=http://127.0.0.1:18080 WANGGE_DEMO_PASSWORD=... node --test tests/browser/report-and-actions.test.mjs
//
// As `operator`: a report filed by clicking a place on the map (在此上报 in the
// popup) and one placed by an address (a geocoding suggestion picked), each
// read back from the API where it was put; the possible duplicates of a
// report next to an open case of the same category (as
// `incidents/possible-duplicates` answers, one opening that case); a double
// click and a retry after a lost answer (page.route) file one case (counted
// through the API). On an open case an operator sees exactly the actions the
// API lists (escalate, note): a note and an escalation (sending the tier
// shown as `from`) go through; an escalation of a case the test escalated
// meanwhile through the API is a 409 whose detail is shown, and the details
// follow the case as it is. As `dispatcher`: a resolved case offers close and
// reopen; reopen asks for a note, close for a confirmation; mark as duplicate
// picks the other case in the list; place by a click on the map; lead names
// the leader. As `worker` (a grid worker): their assigned case is accepted,
// started and resolved from the panel, and close is never offered to them.
// The timeline names people (`dispatcher · 调度员`, the grid worker's name ·
// 网格员), never raw ids.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  apiSessions,
  demoPassword,
  eventually,
  jumpToAndWaitSettled,
  launchBrowser,
  openSignedIn,
} from './browser.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TIMEOUT = 120_000;
const SUITE_TIMEOUT = 15 * 60_000;
/** The demo grid worker's cell (荷花社区第一网格), inside it. */
const WORKER_CELL_POINT = [102.5441, 24.3512];
const RUN = `t${Date.now().toString(36)}`;

const sessions = apiSessions();
const { api } = sessions;

const act = (user, id, action, expected) =>
  api(user, `/api/v1/incidents/${id}/actions`, { method: 'POST', body: JSON.stringify(action) }, expected);

/** Files a case through the API (as dispatcher) and answers its details. */
async function fileCase({ category, lon, lat, severity = 'moderate', description }) {
  const answer = await api('dispatcher', '/api/v1/incidents', {
    method: 'POST',
    body: JSON.stringify({ category, severity, description, location: { lon, lat } }),
  });
  return answer;
}

/** How many cases the text search finds (the description carries a unique token). */
async function countCases(token) {
  return (await api('dispatcher', `/api/v1/incidents?q=${encodeURIComponent(token)}&limit=5`)).total;
}

describe('reports and case actions from the map', { timeout: SUITE_TIMEOUT }, () => {
  let browser;
  let password;
  let categories;
  /** Console errors per page, and those a test expects (text fragments). */
  const consoleErrors = [];
  let allowed = [];

  before(async () => {
    password = demoPassword();
    await sessions.signIn(['operator', 'dispatcher', 'worker'], password);
    categories = await api('operator', '/api/v1/incident-categories');
    assert.ok(categories.length > 0);
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await sessions.signOut();
  });

  /** A page signed in as `user` (Chinese). */
  async function openAs(user) {
    return (await openSignedIn(browser, user, { password, errors: consoleErrors, timeout: TIMEOUT / 2 })).page;
  }

  /** Only the console errors expected so far (fragments of their text): the 401 of the first session check and `more`. */
  function assertConsole(more = []) {
    allowed = [...allowed, `401`, ...more];
    const unexpected = consoleErrors.filter((e) => !allowed.some((a) => e.includes(a)));
    assert.deepEqual(unexpected, [], 'unexpected console errors');
  }

  /** Opens case `id` in the panel: searched by its number, its row clicked. */
  async function openCase(page, id) {
    await page.locator('#filter-status').selectOption('');
    await page.locator('#filter-q').fill(String(id));
    await page.locator('#filter-q').press('Enter');
    const row = page.locator(`#incident-list .incident-item[data-id="${id}"]`);
    await row.waitFor();
    await row.click();
    await page.locator(`#incident-detail[data-id="${id}"][data-state="ready"]`).waitFor();
  }

  /** The action buttons shown, in order. */
  const shownActions = (page) => page.locator('#case-actions-buttons button').evaluateAll((bs) => bs.map((b) => b.dataset.action));

  /** Waits until the details of `id` show exactly the actions `user` gets from the API (the case may be moving). */
  async function actionsAgree(page, user, id) {
    let fromApi;
    await eventually(
      async () => {
        fromApi = (await api(user, `/api/v1/incidents/${id}`)).actions.filter((a) => a !== 'assign');
        const shown = await shownActions(page);
        return JSON.stringify(shown) === JSON.stringify(fromApi);
      },
      { timeout: 20_000, message: () => `the panel does not show the API's actions ${JSON.stringify(fromApi)}` },
    );
    return fromApi;
  }

  /** Answers the in-page dialog: `value` typed (if any), then OK. */
  async function answerDialog(page, value) {
    const dialog = page.locator('#app-dialog');
    await dialog.waitFor();
    if (value !== undefined) await page.locator('#app-dialog-input').fill(value);
    await page.locator('#app-dialog-ok').click();
    await dialog.waitFor({ state: 'detached' });
  }

  /** Fills the report form's fields (the place already chosen). */
  async function fillReport(page, { category, description, name, phone }) {
    await page.locator('#report-category').selectOption(category);
    await page.locator('#report-severity').selectOption('moderate');
    await page.locator('#report-description').fill(description);
    if (name) await page.locator('#report-reporter-name').fill(name);
    if (phone) await page.locator('#report-reporter-phone').fill(phone);
  }

  /** Sends the form and answers the new case's id, once its details are open. */
  async function sendReport(page) {
    const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/incidents') && r.request().method() === 'POST');
    await page.locator('#report-submit').click();
    const response = await created;
    assert.equal(response.status(), 201, await response.text());
    const id = (await response.json()).id;
    await page.locator(`#incident-detail[data-id="${id}"][data-state="ready"]`).waitFor();
    assert.equal(await page.locator('#report-panel').isVisible(), false, 'the form stays open after filing');
    return { id, request: response.request() };
  }

  let operator;
  let dispatcher;

  it('files a report by a click on the map (在此上报)', async () => {
    operator ??= await openAs('operator');
    assert.equal(await operator.locator('#report-toggle').textContent(), '上报事件');
    await jumpToAndWaitSettled(operator, { center: WORKER_CELL_POINT, zoom: 16.5 });
    // a place without a case under it: a few tries around the middle
    let button = null;
    for (const [dx, dy] of [[0, 0], [40, 30], [-50, 20], [30, -60], [-30, -40], [70, 70]]) {
      const box = await operator.locator('#map canvas').boundingBox();
      await operator.mouse.click(box.x + box.width / 2 + dx, box.y + box.height / 2 + dy);
      const candidate = operator.locator('.maplibregl-popup .report-here');
      if (await candidate.waitFor({ timeout: 3000 }).then(() => true, () => false)) {
        button = candidate;
        break;
      }
    }
    assert.ok(button, 'no 在此上报 in a popup');
    assert.equal(await button.textContent(), '在此上报');
    const at = [Number(await button.getAttribute('data-lon')), Number(await button.getAttribute('data-lat'))];
    await button.click();
    await operator.locator('#report-panel').waitFor();
    assert.deepEqual((await operator.evaluate(() => window.__wangge.report.point())).map((n) => n.toFixed(5)), at.map((n) => n.toFixed(5)));
    assert.match(await operator.locator('#report-place').textContent(), /已选位置/);
    // categories by their Chinese names
    const first = categories[0];
    assert.equal(await operator.locator(`#report-category option[value="${first.code}"]`).textContent(), first.name_zh);
    const token = `${RUN}-click`;
    await fillReport(operator, { category: first.code, description: `测试上报 ${token}`, name: '张三', phone: '13800001234' });
    const { id } = await sendReport(operator);
    const filed = await api('dispatcher', `/api/v1/incidents/${id}`);
    assert.equal(filed.category, first.code);
    assert.ok(Math.abs(filed.lon - at[0]) < 1e-5 && Math.abs(filed.lat - at[1]) < 1e-5, `filed at ${filed.lon},${filed.lat}, not ${at}`);
    assert.equal(filed.status, 'reported');
    assert.equal(await countCases(token), 1);
    await operator.screenshot({ path: path.join(ARTIFACTS, 'report-filed.png') });
    assertConsole();
  });

  it('files a report placed by an address (a geocoding suggestion)', async () => {
    operator ??= await openAs('operator');
    await operator.locator('#report-toggle').click();
    await operator.locator('#report-panel').waitFor();
    const geocoded = operator.waitForResponse((r) => r.url().includes('/api/v1/geocode?'));
    await operator.locator('#report-address').pressSequentially('红塔区玉兴路', { delay: 30 });
    await geocoded;
    const suggestion = operator.locator('#report-suggestions .report-suggestion').first();
    await suggestion.waitFor();
    const answer = await api('operator', `/api/v1/geocode?q=${encodeURIComponent('红塔区玉兴路')}&limit=5`);
    const best = answer.candidates[0];
    assert.equal(await suggestion.locator('.report-suggestion-address').textContent(), best.address);
    await operator.screenshot({ path: path.join(ARTIFACTS, 'report-geocode.png') });
    await suggestion.click();
    assert.deepEqual(await operator.evaluate(() => window.__wangge.report.point()), [best.lon, best.lat]);
    assert.equal(await operator.locator('#report-address').inputValue(), best.address);
    const token = `${RUN}-address`;
    const category = categories[1 % categories.length].code;
    await fillReport(operator, { category, description: `按地址上报 ${token}` });
    const { id, request } = await sendReport(operator);
    assert.deepEqual(request.postDataJSON().location, { lon: best.lon, lat: best.lat, address: best.address });
    const filed = await api('dispatcher', `/api/v1/incidents/${id}`);
    assert.ok(Math.abs(filed.lon - best.lon) < 1e-6 && Math.abs(filed.lat - best.lat) < 1e-6);
    assert.equal(filed.address, best.address);
    assertConsole();
  });

  it('warns of possible duplicates next to an open case of the same category, each opening it', async () => {
    operator ??= await openAs('operator');
    const category = categories[0].code;
    const near = [WORKER_CELL_POINT[0] + 0.0003, WORKER_CELL_POINT[1] + 0.0002];
    const open = await fileCase({ category, lon: near[0], lat: near[1], description: `已有事件 ${RUN}-dup` });
    if (await operator.locator('#incident-detail').isVisible()) await operator.locator('#incident-detail-close').click();
    await jumpToAndWaitSettled(operator, { center: near, zoom: 17 });
    await operator.locator('#report-toggle').click();
    await operator.locator('#report-pick').click();
    assert.equal(await operator.evaluate(() => document.body.dataset.picking), 'point');
    // a click 10 px from the open case
    const px = await operator.evaluate((p) => window.__wangge.map.project(p), near);
    const box = await operator.locator('#map canvas').boundingBox();
    await operator.mouse.click(box.x + px.x + 10, box.y + px.y + 10);
    const point = await operator.evaluate(() => window.__wangge.report.point());
    if (!point) await operator.screenshot({ path: path.join(ARTIFACTS, 'report-nopoint.png') });
    assert.ok(point, `the click placed no point (picking: ${await operator.evaluate(() => document.body.dataset.picking)})`);
    const checked = operator.waitForResponse((r) => r.url().includes('/api/v1/incidents/possible-duplicates?'));
    await operator.locator('#report-category').selectOption(category);
    const response = await checked;
    const url = new URL(response.url());
    assert.equal(url.searchParams.get('category'), category);
    const fromApi = await api('operator', `/api/v1/incidents/possible-duplicates?${url.searchParams}`);
    assert.ok(fromApi.items.some((i) => i.id === open.id), `the API does not suggest ${open.id}: ${JSON.stringify(fromApi.items.map((i) => i.id))}`);
    await operator.locator('#report-duplicates[data-state="ready"]').waitFor();
    const shown = await operator.locator('#report-duplicate-list .report-duplicate').evaluateAll((bs) => bs.map((b) => Number(b.dataset.id)));
    assert.deepEqual(shown, fromApi.items.map((i) => i.id));
    assert.equal(await operator.locator('#report-duplicates-heading').textContent(), '附近可能重复的事件');
    await operator.screenshot({ path: path.join(ARTIFACTS, 'report-duplicates.png') });
    // another category: refreshed
    const other = categories.find((c) => c.code !== category);
    if (other) {
      const again = operator.waitForResponse((r) => r.url().includes('/api/v1/incidents/possible-duplicates?') && r.url().includes(`category=${other.code}`));
      await operator.locator('#report-category').selectOption(other.code);
      await again;
      await operator.locator('#report-category').selectOption(category);
      await operator.locator(`#report-duplicate-list .report-duplicate[data-id="${open.id}"]`).waitFor();
    }
    await operator.locator(`#report-duplicate-list .report-duplicate[data-id="${open.id}"]`).click();
    await operator.locator(`#incident-detail[data-id="${open.id}"][data-state="ready"]`).waitFor();
    await operator.locator('#report-close').click();
    assertConsole();
  });

  it('files one case for a double click, and for a retry after a lost answer', async () => {
    operator ??= await openAs('operator');
    await operator.locator('#report-toggle').click();
    await operator.locator('#report-pick').click();
    const box = await operator.locator('#map canvas').boundingBox();
    await operator.mouse.click(box.x + box.width / 2 - 80, box.y + box.height / 2 + 60);
    const token = `${RUN}-double`;
    assert.equal(await countCases(token), 0);
    await fillReport(operator, { category: categories[0].code, description: `双击 ${token}` });
    const created = operator.waitForResponse((r) => r.url().endsWith('/api/v1/incidents') && r.request().method() === 'POST');
    await operator.locator('#report-submit').dblclick();
    await created;
    await eventually(async () => !(await operator.locator('#report-panel').isVisible()), { message: 'the form did not close' });
    assert.equal(await countCases(token), 1);

    // the server files it but the answer is lost: the same form sent again gets the first answer
    await operator.locator('#report-toggle').click();
    await operator.locator('#report-pick').click();
    await operator.mouse.click(box.x + box.width / 2 + 80, box.y + box.height / 2 + 60);
    const retryToken = `${RUN}-retry`;
    await fillReport(operator, { category: categories[0].code, description: `重试 ${retryToken}` });
    const keys = [];
    let lost = false;
    await operator.route('**/api/v1/incidents', async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      keys.push(route.request().headers()['idempotency-key']);
      if (!lost) {
        lost = true;
        await route.fetch();
        return route.abort('failed');
      }
      return route.fallback();
    });
    await operator.locator('#report-submit').click();
    await operator.locator('#report-message[data-kind="error"]').waitFor();
    assert.equal(await countCases(retryToken), 1, 'the first attempt filed no case');
    assert.equal(await operator.locator('#report-submit').isDisabled(), false);
    const replayed = operator.waitForResponse((r) => r.url().endsWith('/api/v1/incidents') && r.request().method() === 'POST');
    await operator.locator('#report-submit').click();
    const second = await replayed;
    assert.equal(second.status(), 201);
    assert.equal(second.headers()['idempotent-replayed'], 'true');
    await operator.unroute('**/api/v1/incidents');
    assert.equal(keys.length, 2);
    assert.ok(keys[0] && keys[0] === keys[1], `two keys: ${keys}`);
    assert.equal(await countCases(retryToken), 1);
    assertConsole(['net::ERR_FAILED']);
  });

  it('shows an operator only escalate and note on an open case; both go through; a moved case is a 409', async () => {
    operator ??= await openAs('operator');
    const open = await fileCase({ category: categories[0].code, lon: WORKER_CELL_POINT[0] - 0.0004, lat: WORKER_CELL_POINT[1], description: `操作员 ${RUN}-op` });
    await openCase(operator, open.id);
    assert.deepEqual(await actionsAgree(operator, 'operator', open.id), ['escalate', 'note']);
    assert.equal(await operator.locator('#case-actions-heading').textContent(), '办理');
    assert.deepEqual(await operator.locator('#case-actions-buttons button').allTextContents(), ['提级办理', '备注']);
    // a note
    await operator.locator('#case-actions-buttons button[data-action="note"]').click();
    await operator.locator('#app-dialog-ok').click();
    assert.equal(await operator.locator('#app-dialog-input').getAttribute('aria-invalid'), 'true', 'an empty note was taken');
    await answerDialog(operator, '已电话联系反映人');
    await operator.locator('#case-action-message[data-kind="ok"]').waitFor();
    await operator.locator('#incident-timeline .timeline-entry[data-kind="note"]').waitFor();
    assert.equal(await operator.locator('#incident-timeline .timeline-entry[data-kind="note"] .timeline-actor').textContent(), 'operator · 指挥中心操作员');
    // an escalation sends the tier shown
    const sent = operator.waitForRequest((r) => r.url().endsWith(`/api/v1/incidents/${open.id}/actions`));
    await operator.locator('#case-actions-buttons button[data-action="escalate"]').click();
    await answerDialog(operator);
    assert.deepEqual((await sent).postDataJSON(), { action: 'escalate', from: 'village' });
    await eventually(async () => (await api('operator', `/api/v1/incidents/${open.id}`)).tier === 'township');
    await operator.locator('#incident-detail .badges .badge-tier[data-tier="township"]').waitFor();

    // moved meanwhile: escalated to county through the API after the page sent what it shows
    // (the request is held until then: the live feed would otherwise show the move first)
    await operator.route(`**/api/v1/incidents/${open.id}/actions`, async (route) => {
      assert.equal(route.request().postDataJSON().from, 'township');
      const moved = await act('dispatcher', open.id, { action: 'escalate', from: 'township' });
      assert.equal(moved.tier, 'county');
      await route.continue();
    });
    const refused = operator.waitForResponse((r) => r.url().endsWith(`/api/v1/incidents/${open.id}/actions`));
    await operator.locator('#case-actions-buttons button[data-action="escalate"]').click();
    await answerDialog(operator);
    const problem = await (await refused).json();
    assert.equal((await refused).status(), 409);
    await operator.unroute(`**/api/v1/incidents/${open.id}/actions`);
    assert.equal(problem.type, '/problems/conflict');
    await operator.locator('#case-action-message[data-kind="conflict"]').waitFor();
    assert.ok((await operator.locator('#case-action-message').textContent()).includes(problem.detail), 'the problem detail is not shown');
    await operator.locator('#incident-detail .badges .badge-tier[data-tier="county"]').waitFor();
    await operator.screenshot({ path: path.join(ARTIFACTS, 'actions-conflict.png') });
    assertConsole([`409`]);
  });


  it('lets a dispatcher close or reopen a resolved case, mark a duplicate, place and lead', async () => {
    dispatcher ??= await openAs('dispatcher');
    const category = categories[0].code;
    const c = await fileCase({ category, lon: WORKER_CELL_POINT[0] + 0.0005, lat: WORKER_CELL_POINT[1] - 0.0003, description: `调度 ${RUN}-disp` });
    const cellWorker = (await api('worker', '/api/v1/workers')).features[0].properties.id;
    await act('dispatcher', c.id, { action: 'assign', worker_id: cellWorker });
    for (const action of ['accept', 'start', 'resolve']) await act('dispatcher', c.id, { action });
    await openCase(dispatcher, c.id);
    const actions = await actionsAgree(dispatcher, 'dispatcher', c.id);
    assert.ok(actions.includes('close') && actions.includes('reopen'), `a resolved case offers ${actions}`);
    // reopen: a note is required
    await dispatcher.locator('#case-actions-buttons button[data-action="reopen"]').click();
    await answerDialog(dispatcher, '化解不彻底，群众再次反映');
    const reopened = await eventually(async () => {
      const d = await api('dispatcher', `/api/v1/incidents/${c.id}`);
      return d.status !== 'resolved' && d.status;
    });
    assert.ok(['assigned', 'accepted', 'in_progress'].includes(reopened), `reopened to ${reopened}`);
    await dispatcher.locator(`#incident-detail .badges .badge-status[data-status="${reopened}"]`).waitFor();
    assert.ok(!(await shownActions(dispatcher)).includes('close'));
    // resolved again (through the panel), then closed after a confirmation; cancelling first changes nothing
    await dispatcher.locator('#case-actions-buttons button[data-action="resolve"]').click();
    await answerDialog(dispatcher);
    await dispatcher.locator('#incident-detail .badges .badge-status[data-status="resolved"]').waitFor();
    await dispatcher.locator('#case-actions-buttons button[data-action="close"]').click();
    await dispatcher.locator('#app-dialog-cancel').click();
    assert.equal((await api('dispatcher', `/api/v1/incidents/${c.id}`)).status, 'resolved');
    await dispatcher.locator('#case-actions-buttons button[data-action="close"]').click();
    await answerDialog(dispatcher);
    await eventually(async () => (await api('dispatcher', `/api/v1/incidents/${c.id}`)).status === 'closed');
    await dispatcher.locator('#incident-detail .badges .badge-status[data-status="closed"]').waitFor();
    await actionsAgree(dispatcher, 'dispatcher', c.id);

    // mark as duplicate: the original picked in the list
    const original = await fileCase({ category, lon: WORKER_CELL_POINT[0] + 0.0001, lat: WORKER_CELL_POINT[1] + 0.0001, description: `原件 ${RUN}-orig` });
    const copy = await fileCase({ category, lon: WORKER_CELL_POINT[0] + 0.0002, lat: WORKER_CELL_POINT[1] + 0.0001, description: `重复 ${RUN}-copy` });
    await openCase(dispatcher, copy.id);
    await actionsAgree(dispatcher, 'dispatcher', copy.id);
    await dispatcher.locator('#case-actions-buttons button[data-action="mark_duplicate"]').click();
    await dispatcher.locator('#case-action-pick').waitFor();
    await dispatcher.locator('#filter-q').fill(String(original.id));
    await dispatcher.locator('#filter-q').press('Enter');
    await dispatcher.locator(`#incident-list .incident-item[data-id="${original.id}"]`).click();
    const dialogText = await dispatcher.locator('#app-dialog-message').textContent();
    assert.ok(dialogText.includes(`#${original.id}`) && dialogText.includes(`#${copy.id}`), dialogText);
    await answerDialog(dispatcher);
    await eventually(async () => {
      const d = await api('dispatcher', `/api/v1/incidents/${copy.id}`);
      return d.status === 'duplicate' && d.duplicate_of === original.id;
    });
    assert.equal(await dispatcher.locator('#incident-detail').getAttribute('data-id'), String(copy.id));

    // place by hand: a click on the map
    await jumpToAndWaitSettled(dispatcher, { center: WORKER_CELL_POINT, zoom: 16 });
    await openCase(dispatcher, original.id);
    await dispatcher.locator('#case-actions-buttons button[data-action="place"]').click();
    await dispatcher.locator('#case-action-pick').waitFor();
    const box = await dispatcher.locator('#map canvas').boundingBox();
    const placed = dispatcher.waitForRequest((r) => r.url().endsWith(`/api/v1/incidents/${original.id}/actions`));
    await dispatcher.mouse.click(box.x + box.width / 2 - 40, box.y + box.height / 2 - 30);
    const body = (await placed).postDataJSON();
    assert.equal(body.action, 'place');
    await eventually(async () => {
      const d = await api('dispatcher', `/api/v1/incidents/${original.id}`);
      return d.location_method === 'manual' && Math.abs(d.lon - body.location.lon) < 1e-6;
    });

    // lead: a major case gets its leader
    const major = await fileCase({ category, severity: 'major', lon: WORKER_CELL_POINT[0], lat: WORKER_CELL_POINT[1] - 0.0004, description: `重大 ${RUN}-lead` });
    await openCase(dispatcher, major.id);
    await actionsAgree(dispatcher, 'dispatcher', major.id);
    await dispatcher.locator('#case-actions-buttons button[data-action="lead"]').click();
    await answerDialog(dispatcher, '李副镇长');
    await eventually(async () => (await api('dispatcher', `/api/v1/incidents/${major.id}`)).leader === '李副镇长');
    await dispatcher.locator('#incident-detail .field-leader dd').filter({ hasText: '李副镇长' }).waitFor();
    // the timeline names the dispatcher
    const actors = await dispatcher.locator('#incident-timeline .timeline-actor').allTextContents();
    assert.ok(actors.includes('dispatcher · 调度员'), `timeline actors: ${actors}`);
    await dispatcher.screenshot({ path: path.join(ARTIFACTS, 'actions-dispatcher.png') });
    assertConsole();
  });

  it('lets a grid worker accept, start and resolve their assigned case, and never close it; the timeline names them', async () => {
    const worker = await openAs('worker');
    const c = await fileCase({ category: categories[0].code, lon: WORKER_CELL_POINT[0] - 0.0002, lat: WORKER_CELL_POINT[1] + 0.0002, description: `网格员 ${RUN}-worker` });
    // which worker of the cell the `worker` sign-in is: the one whose assignment it may accept
    const cellWorkers = (await api('worker', '/api/v1/workers')).features.map((f) => f.properties);
    let me = null;
    for (const w of cellWorkers) {
      await act('dispatcher', c.id, { action: 'assign', worker_id: w.id }, [200, 409]);
      const seen = await api('worker', `/api/v1/incidents/${c.id}`);
      if (seen.assignee_id === w.id && seen.actions.includes('accept')) {
        me = w;
        break;
      }
    }
    assert.ok(me, 'no worker of the cell is the `worker` sign-in');
    await openCase(worker, c.id);
    await actionsAgree(worker, 'worker', c.id);
    assert.ok((await shownActions(worker)).includes('accept'));
    await worker.locator('#case-actions-buttons button[data-action="accept"]').click();
    await worker.locator('#incident-detail .badges .badge-status[data-status="accepted"]').waitFor();
    await actionsAgree(worker, 'worker', c.id);
    await worker.locator('#case-actions-buttons button[data-action="start"]').click();
    await worker.locator('#incident-detail .badges .badge-status[data-status="in_progress"]').waitFor();
    await actionsAgree(worker, 'worker', c.id);
    await worker.locator('#case-actions-buttons button[data-action="resolve"]').click();
    await answerDialog(worker, '已调解');
    await worker.locator('#incident-detail .badges .badge-status[data-status="resolved"]').waitFor();
    assert.equal((await api('dispatcher', `/api/v1/incidents/${c.id}`)).status, 'resolved');
    const after = await actionsAgree(worker, 'worker', c.id);
    assert.ok(!after.includes('close') && !after.includes('reopen'), `a worker is offered ${after}`);
    // the timeline: the worker by name and role, the dispatcher, no raw ids
    const actors = await worker.locator('#incident-timeline .timeline-actor').allTextContents();
    // (the grid worker's own sign-in, the user `worker`, is named as the worker `me` is)
    assert.ok(actors.includes(`${me.name} · 网格员`), `timeline actors: ${actors}`);
    assert.ok(actors.includes('dispatcher · 调度员'), `timeline actors: ${actors}`);
    assert.ok(!actors.some((a) => /grid_worker:|user:/.test(a)), `raw actor ids: ${actors}`);
    // English
    await worker.locator('#lang-switch').click();
    assert.equal(await worker.locator('#case-actions-heading').textContent(), 'Actions');
    assert.ok((await worker.locator('#incident-timeline .timeline-actor').allTextContents()).includes(`${me.name} · Grid worker`));
    await worker.screenshot({ path: path.join(ARTIFACTS, 'actions-worker.png') });
    await worker.locator('#lang-switch').click();
    // a dispatcher would now be offered close
    dispatcher ??= await openAs('dispatcher');
    await openCase(dispatcher, c.id);
    assert.ok((await actionsAgree(dispatcher, 'dispatcher', c.id)).includes('close'));
    assertConsole();
  });
});
