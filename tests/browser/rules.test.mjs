// Browser test of the rules view (规则): the deadlines per severity and tier
// and the duplicate reach per category, read by everyone and changed only by
// a city-wide administrator, against a running wangge server:
//
//   WANGGE_URL=http://127.0.0.1:18080 WANGGE_DEMO_PASSWORD=... node --test tests/browser/
//
// What the view shows is compared with the API's answer; what it saves is
// read back from the API. Every rule the test changes is put back as it was
// at the end (the other browser tests share the demo's database).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  VIEWPORT,
  WANGGE_URL,
  apiSignIn,
  consoleWatch,
  demoPassword,
  eventually,
  launchBrowser,
  resourceError,
  signInAndWaitForReady,
  waitForResourceError,
} from './browser.mjs';

const ARTIFACTS = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');
const TIMEOUT = 90_000;
const SUITE_TIMEOUT = 10 * 60_000;
const SESSION_PATH = '/api/v1/session';
const ADMIN = 'admin';
const SEVERITIES = ['minor', 'moderate', 'major', 'critical'];
const TIERS = ['village', 'township', 'county', 'city'];

/** Cookie header of the test's own (Node-side) administrator session, to read and restore the rules. */
let adminCookie;

async function api(pathAndQuery, init = {}) {
  const res = await fetch(`${WANGGE_URL}${pathAndQuery}`, {
    ...init,
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', Cookie: adminCookie, ...(init.headers ?? {}) },
  });
  assert.ok(res.status === 200 || res.status === 204, `${init.method ?? 'GET'} ${pathAndQuery} answered ${res.status}`);
  return res.status === 204 ? null : res.json();
}

const deadlines = () => api('/api/v1/incident-deadlines');
const categories = () => api('/api/v1/incident-categories');
const hoursOf = (rules, category, severity, tier) =>
  rules.find((r) => r.category === category && r.severity === severity && r.tier === tier)?.hours ?? null;

/** The deadline table as shown: {severity/tier: {hours, source, input}} (input: the field's text, if any). */
function shownDeadlines(page) {
  return page.evaluate(() =>
    Object.fromEntries(
      [...document.querySelectorAll('#rules-deadlines td[data-severity]')].map((td) => [
        `${td.dataset.severity}/${td.dataset.tier}`,
        { hours: td.dataset.hours, source: td.dataset.source, input: td.querySelector('input')?.value ?? null },
      ]),
    ),
  );
}

/** Opens the rules view and waits until it has loaded. */
async function openRules(page) {
  await page.locator('#view-rules').click();
  await page.locator('#rules-view[data-state="ready"]').waitFor();
  assert.equal(await page.locator('#view-rules').getAttribute('aria-pressed'), 'true');
  assert.equal(await page.evaluate(() => document.body.dataset.view), 'rules');
}

