#!/usr/bin/env node
// Takes a 1280x800 screenshot of the map client, e.g. for the README:
//
//   WANGGE_URL=http://127.0.0.1:18080 node tests/browser/screenshot.mjs '#10.6/24.35/102.55' docs/map.png
//   WANGGE_URL=... node tests/browser/screenshot.mjs '10.6/24.35/102.55' /tmp/map-en.png --lang=en
//
// The hash is MapLibre's `#zoom/lat/lon` (the leading # is optional; an empty
// string keeps the default view of all of Yuxi). Waits for
// `window.__wangge.ready` and the map's `idle` before shooting.

import { mkdir } from 'node:fs/promises';
import path from 'node:path';

import { VIEWPORT, WANGGE_URL, launchBrowser, waitForReady, waitIdle } from './browser.mjs';

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

const hash = rawHash.replace(/^#/, '');
const url = `${WANGGE_URL}/${lang ? `?lang=${encodeURIComponent(lang)}` : ''}${hash ? `#${hash}` : ''}`;

const browser = await launchBrowser();
try {
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  const page = await context.newPage();
  page.setDefaultTimeout(120_000);
  page.on('console', (msg) => {
    if (msg.type() === 'error') console.error(`console error: ${msg.text()}`);
  });
  page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
  await page.goto(url);
  await waitForReady(page);
  await waitIdle(page);
  await mkdir(path.dirname(path.resolve(out)), { recursive: true });
  await page.screenshot({ path: out });
  console.log(`${url} -> ${out}`);
} finally {
  await browser.close();
}
