#!/usr/bin/env node
// Takes a 1280x800 screenshot of the map client, e.g. for the README:
//
//   WANGGE_URL=http://127.0.0.1:18080 WANGGE_DEMO_PASSWORD=... node tests/browser/screenshot.mjs '#10.6/24.35/102.55' docs/map.png
//   WANGGE_URL=... WANGGE_DEMO_PASSWORD=... node tests/browser/screenshot.mjs '10.6/24.35/102.55' /tmp/map-en.png --lang=en
//
// The hash is MapLibre's `#zoom/lat/lon` (the leading # is optional; an empty
// string keeps the default view of all of Yuxi). Signs in through the form as
// the demo's `operator` (password from WANGGE_DEMO_PASSWORD), then waits for
// `window.__wangge.ready` and for the map to settle before shooting.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { DEMO_USER, VIEWPORT, WANGGE_URL, demoPassword, launchBrowser, signInAndWaitForReady, waitSettled } from './browser.mjs';

function usage(message) {
  if (message) console.error(message);
  console.error('usage: node screenshot.mjs <hash, e.g. "#10.6/24.35/102.55"> <out.png> [--lang=en|zh-CN]');
  process.exit(2);
}

const positional = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
if (positional.length !== 2) usage();
const [rawHash, out] = positional;
let lang;
for (const flag of flags) {
  const m = flag.match(/^--lang=(.+)$/);
  if (m) lang = m[1];
  else usage(`unknown option ${flag}`);
}

let password;
try {
  password = demoPassword();
} catch (err) {
  console.error(err.message);
  process.exit(2);
}

const hash = rawHash.replace(/^#/, '');
const url = `${WANGGE_URL}/${lang ? `?lang=${encodeURIComponent(lang)}` : ''}${hash ? `#${hash}` : ''}`;

const browser = await launchBrowser({ mapPixelRatio: 1 });
try {
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(120_000);
  page.on('console', (msg) => {
    // the 401 of the session check before signing in is expected
    const expected = msg.text().includes('status of 401') && msg.location().url === `${WANGGE_URL}/api/v1/session`;
    if (msg.type() === 'error' && !expected) console.error(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.goto(url);
  await signInAndWaitForReady(page, DEMO_USER, password);
  await waitSettled(page);
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await page.screenshot({ path: out });
  console.log(`${url} -> ${out}`);
} finally {
  await browser.close();
}
