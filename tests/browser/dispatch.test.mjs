// Browser test of the dispatcher's screen, against a running wangge server.
//
//   WANGGE_URL=http://127.0.0.1:18080 WANGGE_DEMO_PASSWORD=... node --test tests/browser/dispatch.test.mjs
//
// Signs in as the demo's `dispatcher`, opens a reported incident, and checks
// the 指派 section: the ranked candidates are those of
// `GET /api/v1/incidents/{id}/candidates` (the simulator moves workers, so a
// comparison that fails is retried after the section's 刷新), each shown with
// its rank, group, distance, caseload/capacity, status, last seen and reasons,
// stale and unavailable ones dimmed; the map has a line to each of the top
// candidates with a position; one click assigns (the API then says so, and
// the details show the new assignee); the English switch relabels the
// section; an operator sees the ranking without assign buttons; the worker
// list (网格员 tab) lists the API's workers and follows the live feed.
//
// A conflict is made on purpose: the click's request is held (page.route)
// until the test has assigned the case to another worker through the API, so
// the server answers 409, which the section shows before ranking again. The
// demo's simulator also assigns reported cases itself now and then: if it
// gets there first, the test assigns again with the case as it is now. Those
// 409s and the session check's 401 are the only 4xx accepted in the console.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  VIEWPORT,
  WANGGE_URL,
  clickIncident,
  consoleWatch,
  apiSignIn,
  demoPassword,
  eventually,
  launchBrowser,
  resourceError,
  submitLogin,
  waitForLoginForm,
  waitForReady,
  waitForResourceError,
  waitSettled,
} from './browser.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TIMEOUT = 180_000;
const SUITE_TIMEOUT = 15 * 60_000;
const LIVE_TIMEOUT = 90_000;

const DISPATCHER = 'dispatcher';
const OPERATOR = 'operator';
const SESSION_PATH = '/api/v1/session';

const GROUPS_ZH = {
  own_cell: '本网格',
  cover: '代班',
  neighbour_cell: '相邻网格',
  township: '本乡镇',
  beyond: '就近',
  stale: '位置过时',
  unavailable: '暂不可派',
};
const GROUPS_EN = {
  own_cell: 'Own cell',
  cover: 'Cover',
  neighbour_cell: 'Next cell',
  township: 'Township',
  beyond: 'Nearby',
  stale: 'Stale position',
  unavailable: 'Unavailable',
};
const WORKER_STATUS_ZH = { available: '空闲', busy: '执行任务', off_duty: '休息' };

/** Cookie header of the test's own (Node-side) dispatcher session. */
let apiCookie;

async function api(pathAndQuery, init = {}) {
  const res = await fetch(`${WANGGE_URL}${pathAndQuery}`, { ...init, headers: { Cookie: apiCookie, ...(init.headers ?? {}) } });
  assert.equal(res.status, 200, `${init.method ?? 'GET'} ${pathAndQuery} answered ${res.status}`);
  return res.json();
}

/** "850 米" / "1.2 公里" (or "850 m" / "1.2 km") for a distance in metres, as the client formats it. */
function distanceText(metres, lang = 'zh') {
  if (metres < 999.5) return lang === 'zh' ? `${Math.round(metres).toLocaleString('zh-CN')} 米` : `${Math.round(metres).toLocaleString('en')} m`;
  const km = (metres / 1000).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  return lang === 'zh' ? `${km} 公里` : `${km} km`;
}