describe('the rules view', { timeout: SUITE_TIMEOUT }, () => {
  let browser;
  const { watch, assertConsoleErrors } = consoleWatch(TIMEOUT);
  /** The rules as they were before the test, put back after it. */
  let before_;

  before(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    adminCookie = await apiSignIn(ADMIN, demoPassword());
    before_ = { deadlines: await deadlines(), categories: await categories() };
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    if (!before_) return;
    // put back what the test changed
    const now = await deadlines();
    for (const r of now) {
      const was = hoursOf(before_.deadlines, r.category, r.severity, r.tier);
      if (was === null) {
        const q = new URLSearchParams({ category: r.category, severity: r.severity, tier: r.tier });
        await api(`/api/v1/incident-deadlines?${q}`, { method: 'DELETE' });
      } else if (was !== r.hours) {
        await api('/api/v1/incident-deadlines', { method: 'PUT', body: JSON.stringify({ ...r, hours: was }) });
      }
    }
    for (const c of before_.categories) {
      await api(`/api/v1/incident-categories/${c.code}`, {
        method: 'PATCH',
        body: JSON.stringify({ duplicate_radius_m: c.duplicate_radius_m, duplicate_window_hours: c.duplicate_window_hours }),
      });
    }
  });

  /**
   * Runs `use(page)` on a new page signed in as `user`, on the map; then closes it and checks
   * that nothing unexpected was logged.
   */
  async function asUser(user, use) {
    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    try {
      const page = watch(await context.newPage());
      const sessionCheck = waitForResourceError(page, resourceError(401, SESSION_PATH));
      await page.goto(`${WANGGE_URL}/?lang=zh-CN`);
      await signInAndWaitForReady(page, user);
      await sessionCheck;
      assertConsoleErrors([resourceError(401, SESSION_PATH)]);
      await use(page);
    } finally {
      await context.close();
    }
    assertConsoleErrors();
  }

  it('shows an operator the deadlines and duplicate reach the API holds, read only', async () => {
    await asUser('operator', async (page) => {
      await openRules(page);
      assert.equal(await page.locator('#rules-view-heading').textContent(), '案件规则');
      assert.equal(await page.locator('#rules-view').getAttribute('data-mode'), 'view');
      assert.match(await page.locator('#rules-access').textContent(), /仅供查看/);
      assert.equal(await page.locator('#rules-view input').count(), 0, 'inputs shown to an operator');
      assert.equal(await page.locator('#rules-deadlines-save').isVisible(), false, 'a save button shown to an operator');
      assert.equal(await page.locator('.side').isVisible(), false, 'the map panels stay over the rules view');

      const rules = await deadlines();
      const shown = await shownDeadlines(page);
      for (const severity of SEVERITIES) {
        for (const tier of TIERS) {
          assert.equal(shown[`${severity}/${tier}`]?.hours, String(hoursOf(rules, null, severity, tier)), `default ${severity}/${tier}`);
        }
      }
      // a category: its own rules where it has them, the default elsewhere, marked so
      const cats = await categories();
      const withOwn = cats.find((c) => rules.some((r) => r.category === c.code)) ?? cats[0];
      await page.locator('#rules-scope').selectOption(withOwn.code);
      const forCategory = await shownDeadlines(page);
      for (const severity of SEVERITIES) {
        for (const tier of TIERS) {
          const own = hoursOf(rules, withOwn.code, severity, tier);
          const cell = forCategory[`${severity}/${tier}`];
          assert.equal(cell.hours, String(own ?? hoursOf(rules, null, severity, tier)), `${withOwn.code} ${severity}/${tier}`);
          assert.equal(cell.source, own === null ? 'default' : 'own');
        }
      }
      assert.equal(
        await page.locator('#rules-deadlines td[data-source="default"] .rules-inherited').count(),
        Object.values(forCategory).filter((c) => c.source === 'default').length,
      );

      const reach = await page.evaluate(() =>
        [...document.querySelectorAll('#rules-reach tbody tr')].map((tr) => ({
          code: tr.dataset.code,
          radius: tr.querySelector('[data-field="duplicate_radius_m"]').dataset.value,
          hours: tr.querySelector('[data-field="duplicate_window_hours"]').dataset.value,
        })),
      );
      assert.deepEqual(
        reach,
        cats.map((c) => ({ code: c.code, radius: String(c.duplicate_radius_m), hours: String(c.duplicate_window_hours) })),
      );
      await page.screenshot({ path: path.join(ARTIFACTS, 'rules-view.png') });

      await page.locator('#view-map').click();
      assert.ok(await page.locator('#incidents-panel').isVisible(), 'no incident list back on the map view');
      assert.equal(await page.locator('#rules-view').isVisible(), false);
    });
  });

  it('lets a city-wide administrator change a category’s deadline, and drop it so the default applies again', async () => {
    await asUser(ADMIN, async (page) => {
      await openRules(page);
      assert.equal(await page.locator('#rules-view').getAttribute('data-mode'), 'edit');
      assert.match(await page.locator('#rules-access').textContent(), /市级管理员/);
      const rules = await deadlines();
      const cats = await categories();
      // a category without its own rule for major cases at the township tier
      const category = cats.find((c) => hoursOf(rules, c.code, 'major', 'township') === null);
      assert.ok(category, 'every category has its own major/township rule');
      const fallback = hoursOf(rules, null, 'major', 'township');
      await page.locator('#rules-scope').selectOption(category.code);
      const input = page.locator('#rules-deadlines input[data-severity="major"][data-tier="township"]');
      assert.equal(await input.inputValue(), '', 'a rule the category does not have is shown as its own');
      assert.equal(await input.getAttribute('placeholder'), `默认 ${fallback.toLocaleString('zh-CN')}`);
      assert.equal(await page.locator('#rules-deadlines-save').isDisabled(), true, 'Save enabled with nothing changed');

      const own = fallback + 7;
      await input.fill(String(own));
      assert.equal(await page.locator('#rules-scope').isDisabled(), true, 'the scope can change under unsaved edits');
      await page.locator('#rules-deadlines-save').click();
      await page.locator('#rules-deadlines-message[data-kind="saved"]').waitFor();
      assert.equal(await page.locator('#rules-deadlines-message').textContent(), '已保存 1 项修改');
      assert.equal(hoursOf(await deadlines(), category.code, 'major', 'township'), own);
      let shown = await shownDeadlines(page);
      assert.deepEqual(shown['major/township'], { hours: String(own), source: 'own', input: String(own) });
      assert.equal(await page.locator('#rules-scope').isDisabled(), false);
      // the scope list counts the category's own rules
      assert.match(await page.locator(`#rules-scope option[value="${category.code}"]`).textContent(), /项自定/);

      // emptied: the rule is dropped, the default applies again
      await input.fill('');
      await page.locator('#rules-deadlines-save').click();
      await page.locator('#rules-deadlines-message[data-kind="saved"]').waitFor();
      assert.equal(hoursOf(await deadlines(), category.code, 'major', 'township'), null, 'the emptied rule is still held');
      shown = await shownDeadlines(page);
      assert.deepEqual(shown['major/township'], { hours: String(fallback), source: 'default', input: '' });
    });
  });

  it('refuses a deadline out of range, or an emptied default, before sending anything', async () => {
    await asUser(ADMIN, async (page) => {
      const writes = [];
      page.on('request', (r) => {
        if (r.method() !== 'GET') writes.push(`${r.method()} ${r.url()}`);
      });
      await openRules(page);
      const rulesBefore = await deadlines();
      const cell = (severity, tier) => page.locator(`#rules-deadlines input[data-severity="${severity}"][data-tier="${tier}"]`);
      for (const bad of ['0', '8761', '2.5', '']) {
        await cell('minor', 'village').fill(bad);
        await cell('minor', 'county').fill('12'); // a good change beside it is not sent either
        await page.locator('#rules-deadlines-save').click();
        const message = page.locator('#rules-deadlines-message[data-kind="invalid"]');
        await message.waitFor();
        assert.match(await message.textContent(), /1 至 8,760 之间的整数小时/, `message for ${JSON.stringify(bad)}`);
        assert.equal(await cell('minor', 'village').getAttribute('aria-invalid'), 'true');
        assert.equal(await cell('minor', 'county').getAttribute('aria-invalid'), 'false');
        assert.equal(await page.evaluate(() => document.activeElement?.dataset?.tier), 'village', 'focus not on the bad field');
      }
      assert.deepEqual(writes, [], 'a request was sent for an invalid table');
      assert.deepEqual(await deadlines(), rulesBefore, 'the rules changed');

      // 还原 puts the table back as saved
      await page.locator('#rules-deadlines-revert').click();
      const shown = await shownDeadlines(page);
      assert.equal(shown['minor/village'].input, String(hoursOf(rulesBefore, null, 'minor', 'village')));
      assert.equal(shown['minor/county'].input, String(hoursOf(rulesBefore, null, 'minor', 'county')));
      assert.equal(await page.locator('#rules-deadlines-save').isDisabled(), true);
      assert.equal(await page.locator('#rules-deadlines-message').isVisible(), false);

      // For a category an empty field means "the default": text the field cannot read as a
      // number (which the browser gives as an empty value) is refused, not taken for that.
      const category = (await categories()).find((c) => hoursOf(rulesBefore, c.code, 'minor', 'village') === null);
      assert.ok(category, 'every category has its own minor/village rule');
      await page.locator('#rules-scope').selectOption(category.code);
      await cell('minor', 'village').pressSequentially('1e');
      await page.locator('#rules-deadlines-save').click();
      await page.locator('#rules-deadlines-message[data-kind="invalid"]').waitFor();
      assert.match(await page.locator('#rules-deadlines-message').textContent(), /留空则使用默认/);
      assert.equal(await cell('minor', 'village').getAttribute('aria-invalid'), 'true');
      assert.deepEqual(writes, [], 'a request was sent for text that is not a number');
      assert.deepEqual(await deadlines(), rulesBefore, 'the rules changed');
    });
  });

  it('saves the duplicate reach of a category, keeps edits across a language switch, and shows a refusal', async () => {
    await asUser(ADMIN, async (page) => {
      await openRules(page);
      const [category] = await categories();
      const radius = page.locator(`#rules-reach input[data-code="${category.code}"][data-field="duplicate_radius_m"]`);
      const window_ = page.locator(`#rules-reach input[data-code="${category.code}"][data-field="duplicate_window_hours"]`);
      const newRadius = category.duplicate_radius_m === 50_000 ? 49_000 : category.duplicate_radius_m + 25;
      await radius.fill(String(newRadius));

      // English: labels change, the edit stays
      await page.locator('#lang-switch').click();
      assert.equal(await page.locator('#rules-view-heading').textContent(), 'Case rules');
      assert.equal(await page.locator('#rules-reach-heading').textContent(), 'Possible duplicates');
      assert.equal(await radius.inputValue(), String(newRadius), 'the edit was lost on a language switch');
      assert.equal(await page.locator('#rules-reach-save').isDisabled(), false);
      await page.locator('#lang-switch').click();

      await page.locator('#rules-reach-save').click();
      await page.locator('#rules-reach-message[data-kind="saved"]').waitFor();
      const saved = (await categories()).find((c) => c.code === category.code);
      assert.equal(saved.duplicate_radius_m, newRadius);
      assert.equal(saved.duplicate_window_hours, category.duplicate_window_hours, 'the window changed with the radius');
      assert.equal(await radius.inputValue(), String(newRadius));

      // the server refuses (here: the session's rights were taken meanwhile): the reason is
      // shown and the view shows what the server holds
      await page.route(`${WANGGE_URL}/api/v1/incident-categories/${category.code}`, (route) =>
        route.fulfill({
          status: 403,
          contentType: 'application/problem+json',
          body: JSON.stringify({ type: 'https://wangge.example/problems/forbidden', title: 'Forbidden', status: 403, detail: '无权修改规则' }),
        }),
      );
      const refused = waitForResourceError(page, resourceError(403, `/api/v1/incident-categories/${category.code}`));
      await window_.fill(String(category.duplicate_window_hours + 1));
      await page.locator('#rules-reach-save').click();
      await refused;
      const message = page.locator('#rules-reach-message[data-kind="error"]');
      await message.waitFor();
      assert.equal(await message.textContent(), '保存失败 (403): 无权修改规则');
      await eventually(async () => (await window_.inputValue()) === String(category.duplicate_window_hours), {
        message: 'the refused value is still shown as if saved',
      });
      await page.unroute(`${WANGGE_URL}/api/v1/incident-categories/${category.code}`);
      assertConsoleErrors([resourceError(403, `/api/v1/incident-categories/${category.code}`)]);
      await page.screenshot({ path: path.join(ARTIFACTS, 'rules-edit.png') });
    });
  });

  it('leaves the rules view on signing out, and shows the next user’s rights', async () => {
    await asUser(ADMIN, async (page) => {
      await openRules(page);
      await page.locator('#sign-out').click();
      await page.waitForFunction(() => document.body.dataset.auth === 'signed-out');
      assert.equal(await page.evaluate(() => document.body.dataset.view), 'map');
      assert.equal(await page.locator('#rules-view input').count(), 0, 'the administrator’s inputs left after sign-out');
      await signInAndWaitForReady(page, 'operator');
      await openRules(page);
      assert.equal(await page.locator('#rules-view').getAttribute('data-mode'), 'view');
      assert.equal(await page.locator('#rules-view input').count(), 0);
    });
  });
});
