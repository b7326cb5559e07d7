// Bootstrap: the session (sign-in form until there is one), the map, its data
// from the API, the panels, and the test hook `window.__wangge = { map, ready,
// session }`.

import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';

import {
  Map as MapLibreMap,
  NavigationControl,
  Popup,
  ScaleControl,
  setWorkerUrl,
  type GeoJSONSource,
  type MapGeoJSONFeature,
  type MapMouseEvent,
} from 'maplibre-gl';
// maplibre-gl 6 is ESM only and finds its worker next to its own module by
// default; once bundled it is not there, so the worker file is emitted as an
// asset and its URL handed over explicitly.
import workerUrl from 'maplibre-gl/dist/maplibre-gl-worker.mjs?url';
import type { FeatureCollection, Geometry, MultiPolygon, Polygon } from 'geojson';

import {
  ApiError,
  fetchAdminUnits,
  fetchFacilities,
  fetchGridCells,
  fetchSession,
  fetchStatsSummary,
  isUnauthenticated,
  signOut,
  type AdminLevel,
  type AdminUnitProperties,
  type FacilityProperties,
  type GridCellProperties,
  type Session,
} from './api';
import { labelPoints } from './geo';
import { applyDocumentLang, mapLocale, onLangChange, t, type MessageKey } from './i18n';
import {
  AREA_SOURCES,
  CLICKABLE_LAYERS,
  DATA_SOURCES,
  FACILITY_SOURCE,
  GROUP_LAYERS,
  buildStyle,
  labelSourceId,
  type AreaSource,
} from './layers';
import { createLoginScreen, type LoginReason } from './login';
import { createUi, popupContent, type Selection } from './ui';

declare global {
  interface Window {
    __wangge?: {
      map: MapLibreMap;
      /**
       * Resolves once signed in and every data source is loaded and drawn.
       * A new promise after each sign-out or expiry (for the next sign-in).
       */
      readonly ready: Promise<void>;
      /** The session: pending while checked, then the session JSON, or null when signed out. */
      readonly session: Promise<Session | null>;
    };
  }
}

/** Initial view (the whole of Yuxi) unless the URL hash says otherwise. */
const YUXI_CENTER: [number, number] = [102.3, 24.2];
const YUXI_ZOOM = 8;

applyDocumentLang();
setWorkerUrl(workerUrl);

const container = document.getElementById('map');
const uiRoot = document.getElementById('ui');
if (!container || !uiRoot) throw new Error('index.html must have #map and #ui');

const map = new MapLibreMap({
  container,
  style: buildStyle(),
  center: YUXI_CENTER,
  zoom: YUXI_ZOOM,
  minZoom: 5,
  maxZoom: 18,
  hash: true,
  locale: mapLocale(),
  attributionControl: { compact: true },
  dragRotate: false,
  pitchWithRotate: false,
});
map.touchZoomRotate.disableRotation();

let navigation = new NavigationControl({ showCompass: false });
let scale = new ScaleControl({ unit: 'metric' });
map.addControl(navigation, 'top-right');
map.addControl(scale, 'bottom-left');

const ui = createUi(uiRoot, {
  onToggleGroup(group, visible) {
    for (const id of GROUP_LAYERS[group]) {
      if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    }
  },
  onSignOut: () => signOutNow(),
});
const login = createLoginScreen(document.body);

// ---------------------------------------------------------------- data

// Map errors: MapLibre only logs them itself when nobody listens, so log them
// here (the browser test fails on console errors) and show them in the banner.
// An error before the style has loaded (an invalid style) means the style
// will never load: `ready` rejects instead of hanging.
let rejectStyle: (err: unknown) => void = () => {};
const styleLoaded = new Promise<void>((resolve, reject) => {
  rejectStyle = reject;
  map.once('load', () => resolve());
});
map.on('error', (e) => {
  console.error(e.error);
  ui.showError(e.error?.message ?? String(e.error));
  if (!map.isStyleLoaded()) rejectStyle(e.error);
});

function describeError(what: MessageKey, err: unknown): string {
  if (err instanceof ApiError) {
    const status = err.status ? ` (${err.status})` : '';
    const detail = err.status === null ? t('error.network') : err.message;
    return `${t(what)}${status}: ${detail}`;
  }
  return `${t(what)}: ${err instanceof Error ? err.message : String(err)}`;
}

async function setSourceData(id: string, data: FeatureCollection): Promise<void> {
  await styleLoaded;
  const source = map.getSource<GeoJSONSource>(id);
  if (!source) throw new Error(`no source ${id}`);
  await source.setData(data);
}

/** Area features and their label points. */
async function loadArea(source: AreaSource, data: FeatureCollection<Geometry, object>): Promise<void> {
  const areas = data as FeatureCollection<Polygon | MultiPolygon, object>;
  await Promise.all([setSourceData(source, areas), setSourceData(labelSourceId(source), labelPoints(areas))]);
}

const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };

