import { launchBrowser, signInAndWaitForReady, WANGGE_URL, VIEWPORT, jumpToAndWaitSettled } from './browser.mjs';
const browser = await launchBrowser();
const page = await (await browser.newContext({ viewport: VIEWPORT })).newPage();
page.on('console', (m) => m.type() === 'error' && console.log('console', m.text(), m.location().url));
page.on('crash', () => console.log('CRASH'));
page.on('pageerror', (e) => console.log('pageerror', e.message));
let cells;
const cats = ['new-hot-spot','consecutive-hot-spot','intensifying-hot-spot','persistent-hot-spot','diminishing-hot-spot','sporadic-hot-spot','oscillating-hot-spot','historical-hot-spot','new-cold-spot','persistent-cold-spot','no-pattern','no-pattern','no-pattern'];
await page.route('**/api/v1/analysis/**', async (route) => {
  const u = new URL(route.request().url());
  if (u.pathname.endsWith('/alerts')) return route.fulfill({ json: { items: [{ id: 3, kind: 'emerging-hotspot', category: 'new-hot-spot', grid_cell_code: cells?.features[5].properties.code ?? '530402001001-01', grid_cell_name: '荷花社区第一网格', village_name: '荷花社区', reason: '近 4 周事件数显著高于周边，且为首次成为热点', at: new Date().toISOString() }], total: 1 } });
  if (!cells) cells = await (await route.fetch({ url: `${WANGGE_URL}/api/v1/grid-cells` })).json();
  let i = 0;
  const features = cells.features.map((f) => {
    i++;
    const x = f.geometry.coordinates.flat(3)[0];
    const z = Math.sin(i * 12.9898) * 3.5;
    const bin = Math.abs(z) > 2.58 ? 3 * Math.sign(z) : Math.abs(z) > 1.96 ? 2 * Math.sign(z) : Math.abs(z) > 1.65 ? Math.sign(z) : 0;
    const count = Math.round(10 + z * 5 + (i % 7));
    return { type: 'Feature', geometry: f.geometry, properties: { unit: 'grid-cell', code: f.properties.code, name: f.properties.name, count, open_count: 1, households: i % 9 ? 100 + i : null, per_1000_households: i % 9 ? (count * 1000) / (100 + i) : null, village_name: '某村', township_name: '某镇', gi: z, z, p: 0.01, p_sim: 0.01, bin, category: cats[i % cats.length], trend_z: 1, trend_p: 0.1, bins: [0, 1], i: z, quadrant: ['HH','HL','LH','LL'][i % 4], significant: i % 3 === 0 } };
  });
  await route.fulfill({ status: 200, contentType: 'application/geo+json', body: JSON.stringify({ type: 'FeatureCollection', unit: 'grid-cell', features }) });
});
await page.goto(`${WANGGE_URL}/?lang=${process.argv[2] ?? 'zh-CN'}`);
await signInAndWaitForReady(page);
await page.locator('#analysis-toggle').click();
await jumpToAndWaitSettled(page, { center: [102.55, 24.35], zoom: 11 });
for (const l of ['choropleth', 'hotspots', 'moran', 'emerging']) {
  await page.locator(`#analysis-area-${l}`).check();
  console.log(l, await page.evaluate((l) => window.__wangge.analysis.drawn(l), l));
  await page.screenshot({ path: `/tmp/wtc/area-${l}.png` });
  if (l === 'hotspots') {
    const moved = page.evaluate(() => new Promise((r) => window.__wangge.map.once('moveend', r)));
    await page.locator('#hotspot-table tbody tr').nth(2).click();
    console.log('clicked');
    await moved; console.log('moved');
    await page.evaluate(() => window.__wangge.settled());
    console.log('hl', await page.evaluate(() => window.__wangge.analysis.highlighted()));
    await page.screenshot({ path: `/tmp/wtc/area-hot-fly.png` });
  }
}
await page.locator('#alerts-bell').click();
await page.screenshot({ path: `/tmp/wtc/alerts.png` });
await browser.close();
