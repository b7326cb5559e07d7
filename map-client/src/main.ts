// Wiring only: creates the map, its overlays and the panels, and connects
// them to the session, the first load, the live updates, the selection, the
// camera and the views (each in its own module, none importing this one).
// Modules call back up only through the callbacks handed to them here.

import 'maplibre-gl/dist/maplibre-gl.css';
import './style.css';

import { createAlerts } from './alerts';
import { createAnalysisPanel, featureBounds } from './analysis';
import { LIVE_TILE_SOURCES } from './analysisstyle';
import { DEFAULT_FILTER, fetchGridCells, type GridCellCollection, type IncidentCategory, type IncidentFilter } from './api';
import { removeBasemap } from './basemap';
import { createCamera } from './camera';
import { createCaseActions } from './caseactions';
import { createDispatchSection } from './dispatch';
import { createFieldPanel } from './field';
import { createHeadline } from './headline';
import { applyDocumentLang } from './i18n';
import { createIncidentPanel } from './incidents';
import { GridCellLabels } from './labels';
import { GROUP_LAYERS } from './layers';
import { createLiveUpdates } from './liveupdates';
import { createLoader, sourcesLoaded } from './loading';
import { createLoginScreen } from './login';
import { createMap, watchErrors } from './map';
import { createPhotoSection } from './photos';
import { createPlansPanel } from './plans';
import { PulseOverlay } from './pulse';
import { createReportForm } from './report';
import { createRulesView } from './rules';
import { createMapSelection } from './selection';
import { createSession } from './session';
import { createSources } from './sources';
import { createStatsView } from './stats';
import { exposeTestHook } from './testhook';
import { TileRefresher, removeTileSources, transformRequest } from './tiles';
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

// the analysis heat map and hexagons follow the live feed like the incidents
const refresher = new TileRefresher(map, 1000, LIVE_TILE_SOURCES);
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
    updates.refreshPanels();
  },
  onError: (what, err) => session.lateError(what, err),
  workerName: (id) => workerList.name(id),
});
/** A case changed by the user (an action, a report): its details, the list, the headline and the map follow. */
function caseChanged(): void {
  panel.refreshSelected();
  updates.refreshPanels();
  field.refresh();
  refresher.now('incidents');
}
const caseActions = createCaseActions({
  onChanged: () => caseChanged(),
  onError: (what, err) => session.lateError(what, err),
});
const photos = createPhotoSection({
  onAdded: () => caseChanged(),
  onError: (what, err) => session.lateError(what, err),
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
  onError: (what, err) => session.lateError(what, err),
  detailSections: [photos.root, caseActions.root, dispatch.root],
  onDetail: (detail) => {
    photos.show(detail);
    caseActions.show(detail);
    dispatch.show(detail);
  },
});
/** A grid worker's own panel: on/off duty, positions while on duty, the cases they hold. */
const field = createFieldPanel({
  onOpenCase(id, at) {
    void panel.select(id, at);
    if (at) camera.flyTo(at[0], at[1]);
  },
  onReportAt: (at) => report.openAt(at),
  onError: (what, err) => session.lateError(what, err),
});
const workerList = createWorkerList({
  incidents: panel.list,
  onError: (what, err) => session.lateError(what, err),
});

const statsView = createStatsView({
  onError: (what, err) => session.lateError(what, err),
});

const rulesView = createRulesView({
  onError: (what, err) => session.lateError(what, err),
  onCategories: (c) => showCategories(c),
});

const analysis = createAnalysisPanel({
  map,
  fitBounds: (bbox) => camera.fitArea(bbox),
  onError: (what, err) => session.lateError(what, err),
});

const plans = createPlansPanel({
  map,
  styleLoaded: () => styleLoaded,
  fitBounds: (bbox) => camera.fitArea(bbox),
  onError: (what, err) => session.lateError(what, err),
  onPublished() {
    // the published grid is the one the standard grid-cells tiles draw
    refresher.now('grid-cells');
    gridLabels.invalidate();
  },
});

const report = createReportForm({
  map,
  flyTo: (lon, lat) => camera.flyTo(lon, lat),
  onOpenCase(id, at) {
    void panel.select(id, at);
    if (at) camera.flyTo(at[0], at[1]);
  },
  onFiled(incident, batch) {
    if (batch) void photos.upload(incident.id, batch);
    const at: [number, number] | null = Number.isFinite(incident.lon) && Number.isFinite(incident.lat) ? [incident.lon, incident.lat] : null;
    void panel.select(incident.id, at);
    if (at) camera.flyTo(at[0], at[1]);
    updates.refreshPanels();
    refresher.now('incidents');
  },
  onError: (what, err) => session.lateError(what, err),
});