/** Empties every data source (on sign-out or expiry: nothing of the last user stays on the map). */
async function clearData(): Promise<void> {
  await Promise.all(DATA_SOURCES.map((id) => setSourceData(id, EMPTY)));
}

const LEVEL_LABEL: Record<AdminLevel, MessageKey> = {
  county: 'layer.county',
  township: 'layer.township',
  village: 'layer.village',
};

/**
 * One fetch per source. Errors go to the banner, except 401 (the session is
 * gone: the sign-in form says so) and those of an abandoned load (`signal`
 * aborted by a sign-out).
 */
function tasks(signal: AbortSignal): Promise<void>[] {
  const task = <T>(what: MessageKey, fetched: Promise<T>, use: (value: T) => unknown, onError?: () => void): Promise<void> =>
    fetched.then(
      async (value) => {
        if (!signal.aborted) await use(value);
      },
      (err: unknown) => {
        if (!signal.aborted && !isUnauthenticated(err)) {
          onError?.();
          ui.showError(describeError(what, err));
        }
        throw err;
      },
    );
  const admin = (level: AdminLevel): Promise<void> =>
    task(LEVEL_LABEL[level], fetchAdminUnits(level, undefined, signal), (fc) => loadArea(level, fc));
  return [
    admin('county'),
    admin('township'),
    admin('village'),
    task('layer.grid', fetchGridCells(undefined, signal), (fc) => loadArea('grid', fc)),
    task('layer.facility', fetchFacilities(undefined, undefined, signal), (fc) => setSourceData(FACILITY_SOURCE, fc)),
    task('stats.title', fetchStatsSummary(signal), (s) => ui.setStats(s, new Date()), () => ui.setStatsUnavailable()),
  ];
}

/** Resolves once every data source has its data and the map has drawn it. */
async function sourcesLoaded(): Promise<void> {
  for (;;) {
    const pending = DATA_SOURCES.filter((id) => !map.isSourceLoaded(id));
    if (pending.length === 0 && map.loaded()) return;
    await new Promise<void>((resolve) => map.once('idle', () => resolve()));
  }
}

/**
 * Style loaded, all API data in its sources, tiles for the current view
 * built. Rejects with the first 401 if any (the session has expired), else
 * with the first API error (after the others have settled: whatever loaded
 * is still shown).
 */
async function load(signal: AbortSignal): Promise<void> {
  await styleLoaded;
  const results = await Promise.allSettled(tasks(signal));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  await sourcesLoaded();
  const failed = failures.find(isUnauthenticated) ?? failures[0];
  if (failed !== undefined) throw failed;
}

// ---------------------------------------------------------------- session

// Signed out: the sign-in screen covers the page and the map and panels are
// inert. Signed in: the panels show the user; the data is loaded. A 401 from
// any data call, or the session found gone when it was due to expire, brings
// the form back with "session expired".

type AuthState = 'checking' | 'signed-out' | 'signed-in';

let sessionState: Promise<Session | null>;
let ready: Promise<void>;
/** Aborted when the signed-in session ends: its data loads are abandoned. */
let current: AbortController | null = null;
let authState: AuthState = 'checking';
let expiryTimer = 0;

function setAuthState(state: AuthState): void {
  authState = state;
  document.body.dataset['auth'] = state;
  const out = state !== 'signed-in';
  for (const node of [map.getContainer(), ui.root]) node.inert = out;
}

/** Longest setTimeout delay is 2^31-1 ms; far expiries are checked again daily. */
const MAX_TIMER_MS = 24 * 3600 * 1000;

/** When the session is due to expire, asks the server whether it still holds (it may have been renewed). */
function scheduleExpiryCheck(session: Session): void {
  window.clearTimeout(expiryTimer);
  const due = Date.parse(session.expires_at);
  if (Number.isNaN(due)) return;
  const delay = Math.min(Math.max(due - Date.now() + 1000, 0), MAX_TIMER_MS);
  expiryTimer = window.setTimeout(() => {
    fetchSession().then(
      (now) => {
        if (authState !== 'signed-in') return;
        if (now) {
          sessionState = Promise.resolve(now);
          ui.setSession(now);
          scheduleExpiryCheck(now);
        } else {
          endSession({ kind: 'expired' });
        }
      },
      () => {
        // server unreachable: ask again in a minute
        if (authState === 'signed-in') expiryTimer = window.setTimeout(() => scheduleExpiryCheck(session), 60_000);
      },
    );
  }, delay);
}

function enterSession(session: Session): void {
  sessionState = Promise.resolve(session);
  ui.setSession(session);
  login.hide();
  setAuthState('signed-in');
  scheduleExpiryCheck(session);
}

/** Forgets everything of the last session: data, popup, stats, errors, expiry check. */
function leaveSession(): void {
  window.clearTimeout(expiryTimer);
  popup?.remove();
  clearSelection();
  ui.reset();
  sessionState = Promise.resolve(null);
  setAuthState('signed-out');
  clearData().catch((err: unknown) => console.error(err));
}

