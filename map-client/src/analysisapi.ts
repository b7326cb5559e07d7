// The analysis endpoints (issue 18: heat maps and hotspot analysis), and the
// incident filters the analysis layers share, as query parameters.
//
//   GET /api/v1/analysis/aggregates?unit=&…filters
//     → GeoJSON: per unit `unit, code, name, count, open_count, households,
//       per_1000_households` (+ village_/township_ code and name when known)
//   GET /api/v1/analysis/hotspots?unit=&weights=&permutations=&seed=&fdr=&…filters
//     → the same features with Getis-Ord Gi*: `gi, z, p, p_sim, bin` (−3…3);
//       top-level `unit, weights, permutations, seed, fdr`
//   GET /api/v1/analysis/local-moran?…  → `i, p_sim, quadrant, significant`
//   GET /api/v1/analysis/emerging?unit=&weights=&step=&steps=&…filters
//     → `category, trend_z, trend_p, bins, counts` (one bin and count per step,
//       oldest first); top-level `end` (`until`, or now) and `steps` (each
//       step's start): the steps count back from `end`
//   GET /api/v1/analysis/alerts → {items, total}, most recent first
//
// Units: `h3:R` (an H3 resolution), `grid-cell`, `village`, `township`.
// Weights: `queen`, `rook`, `knn:K`, `distance:M` (metres), `ring:K` (H3 rings).
// Filters: `status` (a status or `open`), `category`, `severity`, `since`,
// `until` (RFC 3339). Errors are problem+json (ApiError carries the detail).

import type { Feature, FeatureCollection, MultiPolygon, Polygon } from 'geojson';

import { API_BASE, fetchJson } from './api';

/** Which incidents the analysis counts. Empty strings: no filter. */
export interface AnalysisFilter {
  /** `open`, one status, or '' for all. */
  status: string;
  /** A category code, or '' for all. */
  category: string;
  /** A severity, or '' for all. */
  severity: string;
  /** RFC 3339: reported at or after (always set: the time slider has a start). */
  since: string;
  /** RFC 3339: reported before; '' for up to now. */
  until: string;
}

/** The query parameters of a filter (empty values left out), in a fixed order. */
export function filterParams(filter: AnalysisFilter): URLSearchParams {
  const params = new URLSearchParams();
  if (filter.status) params.set('status', filter.status);
  if (filter.category) params.set('category', filter.category);
  if (filter.severity) params.set('severity', filter.severity);
  if (filter.since) params.set('since', filter.since);
  if (filter.until) params.set('until', filter.until);
  return params;
}

export const H3_RESOLUTIONS = [7, 8, 9] as const;
export const AREA_UNITS = ['grid-cell', 'village', 'township'] as const;
export type AreaUnit = (typeof AREA_UNITS)[number];
/** `h3:7` … or an area unit. */
export type AnalysisUnit = `h3:${number}` | AreaUnit;
export const UNITS: readonly AnalysisUnit[] = [...AREA_UNITS, ...H3_RESOLUTIONS.map((r) => `h3:${r}` as const)];

export const isH3Unit = (unit: string): boolean => unit.startsWith('h3:');

/** Spatial weights offered per kind of unit, the default first. */
export function weightsFor(unit: string): string[] {
  return isH3Unit(unit) ? ['ring:1', 'ring:2', 'knn:6'] : ['queen', 'rook', 'knn:6', 'knn:8'];
}

/** Properties every analysis feature has. */
export interface AggregateProperties {
  unit: string;
  code: string;
  name: string;
  count: number;
  open_count: number;
  households: number | null;
  /** null when the unit has no households */
  per_1000_households: number | null;
  village_code?: string | null;
  village_name?: string | null;
  township_code?: string | null;
  township_name?: string | null;
}

/** −3…3: ±3 99 %, ±2 95 %, ±1 90 % confidence; hot positive, cold negative, 0 not significant. */
export type HotspotBin = -3 | -2 | -1 | 0 | 1 | 2 | 3;

export interface HotspotProperties extends AggregateProperties {
  gi: number;
  z: number;
  p: number;
  p_sim: number | null;
  bin: HotspotBin;
}

