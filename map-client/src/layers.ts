// The map style: sources and layers.
//
// Data comes as vector tiles from the server: each layer L of TILE_LAYERS is
// a vector source whose TileJSON is at `/tiles/L` (tiles `/tiles/L/{z}/{x}/{y}`,
// source-layer `L`, same origin, session cookie). Those sources need a
// session, so they are added after signing in (`tileSources`) and removed on
// sign-out; the style the map starts with only holds the background and the
// GeoJSON sources filled by the client itself: one label point per area
// (labels), the live worker positions, the incident change pulses and the
// selected incident.
//
// No external basemap, fonts, glyphs or sprites by default: the page works
// offline. A basemap named by `/api/v1/client-config` goes beneath
// everything (basemap.ts).
//
// Text: with no `glyphs` URL in the style, maplibre-gl 6 draws every glyph in
// the browser (TinySDF, reading `text-font` as CSS font families; see the
// `glyphs` doc in @maplibre/maplibre-gl-style-spec and
// GlyphManager._getAndCacheGlyphsPromise, `!this.url`). So no font files are
// needed, and digits and Latin letters in names come out in the same font as
// the Chinese around them.

import type {
  DataDrivenPropertyValueSpecification,
  ExpressionSpecification,
  LayerSpecification,
  SourceSpecification,
  StyleSpecification,
  SymbolLayerSpecification,
  VectorSourceSpecification,
} from 'maplibre-gl';
import type { FeatureCollection } from 'geojson';
import {
  FACILITY_KINDS,
  INCIDENT_STATUSES,
  TIERS,
  type FacilityKind,
  type IncidentStatus,
  type Tier,
  type WorkerStatus,
} from './api';

/** CSS font families for labels; "Bold" in the first name makes MapLibre draw at weight 700. */
const FONT_REGULAR = [
  'Noto Sans CJK SC',
  'Noto Sans SC',
  'Source Han Sans SC',
  'PingFang SC',
  'Microsoft YaHei',
  'sans-serif',
];
const FONT_BOLD = ['Noto Sans CJK SC Bold', ...FONT_REGULAR];

// ---------------------------------------------------------------- sources

/** The server's vector tile layers; each is a source of the same name with one source-layer of that name. */
export const TILE_LAYERS = [
  'counties',
  'townships',
  'villages',
  'grid-cells',
  'households',
  'facilities',
  'incidents',
  'workers',
] as const;
export type TileLayer = (typeof TILE_LAYERS)[number];

export function isTileLayer(id: string): id is TileLayer {
  return (TILE_LAYERS as readonly string[]).includes(id);
}

/** The property that identifies a feature of each tile layer (feature ids for feature state). */
export const PROMOTE_ID: Record<TileLayer, string> = {
  counties: 'code',
  townships: 'code',
  villages: 'code',
  'grid-cells': 'code',
  households: 'id',
  facilities: 'id',
  incidents: 'id',
  workers: 'id',
};

/** TileJSON of a tile layer, absolute (tile requests are made from a worker). */
export function tileJsonUrl(layer: TileLayer, origin: string = window.location.origin): string {
  return `${origin}/tiles/${layer}`;
}

export function tileSources(): Record<TileLayer, VectorSourceSpecification> {
  const out = {} as Record<TileLayer, VectorSourceSpecification>;
  for (const layer of TILE_LAYERS) out[layer] = { type: 'vector', url: tileJsonUrl(layer), promoteId: PROMOTE_ID[layer] };
  return out;
}

/** Area layers labelled from a point source of their own: `${layer}-label`. */
export const LABELLED_AREAS = ['counties', 'townships', 'villages', 'grid-cells'] as const;
export type LabelledArea = (typeof LABELLED_AREAS)[number];
export const labelSourceId = (layer: LabelledArea): string => `${layer}-label`;

/** Live worker positions, patched from the live feed (workers.ts). */
export const WORKERS_LIVE_SOURCE = 'workers-live';
/** Rings on incidents that just changed. */
export const PULSE_SOURCE = 'incidents-pulse';
/** The incident selected in the side panel. */
export const SELECTION_SOURCE = 'selection';
/** Lines from the selected incident to its top candidate workers, with their distances (dispatch.ts). */
export const DISPATCH_SOURCE = 'dispatch-lines';

