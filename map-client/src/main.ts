// Bootstrap: the session (sign-in form until there is one), the map's vector
// tile sources, the live feed, the panels, and the test hook (testhook.ts).

import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';

import type { FeatureCollection, MultiPolygon, Polygon } from 'geojson';

import {
  DEFAULT_FILTER,
  type ApiError,
  fetchAdminUnits,
  fetchCategories,
  fetchClientConfig,
  fetchHeadline,
  fetchSession,
  fetchStatsSummary,
  isUnauthenticated,
  signOut,
  type AdminLevel,
  type AdminUnitProperties,
  type IncidentFilter,
  type IncidentCategory,
  type Session,
} from './api';
import { addBasemap, hasBasemap, landOpacity, removeBasemap } from './basemap';
import { createCamera } from './camera';
import { createDispatchSection } from './dispatch';
import { describeError, sourceError } from './errors';
import { labelPoints } from './geo';
import { createHeadline } from './headline';
import { applyDocumentLang, type MessageKey } from './i18n';
import { addWorkerIcons } from './icons';
import { createIncidentPanel } from './incidents';
import { GridCellLabels } from './labels';
import {
  DATA_SOURCES,
  GROUP_LAYERS,
  TILE_LAYERS,
  isTileLayer,
  labelSourceId,
  type LabelledArea,
} from './layers';
import { LiveClient, type ChangesMessage } from './live';
import { createLoginScreen, type LoginReason } from './login';
import { createMap, watchErrors } from './map';
import { PulseOverlay } from './pulse';
import { TileRefresher, addTileSources, removeTileSources, transformRequest } from './tiles';
import { createRulesView } from './rules';
import { createMapSelection } from './selection';
import { createSources } from './sources';
import { createStatsView } from './stats';
import { exposeTestHook } from './testhook';
import { createUi } from './ui';
import { createViews } from './views';
import { createWorkerList } from './workerlist';
import { WorkerOverlay } from './workers';

/** `?plan=VERSION`: show a draft grid plan's cells instead of the published plan's. */
const PLAN = new URLSearchParams(window.location.search).get('plan');

applyDocumentLang();

const container = document.getElementById('map');
const uiRoot = document.getElementById('ui');
if (!container || !uiRoot) throw new Error('index.html must have #map and #ui');

let incidentFilter: IncidentFilter = { ...DEFAULT_FILTER };

const map = createMap(
  container,
  transformRequest(
    () => incidentFilter,
    () => PLAN,
  ),
);

const refresher = new TileRefresher(map, 1000);
const workers = new WorkerOverlay(map);
const pulses = new PulseOverlay(map);
const gridLabels = new GridCellLabels(map);

// ---------------------------------------------------------------- panels

const headline = createHeadline();
const dispatch = createDispatchSection({
  onCandidates(answer) {
    selection.setCandidateLines(answer);
    camera.fitCandidates(answer);
  },
  onAssigned() {
    panel.refreshSelected();
    refreshPanels();
  },
  onError: (what, err) => lateError(what, err),
  workerName: (id) => workerList.name(id),
});
const panel = createIncidentPanel({
  onFilterChange(filter) {
    incidentFilter = filter;
    // the incident tiles carry the filter in their URL (transformRequest)
    refresher.now('incidents');
  },
  onPick({ lon, lat }) {
    camera.flyTo(lon, lat);
  },
  onSelectionChange(_id, at) {
    selection.setIncidentPoint(at);
  },
  onError: (what, err) => lateError(what, err),
  detailSection: dispatch.root,
  onDetail: (detail) => dispatch.show(detail),
});
const workerList = createWorkerList({
  incidents: panel.list,
  onError: (what, err) => lateError(what, err),
});

const statsView = createStatsView({
  onError: (what, err) => lateError(what, err),
});

const rulesView = createRulesView({
  onError: (what, err) => lateError(what, err),
  onCategories: (c) => showCategories(c),
});

/** The incident panel and the statistics view name categories; each keeps the latest list. */
function showCategories(categories: IncidentCategory[]): void {
  panel.setCategories(categories);
  statsView.setCategories(categories);
}

