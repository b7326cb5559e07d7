// Shared by map.test.mjs and screenshot.mjs: where the server is and how to
// start Debian's Chromium (never a downloaded browser build).
import { chromium } from 'playwright-core';

export const WANGGE_URL = (process.env.WANGGE_URL ?? 'http://127.0.0.1:18080').replace(/\/+$/, '');

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--use-angle=swiftshader',
  '--enable-unsafe-swiftshader',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // nothing but the server under test is reachable
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

export const VIEWPORT = { width: 1280, height: 800 };

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: LAUNCH_ARGS });
}

/** Waits until the page's `window.__wangge.ready` has resolved (rejects if it rejected). */
export async function waitForReady(page) {
  await page.waitForFunction(() => window.__wangge !== undefined);
  await page.evaluate(() => window.__wangge.ready);
}

/**
 * Moves the map and waits for its next `idle`. `view` is either a camera
 * ({center, zoom}) or {bounds: [minLon, minLat, maxLon, maxLat], padding}.
 * The `idle` listener is registered before the view changes, and a repaint is
 * forced so that `idle` comes even when the view does not change.
 * Returns the resulting {zoom, center}.
 */
export function jumpToAndWaitIdle(page, view) {
  return page.evaluate(async (view) => {
    const { map } = window.__wangge;
    const camera = view.bounds ? map.cameraForBounds(view.bounds, { padding: view.padding ?? 40 }) : view;
    const idle = new Promise((resolve) => map.once('idle', resolve));
    map.jumpTo(camera);
    map.triggerRepaint();
    await idle;
    return { zoom: map.getZoom(), center: map.getCenter().toArray() };
  }, view);
}

/** Waits for the map's next `idle` (after forcing a repaint). */
export function waitIdle(page) {
  return page.evaluate(async () => {
    const { map } = window.__wangge;
    const idle = new Promise((resolve) => map.once('idle', resolve));
    map.triggerRepaint();
    await idle;
  });
}