/** Every GeoJSON source of the style (emptied on sign-out). */
export const GEOJSON_SOURCES: readonly string[] = [
  ...LABELLED_AREAS.map(labelSourceId),
  WORKERS_LIVE_SOURCE,
  PULSE_SOURCE,
  SELECTION_SOURCE,
  DISPATCH_SOURCE,
];

/** Sources `ready` waits for: the tiles and the area labels. */
export const DATA_SOURCES: readonly string[] = [...TILE_LAYERS, ...LABELLED_AREAS.map(labelSourceId)];

// ---------------------------------------------------------------- colours

export const COLORS = {
  background: '#d8dde2',
  land: '#fbfaf5',
  county: '#8c2d19',
  township: '#c0661c',
  village: '#4f7f36',
  grid: '#2f6fd0',
  household: '#9c7a66',
  selected: '#e0218a',
  cluster: '#c4452b',
  overdue: '#e31a1c',
  dispatch: '#0b6e4f',
  dispatchOther: '#3f7fbf',
  halo: 'rgba(255,255,255,0.92)',
} as const;

export const FACILITY_COLORS: Record<FacilityKind, string> = {
  governance_centre: '#d62728',
  service_station: '#1f77b4',
  migrant_service_station: '#17becf',
  mediation_organisation: '#9467bd',
  police_station: '#1a237e',
  school: '#ff9f1c',
  hospital: '#2ca02c',
  resettlement_base: '#8c564b',
};

/** Incident colour by status: hot (new, waiting) to cold (done). */
export const STATUS_COLORS: Record<IncidentStatus, string> = {
  reported: '#e31a1c',
  assigned: '#f76b00',
  accepted: '#e6a700',
  in_progress: '#1f78b4',
  resolved: '#33a02c',
  closed: '#6f8f72',
  rejected: '#8e6c8a',
  duplicate: '#a8a8a8',
};

/** Incident size and outline by tier: the higher the tier holding it, the bigger and darker. */
export const TIER_STYLE: Record<Tier, { radius: number; stroke: number; strokeColor: string }> = {
  village: { radius: 3.5, stroke: 1, strokeColor: '#ffffff' },
  township: { radius: 5, stroke: 1.5, strokeColor: '#ffffff' },
  county: { radius: 6.5, stroke: 2.5, strokeColor: '#333333' },
  city: { radius: 8, stroke: 3.5, strokeColor: '#000000' },
};

export const WORKER_COLORS: Record<WorkerStatus | 'stale', string> = {
  available: '#1a9850',
  busy: '#7b3294',
  off_duty: '#4f5b66',
  stale: '#c4c4c4',
};

/**
 * Grid-cell load classes (open incidents in the cell): the fill of a cell is
 * the colour of the highest class whose `min` it reaches. 0 stays clear.
 */
export const LOAD_CLASSES: readonly { min: number; color: string }[] = [
  { min: 0, color: 'rgba(0,0,0,0)' },
  { min: 1, color: '#fee0d2' },
  { min: 2, color: '#fcae91' },
  { min: 3, color: '#fb6a4a' },
  { min: 5, color: '#de2d26' },
  { min: 8, color: '#a50f15' },
];

/** From this zoom the incidents tiles hold single cases; below it, counts per H3 hexagon. */
export const INCIDENT_POINTS_ZOOM = 13;

/** Zoom ranges (MapLibre zoom levels, 512 px tiles). */
export const ZOOM = {
  townshipLines: 8.5,
  townshipLabels: 9,
  villageLines: 10.5,
  villageLabels: 11,
  gridFill: 8,
  gridLines: 11,
  gridLabels: 13,
  households: 14,
  facilities: 11,
  facilityLabels: 15,
  workers: 11,
} as const;

// ---------------------------------------------------------------- layer groups

/** Layer groups the legend switches on and off: one per tile layer. */
export type LayerGroup = TileLayer;
export const LAYER_GROUPS: readonly LayerGroup[] = TILE_LAYERS;

export const GROUP_LAYERS: Record<LayerGroup, string[]> = {
  counties: ['counties-fill', 'counties-line', 'counties-label'],
  townships: ['townships-fill', 'townships-line', 'townships-label'],
  villages: ['villages-fill', 'villages-line', 'villages-label'],
  'grid-cells': ['grid-cells-fill', 'grid-cells-line', 'grid-cells-label'],
  households: ['households-circle'],
  facilities: ['facilities-circle', 'facilities-label'],
  incidents: ['incidents-clusters', 'incidents-cluster-count', 'incidents-overdue', 'incidents-circle', 'incidents-pulse'],
  workers: ['workers-symbol', 'workers-live'],
};

