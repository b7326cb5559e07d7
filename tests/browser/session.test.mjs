// Browser test: a session ended elsewhere ends the map. Signed out in another
// tab (same cookie), the open map hears it on its live socket (close code
// 4401) and shows the sign-in page with "session ended", rather than
// reconnecting or waiting for a request to be refused.
//
//   WANGGE_URL=http://127.0.0.1:18080 WANGGE_DEMO_PASSWORD=... node --test tests/browser/

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';

import {
  VIEWPORT,
  WANGGE_URL,
  consoleWatch,
  launchBrowser,
  signInAndWaitForReady,
  waitForLoginForm,
} from './browser.mjs';

const TIMEOUT = 90_000;

describe('a session ended elsewhere', { timeout: 5 * 60_000 }, () => {
  let browser;
  let context;

  before(async () => {
    browser = await launchBrowser();
  });

  after(async () => {
    await context?.close();
    await browser?.close();
  });

  it('signed out in another tab: the map shows the sign-in page and stops its live feed', async () => {
    context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    const { consoleErrors, watch } = consoleWatch(TIMEOUT);
    watch(page);
    await page.goto(`${WANGGE_URL}/`);
    await signInAndWaitForReady(page);
    await page.locator('#live-status[data-status="live"]').waitFor();

    // The other tab: the same browser's cookie, signing out through the API.
    const other = await context.newPage();
    await other.goto(`${WANGGE_URL}/healthz`);
    const status = await other.evaluate(async () => (await fetch('/api/v1/session', { method: 'DELETE' })).status);
    assert.equal(status, 204);

    await waitForLoginForm(page);
    const message = page.locator('#login-message[data-kind="ended"]');
    await message.waitFor({ state: 'visible' });
    assert.equal(await message.textContent(), '会话已结束（已在别处退出或被撤销），请重新登录');
    assert.equal(await page.evaluate(() => window.__wangge.session), null);
    assert.equal(await page.evaluate(() => window.__wangge.live.status), 'idle', 'the live feed reconnects');
    // A live refresh already under way when the session ended elsewhere may be
    // answered 401; nothing else may be logged.
    const unexpected = consoleErrors.filter(
      (e) => !e.text.startsWith('Failed to load resource: the server responded with a status of 401 '),
    );
    assert.deepEqual(unexpected, [], 'unexpected console errors');
  });
});