const ui = createUi(uiRoot, {
  onToggleGroup(group, visible) {
    for (const id of GROUP_LAYERS[group]) {
      if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    }
    if (group === 'grid-cells') gridLabels.invalidate();
  },
  onSignOut: () => signOutNow(),
  headline: headline.root,
  right: [workerList.tabs, panel.list, workerList.root, panel.detail],
  statsView: statsView.root,
  rulesView: rulesView.root,
  onViewChange: (view) => views.show(view),
});
const login = createLoginScreen(document.body);

// ---------------------------------------------------------------- errors

/** A failure after the first load: a 401 means the session is gone; others go to the banner. */
function lateError(what: MessageKey, err: unknown): void {
  if (authState !== 'signed-in') return;
  if (isUnauthenticated(err)) {
    endSession({ kind: 'expired' });
    return;
  }
  ui.showError(describeError(what, err));
}

const styleLoaded = watchErrors(map, {
  showError: (message) => ui.showError(message),
  onTileUnauthenticated(err) {
    // during the first load the load itself fails with it
    if (!loading) lateError('tiles.title', err);
  },
});
const sources = createSources(map, styleLoaded);
const views = createViews({ map, ui, stats: statsView, rules: rulesView });
const camera = createCamera(map);
const selection = createMapSelection({
  map,
  sources,
  onIncident: (id, at) => void panel.select(id, at),
});

// ---------------------------------------------------------------- data

const ADMIN_LABELS: Record<AdminLevel, { area: LabelledArea; what: MessageKey }> = {
  county: { area: 'counties', what: 'layer.counties' },
  township: { area: 'townships', what: 'layer.townships' },
  village: { area: 'villages', what: 'layer.villages' },
};

/** One label point per unit of a level, from the admin-units GeoJSON (the polygons are not kept). */
async function loadAdminLabels(level: AdminLevel, signal?: AbortSignal): Promise<void> {
  const units = await fetchAdminUnits(level, undefined, signal);
  if (signal?.aborted) return;
  const points = labelPoints(units as FeatureCollection<Polygon | MultiPolygon, AdminUnitProperties>);
  await sources.set(labelSourceId(ADMIN_LABELS[level].area), points);
}

async function loadBasemap(signal: AbortSignal): Promise<void> {
  const config = await fetchClientConfig(signal);
  if (signal.aborted || !config.basemap) return;
  try {
    await addBasemap(map, config.basemap, signal);
  } catch (err) {
    // the data is fine without it: say so, but do not fail the load
    if (!signal.aborted) ui.showError(describeError('basemap.title', err));
  }
}

/**
 * One fetch per panel or label source. Errors go to the banner, except 401
 * (the session is gone: the sign-in form says so) and those of an abandoned
 * load (`signal` aborted by a sign-out).
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
  const admin = (level: AdminLevel): Promise<void> => task(ADMIN_LABELS[level].what, loadAdminLabels(level, signal), () => {});
  return [
    task('basemap.title', loadBasemap(signal), () => {}),
    admin('county'),
    admin('township'),
    admin('village'),
    task('categories.title', fetchCategories(signal), showCategories),
    task('incidents.title', panel.load(signal), () => {}),
    task('headline.title', fetchHeadline(signal), (h) => headline.set(h), () => headline.setUnavailable()),
    task('stats.title', fetchStatsSummary(signal), (s) => ui.setStats(s, new Date()), () => ui.setStatsUnavailable()),
  ];
}

/**
 * Resolves once every data source (tiles and area labels) has its data for
 * the current view and the map has drawn a frame since (or the load is
 * abandoned). The live overlays (workers, pulses) do not count: patched
 * several times a second, they would keep the whole map from ever being idle.
 */