/**
 * Layers a click can select, most specific first. The township and village
 * fills are invisible (opacity 0) except for the selected feature: they are
 * there so that a click anywhere inside an area finds it. A hexagon's count
 * (incidents below zoom 13) zooms in.
 */
export const CLICKABLE_LAYERS = [
  'incidents-circle',
  'incidents-clusters',
  'workers-live',
  'workers-symbol',
  'facilities-circle',
  'households-circle',
  'grid-cells-fill',
  'villages-fill',
  'townships-fill',
  'counties-fill',
];

// ---------------------------------------------------------------- expressions

const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };

function geojsonSource(promoteId: string, maxzoom = 15): SourceSpecification {
  return { type: 'geojson', data: EMPTY, promoteId, maxzoom, tolerance: 0.45 };
}

const selected: ExpressionSpecification = ['boolean', ['feature-state', 'selected'], false];

/**
 * A zoom ramp whose values switch on the selected feature state (a zoom
 * expression must be the top-level one, so `case` goes inside each stop).
 */
function zoomRamp(stops: [number, number][], selectedValue: number): DataDrivenPropertyValueSpecification<number> {
  const flat = stops.flatMap(([z, v]) => [z, ['case', selected, selectedValue, v]]);
  return ['interpolate', ['linear'], ['zoom'], ...flat] as unknown as ExpressionSpecification;
}

function lineColor(color: string): DataDrivenPropertyValueSpecification<string> {
  return ['case', selected, COLORS.selected, color];
}

function matchGet<K extends string, V>(property: string, keys: readonly K[], value: (key: K) => V, fallback: V): ExpressionSpecification {
  return ['match', ['get', property], ...keys.flatMap((k) => [k, value(k)]), fallback] as unknown as ExpressionSpecification;
}

/** Incident radius by tier, times `scale`. */
function tierRadius(scale: number, extra = 0): ExpressionSpecification {
  return matchGet('tier', TIERS, (t) => TIER_STYLE[t].radius * scale + extra, 4 * scale + extra);
}

function incidentRadius(extra = 0): DataDrivenPropertyValueSpecification<number> {
  return ['interpolate', ['linear'], ['zoom'], 8, tierRadius(0.8, extra), 12, tierRadius(1.1, extra), 16, tierRadius(1.6, extra)];
}

/** Below INCIDENT_POINTS_ZOOM an incidents tile feature is a hexagon's count, not a case. */
const isHexagonCount: ExpressionSpecification = ['has', 'count'];

const isStale: ExpressionSpecification = ['==', ['get', 'stale'], true];

const dispatchTop: ExpressionSpecification = ['==', ['get', 'top'], true];
const dispatchDimmed: ExpressionSpecification = ['==', ['get', 'dimmed'], true];

/** The icon of a worker: by status, grey when its position is stale. */
export const WORKER_ICON: ExpressionSpecification = [
  'case',
  isStale,
  'worker-stale',
  ['match', ['get', 'status'], 'available', 'worker-available', 'busy', 'worker-busy', 'off_duty', 'worker-off_duty', 'worker-stale'],
];

function workerLayer(id: string, source: string, sourceLayer?: string): LayerSpecification {
  const layer: SymbolLayerSpecification = {
    id,
    type: 'symbol',
    source,
    minzoom: ZOOM.workers,
    layout: {
      'icon-image': WORKER_ICON,
      'icon-size': ['interpolate', ['linear'], ['zoom'], ZOOM.workers, ['case', isStale, 0.5, 0.65], 14, ['case', isStale, 0.7, 0.9], 17, 1.1],
      'icon-allow-overlap': true,
      'icon-ignore-placement': true,
      'symbol-sort-key': ['case', isStale, 0, 1],
    },
    paint: {
      // Tile features of workers the live feed has moved are hidden: the
      // overlay (workers-live) draws them where they are now.
      'icon-opacity': ['case', ['boolean', ['feature-state', 'live'], false], 0, isStale, 0.6, 1],
    },
  };
  if (sourceLayer) layer['source-layer'] = sourceLayer;
  return layer;
}

