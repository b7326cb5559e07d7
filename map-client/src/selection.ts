// What is selected, as the map shows it: a clicked feature (highlighted, with
// its popup), the selected incident's ring and the lines to its top
// candidates. The incident's own details are the panel's (incidents.ts).

import type { FeatureCollection } from 'geojson';
import { Popup, type Map as MapLibreMap, type MapGeoJSONFeature, type MapMouseEvent } from 'maplibre-gl';

import type {
  AdminLevel,
  AdminUnitProperties,
  Candidates,
  FacilityProperties,
  GridCellProperties,
  HouseholdProperties,
  WorkerProperties,
} from './api';
import { candidateLines } from './dispatch';
import { el } from './dom';
import { onLangChange, t } from './i18n';
import type { IncidentId } from './incidents';
import { CLICKABLE_LAYERS, DISPATCH_SOURCE, INCIDENT_POINTS_ZOOM, SELECTION_SOURCE, WORKERS_LIVE_SOURCE } from './layers';
import { currentPick, pickIncident, pickPoint } from './picker';
import { EMPTY, type GeoJsonSources } from './sources';
import { popupContent, type Selection } from './ui';

export interface MapSelectionOptions {
  map: MapLibreMap;
  sources: GeoJsonSources;
  /** An incident was clicked: the panel selects it (and asks for the ring in turn). */
  onIncident(id: IncidentId, at: [number, number] | null): void;
  /** While true, map clicks belong to someone else (the grid plan editor selects cells). */
  suspended?: () => boolean;
  /** A report may be filed from the map: a clicked place offers 在此上报, which opens the form there. */
  reportHere?: { allowed(): boolean; open(at: [number, number]): void };
}

export interface MapSelection {
  /** Where the selected incident is (a ring), or nothing. */
  setIncidentPoint(at: [number, number] | null): void;
  /** Lines to the top candidates of the incident whose ranking is shown (null: none). */
  setCandidateLines(answer: Candidates | null): void;
  /** What the dispatch-lines source holds. */
  candidateLines(): FeatureCollection;
  /** Closes the popup and drops the highlight (sign-out). */
  clear(): void;
}

const ADMIN_LEVEL_OF: Record<string, AdminLevel> = { counties: 'county', townships: 'township', villages: 'village' };

function toSelection(feature: MapGeoJSONFeature): Selection | null {
  const p = feature.properties as Record<string, unknown>;
  switch (feature.source) {
    case 'facilities':
      return { kind: 'facility', properties: p as unknown as FacilityProperties };
    case 'grid-cells':
      return { kind: 'grid', properties: p as unknown as GridCellProperties };
    case 'households':
      return { kind: 'household', properties: p as unknown as HouseholdProperties };
    case 'workers':
    case WORKERS_LIVE_SOURCE:
      return { kind: 'worker', properties: p as unknown as WorkerProperties };
    case 'counties':
    case 'townships':
    case 'villages': {
      const admin = p as unknown as AdminUnitProperties;
      return { kind: 'admin', properties: { ...admin, level: admin.level ?? ADMIN_LEVEL_OF[feature.source] } };
    }
    default:
      return null;
  }
}

