// Browser test of the photos of a case (随手拍) in the map client.
//
//   WANGGE_URL=http://127.0.0.1:18080 WANGGE_DEMO_PASSWORD=... node --test tests/browser/photos.test.mjs
//
// As `operator`: a report filed with a PNG (made here, byte by byte) chosen in
// the form (no `capture`, location off by default; a second photo chosen and
// removed again) is one case with that one photo (stage report, location not
// kept) and the details show its thumbnail, drawn (naturalWidth > 0), which
// opens the full photo in the viewer (Esc closes it). A photo over 10 MiB is
// refused as it is chosen (no request), and a text file named .png is sent and
// refused by the server (415): both say so, and the case's photos (through the
// API) are unchanged. As the `worker` (a grid worker of one cell) on a case of
// their cell assigned to them: a resolve whose photo the server refuses does
// not resolve the case (no action sent); one with a PNG uploads it first
// (stage resolution), then resolves, and the photo is shown as 办结. A photo of
// a case outside their cell is 404 to them (photo, thumbnail, list, case) and
// no such case is in their list.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { WANGGE_URL, apiSessions, demoPassword, eventually, jumpToAndWaitSettled, launchBrowser, openSignedIn } from './browser.mjs';
import { png } from './images.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TIMEOUT = 120_000;
const SUITE_TIMEOUT = 10 * 60_000;
const SESSION_PATH = '/api/v1/session';
/** The demo grid worker's cell (荷花社区第一网格), inside it. */
const WORKER_CELL_POINT = [102.5441, 24.3512];
/** Well outside that cell, still in the city (红塔区). */
const ELSEWHERE_POINT = [102.5741, 24.3712];
const RUN = `p${Date.now().toString(36)}`;
const MIB = 1024 * 1024;

const sessions = apiSessions();
const { api, cookies } = sessions;

/** The status of a GET as `user` (no body read as JSON: photos are bytes). */
async function statusOf(user, pathAndQuery) {
  const res = await fetch(`${WANGGE_URL}${pathAndQuery}`, { headers: { Cookie: cookies[user] } });
  await res.arrayBuffer();
  return res.status;
}

const act = (user, id, action, expected) =>
  api(user, `/api/v1/incidents/${id}/actions`, { method: 'POST', body: JSON.stringify(action) }, expected);

/** The cases this run filed: rejected at the end if still open, so that runs do not fill the grid workers' caseloads. */
const filed = new Set();

async function fileCase({ category, lon, lat, description }) {
  const c = await api('dispatcher', '/api/v1/incidents', {
    method: 'POST',
    body: JSON.stringify({ category, severity: 'moderate', description, location: { lon, lat } }),
  });
  filed.add(c.id);
  return c;
}

/**
 * Assigns case `id` to grid worker `w` (as dispatcher). A worker at capacity (the demo's
 * dispatching and earlier runs fill the cell's workers) first has one of their open cases
 * resolved by the dispatcher to make room.
 */
async function assignMakingRoom(id, w) {
  const assign = () => act('dispatcher', id, { action: 'assign', worker_id: w.id }, [200, 409]);
  const first = await assign();
  if (first?.status !== 409 || !/open cases/.test(first.detail ?? '')) return;
  // (the worker's cell is the `worker` sign-in's whole area: their list holds the cell's open cases)
  const theirs = (await api('worker', '/api/v1/incidents?status=open&limit=100')).items.find(
    (i) => i.assignee_id === w.id && i.id !== id,
  );
  assert.ok(theirs, `worker ${w.id} is at capacity and none of their cases was found`);
  await act('dispatcher', theirs.id, { action: 'resolve', note: '测试腾出容量' }, [200, 409]);
  await assign();
}

const photosOf = (user, id) => api(user, `/api/v1/incidents/${id}/photos`);