function label(
  id: string,
  source: string,
  opts: {
    minzoom?: number;
    maxzoom?: number;
    size: [number, number][];
    color: string;
    bold?: boolean;
    offset?: [number, number];
    sourceLayer?: string;
  },
): SymbolLayerSpecification {
  const layer: SymbolLayerSpecification = {
    id,
    type: 'symbol',
    source,
    layout: {
      'text-field': ['get', 'name'],
      'text-font': opts.bold ? FONT_BOLD : FONT_REGULAR,
      'text-size': ['interpolate', ['linear'], ['zoom'], ...opts.size.flat()],
      'text-max-width': 8,
      'text-padding': 4,
      'text-allow-overlap': false,
      ...(opts.offset ? { 'text-offset': opts.offset, 'text-anchor': 'top' as const } : {}),
    },
    paint: {
      'text-color': opts.color,
      'text-halo-color': COLORS.halo,
      'text-halo-width': 1.6,
      'text-halo-blur': 0.4,
    },
  };
  if (opts.sourceLayer) layer['source-layer'] = opts.sourceLayer;
  if (opts.minzoom !== undefined) layer.minzoom = opts.minzoom;
  if (opts.maxzoom !== undefined) layer.maxzoom = opts.maxzoom;
  return layer;
}

/** Fill colour of a grid cell by its load (open incidents). */
export function loadColor(): ExpressionSpecification {
  const [first, ...rest] = LOAD_CLASSES;
  return [
    'step',
    ['coalesce', ['get', 'open_incidents'], 0],
    first?.color ?? 'rgba(0,0,0,0)',
    ...rest.flatMap((c) => [c.min, c.color]),
  ] as unknown as ExpressionSpecification;
}

// ---------------------------------------------------------------- layers