export function createMapSelection({ map, sources, onIncident, suspended, reportHere }: MapSelectionOptions): MapSelection {
  let popup: Popup | null = null;
  let selection: { selection: Selection; source: string; sourceLayer: string | undefined; id: string | number } | null = null;
  let lines: FeatureCollection = EMPTY;

  function clearSelection(): void {
    if (selection && map.getSource(selection.source)) {
      map.setFeatureState({ source: selection.source, sourceLayer: selection.sourceLayer, id: selection.id }, { selected: false });
    }
    selection = null;
  }

  function clickableLayers(): string[] {
    return CLICKABLE_LAYERS.filter((id) => map.getLayer(id) && map.getLayoutProperty(id, 'visibility') !== 'none');
  }

  /** The most specific feature under the pointer (incident, worker, facility, household, grid cell, village, township, county). */
  function pick(e: MapMouseEvent): MapGeoJSONFeature | null {
    const layers = clickableLayers();
    if (layers.length === 0) return null;
    const features = map.queryRenderedFeatures(e.point, { layers });
    for (const layer of layers) {
      // tile workers the live overlay has taken over are invisible: skip them
      const hit = features.find((f) => f.layer.id === layer && !(f.source === 'workers' && f.state?.['live']));
      if (hit) return hit;
    }
    return null;
  }

  /** The 在此上报 button of a popup at `at`, when the user may report. */
  function reportButton(at: [number, number]): HTMLElement | null {
    if (!reportHere?.allowed()) return null;
    const button = el('button', { type: 'button', class: 'report-here', 'data-lon': String(at[0]), 'data-lat': String(at[1]) }, t('intake.here'));
    button.addEventListener('click', () => {
      popup?.remove();
      reportHere.open(at);
    });
    return button;
  }

  function openPopup(at: [number, number], content: HTMLElement): void {
    const opened = new Popup({ maxWidth: '300px', focusAfterOpen: false }).setLngLat(at).setDOMContent(content).addTo(map);
    opened.on('close', () => {
      if (popup === opened) {
        clearSelection();
        popup = null;
      }
    });
    popup = opened;
  }

  map.on('click', (e) => {
    if (suspended?.()) return;
    const feature = pick(e);
    const at: [number, number] = [e.lngLat.lng, e.lngLat.lat];
    const picking = currentPick();
    if (picking) {
      // a place or a case being picked for a form or an action takes the click
      popup?.remove();
      clearSelection();
      if (picking.kind === 'point') {
        pickPoint(at);
        return;
      }
      if (feature?.source === 'incidents' && !('count' in feature.properties)) {
        const id = ((feature.properties as { id?: IncidentId }).id ?? feature.id) as IncidentId | undefined;
        if (id !== undefined) pickIncident(id);
        return;
      }
      if (!feature || !(feature.source === 'incidents' && feature.geometry.type === 'Point')) return;
    }
    popup?.remove();
    clearSelection();
    if (!feature) {
      const button = reportButton(at);
      if (button) openPopup(at, el('div', { class: 'popup-report' }, button));
      return;
    }
    if (feature.source === 'incidents' && 'count' in feature.properties && feature.geometry.type === 'Point') {
      // a hexagon's count (below zoom 13): zoom in towards the single cases
      const [lon = 0, lat = 0] = feature.geometry.coordinates;
      map.easeTo({ center: [lon, lat], zoom: Math.min(INCIDENT_POINTS_ZOOM, map.getZoom() + 2), duration: 600 });
      return;
    }
    if (feature.source === 'incidents') {
      const id = ((feature.properties as { id?: IncidentId }).id ?? feature.id) as IncidentId | undefined;
      if (id === undefined) return;
      const at: [number, number] | null =
        feature.geometry.type === 'Point' ? [feature.geometry.coordinates[0] ?? NaN, feature.geometry.coordinates[1] ?? NaN] : null;
      onIncident(id, at);
      return;
    }
    if (feature.id === undefined) return;
    const sel = toSelection(feature);
    if (!sel) return;
    selection = { selection: sel, source: feature.source, sourceLayer: feature.sourceLayer, id: feature.id };
    map.setFeatureState({ source: feature.source, sourceLayer: feature.sourceLayer, id: feature.id }, { selected: true });
    reportAt = at;
    openPopup(at, withReportButton(popupContent(sel), at));
  });

  /** Where the popup's 在此上报 would report (kept across a language switch). */
  let reportAt: [number, number] | null = null;
  function withReportButton(content: HTMLElement, at: [number, number]): HTMLElement {
    const button = reportButton(at);
    if (button) content.append(el('div', { class: 'popup-report' }, button));
    return content;
  }

  // (one hit test per frame, however fast the pointer moves)
  let hoverFrame = 0;
  map.on('mousemove', (e) => {
    if (hoverFrame) return;
    hoverFrame = requestAnimationFrame(() => {
      hoverFrame = 0;
      map.getCanvas().style.cursor = currentPick()?.kind === 'point' ? 'crosshair' : pick(e) ? 'pointer' : '';
    });
  });

  onLangChange(() => {
    if (popup && selection) {
      const content = popupContent(selection.selection);
      popup.setDOMContent(reportAt ? withReportButton(content, reportAt) : content);
    }
  });

  return {
    setIncidentPoint(at) {
      const data: FeatureCollection = at
        ? { type: 'FeatureCollection', features: [{ type: 'Feature', geometry: { type: 'Point', coordinates: at }, properties: { id: 'selected' } }] }
        : EMPTY;
      sources.set(SELECTION_SOURCE, data).catch(() => {});
    },
    setCandidateLines(answer) {
      lines = candidateLines(answer);
      sources.set(DISPATCH_SOURCE, lines).catch(() => {});
    },
    candidateLines: () => lines,
    clear() {
      popup?.remove();
      clearSelection();
    },
  };
}