/** A HEIF skeleton (as the server's own tests build it): ftyp, meta (an hvc1 item, iloc), mdat. No thumbnail is made of it. */
function heic() {
  const boxed = (kind, content) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(content.length + 8, 0);
    head.write(kind, 4, 'latin1');
    return Buffer.concat([head, content]);
  };
  const u16 = (n) => Buffer.from([n >> 8, n & 0xff]);
  const u32 = (n) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n, 0);
    return b;
  };
  const ftyp = boxed('ftyp', Buffer.from('heic\0\0\0\0mif1heic', 'latin1'));
  const infe = boxed('infe', Buffer.concat([Buffer.from([2, 0, 0, 0]), u16(1), Buffer.from([0, 0]), Buffer.from('hvc1', 'latin1'), Buffer.from([0])]));
  const iinf = boxed('iinf', Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 1]), infe]));
  const hdlr = boxed('hdlr', Buffer.concat([Buffer.alloc(8), Buffer.from('pict', 'latin1'), Buffer.alloc(13)]));
  const picture = Buffer.from(`HEVC-PICTURE-DATA ${RUN}`, 'latin1');
  const ilocLen = 8 + 4 + 2 + 2 + (2 + 2 + 2 + 8);
  const metaLen = 8 + 4 + hdlr.length + iinf.length + ilocLen;
  const mdatStart = ftyp.length + metaLen + 8;
  const iloc = boxed('iloc', Buffer.concat([Buffer.from([0, 0, 0, 0, 0x44, 0x00]), u16(1), u16(1), Buffer.from([0, 0]), u16(1), u32(mdatStart), u32(picture.length)]));
  assert.equal(iloc.length, ilocLen);
  const meta = boxed('meta', Buffer.concat([Buffer.alloc(4), hdlr, iinf, iloc]));
  return Buffer.concat([ftyp, meta, boxed('mdat', picture)]);
}