/** Every layer, bottom to top. Layers on tile sources are only in the map while signed in. */
export function buildLayers(): LayerSpecification[] {
  const v = (layer: TileLayer) => ({ source: layer, 'source-layer': layer });
  return [
    { id: 'background', type: 'background', paint: { 'background-color': COLORS.background } },

    {
      id: 'counties-fill',
      type: 'fill',
      ...v('counties'),
      paint: { 'fill-color': ['case', selected, '#fde3ef', COLORS.land], 'fill-opacity': 1 },
    },
    {
      id: 'grid-cells-fill',
      type: 'fill',
      ...v('grid-cells'),
      minzoom: ZOOM.gridFill,
      paint: {
        'fill-color': ['case', selected, COLORS.selected, loadColor()],
        'fill-opacity': zoomRamp([[ZOOM.gridFill, 0.8], [13, 0.6], [16, 0.4]], 0.3),
      },
    },
    {
      id: 'townships-fill',
      type: 'fill',
      ...v('townships'),
      minzoom: ZOOM.townshipLines,
      paint: { 'fill-color': COLORS.township, 'fill-opacity': ['case', selected, 0.14, 0] },
    },
    {
      id: 'villages-fill',
      type: 'fill',
      ...v('villages'),
      minzoom: ZOOM.villageLines,
      paint: { 'fill-color': COLORS.village, 'fill-opacity': ['case', selected, 0.14, 0] },
    },
    {
      id: 'grid-cells-line',
      type: 'line',
      ...v('grid-cells'),
      minzoom: ZOOM.gridLines - 1,
      layout: { 'line-join': 'round' },
      paint: {
        'line-color': lineColor(COLORS.grid),
        'line-width': zoomRamp([[ZOOM.gridLines - 1, 0.3], [13, 0.8], [16, 1.5]], 2.5),
        'line-opacity': ['interpolate', ['linear'], ['zoom'], ZOOM.gridLines - 1, 0, ZOOM.gridLines, 0.45, 13, 0.7],
      },
    },
    {
      id: 'villages-line',
      type: 'line',
      ...v('villages'),
      minzoom: ZOOM.villageLines,
      layout: { 'line-join': 'round' },
      paint: {
        'line-color': lineColor(COLORS.village),
        'line-width': zoomRamp([[ZOOM.villageLines, 0.6], [14, 1.4]], 3),
        'line-dasharray': [3, 2],
      },
    },
    {
      id: 'townships-line',
      type: 'line',
      ...v('townships'),
      minzoom: ZOOM.townshipLines,
      layout: { 'line-join': 'round' },
      paint: {
        'line-color': lineColor(COLORS.township),
        'line-width': zoomRamp([[ZOOM.townshipLines, 0.8], [12, 1.8], [15, 2.5]], 3.5),
        'line-dasharray': [4, 2],
      },
    },
    {
      id: 'counties-line',
      type: 'line',
      ...v('counties'),
      layout: { 'line-join': 'round', 'line-cap': 'round' },
      paint: {
        'line-color': lineColor(COLORS.county),
        'line-width': zoomRamp([[6, 1.5], [9, 2.8], [13, 4]], 5),
      },
    },

    {
      id: 'households-circle',
      type: 'circle',
      ...v('households'),
      minzoom: ZOOM.households,
      paint: {
        'circle-color': ['case', selected, COLORS.selected, COLORS.household],
        'circle-radius': zoomRamp([[ZOOM.households, 1.6], [17, 3.5]], 5),
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 0.5,
        'circle-opacity': 0.85,
      },
    },
    {
      id: 'facilities-circle',
      type: 'circle',
      ...v('facilities'),
      minzoom: ZOOM.facilities,
      paint: {
        'circle-color': matchGet('kind', FACILITY_KINDS, (k) => FACILITY_COLORS[k], '#666666'),
        'circle-radius': zoomRamp([[ZOOM.facilities, 3], [15, 6]], 8),
        'circle-stroke-color': ['case', selected, COLORS.selected, '#ffffff'],
        'circle-stroke-width': ['case', selected, 2.5, 1],
      },
    },

    workerLayer('workers-symbol', 'workers', 'workers'),
    workerLayer('workers-live', WORKERS_LIVE_SOURCE),

    {
      id: 'dispatch-lines',
      type: 'line',
      source: DISPATCH_SOURCE,
      filter: ['==', ['geometry-type'], 'LineString'],
      layout: { 'line-cap': 'round', 'line-sort-key': ['case', dispatchTop, 1, 0] },
      paint: {
        'line-color': ['case', dispatchTop, COLORS.dispatch, dispatchDimmed, '#8a949c', COLORS.dispatchOther],
        'line-width': ['interpolate', ['linear'], ['zoom'], 8, ['case', dispatchTop, 3, 1.5], 15, ['case', dispatchTop, 5, 2.5]],
        'line-opacity': ['case', dispatchTop, 0.95, dispatchDimmed, 0.55, 0.8],
      },
    },

    {
      // below zoom 13 the incidents tiles hold one point per H3 hexagon with its `count`
      id: 'incidents-clusters',
      type: 'circle',
      ...v('incidents'),
      maxzoom: INCIDENT_POINTS_ZOOM,
      filter: isHexagonCount,
      paint: {
        'circle-color': COLORS.cluster,
        'circle-opacity': 0.78,
        'circle-radius': ['interpolate', ['linear'], ['sqrt', ['coalesce', ['get', 'count'], 1]], 1, 6, 4, 11, 10, 19, 20, 28],
        'circle-stroke-color': '#ffffff',
        'circle-stroke-width': 1.2,
      },
    },
    {
      id: 'incidents-cluster-count',
      type: 'symbol',
      ...v('incidents'),
      maxzoom: INCIDENT_POINTS_ZOOM,
      filter: isHexagonCount,
      layout: {
        'text-field': ['to-string', ['get', 'count']],
        'text-font': FONT_BOLD,
        'text-size': 11,
        'text-allow-overlap': true,
        'text-ignore-placement': true,
      },
      paint: { 'text-color': '#ffffff' },
    },
    {
      id: 'incidents-overdue',
      type: 'circle',
      ...v('incidents'),
      filter: ['==', ['get', 'overdue'], true],
      paint: {
        'circle-radius': incidentRadius(5),
        'circle-color': 'rgba(227,26,28,0.16)',
        'circle-stroke-color': COLORS.overdue,
        'circle-stroke-width': 1.6,
      },
    },
    {
      id: 'incidents-circle',
      type: 'circle',
      ...v('incidents'),
      filter: ['!', isHexagonCount],
      layout: {
        // open and severe ones on top
        'circle-sort-key': [
          '+',
          ['case', ['==', ['get', 'open'], true], 10, 0],
          ['match', ['get', 'severity'], 'critical', 4, 'major', 3, 'moderate', 2, 1],
        ],
      },
      paint: {
        'circle-color': matchGet('status', INCIDENT_STATUSES, (s) => STATUS_COLORS[s], '#888888'),
        'circle-radius': incidentRadius(),
        'circle-stroke-color': matchGet('tier', TIERS, (t) => TIER_STYLE[t].strokeColor, '#ffffff'),
        'circle-stroke-width': matchGet('tier', TIERS, (t) => TIER_STYLE[t].stroke, 1),
        'circle-opacity': ['case', ['==', ['get', 'open'], false], 0.75, 1],
      },
    },
    {
      id: 'incidents-pulse',
      type: 'circle',
      source: PULSE_SOURCE,
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 11, 16, 18],
        'circle-color': 'rgba(0,0,0,0)',
        'circle-stroke-color': matchGet('status', INCIDENT_STATUSES, (s) => STATUS_COLORS[s], '#888888'),
        'circle-stroke-width': 2.5,
        'circle-stroke-opacity': 0.85,
      },
    },
    {
      id: 'selection-ring',
      type: 'circle',
      source: SELECTION_SOURCE,
      paint: {
        'circle-radius': ['interpolate', ['linear'], ['zoom'], 8, 11, 16, 17],
        'circle-color': 'rgba(224,33,138,0.12)',
        'circle-stroke-color': COLORS.selected,
        'circle-stroke-width': 3,
      },
    },

    label('grid-cells-label', labelSourceId('grid-cells'), {
      minzoom: ZOOM.gridLabels,
      size: [[13, 10], [16, 13]],
      color: '#1d4f99',
    }),
    label('villages-label', labelSourceId('villages'), {
      minzoom: ZOOM.villageLabels,
      maxzoom: 16,
      size: [[11, 11], [14, 14]],
      color: '#2f5a1c',
    }),
    label('townships-label', labelSourceId('townships'), {
      minzoom: ZOOM.townshipLabels,
      maxzoom: 14,
      size: [[9, 12], [12, 15]],
      color: '#8a4510',
      bold: true,
    }),
    label('counties-label', labelSourceId('counties'), {
      maxzoom: 12,
      size: [[7, 14], [10, 19]],
      color: COLORS.county,
      bold: true,
    }),
    label('facilities-label', 'facilities', {
      sourceLayer: 'facilities',
      minzoom: ZOOM.facilityLabels,
      size: [[15, 11], [18, 13]],
      color: '#333333',
      offset: [0, 0.7],
    }),
    {
      // the distance, at the middle of each dispatch line
      id: 'dispatch-labels',
      type: 'symbol',
      source: DISPATCH_SOURCE,
      filter: ['==', ['geometry-type'], 'Point'],
      layout: {
        'text-field': ['get', 'label'],
        'text-font': FONT_BOLD,
        'text-size': ['case', dispatchTop, 13, 11],
        'text-allow-overlap': true,
        'text-ignore-placement': true,
        'symbol-sort-key': ['case', dispatchTop, 1, 0],
      },
      paint: {
        'text-color': ['case', dispatchTop, COLORS.dispatch, dispatchDimmed, '#5b6770', '#1d4f99'],
        'text-halo-color': COLORS.halo,
        'text-halo-width': 1.8,
      },
    },
  ];
}