describe('the dispatcher screen', { timeout: SUITE_TIMEOUT }, () => {
  let browser;
  let context;
  let page;
  let password;
  const { watch, assertConsoleErrors } = consoleWatch(TIMEOUT / 2);

  /** The incident whose details are open, and the ranking the page shows for it. */
  let incidentId;
  /** The worker assigned by the test, and their name. */
  let assigned;

  before(async () => {
    password = demoPassword();
    apiCookie = await apiSignIn(DISPATCHER, password);
    await mkdir(ARTIFACTS, { recursive: true });
    browser = await launchBrowser();
    context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    page = watch(await context.newPage());
  });

  after(async () => {
    await browser?.close();
    if (apiCookie) await fetch(`${WANGGE_URL}${SESSION_PATH}`, { method: 'DELETE', headers: { Cookie: apiCookie } });
  });

  /** The ranking the page shows (window.__wangge.dispatch), compacted. */
  const shownRanking = () =>
    page.evaluate(() => {
      const answer = window.__wangge.dispatch.candidates();
      return answer && { incident: answer.incident, ids: answer.candidates.map((c) => c.worker_id), candidates: answer.candidates };
    });

  /** Waits for the section to show a ranking for `id`. */
  const rankingShown = (id) => page.locator(`#dispatch-section[data-incident="${id}"][data-state="ready"]`).waitFor();

  it('signs in as dispatcher and shows the incidents / workers tabs', async () => {
    const sessionCheck = waitForResourceError(page, resourceError(401, SESSION_PATH));
    await page.goto(`${WANGGE_URL}/?lang=zh-CN`);
    await waitForLoginForm(page);
    await sessionCheck;
    await submitLogin(page, DISPATCHER, password);
    await waitForReady(page);
    const session = await page.evaluate(() => window.__wangge.session);
    assert.equal(session.role, 'dispatcher');
    assert.equal(await page.locator('#user-info [data-user="role"]').textContent(), '调度员');
    assert.ok(await page.locator('#side-tabs').isVisible(), 'no incidents / workers tabs for a dispatcher');
    assert.equal(await page.locator('#side-tab-incidents').getAttribute('aria-pressed'), 'true');
    assert.equal(await page.locator('#side-tab-workers').textContent(), '网格员');
    assert.ok(await page.locator('#incidents-panel').isVisible());
    assert.equal(await page.locator('#workers-panel').isVisible(), false);
    assertConsoleErrors([resourceError(401, SESSION_PATH)]);
  });

  it('opens a reported incident and shows the ranking of /api/v1/incidents/{id}/candidates', async () => {
    // (the simulator reports new cases and assigns some itself: wait for one if there is none now)
    await eventually(async () => (await api('/api/v1/incidents?status=reported&limit=1')).total > 0, {
      timeout: LIVE_TIMEOUT,
      interval: 2000,
      message: 'no reported incident',
    });
    const listed = page.waitForResponse((r) => r.url().includes('/api/v1/incidents?') && new URL(r.url()).searchParams.get('status') === 'reported');
    await page.locator('#filter-status').selectOption('reported');
    await listed;
    // (the list follows live changes)
    await page.waitForFunction(
      () => {
        const items = [...document.querySelectorAll('#incident-list .incident-item')];
        return items.length > 0 && items.every((n) => n.dataset.status === 'reported');
      },
      null,
      { timeout: LIVE_TIMEOUT },
    );
    // Zoomed in to the street, where the candidates lie outside the view until the map fits them.
    await page.evaluate(() => window.__wangge.map.jumpTo({ zoom: 17.5 }));
    incidentId = await clickIncident(page);
    await page.locator(`#incident-detail[data-id="${incidentId}"][data-state="ready"]`).waitFor();
    await rankingShown(incidentId);
    assert.equal(await page.locator('#dispatch-heading').textContent(), '指派');

    // The simulator moves workers meanwhile: compare again after 刷新 until both agree.
    let fromApi;
    await eventually(
      async () => {
        fromApi = await api(`/api/v1/incidents/${incidentId}/candidates?limit=10`);
        const shown = await shownRanking();
        if (
          shown &&
          shown.ids.length === fromApi.candidates.length &&
          shown.ids[0] === fromApi.candidates[0]?.worker_id &&
          (await page.locator('#candidate-list .candidate').count()) === fromApi.candidates.length
        ) {
          return true;
        }
        await page.locator('#dispatch-refresh').click();
        await rankingShown(incidentId);
        return false;
      },
      { timeout: 60_000, interval: 1000, message: 'the section does not show the ranking of the candidates endpoint' },
    );
    assert.ok(fromApi.candidates.length > 0, `no candidate for incident ${incidentId}`);
    // each candidate: rank, name, group, distance, caseload/capacity, status, last seen, reasons
    // (the ranking held and the rows shown read at one moment: the ranking follows the live feed)
    // (in one evaluation: a locator's evaluateAll finds the rows first and reads them in a second step)
    const { shown, rows } = await page.evaluate(() => ({
      shown: window.__wangge.dispatch.candidates(),
      rows: [...document.querySelectorAll('#candidate-list .candidate')].map((n) => ({
        id: Number(n.dataset.workerId),
        rank: n.querySelector('.candidate-rank').textContent,
        name: n.querySelector('.candidate-name').textContent,
        group: n.querySelector('.candidate-group').textContent,
        distance: n.querySelector('.candidate-distance').textContent,
        load: n.querySelector('.candidate-load').textContent,
        status: n.querySelector('.candidate-status').textContent,
        seen: n.querySelector('.candidate-seen').textContent,
        seenTitle: n.querySelector('.candidate-seen').title,
        chips: [...n.querySelectorAll('.chip')].map((c) => c.dataset.code),
        chipTexts: [...n.querySelectorAll('.chip')].map((c) => c.textContent),
        dimmed: n.dataset.dimmed,
        opacity: Number(getComputedStyle(n).opacity),
        button: n.querySelector('.candidate-assign') !== null,
      })),
    }));
    assert.equal(String(shown.incident.id), incidentId);
    shown.candidates.forEach((c, i) => {
      const row = rows[i];
      assert.equal(row.id, c.worker_id);
      assert.equal(row.rank, String(c.rank));
      assert.equal(row.name, c.name);
      assert.equal(row.group, GROUPS_ZH[c.group], `group of ${c.worker_id}`);
      assert.equal(row.distance, c.distance_m === null ? '无位置' : distanceText(c.distance_m));
      assert.equal(row.load, `${c.caseload}/${c.capacity}`);
      assert.equal(row.status, WORKER_STATUS_ZH[c.status]);
      if (c.last_seen === null) assert.equal(row.seen, '从未定位');
      else {
        assert.match(row.seen, /^(刚刚|\d+ 秒前|\d+ 分钟前|\d+ 小时前|[\d,]+ 天前)$/);
        // the absolute time, in China Standard Time
        const cst = new Date((c.last_seen + 8 * 3600) * 1000).toISOString().slice(0, 19).replace('T', ' ');
        assert.equal(row.seenTitle, `最后定位 ${cst}`);
      }
      assert.deepEqual(row.chips, c.reasons.map((r) => r.code));
      assert.ok(row.chipTexts.every((text) => text.length > 0 && !/^[a-z_]+$/.test(text)), `untranslated reasons ${row.chipTexts}`);
      const dimmed = c.group === 'stale' || c.group === 'unavailable';
      assert.equal(row.dimmed, String(dimmed));
      assert.ok(dimmed ? row.opacity < 1 : row.opacity === 1, `opacity ${row.opacity} of a ${c.group} candidate`);
    });
    // a dispatcher may assign: a button on every candidate but the current assignee
    assert.ok(rows.some((r) => r.button), 'no assign button for a dispatcher');
    assertConsoleErrors();
  });

  it('draws a line from the incident to each of the top candidates, the first emphasised, labelled with the distance', async () => {
    // (read at one moment: the ranking follows the live feed)
    const { shown, lines } = await page.evaluate(() => ({
      shown: window.__wangge.dispatch.candidates(),
      lines: window.__wangge.dispatch.lines().features,
    }));
    const positioned = shown.candidates.filter((c) => typeof c.lon === 'number' && typeof c.lat === 'number');
    const strings = lines.filter((f) => f.geometry.type === 'LineString');
    assert.equal(strings.length, Math.min(5, positioned.length));
    strings.forEach((f, i) => {
      assert.equal(f.properties.worker_id, positioned[i].worker_id);
      assert.equal(f.properties.top, i === 0);
      assert.deepEqual(f.geometry.coordinates, [
        [shown.incident.lon, shown.incident.lat],
        [positioned[i].lon, positioned[i].lat],
      ]);
      assert.equal(f.properties.label, distanceText(positioned[i].distance_m));
    });
    if (strings.length === 0) return;
    // Opening the case showed it with the ends of its lines, between the side panels.
    const outside = await page.evaluate(async () => {
      const { map } = window.__wangge;
      await window.__wangge.settled();
      const ends = window.__wangge.dispatch
        .lines()
        .features.filter((f) => f.geometry.type === 'LineString')
        .flatMap((f) => f.geometry.coordinates);
      const { clientWidth: width, clientHeight: height } = map.getContainer();
      const left = document.querySelector('.side')?.getBoundingClientRect().right ?? 0;
      const right = document.querySelector('#side-right')?.getBoundingClientRect().left ?? width;
      return ends.filter((c) => {
        const p = map.project(c);
        return !(p.x >= left && p.x <= right && p.y >= 0 && p.y <= height);
      });
    });
    assert.deepEqual(outside, [], 'line ends out of view');
    // Drawn on the map: fit the incident and the line ends in view. The live
    // feed may rank the case again meanwhile (a worker moved, a resync), so the
    // drawing is compared with the lines as they are at the moment it is read.
    let last = null;
    await eventually(
      async () => {
        const now = await page.evaluate(() => window.__wangge.dispatch.lines().features.filter((f) => f.geometry.type === 'LineString'));
        if (now.length === 0) return false;
        const coords = now.flatMap((f) => f.geometry.coordinates);
        const box = [
          Math.min(...coords.map((c) => c[0])),
          Math.min(...coords.map((c) => c[1])),
          Math.max(...coords.map((c) => c[0])),
          Math.max(...coords.map((c) => c[1])),
        ];
        await page.evaluate((box) => {
          const { map } = window.__wangge;
          map.jumpTo(map.cameraForBounds(box, { padding: { top: 140, bottom: 60, left: 300, right: 420 }, maxZoom: 16 }));
        }, box);
        await waitSettled(page);
        const found = await page.evaluate(() => {
          const { map } = window.__wangge;
          const top = window.__wangge.dispatch.lines().features.find((f) => f.geometry.type === 'LineString' && f.properties.top);
          return {
            top: top && { id: top.properties.worker_id, label: top.properties.label },
            lines: map.queryRenderedFeatures({ layers: ['dispatch-lines'] }).map((f) => ({ id: f.properties.worker_id, top: f.properties.top })),
            labels: map.queryRenderedFeatures({ layers: ['dispatch-labels'] }).map((f) => f.properties.label),
          };
        });
        last = found;
        return (
          found.top !== undefined &&
          found.lines.some((l) => l.id === found.top.id && l.top === true) &&
          found.labels.includes(found.top.label)
        );
      },
      { timeout: 30_000, message: () => `the top candidate's line and distance are not drawn: ${JSON.stringify(last)}` },
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'dispatch.png') });
    assertConsoleErrors();
  });

  it('widens the view when a new ranking puts a line end out of it, unless the user has moved the map', async () => {
    // The top candidate is moved (in the answer) farther and farther east of
    // the case each time the case is ranked again, as if they had driven off.
    const span = await page.evaluate(() => {
      const { map } = window.__wangge;
      return map.getBounds().getEast() - map.getBounds().getWest();
    });
    let shift = span;
    const candidatesUrl = new RegExp(`/api/v1/incidents/${incidentId}/candidates(\\?|$)`);
    await page.route(candidatesUrl, async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      const first = body.candidates.find((c) => typeof c.lon === 'number' && typeof c.lat === 'number');
      if (first) Object.assign(first, { lon: body.incident.lon + shift, lat: body.incident.lat });
      await route.fulfill({ response, json: body });
    });
    const farEnd = () =>
      page.evaluate(() => {
        const { map } = window.__wangge;
        const far = window.__wangge.dispatch.lines().features.find((f) => f.geometry.type === 'LineString' && f.properties.top);
        const end = far?.geometry.coordinates[1];
        const p = end && map.project(end);
        const left = document.querySelector('.side').getBoundingClientRect().right;
        const right = document.querySelector('#side-right').getBoundingClientRect().left;
        return { end, inView: p !== undefined && p.x >= left && p.x <= right && p.y >= 0 && p.y <= map.getContainer().clientHeight };
      });
    const rankAgain = async () => {
      const answered = page.waitForResponse((r) => candidatesUrl.test(r.url()));
      await page.locator('#dispatch-refresh').click();
      await answered;
      await rankingShown(incidentId);
      await waitSettled(page);
    };
    try {
      await rankAgain();
      await eventually(async () => (await farEnd()).inView, { timeout: 15_000, message: 'the view was not widened to the far candidate' });

      // dragged by the user: the next far ranking leaves the view where they put it
      const box = await page.locator('#map').boundingBox();
      const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
      await page.mouse.move(x, y);
      await page.mouse.down();
      await page.mouse.move(x + 40, y + 30, { steps: 5 });
      await page.mouse.up();
      await waitSettled(page);
      const center = await page.evaluate(() => window.__wangge.map.getCenter().toArray());
      shift = span * 6;
      await rankAgain();
      const after = await farEnd();
      assert.equal(after.end[0], (await shownRanking()).incident.lon + shift, 'the ranking shown is not the one answered');
      assert.equal(after.inView, false, 'the far candidate is in view: was the map moved?');
      assert.deepEqual(await page.evaluate(() => window.__wangge.map.getCenter().toArray()), center, 'the map was moved after the user moved it');
    } finally {
      await page.unroute(candidatesUrl);
    }
    assertConsoleErrors();
  });

  it('ranks again as workers move, without a click', async () => {
    const shown = await shownRanking();
    const mover = shown.candidates.slice(1).find((c) => typeof c.lon === 'number' && c.distance_m > 300);
    if (!mover) {
      console.log(`# no candidate of incident ${incidentId} farther than 300 m to move`);
      return;
    }
    // The pointer off the list: a new order is shown at once (over it, it waits).
    await page.mouse.move(5, 5);
    // The worker's device reports a fix beside the case.
    const at = new Date().toISOString();
    await api('/api/v1/workers/positions', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ positions: [{ worker_id: mover.worker_id, at, lon: shown.incident.lon, lat: shown.incident.lat + 0.0002 }] }),
    });
    const moved = await eventually(
      async () => {
        const now = await shownRanking();
        const c = now?.candidates.find((x) => x.worker_id === mover.worker_id);
        return c && c.distance_m < 100 && c;
      },
      { timeout: 30_000, message: `worker ${mover.worker_id} was not ranked again where they now stand` },
    );
    const row = page.locator(`#candidate-list .candidate[data-worker-id="${mover.worker_id}"]`);
    const text = await row.innerText();
    assert.ok(text.includes(distanceText(moved.distance_m)), `the row shows ${text}`);
    // Ranked again quietly: no loading state, unless the case itself changed meanwhile (the
    // simulator assigns cases too), which loads the ranking afresh.
    const state = await page.locator('#dispatch-section').getAttribute('data-state');
    if (state !== 'ready') {
      const now = await api(`/api/v1/incidents/${incidentId}`);
      assert.ok(
        now.status !== shown.incident.status || (now.assignee_id ?? null) !== (shown.incident.assignee_id ?? null),
        `the section is ${state} though the case did not change`,
      );
    }
    assertConsoleErrors();
  });

  it('shows a 409 when someone else assigned the case first, and ranks again with the case as it is', async () => {
    const shown = await shownRanking();
    const current = shown.incident.assignee_id;
    const enabled = new Set(
      await page.locator('#candidate-list .candidate-assign:not([disabled])').evaluateAll((nodes) => nodes.map((n) => Number(n.dataset.workerId))),
    );
    const eligible = shown.candidates.filter(
      (c) => c.group !== 'stale' && c.group !== 'unavailable' && c.worker_id !== current && enabled.has(c.worker_id),
    );
    if (eligible.length < 2) {
      console.log(`# skipped: fewer than two workers can take incident ${incidentId}`);
      return;
    }
    const [mine, theirs] = eligible;
    const path = `/api/v1/incidents/${incidentId}/assignment`;
    // Someone else assigns the case while the dispatcher's click is on its way:
    // the request is held until the other assignment has gone through.
    await page.route(`${WANGGE_URL}${path}`, async (route) => {
      const res = await fetch(`${WANGGE_URL}${path}`, {
        method: 'POST',
        headers: { Cookie: apiCookie, 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ worker_id: theirs.worker_id, replaces: current ?? null }),
      });
      assert.equal(res.status, 200, `the competing assignment answered ${res.status}`);
      await route.continue();
    });
    const conflict = waitForResourceError(page, resourceError(409, path));
    const answered = page.waitForResponse((r) => r.url() === `${WANGGE_URL}${path}` && r.request().method() === 'POST');
    try {
      await page.locator(`#candidate-list .candidate[data-worker-id="${mine.worker_id}"] .candidate-assign`).click();
      const response = await answered;
      assert.equal(response.status(), 409);
      const problem = await response.json();
      assert.equal(problem.current.assignee_id, theirs.worker_id);
      await conflict;
      await page.locator('#dispatch-message[data-kind="conflict"]').waitFor();
      assert.equal(await page.locator('#dispatch-message').textContent(), `未能指派：${problem.detail}`);
    } finally {
      await page.unroute(`${WANGGE_URL}${path}`);
    }
    // ranked again for the case as it is now, and the details show the other assignee
    await page.waitForFunction((id) => window.__wangge.dispatch.candidates()?.incident.assignee_id === id, theirs.worker_id);
    await rankingShown(incidentId);
    await page.waitForFunction(
      (name) => document.querySelector('#incident-detail .field-assignee dd')?.textContent === name,
      theirs.name,
    );
    assertConsoleErrors([resourceError(409, path)]);
  });

  it('assigns the first candidate who can take the case with one click, and shows it', async () => {
    const expected = [];
    let target = null;
    for (let attempt = 0; attempt < 3 && !assigned; attempt += 1) {
      const shown = await shownRanking();
      const current = shown.incident.assignee_id;
      const enabled = new Set(
        (await page.locator('#candidate-list .candidate-assign:not([disabled])').evaluateAll((nodes) => nodes.map((n) => Number(n.dataset.workerId)))),
      );
      target = shown.candidates.find((c) => c.group !== 'stale' && c.group !== 'unavailable' && c.worker_id !== current && enabled.has(c.worker_id));
      target ??= shown.candidates.find((c) => c.worker_id !== current && enabled.has(c.worker_id));
      assert.ok(target, `no candidate to assign incident ${incidentId} to: ${JSON.stringify(shown.candidates.map((c) => [c.worker_id, c.group]))}`);
      const path = `/api/v1/incidents/${incidentId}/assignment`;
      const posted = page.waitForRequest((r) => r.url() === `${WANGGE_URL}${path}` && r.method() === 'POST');
      const answered = page.waitForResponse((r) => r.url() === `${WANGGE_URL}${path}` && r.request().method() === 'POST');
      await page.locator(`#candidate-list .candidate[data-worker-id="${target.worker_id}"] .candidate-assign`).click();
      assert.deepEqual((await posted).postDataJSON(), { worker_id: target.worker_id, replaces: current ?? null });
      const response = await answered;
      if (response.status() === 409) {
        // the simulator (or someone) got there first: the section says why and ranks again
        expected.push(resourceError(409, path));
        const problem = await response.json();
        await page.locator('#dispatch-message[data-kind="conflict"]').waitFor();
        assert.equal(await page.locator('#dispatch-message').textContent(), `未能指派：${problem.detail}`);
        await rankingShown(incidentId);
        await page.waitForFunction(() => document.querySelectorAll('#candidate-list .candidate-assign').length > 0);
        continue;
      }
      assert.equal(response.status(), 200, `the assignment answered ${response.status()}`);
      const body = await response.json();
      assert.equal(body.assignee_id, target.worker_id);
      assigned = { id: target.worker_id, name: body.assignee_name };
    }
    assert.ok(assigned, 'could not assign the incident');

    // the server has it
    const now = await api(`/api/v1/incidents/${incidentId}`);
    assert.equal(now.assignee_id, assigned.id);
    assert.ok(['assigned', 'accepted', 'in_progress'].includes(now.status), `status ${now.status} after assigning`);
    // the panel: a message, the details and the ranking fetched again
    assert.equal(await page.locator('#dispatch-message[data-kind="assigned"]').textContent(), `已指派给${assigned.name}`);
    await page.waitForFunction(
      (name) => document.querySelector('#incident-detail .field-assignee dd')?.textContent === name,
      assigned.name,
    );
    await page.waitForFunction(
      (id) => window.__wangge.dispatch.candidates()?.incident.assignee_id === id,
      assigned.id,
    );
    await rankingShown(incidentId);
    const currentRow = page.locator(`#candidate-list .candidate[data-current="true"]`);
    if ((await currentRow.count()) > 0) {
      assert.equal(await currentRow.getAttribute('data-worker-id'), String(assigned.id));
      assert.equal(await currentRow.locator('.candidate-current').textContent(), '当前承办');
      assert.equal(await currentRow.locator('.candidate-assign').count(), 0, 'an assign button on the current assignee');
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'dispatch-assigned.png') });
    assertConsoleErrors(expected);
  });

  it('switches the section to English', async () => {
    await page.locator('#lang-switch').click();
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
    assert.equal(await page.locator('#dispatch-heading').textContent(), 'Assign');
    assert.equal(await page.locator('#dispatch-refresh').textContent(), 'Refresh');
    assert.equal(await page.locator('#dispatch-message[data-kind="assigned"]').textContent(), `Assigned to ${assigned.name}`);
    // The ranking follows the live feed: what it holds and what the list shows are read at
    // one moment.
    const { shown, groups, buttons, distances, chips, labels } = await page.evaluate(() => {
      const texts = (selector) => [...document.querySelectorAll(selector)].map((n) => n.textContent);
      return {
        shown: window.__wangge.dispatch.candidates(),
        groups: texts('#candidate-list .candidate-group'),
        buttons: texts('#candidate-list .candidate-assign'),
        distances: texts('#candidate-list .candidate-distance'),
        chips: texts('#candidate-list .chip'),
        labels: window.__wangge.dispatch.lines().features.map((f) => f.properties.label),
      };
    });
    assert.deepEqual(groups, shown.candidates.map((c) => GROUPS_EN[c.group]));
    assert.ok(buttons.every((b) => b === 'Assign'), `assign buttons not in English: ${buttons}`);
    assert.deepEqual(distances, shown.candidates.map((c) => (c.distance_m === null ? 'no position' : distanceText(c.distance_m, 'en'))));
    assert.ok(chips.every((c) => !/[\u4e00-\u9fff]/.test(c) || shown.candidates.some((k) => c.includes(k.name))), `reasons not in English: ${chips}`);
    // the distances on the map too
    assert.ok(labels.every((l) => /^[\d,.]+ (m|km)$/.test(l)), `map labels not in English: ${labels}`);
    assert.equal(await page.locator('#side-tab-workers').textContent(), 'Workers');
    await page.locator('#lang-switch').click();
    assert.equal(await page.locator('#dispatch-heading').textContent(), '指派');
    assertConsoleErrors();
  });

  it('removes the lines when the details close', async () => {
    await page.locator('#incident-detail-close').click();
    await page.waitForFunction(() => window.__wangge.dispatch.candidates() === null);
    assert.equal(await page.evaluate(() => window.__wangge.dispatch.lines().features.length), 0);
    await waitSettled(page);
    assert.equal(await page.evaluate(() => window.__wangge.map.queryRenderedFeatures({ layers: ['dispatch-lines'] }).length), 0);
    assertConsoleErrors();
  });

  it('lists the workers of /api/v1/workers in the 网格员 tab and follows the live feed', async () => {
    const workersLoaded = page.waitForResponse((r) => r.url() === `${WANGGE_URL}/api/v1/workers`);
    await page.locator('#side-tab-workers').click();
    assert.equal((await workersLoaded).status(), 200);
    await page.locator('#workers-panel[data-state="ready"]').waitFor();
    assert.equal(await page.locator('#incidents-panel').isVisible(), false);
    assert.equal(await page.locator('#workers-heading').textContent(), '网格员');
    const fromApi = await api('/api/v1/workers');
    assert.equal(await page.locator('#worker-count').getAttribute('data-total'), String(fromApi.features.length));
    const byId = new Map(fromApi.features.map((f) => [f.properties.id, f.properties]));
    const rows = await page.locator('#worker-list .worker-row').evaluateAll((nodes) =>
      nodes.slice(0, 30).map((n) => ({
        id: Number(n.dataset.id),
        name: n.querySelector('.worker-name').textContent,
        status: n.querySelector('.worker-status').textContent,
        stale: n.dataset.stale,
        staleBadge: n.querySelector('.worker-stale') !== null,
        load: n.querySelector('.worker-load').textContent,
        seen: n.querySelector('.worker-seen').textContent,
      })),
    );
    assert.ok(rows.length > 0, 'no worker listed');
    for (const row of rows) {
      const w = byId.get(row.id);
      assert.ok(w, `worker ${row.id} is not in the API's list`);
      assert.equal(row.name, w.name);
      assert.equal(row.staleBadge, row.stale === 'true');
      assert.match(row.load, /^在办 \d+(\/\d+)?$/);
      assert.match(row.seen, /^(刚刚|\d+ 秒前|\d+ 分钟前|\d+ 小时前|[\d,]+ 天前|从未定位)$/);
      assert.ok(Object.values(WORKER_STATUS_ZH).includes(row.status), `status ${row.status}`);
    }

    // a worker the live feed reports is patched in: status, staleness, last seen
    const change = await page.evaluate(
      (timeout) =>
        new Promise((resolve, reject) => {
          const { live } = window.__wangge;
          const listener = (e) => {
            const w = (e.detail.workers ?? []).find((x) => x.last_seen !== null);
            if (!w) return;
            clearTimeout(timer);
            live.removeEventListener('changes', listener);
            resolve(w);
          };
          const timer = setTimeout(() => {
            live.removeEventListener('changes', listener);
            reject(new Error(`no live worker change within ${timeout} ms (is the demo's simulator running?)`));
          }, timeout);
          live.addEventListener('changes', listener);
        }),
      LIVE_TIMEOUT,
    );
    const seen = typeof change.last_seen === 'number' ? new Date(change.last_seen * 1000) : new Date(change.last_seen);
    await page.locator('#worker-q').fill(byId.get(Number(change.id))?.name ?? String(change.id));
    await eventually(
      () =>
        page.evaluate(
          ({ id, at }) => {
            const row = document.querySelector(`#worker-list .worker-row[data-id="${id}"]`);
            const time = row?.querySelector('.worker-seen')?.getAttribute('datetime');
            return time !== undefined && time !== null && Date.parse(time) >= at;
          },
          { id: String(change.id), at: seen.getTime() },
        ),
      { timeout: 10_000, message: `worker ${change.id} not patched from the live feed` },
    );
    await page.locator('#worker-q').fill('');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dispatch-workers.png') });
    await page.locator('#side-tab-incidents').click();
    assert.ok(await page.locator('#incidents-panel').isVisible());
    assertConsoleErrors();
  });

  it('shows an operator the ranking without assign buttons, and no worker tab', async () => {
    const other = await browser.newContext({ viewport: VIEWPORT });
    try {
      const p = watch(await other.newPage());
      const sessionCheck = waitForResourceError(p, resourceError(401, SESSION_PATH));
      await p.goto(`${WANGGE_URL}/?lang=zh-CN`);
      await waitForLoginForm(p);
      await sessionCheck;
      await submitLogin(p, OPERATOR, password);
      await waitForReady(p);
      assert.equal(await p.locator('#side-tabs').isVisible(), false, 'worker tab shown to an operator');
      // an open incident of the first page
      const id = await clickIncident(p);
      await p.locator(`#incident-detail[data-id="${id}"][data-state="ready"]`).waitFor();
      const status = await p.locator('#incident-detail').getAttribute('data-state');
      assert.equal(status, 'ready');
      const open = await p.evaluate(() => document.querySelector('#dispatch-section')?.hidden === false);
      if (open) {
        await p.locator(`#dispatch-section[data-incident="${id}"][data-state="ready"]`).waitFor();
        assert.equal(await p.locator('#dispatch-section').getAttribute('data-mode'), 'view');
        assert.equal(await p.locator('#candidate-list .candidate-assign').count(), 0, 'assign buttons for an operator');
        assert.match(await p.locator('#dispatch-hint').textContent(), /仅供查看/);
      }
    } finally {
      await other.close();
    }
    assertConsoleErrors([resourceError(401, SESSION_PATH)]);
  });

  it('logged no other console errors', () => {
    assertConsoleErrors();
  });
});
