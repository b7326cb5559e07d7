import { launchBrowser, signInAndWaitForReady, WANGGE_URL, VIEWPORT, jumpToAndWaitSettled } from './browser.mjs';
const browser = await launchBrowser();
const page = await (await browser.newContext({ viewport: VIEWPORT })).newPage();
page.on('pageerror', (e) => console.log('pageerror', e.message));
await page.goto(`${WANGGE_URL}/?lang=zh-CN`);
await signInAndWaitForReady(page);
await page.locator('#analysis-toggle').click();
for (const z of [8, 9, 10.5, 12]) {
  await jumpToAndWaitSettled(page, { center: [102.58, 24.33], zoom: z });
  if (z === 8) await page.locator('#analysis-heat').check();
  await page.evaluate(() => window.__wangge.analysis.drawn('heat'));
  const r = await page.evaluate(() => {
    const fs = window.__wangge.map.querySourceFeatures('analysis-heat', { sourceLayer: 'incidents' });
    const by = new Map(); for (const f of fs) by.set(f.properties.h3, f.properties.count);
    const c = [...by.values()].sort((a, b) => a - b);
    return { n: c.length, sum: c.reduce((a, b) => a + b, 0), max: c[c.length - 1], med: c[Math.floor(c.length / 2)], res: fs[0]?.properties.resolution };
  });
  console.log(z, JSON.stringify(r));
  await page.screenshot({ path: `/tmp/wtc/heat-${z}.png` });
}
await browser.close();