/** The layer's source, if any. */
export function layerSource(layer: LayerSpecification): string | null {
  return 'source' in layer && typeof layer.source === 'string' ? layer.source : null;
}

/** Layers drawn from the tile sources (added after signing in, in this order). */
export function tileLayers(): LayerSpecification[] {
  return buildLayers().filter((l) => {
    const source = layerSource(l);
    return source !== null && isTileLayer(source);
  });
}

/** Every layer id, bottom to top, for inserting layers in their place. */
export const LAYER_ORDER: readonly string[] = buildLayers().map((l) => l.id);

/** The style the map starts with: no tile source yet (they need a session). */
export function buildStyle(): StyleSpecification {
  const sources: Record<string, SourceSpecification> = {};
  for (const area of LABELLED_AREAS) sources[labelSourceId(area)] = geojsonSource('code');
  sources[WORKERS_LIVE_SOURCE] = geojsonSource('id', 18);
  sources[PULSE_SOURCE] = geojsonSource('id', 18);
  sources[SELECTION_SOURCE] = geojsonSource('id', 18);
  sources[DISPATCH_SOURCE] = geojsonSource('id', 18);
  const layers = buildLayers().filter((l) => {
    const source = layerSource(l);
    return source === null || !isTileLayer(source);
  });
  return { version: 8, name: 'wangge', sources, layers };
}