/** Sign in (unless `session` is given), load the data; sign in again whenever a load answers 401. */
async function run(session: Session | null, reason: LoginReason | undefined, signal: AbortSignal): Promise<void> {
  for (;;) {
    if (!session) {
      setAuthState('signed-out');
      session = await login.prompt(reason);
    }
    enterSession(session);
    try {
      await load(signal);
      return;
    } catch (err) {
      if (signal.aborted || !isUnauthenticated(err)) throw err;
      leaveSession();
      session = null;
      reason = { kind: 'expired' };
    }
  }
}

function start(session: Session | null, reason?: LoginReason): void {
  current = new AbortController();
  ready = run(session, reason, current.signal);
  ready.catch(() => {
    // Already shown in the error banner; this only keeps the rejection from
    // being reported as unhandled when nobody awaits `ready`.
  });
}

/** The signed-in session is over (signed out, or found expired): back to the form. */
function endSession(reason: LoginReason): void {
  if (authState !== 'signed-in') return;
  current?.abort();
  leaveSession();
  start(null, reason);
}

async function signOutNow(): Promise<void> {
  try {
    await signOut();
  } catch (err) {
    ui.showError(describeError('user.signOutFailed', err));
    return;
  }
  endSession({ kind: 'signedOut' });
}

setAuthState('checking');
login.checking();
const checked = fetchSession().then(
  (session) => ({ session, reason: undefined }),
  (err: unknown) => ({ session: null, reason: { kind: 'checkFailed', error: err } as const }),
);
sessionState = checked.then(({ session }) => session);
ready = checked.then(({ session, reason }) => {
  start(session, reason);
  return ready; // the one start() has just set
});
ready.catch(() => {});

window.__wangge = {
  map,
  get ready() {
    return ready;
  },
  get session() {
    return sessionState;
  },
};

// ---------------------------------------------------------------- popups

let popup: Popup | null = null;
let selection: { selection: Selection; source: string; id: string | number } | null = null;

function clearSelection(): void {
  if (selection) map.setFeatureState({ source: selection.source, id: selection.id }, { selected: false });
  selection = null;
}

function toSelection(feature: MapGeoJSONFeature): Selection | null {
  const p = feature.properties as Record<string, unknown>;
  if (feature.source === FACILITY_SOURCE) return { kind: 'facility', properties: p as unknown as FacilityProperties };
  if (feature.source === 'grid') return { kind: 'grid', properties: p as unknown as GridCellProperties };
  if ((AREA_SOURCES as readonly string[]).includes(feature.source)) {
    const admin = p as unknown as AdminUnitProperties;
    return { kind: 'admin', properties: { ...admin, level: admin.level ?? (feature.source as AdminLevel) } };
  }
  return null;
}

function clickableLayers(): string[] {
  return CLICKABLE_LAYERS.filter((id) => map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none');
}

/** The most specific feature under the pointer (facility, then grid cell, village, township, county). */
function pick(e: MapMouseEvent): MapGeoJSONFeature | null {
  const layers = clickableLayers();
  if (layers.length === 0) return null;
  const features = map.queryRenderedFeatures(e.point, { layers });
  for (const layer of layers) {
    const hit = features.find((f) => f.layer.id === layer);
    if (hit) return hit;
  }
  return null;
}

map.on('click', (e) => {
  const feature = pick(e);
  popup?.remove();
  clearSelection();
  if (!feature || feature.id === undefined) return;
  const sel = toSelection(feature);
  if (!sel) return;
  selection = { selection: sel, source: feature.source, id: feature.id };
  map.setFeatureState({ source: feature.source, id: feature.id }, { selected: true });
  const opened = new Popup({ maxWidth: '300px', focusAfterOpen: false })
    .setLngLat(e.lngLat)
    .setDOMContent(popupContent(sel))
    .addTo(map);
  opened.on('close', () => {
    if (popup === opened) {
      clearSelection();
      popup = null;
    }
  });
  popup = opened;
});

let hoverFrame = 0;
map.on('mousemove', (e) => {
  if (hoverFrame) return;
  hoverFrame = requestAnimationFrame(() => {
    hoverFrame = 0;
    map.getCanvas().style.cursor = pick(e) ? 'pointer' : '';
  });
});

// ---------------------------------------------------------------- language

onLangChange(() => {
  // MapLibre reads its control strings when a control is added: refresh them.
  map._locale = { ...map._locale, ...mapLocale() };
  map.getCanvas().setAttribute('aria-label', t('map.title'));
  map.removeControl(navigation);
  map.removeControl(scale);
  navigation = new NavigationControl({ showCompass: false });
  scale = new ScaleControl({ unit: 'metric' });
  map.addControl(navigation, 'top-right');
  map.addControl(scale, 'bottom-left');
  if (popup && selection) popup.setDOMContent(popupContent(selection.selection));
});