export const QUADRANTS = ['HH', 'HL', 'LH', 'LL'] as const;
export type Quadrant = (typeof QUADRANTS)[number];

export interface MoranProperties extends AggregateProperties {
  i: number;
  p_sim: number | null;
  quadrant: Quadrant | string;
  significant: boolean;
}

/** Emerging hot spot categories (ArcGIS's names), hot then cold, then none. */
export const EMERGING_PATTERNS = [
  'new',
  'consecutive',
  'intensifying',
  'persistent',
  'diminishing',
  'sporadic',
  'oscillating',
  'historical',
] as const;
export type EmergingPattern = (typeof EMERGING_PATTERNS)[number];
export const EMERGING_CATEGORIES: readonly string[] = [
  ...EMERGING_PATTERNS.map((p) => `${p}-hot-spot`),
  ...EMERGING_PATTERNS.map((p) => `${p}-cold-spot`),
  'no-pattern',
];

export interface EmergingProperties extends AggregateProperties {
  category: string;
  trend_z: number | null;
  trend_p: number | null;
  bins: number[];
  counts?: number[];
}

type Area = Polygon | MultiPolygon;
export type AnalysisFeature<P extends AggregateProperties = AggregateProperties> = Feature<Area, P>;

export interface AnalysisCollection<P extends AggregateProperties = AggregateProperties> extends FeatureCollection<Area, P> {
  unit?: string;
  weights?: string;
  permutations?: number;
  seed?: number;
  fdr?: boolean;
  /** Aggregates: the cases counted. */
  total?: number;
  /** Emerging: the end of the last step (RFC 3339). */
  end?: string;
  /** Emerging: each step's start, oldest first (RFC 3339). */
  steps?: string[];
}

/** The analyses drawn from JSON, each its own endpoint. */
export const ANALYSES = ['aggregates', 'hotspots', 'local-moran', 'emerging'] as const;
export type Analysis = (typeof ANALYSES)[number];

/** What the panel asks of an analysis, beside the filter. */
export interface AnalysisQuery {
  unit: string;
  weights: string;
  permutations: number;
  seed: number;
  fdr: boolean;
  step: 'week' | 'month';
  steps: number;
}

/** The URL of an analysis for a query and filter (only the parameters that analysis takes). */
export function analysisUrl(analysis: Analysis, query: AnalysisQuery, filter: AnalysisFilter): string {
  const params = new URLSearchParams({ unit: query.unit });
  if (analysis !== 'aggregates') params.set('weights', query.weights);
  if (analysis === 'hotspots' || analysis === 'local-moran') {
    params.set('permutations', String(query.permutations));
    params.set('seed', String(query.seed));
  }
  if (analysis === 'hotspots') params.set('fdr', String(query.fdr));
  if (analysis === 'emerging') {
    params.set('step', query.step);
    params.set('steps', String(query.steps));
  }
  for (const [key, value] of filterParams(filter)) {
    // the emerging trend counts back `steps` steps from `until`: no `since`
    if (analysis === 'emerging' && key === 'since') continue;
    params.set(key, value);
  }
  return `${API_BASE}/analysis/${analysis}?${params}`;
}

export function fetchAnalysis<P extends AggregateProperties>(url: string, signal?: AbortSignal): Promise<AnalysisCollection<P>> {
  return fetchJson(url, signal);
}

// ---------------------------------------------------------------- alerts

export interface AnalysisAlert {
  id: number;
  kind: 'emerging-hotspot' | string;
  category: 'new-hot-spot' | 'intensifying-hot-spot' | string;
  grid_cell_code: string;
  grid_cell_name: string;
  village_name: string | null;
  /** Why, in Chinese (from the server). */
  reason: string;
  /** RFC 3339 */
  at: string;
}

export interface AlertPage {
  items: AnalysisAlert[];
  total: number;
}

export function fetchAlerts(signal?: AbortSignal): Promise<AlertPage> {
  return fetchJson(`${API_BASE}/analysis/alerts`, signal);
}