describe('photos of a case in the map client', { timeout: SUITE_TIMEOUT }, () => {
  let browser;
  let password;
  let categories;
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
    for (const id of filed) {
      const c = await api('dispatcher', `/api/v1/incidents/${id}`, {}, [200, 404]);
      if (c?.actions?.includes('reject')) await act('dispatcher', id, { action: 'reject', note: `测试结束 ${RUN}` }, [200, 409]);
    }
    await sessions.signOut();
  });

  /** A page signed in as `user` (Chinese). */
  async function openAs(user) {
    return (await openSignedIn(browser, user, { password, errors: consoleErrors, timeout: TIMEOUT / 2 })).page;
  }

  /** Only the console errors expected so far (fragments of their text): the 401 of the first session check and `more`. */
  function assertConsole(more = []) {
    allowed = [...allowed, `401 (Unauthorized) ${WANGGE_URL}${SESSION_PATH}`, ...more];
    const unexpected = consoleErrors.filter((e) => !allowed.some((a) => e.includes(a)));
    assert.deepEqual(unexpected, [], 'unexpected console errors');
  }

  async function openCase(page, id) {
    await page.locator('#filter-status').selectOption('');
    await page.locator('#filter-q').fill(String(id));
    await page.locator('#filter-q').press('Enter');
    const row = page.locator(`#incident-list .incident-item[data-id="${id}"]`);
    await row.waitFor();
    await row.click();
    await page.locator(`#incident-detail[data-id="${id}"][data-state="ready"]`).waitFor();
  }

  /** The thumbnail of photo `photoId` in the details, once drawn: its natural size. */
  async function thumbnailDrawn(page, photoId) {
    const img = page.locator(`#case-photo-list .photo-tile[data-id="${photoId}"] img`);
    await img.waitFor();
    return eventually(
      () => img.evaluate((i) => (i.complete && i.naturalWidth > 0 ? { width: i.naturalWidth, height: i.naturalHeight, src: i.getAttribute('src') } : null)),
      { message: `the thumbnail of photo ${photoId} is not drawn` },
    );
  }

  /** The photo uploads a page sends (method, path and query), in order. */
  function recordUploads(page) {
    const sent = [];
    page.on('request', (r) => {
      const url = new URL(r.url());
      if (r.method() === 'POST' && /\/api\/v1\/incidents\/\d+\/(photos|actions)$/.test(url.pathname)) sent.push(`${url.pathname}${url.search}`);
    });
    return sent;
  }

  let operator;

  it('files a report with a photo, and the details show its thumbnail and the photo', async () => {
    operator ??= await openAs('operator');
    await jumpToAndWaitSettled(operator, { center: WORKER_CELL_POINT, zoom: 16.5 });
    await operator.locator('#report-toggle').click();
    await operator.locator('#report-panel').waitFor();
    // a phone offers its camera or its gallery: no capture forced
    const input = operator.locator('#report-photos-input');
    assert.equal(await input.getAttribute('capture'), null);
    assert.equal(await input.getAttribute('accept'), 'image/jpeg,image/png,image/heic,image/heif');
    assert.equal(await input.evaluate((i) => i.multiple), true);
    assert.equal(await operator.locator('#report-photos-keep').isChecked(), false, 'the location is kept by default');
    assert.equal(await operator.locator('#report-photos .photo-keep').textContent(), '保留照片中的拍摄位置 （默认去除 GPS 等位置信息）');

    await operator.locator('#report-pick').click();
    const box = await operator.locator('#map canvas').boundingBox();
    await operator.mouse.click(box.x + box.width / 2 - 60, box.y + box.height / 2 + 40);
    const token = `${RUN}-report`;
    await operator.locator('#report-category').selectOption(categories[0].code);
    await operator.locator('#report-description').fill(`带照片上报 ${token}`);
    const photo = png(64, 48, 1);
    await input.setInputFiles([
      { name: '现场.png', mimeType: 'image/png', buffer: photo },
      { name: 'other.png', mimeType: 'image/png', buffer: png(32, 32, 2) },
    ]);
    await eventually(async () => (await operator.locator('#report-photos-list .photo-preview').count()) === 2);
    // the previews are drawn from the files chosen
    await eventually(() => operator.locator('#report-photos-list .photo-preview img').first().evaluate((i) => i.complete && i.naturalWidth === 64));
    await operator.locator('#report-photos-list .photo-preview[data-name="other.png"] .photo-remove').click();
    assert.deepEqual(await operator.locator('#report-photos-list .photo-preview').evaluateAll((ls) => ls.map((l) => l.dataset.name)), ['现场.png']);

    const uploaded = operator.waitForResponse((r) => /\/api\/v1\/incidents\/\d+\/photos\?/.test(r.url()) && r.request().method() === 'POST');
    const created = operator.waitForResponse((r) => r.url().endsWith('/api/v1/incidents') && r.request().method() === 'POST');
    await operator.locator('#report-submit').click();
    const id = (await (await created).json()).id;
    const upload = await uploaded;
    assert.equal(upload.status(), 201);
    const query = new URL(upload.url()).searchParams;
    assert.equal(query.get('stage'), 'report');
    assert.equal(query.get('keep_location'), null);
    assert.equal(upload.request().headers()['content-type'], 'image/png');
    await operator.locator(`#incident-detail[data-id="${id}"][data-state="ready"]`).waitFor();

    const photos = await photosOf('dispatcher', id);
    assert.equal(photos.length, 1, `photos: ${JSON.stringify(photos)}`);
    const [kept] = photos;
    assert.equal(kept.stage, 'report');
    assert.equal(kept.content_type, 'image/png');
    assert.equal(kept.location_kept, false);
    assert.deepEqual([kept.width, kept.height], [64, 48]);

    const drawn = await thumbnailDrawn(operator, kept.id);
    assert.equal(drawn.src, kept.thumbnail_url);
    assert.equal(await operator.locator('#case-photos-heading').textContent(), '照片');
    assert.equal(await operator.locator(`#case-photo-list .photo-tile[data-id="${kept.id}"] .photo-stage`).textContent(), '上报');
    assert.equal(await operator.locator('#case-photo-message').textContent(), '已上传 1 张照片');
    await operator.screenshot({ path: path.join(ARTIFACTS, 'photos-report.png') });

    // the full photo in the viewer; Esc closes it
    await operator.locator(`#case-photo-list .photo-tile[data-id="${kept.id}"] .photo-open`).click();
    const viewer = operator.locator('#photo-viewer');
    await viewer.waitFor();
    const full = await eventually(() =>
      operator.locator('#photo-viewer-img').evaluate((i) => (i.complete && i.naturalWidth > 0 ? { width: i.naturalWidth, src: i.getAttribute('src') } : null)),
    );
    assert.deepEqual(full, { width: 64, src: kept.url });
    assert.ok((await operator.locator('#photo-viewer-caption').textContent()).startsWith('上报照片 · operator'));
    await operator.screenshot({ path: path.join(ARTIFACTS, 'photos-viewer.png') });
    await operator.keyboard.press('Escape');
    await viewer.waitFor({ state: 'hidden' });
    // English
    await operator.locator('#lang-switch').click();
    assert.equal(await operator.locator('#case-photos-heading').textContent(), 'Photos');
    assert.equal(await operator.locator(`#case-photo-list .photo-tile[data-id="${kept.id}"] .photo-stage`).textContent(), 'Report');
    await operator.locator('#lang-switch').click();
    assertConsole();
  });

  it('refuses a photo over 10 MiB and a file that is not an image, saying so, and adds nothing', async () => {
    operator ??= await openAs('operator');
    const c = await fileCase({ category: categories[0].code, lon: WORKER_CELL_POINT[0] + 0.0003, lat: WORKER_CELL_POINT[1] - 0.0002, description: `拒收 ${RUN}-refuse` });
    await openCase(operator, c.id);
    const sent = recordUploads(operator);
    assert.equal(await operator.locator('#case-photos-empty').textContent(), '暂无照片');
    await operator.locator('#case-photo-add').click();
    await operator.locator('#app-dialog').waitFor();
    const input = operator.locator('#case-photo-picker-input');

    // over 10 MiB: refused as it is chosen, nothing sent
    await input.setInputFiles({ name: 'big.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(10 * MIB + 1, 0xff) });
    await operator.locator('#case-photo-picker-message[data-kind="error"]').waitFor();
    assert.equal(await operator.locator('#case-photo-picker-message').textContent(), '“big.jpg”超过 10 MiB，未添加');
    assert.equal(await operator.locator('#case-photo-picker-list .photo-preview').count(), 0);
    // a text file that says what it is: refused as chosen too
    await input.setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a photo') });
    assert.equal(await operator.locator('#case-photo-picker-message').textContent(), '“notes.txt”不是 JPEG、PNG 或 HEIC 格式的图片，未添加');
    assert.equal(await operator.locator('#case-photo-picker-list .photo-preview').count(), 0);
    // nothing chosen: the dialog says so and stays
    await operator.locator('#app-dialog-ok').click();
    assert.equal(await operator.locator('#app-dialog .app-dialog-error').textContent(), '请先选择照片');
    await operator.screenshot({ path: path.join(ARTIFACTS, 'photos-refused-size.png') });

    // text named x.png: only its bytes tell, so the server refuses it (415), and the details say which and why
    await input.setInputFiles({ name: 'x.png', mimeType: 'image/png', buffer: Buffer.from('hello, this is text and not a picture\n') });
    await operator.locator('#case-photo-picker-list .photo-preview[data-name="x.png"]').waitFor();
    const refused = operator.waitForResponse((r) => r.url().includes(`/api/v1/incidents/${c.id}/photos`) && r.request().method() === 'POST');
    await operator.locator('#app-dialog-ok').click();
    const answer = await refused;
    assert.equal(answer.status(), 415);
    assert.equal((await answer.json()).type, '/problems/unsupported-media-type');
    await operator.locator('#case-photo-message[data-kind="error"]').waitFor();
    const said = await operator.locator('#case-photo-message').textContent();
    assert.ok(said.includes('照片“x.png”未能上传：不是 JPEG、PNG 或 HEIC 格式的图片'), said);
    assert.equal(sent.length, 1, `requests: ${sent}`);
    assert.deepEqual(await photosOf('dispatcher', c.id), []);
    assert.equal(await operator.locator('#case-photo-list .photo-tile').count(), 0);
    await operator.screenshot({ path: path.join(ARTIFACTS, 'photos-refused-type.png') });

    // with a report: the case is filed and opens whatever the server says of its photo, which is named
    await jumpToAndWaitSettled(operator, { center: WORKER_CELL_POINT, zoom: 16.5 });
    await operator.locator('#report-toggle').click();
    await operator.locator('#report-pick').click();
    const box = await operator.locator('#map canvas').boundingBox();
    await operator.mouse.click(box.x + box.width / 2 + 60, box.y + box.height / 2 - 40);
    const token = `${RUN}-refused-report`;
    await operator.locator('#report-category').selectOption(categories[0].code);
    await operator.locator('#report-description').fill(`照片被拒 ${token}`);
    await operator.locator('#report-photos-input').setInputFiles({ name: 'y.png', mimeType: 'image/png', buffer: Buffer.from('still not a picture') });
    const created = operator.waitForResponse((r) => r.url().endsWith('/api/v1/incidents') && r.request().method() === 'POST');
    await operator.locator('#report-submit').click();
    const filed = await created;
    assert.equal(filed.status(), 201);
    const id = (await filed.json()).id;
    await operator.locator(`#incident-detail[data-id="${id}"][data-state="ready"]`).waitFor();
    await operator.locator('#case-photo-message[data-kind="error"]').waitFor();
    const told = await operator.locator('#case-photo-message').textContent();
    assert.ok(told.includes('照片“y.png”未能上传：不是 JPEG、PNG 或 HEIC 格式的图片') && told.includes('事件已保存'), told);
    assert.equal((await api('dispatcher', `/api/v1/incidents?q=${encodeURIComponent(token)}&limit=5`)).total, 1);
    assert.deepEqual(await photosOf('dispatcher', id), []);
    assert.equal(await operator.locator('#case-photo-add').isVisible(), true, 'photos cannot be added again');
    assertConsole([
      `415 (Unsupported Media Type) ${WANGGE_URL}/api/v1/incidents/${c.id}/photos`,
      `415 (Unsupported Media Type) ${WANGGE_URL}/api/v1/incidents/${id}/photos`,
    ]);
  });

  it('shows a HEIC photo (no thumbnail) as a tile linking to the original', async () => {
    operator ??= await openAs('operator');
    const c = await fileCase({ category: categories[0].code, lon: WORKER_CELL_POINT[0] + 0.0002, lat: WORKER_CELL_POINT[1] + 0.0004, description: `HEIC ${RUN}-heic` });
    const photo = await api('dispatcher', `/api/v1/incidents/${c.id}/photos?stage=report`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/heic' },
      body: heic(),
    });
    assert.equal(photo.content_type, 'image/heic');
    assert.equal(photo.thumbnail_url, null);
    await openCase(operator, c.id);
    const tile = operator.locator(`#case-photo-list .photo-tile[data-id="${photo.id}"]`);
    await tile.waitFor();
    assert.equal(await tile.locator('img').count(), 0);
    const link = tile.locator('a.photo-heic');
    assert.equal(await link.textContent(), 'HEIC');
    assert.equal(await link.getAttribute('href'), photo.url);
    // the original, with the session (same origin): the HEIC bytes
    const fetched = await operator.evaluate(async (url) => {
      const r = await fetch(url);
      return { status: r.status, type: r.headers.get('content-type'), size: (await r.arrayBuffer()).byteLength };
    }, photo.url);
    assert.deepEqual(fetched, { status: 200, type: 'image/heic', size: photo.size });
    // chosen in a form, a HEIC (whose type a browser may not declare) is a HEIC tile too
    await operator.locator('#case-photo-add').click();
    await operator.locator('#case-photo-picker-input').setInputFiles({ name: 'IMG_0001.HEIC', mimeType: '', buffer: heic() });
    assert.equal(await operator.locator('#case-photo-picker-list .photo-preview[data-name="IMG_0001.HEIC"] .photo-heic').textContent(), 'HEIC');
    await operator.locator('#app-dialog-cancel').click();
    assert.equal((await photosOf('dispatcher', c.id)).length, 1);
    assertConsole();
  });

  it('lets the grid worker resolve their case with a photo, uploaded first; a refused photo resolves nothing', async () => {
    const c = await fileCase({ category: categories[0].code, lon: WORKER_CELL_POINT[0] - 0.0003, lat: WORKER_CELL_POINT[1] + 0.0003, description: `办结照片 ${RUN}-resolve` });
    // which worker of the cell the `worker` sign-in is: the one whose assignment it may accept
    const cellWorkers = (await api('worker', '/api/v1/workers')).features.map((f) => f.properties);
    let me = null;
    for (const w of cellWorkers) {
      await assignMakingRoom(c.id, w);
      const seen = await api('worker', `/api/v1/incidents/${c.id}`);
      if (seen.assignee_id === w.id && seen.actions.includes('accept')) {
        me = w;
        break;
      }
    }
    assert.ok(me, 'no worker of the cell is the `worker` sign-in');
    await act('worker', c.id, { action: 'accept' });
    await act('worker', c.id, { action: 'start' });

    const worker = await openAs('worker');
    await openCase(worker, c.id);
    const sent = recordUploads(worker);
    const resolve = worker.locator('#case-actions-buttons button[data-action="resolve"]');
    await eventually(() => resolve.isVisible(), { message: 'resolve is not offered to the worker' });

    // a photo the server refuses: the case is not resolved
    await resolve.click();
    await worker.locator('#app-dialog').waitFor();
    await worker.locator('#resolve-photos-input').setInputFiles({ name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('text, not a PNG') });
    await worker.locator('#app-dialog-input').fill('已调解');
    const refused = worker.waitForResponse((r) => r.url().includes(`/api/v1/incidents/${c.id}/photos`));
    await worker.locator('#app-dialog-ok').click();
    assert.equal((await refused).status(), 415);
    await worker.locator('#case-action-message[data-kind="error"]').waitFor();
    const said = await worker.locator('#case-action-message').textContent();
    assert.ok(said.startsWith('未办结') && said.includes('broken.png'), said);
    assert.deepEqual(sent, [`/api/v1/incidents/${c.id}/photos?stage=resolution`]);
    assert.equal((await api('dispatcher', `/api/v1/incidents/${c.id}`)).status, 'in_progress');

    // with a PNG: uploaded (stage resolution), then resolved
    sent.length = 0;
    await resolve.click();
    await worker.locator('#app-dialog').waitFor();
    await worker.locator('#resolve-photos-input').setInputFiles({ name: '办结.png', mimeType: 'image/png', buffer: png(40, 40, 3) });
    await worker.locator('#resolve-photos-list .photo-preview[data-name="办结.png"]').waitFor();
    await worker.locator('#app-dialog-input').fill('已调解，现场已恢复');
    await worker.screenshot({ path: path.join(ARTIFACTS, 'photos-resolve-dialog.png') });
    await worker.locator('#app-dialog-ok').click();
    await worker.locator('#incident-detail .badges .badge-status[data-status="resolved"]').waitFor();
    assert.deepEqual(sent, [`/api/v1/incidents/${c.id}/photos?stage=resolution`, `/api/v1/incidents/${c.id}/actions`]);
    const detail = await api('dispatcher', `/api/v1/incidents/${c.id}`);
    assert.equal(detail.status, 'resolved');
    assert.equal(detail.photos.length, 1);
    const [kept] = detail.photos;
    assert.equal(kept.stage, 'resolution');
    await thumbnailDrawn(worker, kept.id);
    assert.equal(await worker.locator(`#case-photo-list .photo-tile[data-id="${kept.id}"] .photo-stage`).textContent(), '办结');
    await worker.screenshot({ path: path.join(ARTIFACTS, 'photos-resolved.png') });
    assertConsole([`415 (Unsupported Media Type) ${WANGGE_URL}/api/v1/incidents/${c.id}/photos`]);
    await worker.context().close();
  });

  it('keeps a photo from a grid worker outside whose cell its case is', async () => {
    const session = await api('worker', SESSION_PATH);
    assert.equal(session.area.level, 'grid_cell');
    const token = `${RUN}-elsewhere`;
    const c = await fileCase({ category: categories[0].code, lon: ELSEWHERE_POINT[0], lat: ELSEWHERE_POINT[1], description: `区外 ${token}` });
    assert.ok(c.grid_cell_code && c.grid_cell_code !== session.area.code, `the case is in ${c.grid_cell_code}`);
    const photo = await api('dispatcher', `/api/v1/incidents/${c.id}/photos?stage=report`, {
      method: 'POST',
      headers: { 'Content-Type': 'image/png' },
      body: png(24, 24, 4),
    });
    assert.equal(await statusOf('dispatcher', photo.url), 200);

    // outside their cell: the photo, its thumbnail, the list and the case are not there for them
    assert.equal(await statusOf('worker', photo.url), 404);
    assert.equal(await statusOf('worker', photo.thumbnail_url), 404);
    assert.equal(await statusOf('worker', `/api/v1/incidents/${c.id}/photos`), 404);
    assert.equal(await statusOf('worker', `/api/v1/incidents/${c.id}`), 404);
    assert.equal((await api('worker', `/api/v1/incidents?q=${encodeURIComponent(token)}&limit=5`)).total, 0);

    // the same in their browser: the photo's URL answers 404, and an <img> of it draws nothing
    const worker = await openAs('worker');
    const seen = await worker.evaluate(async (url) => {
      const status = (await fetch(url)).status;
      const img = new Image();
      const drawn = await new Promise((resolve) => {
        img.onload = () => resolve(img.naturalWidth);
        img.onerror = () => resolve(0);
        img.src = url;
      });
      return { status, drawn };
    }, photo.url);
    assert.deepEqual(seen, { status: 404, drawn: 0 });
    assertConsole([`404 (Not Found) ${WANGGE_URL}${photo.url}`]);
    await worker.context().close();
  });
});
