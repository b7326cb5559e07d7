import { launchBrowser, signInAndWaitForReady, WANGGE_URL, VIEWPORT, jumpToAndWaitSettled } from './browser.mjs';
const browser = await launchBrowser();
const page = await (await browser.newContext({ viewport: VIEWPORT })).newPage();
page.on('console', (m) => console.log('console', m.type(), m.text(), m.location().url));
page.on('pageerror', (e) => console.log('pageerror', e.message));
await page.goto(`${WANGGE_URL}/?lang=zh-CN`);
await signInAndWaitForReady(page);
await page.locator('#analysis-toggle').click();
await jumpToAndWaitSettled(page, { center: [102.55, 24.35], zoom: 9 });
await page.locator('#analysis-heat').check();
console.log('heat', await page.evaluate(() => window.__wangge.analysis.drawn('heat')), await page.evaluate(() => window.__wangge.analysis.tiles('heat')));
await page.screenshot({ path: '/tmp/wtc/heat.png' });
const step = process.argv[2];
if (step === 'hot') {
  await page.locator('#analysis-area-hotspots').check();
  console.log('hot', await page.evaluate(() => window.__wangge.analysis.drawn('hotspots')));
  console.log(await page.locator('#analysis-error').textContent());
  await page.screenshot({ path: '/tmp/wtc/hot.png' });
}
await browser.close();
