// Bootstrap: the map, its data from the API, the panels, and the test hook
// `window.__wangge = { map, ready }`.

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
  fetchStatsSummary,
  type AdminLevel,
  type AdminUnitProperties,
  type FacilityProperties,
  type GridCellProperties,
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
import { createUi, popupContent, type Selection } from './ui';

declare global {
  interface Window {
    __wangge?: { map: MapLibreMap; ready: Promise<void> };
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
});

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

const LEVEL_LABEL: Record<AdminLevel, MessageKey> = {
  county: 'layer.county',
  township: 'layer.township',
  village: 'layer.village',
};

function tasks(): Promise<void>[] {
  const admin = (level: AdminLevel): Promise<void> =>
    fetchAdminUnits(level)
      .then((fc) => loadArea(level, fc))
      .catch((err: unknown) => {
        ui.showError(describeError(LEVEL_LABEL[level], err));
        throw err;
      });
  const grid = fetchGridCells()
    .then((fc) => loadArea('grid', fc))
    .catch((err: unknown) => {
      ui.showError(describeError('layer.grid', err));
      throw err;
    });
  const facilities = fetchFacilities()
    .then((fc) => setSourceData(FACILITY_SOURCE, fc))
    .catch((err: unknown) => {
      ui.showError(describeError('layer.facility', err));
      throw err;
    });
  const stats = fetchStatsSummary()
    .then((s) => ui.setStats(s, new Date()))
    .catch((err: unknown) => {
      ui.setStatsUnavailable();
      ui.showError(describeError('stats.title', err));
      throw err;
    });
  return [admin('county'), admin('township'), admin('village'), grid, facilities, stats];
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
 * built. Rejects with the first API error (after the others have settled:
 * whatever loaded is still shown).
 */
async function load(): Promise<void> {
  await styleLoaded;
  const results = await Promise.allSettled(tasks());
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  await sourcesLoaded();
  if (failed) throw failed.reason;
}

const ready = load();
ready.catch(() => {
  // Already shown in the error banner; this only keeps the rejection from
  // being reported as unhandled when nobody awaits `ready`.
});

window.__wangge = { map, ready };

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