async function sourcesLoaded(signal: AbortSignal): Promise<void> {
  const settled = (): boolean => DATA_SOURCES.every((id) => !map.getSource(id) || map.isSourceLoaded(id));
  for (;;) {
    if (signal.aborted) return;
    if (settled() && !map.isMoving()) {
      // a frame drawn with that data
      await new Promise<void>((resolve) => {
        map.once('render', () => resolve());
        map.triggerRepaint();
      });
      // (a camera move may have begun meanwhile: a new ranking fitted)
      if (settled() && !map.isMoving()) return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        map.off('idle', done);
        map.off('sourcedata', done);
        resolve();
      };
      map.on('idle', done);
      map.on('sourcedata', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/** True while the first load of a session runs (tile errors then fail the load). */
let loading = false;

/**
 * Style loaded, tile sources added, the live feed started, all API data in
 * the panels and label sources, tiles for the current view built. Rejects
 * with the first 401 if any (the session has expired), else with the first
 * error (after the others have settled: whatever loaded is still shown).
 */
async function load(signal: AbortSignal): Promise<void> {
  await styleLoaded;
  if (signal.aborted) return;
  const tileErrors: ApiError[] = [];
  const onError = (e: unknown): void => {
    const failed = sourceError(e as { sourceId?: string; error?: unknown });
    if (failed && isTileLayer(failed.source)) tileErrors.push(failed.error);
  };
  loading = true;
  changedWhileLoading = false;
  map.on('error', onError);
  try {
    addWorkerIcons(map);
    addTileSources(map, hiddenLayerIds());
    map.setPaintProperty('counties-fill', 'fill-opacity', landOpacity(hasBasemap()));
    gridLabels.setEnabled(true);
    // Started first: changes made while the rest loads are not missed.
    live.start();
    const results = await Promise.allSettled(tasks(signal));
    const failures: unknown[] = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
    await sourcesLoaded(signal);
    failures.push(...tileErrors);
    const failed = failures.find(isUnauthenticated) ?? failures[0];
    if (failed !== undefined) throw failed;
  } finally {
    loading = false;
    map.off('error', onError);
  }
  if (changedWhileLoading && !signal.aborted) refreshPanels();
}

/** Layers of the groups switched off in the legend. */
function hiddenLayerIds(): Set<string> {
  return new Set([...ui.hiddenGroups()].flatMap((group) => GROUP_LAYERS[group]));
}

// ---------------------------------------------------------------- live

/** `fn` at most once per `ms`: the first call runs at once, later ones once more at the end. */
function throttle(fn: () => void, ms: number): { (): void; cancel(): void } {
  let last = 0;
  let timer = 0;
  const run = (): void => {
    timer = 0;
    last = Date.now();
    fn();
  };
  const call = (): void => {
    if (timer) return;
    timer = window.setTimeout(run, Math.max(0, last + ms - Date.now()));
  };
  call.cancel = (): void => {
    window.clearTimeout(timer);
    timer = 0;
  };
  return call;
}

const refreshHeadline = throttle(() => {
  fetchHeadline(current?.signal).then(
    (h) => {
      if (authState === 'signed-in') headline.set(h);
    },
    (err: unknown) => lateError('headline.title', err),
  );
}, 2000);
const refreshList = throttle(() => panel.refresh(), 2000);
/** Workers move every few seconds in a busy city: the ranking follows at most every 5 s. */
const followWorkers = throttle(() => dispatch.followLive(), 5000);
const refreshStats = throttle(() => {
  fetchStatsSummary(current?.signal).then(
    (s) => {
      if (authState === 'signed-in') ui.setStats(s, new Date());
    },
    (err: unknown) => lateError('stats.title', err),
  );
}, 15_000);

/** Incidents changed while the first load ran: its answers may predate the change. */
let changedWhileLoading = false;

/** The list, headline and statistics, fetched again (throttled); after the first load if it is under way. */
function refreshPanels(): void {
  if (loading) {
    changedWhileLoading = true;
    return;
  }
  refreshList();
  refreshHeadline();
  refreshStats();
}

function onChanges(message: ChangesMessage): void {
  if (authState !== 'signed-in') return;
  const layers = new Set<string>(message.layers ?? []);
  const incidents = message.incidents ?? [];
  const moved = message.workers ?? [];
  if (incidents.length > 0) {
    layers.add('incidents');
    pulses.add(incidents);
    refreshPanels();
    workerList.changed();
    const selected = panel.selected();
    if (selected !== null && incidents.some((i) => String(i.id) === String(selected))) panel.refreshSelected();
  }
  if (moved.length > 0) {
    workers.apply(moved);
    workerList.apply(moved);
    followWorkers();
  }
  if (message.removed_workers?.length) {
    workers.remove(message.removed_workers);
    workerList.remove(message.removed_workers);
    layers.add('workers');
    followWorkers();
  }
  if (message.removed_incidents?.length) {
    layers.add('incidents');
    refreshPanels();
    const selected = panel.selected();
    if (selected !== null && message.removed_incidents.some((id) => String(id) === String(selected))) panel.refreshSelected();
  }
  refresher.mark(layers);
  ui.setLive(live.status, live.lastMessageAt);
}

/** Everything may have changed (the server said so, or it restarted): reload it all. */
function resync(): void {
  if (authState !== 'signed-in' || loading) return;
  refresher.cancel();
  workers.clear();
  pulses.clear();
  for (const id of TILE_LAYERS) if (map.getSource(id)) refresher.now(id);
  gridLabels.invalidate();
  for (const level of ['county', 'township', 'village'] as const) {
    loadAdminLabels(level).catch((err: unknown) => lateError(ADMIN_LABELS[level].what, err));
  }
  fetchCategories().then(showCategories, (err: unknown) => lateError('categories.title', err));
  panel.refresh();
  panel.refreshSelected();
  dispatch.refresh();
  workerList.refresh();
  refreshHeadline();
  refreshStats();
}

/** Resyncs asked for in a burst (a new epoch's hello, then the server's own resync) run once. */
let resyncTimer = 0;
function scheduleResync(): void {
  window.clearTimeout(resyncTimer);
  resyncTimer = window.setTimeout(resync, 300);
}

const live = new LiveClient({
  onChanges,
  onResync: () => scheduleResync(),
  onSessionEnded: () => endSession({ kind: 'ended' }),
  onConnectFailed() {
    // The upgrade may have been refused because the session is gone.
    if (authState !== 'signed-in') return;
    fetchSession().then(
      (session) => {
        if (!session) endSession({ kind: 'expired' });
      },
      () => {
        // server unreachable: the live feed keeps retrying
      },
    );
  },
});
live.addEventListener('status', () => ui.setLive(live.status, live.lastMessageAt));

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
  views.setSignedIn(state === 'signed-in');
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
  dispatch.setRole(session.role);
  workerList.setEnabled(session.role === 'dispatcher');
  rulesView.setSession(session);
  login.hide();
  setAuthState('signed-in');
  scheduleExpiryCheck(session);
}

/** Forgets everything of the last session: data, tiles, live feed, panels, popup, errors, expiry check. */
function leaveSession(): void {
  window.clearTimeout(expiryTimer);
  window.clearTimeout(resyncTimer);
  live.stop();
  refresher.cancel();
  refreshHeadline.cancel();
  refreshList.cancel();
  refreshStats.cancel();
  selection.clear();
  workers.clear();
  pulses.clear();
  gridLabels.setEnabled(false);
  panel.reset();
  dispatch.reset();
  workerList.reset();
  headline.reset();
  ui.reset();
  views.show('map');
  statsView.reset();
  rulesView.reset();
  sessionState = Promise.resolve(null);
  setAuthState('signed-out');
  // (only what was added is removed: nothing before the style has loaded)
  removeTileSources(map);
  removeBasemap(map);
  sources.clear().catch((err: unknown) => console.error(err));
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
  if (authState !== 'signed-in') return;
  const session = await sessionState;
  // The session's loads and live feed stop before the server ends it: a
  // request still under way then would be answered 401.
  current?.abort();
  leaveSession();
  try {
    await signOut();
  } catch (err) {
    // still signed in on the server: carry on with the same session
    start(session);
    ui.showError(describeError('user.signOutFailed', err));
    return;
  }
  start(null, { kind: 'signedOut' });
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

exposeTestHook({
  map,
  get ready() {
    return ready;
  },
  get session() {
    return sessionState;
  },
  live,
  workers,
  tileRefreshes: refresher.counts,
  settled: () => sourcesLoaded(new AbortController().signal),
  dispatch: {
    candidates: () => dispatch.candidates(),
    state: () => dispatch.state(),
    lines: () => selection.candidateLines(),
    workers: () => workerList.workers(),
    tab: () => workerList.tab(),
  },
});