/** The grid cells' outlines, fetched once per session when an alert is first shown on the map. */
let gridCells: Promise<GridCellCollection> | null = null;
const alerts = createAlerts({
  onPick(alert) {
    gridCells ??= fetchGridCells();
    const cells = gridCells;
    cells.then(
      (collection) => {
        const cell = collection.features.find((f) => f.properties.code === alert.grid_cell_code);
        const bbox = cell ? featureBounds(cell) : null;
        if (!cell || !bbox) return;
        analysis.highlight(cell);
        camera.fitArea(bbox);
      },
      (err: unknown) => {
        if (gridCells === cells) gridCells = null;
        session.lateError('alerts.title', err);
      },
    );
  },
  onError: (what, err) => session.lateError(what, err),
});

/** The incident panel, the statistics view and the analysis panel name categories; each keeps the latest list. */
function showCategories(categories: IncidentCategory[]): void {
  panel.setCategories(categories);
  report.setCategories(categories);
  statsView.setCategories(categories);
  analysis.setCategories(categories);
}

const ui = createUi(uiRoot, {
  onToggleGroup(group, visible) {
    for (const id of GROUP_LAYERS[group]) {
      if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visible ? 'visible' : 'none');
    }
    if (group === 'grid-cells') gridLabels.invalidate();
  },
  onSignOut: () => session.signOut(),
  headline: headline.root,
  right: [field.root, workerList.tabs, panel.list, workerList.root, panel.detail],
  statsView: statsView.root,
  rulesView: rulesView.root,
  onViewChange: (view) => views.show(view),
  headerButtons: [report.toggle, analysis.toggle, plans.toggle, alerts.bell],
  left: [report.root, plans.root, analysis.root],
  overlays: [alerts.toasts, alerts.list],
});
const login = createLoginScreen(document.body);

// ---------------------------------------------------------------- map data, selection, views

const styleLoaded = watchErrors(map, {
  showError: (message) => ui.showError(message),
  onTileUnauthenticated(err) {
    // during the first load the load itself fails with it
    if (!loader.loading()) session.lateError('tiles.title', err);
  },
});
const sources = createSources(map, styleLoaded);
const views = createViews({ map, ui, stats: statsView, rules: rulesView });
const camera = createCamera(map);
const selection = createMapSelection({
  map,
  sources,
  onIncident: (id, at) => void panel.select(id, at),
  suspended: () => plans.hook.open() !== null,
  reportHere: { allowed: () => report.allowed(), open: (at) => report.openAt(at) },
});

// ---------------------------------------------------------------- load, live, session

const loader = createLoader({
  map,
  styleLoaded,
  sources,
  gridLabels,
  ui,
  headline,
  incidents: panel,
  onCategories: showCategories,
  startLive: () => updates.live.start(),
  refreshPanels: () => updates.refreshPanels(),
});

const updates = createLiveUpdates({
  map,
  refresher,
  workers,
  pulses,
  gridLabels,
  ui,
  headline,
  incidents: panel,
  workerList,
  dispatch,
  loader,
  analysis,
  alerts,
  plans,
  onCategories: showCategories,
  signedIn: () => session.signedIn(),
  signal: () => session.signal(),
  onError: (what, err) => session.lateError(what, err),
  onSessionEnded: () => session.end({ kind: 'ended' }),
  onConnectFailed: () => session.recheck(),
});

field.connect(updates.live);

const session = createSession({
  login,
  showSession: (s) => ui.setSession(s),
  onEnter(s) {
    if (s.bbox) camera.openOn(s.bbox);
    field.setSession(s);
    dispatch.setRole(s.role);
    report.setRole(s.role);
    photos.setRole(s.role);
    workerList.setEnabled(s.role === 'dispatcher');
    rulesView.setSession(s);
    plans.setRole(s.role);
    void alerts.start(s.username, s.role);
  },
  onLeave() {
    updates.stop();
    selection.clear();
    workers.clear();
    pulses.clear();
    gridLabels.setEnabled(false);
    panel.reset();
    dispatch.reset();
    caseActions.reset();
    field.reset();
    photos.reset();
    report.reset();
    workerList.reset();
    headline.reset();
    ui.reset();
    views.show('map');
    statsView.reset();
    rulesView.reset();
    analysis.reset();
    plans.reset();
    alerts.reset();
    gridCells = null;
    // (only what was added is removed: nothing before the style has loaded)
    removeTileSources(map);
    removeBasemap(map);
    sources.clear().catch((err: unknown) => console.error(err));
  },
  onStateChange: (state) => views.setSignedIn(state === 'signed-in'),
  load: (signal) => loader.load(signal),
  showError: (message) => ui.showError(message),
});

session.begin();

exposeTestHook({
  map,
  get ready() {
    return session.ready;
  },
  get session() {
    return session.session;
  },
  live: updates.live,
  workers,
  tileRefreshes: refresher.counts,
  analysis: analysis.hook,
  plans: plans.hook,
  report: report.hook,
  field: field.hook,
  alerts: () => alerts.items(),
  settled: () => sourcesLoaded(map, new AbortController().signal),
  dispatch: {
    candidates: () => dispatch.candidates(),
    state: () => dispatch.state(),
    lines: () => selection.candidateLines(),
    workers: () => workerList.workers(),
    tab: () => workerList.tab(),
  },
});
