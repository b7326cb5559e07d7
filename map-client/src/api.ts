// Typed fetches of the wangge HTTP API (same origin as the page).
//
// Every map endpoint answers an RFC 7946 GeoJSON FeatureCollection (lon/lat);
// errors are `application/problem+json` ({type, title, status, detail}, RFC 9457).

import type { Feature, FeatureCollection, MultiPolygon, Point, Polygon } from 'geojson';

export const API_BASE = '/api/v1';

/** [minLon, minLat, maxLon, maxLat] */
export type BBox = [number, number, number, number];

export type AdminLevel = 'county' | 'township' | 'village';

export const ADMIN_LEVELS: readonly AdminLevel[] = ['county', 'township', 'village'];

export interface AdminUnitProperties {
  code: string;
  name: string;
  level: AdminLevel | 'city';
  parent_code: string | null;
}

export interface GridCellProperties {
  code: string;
  name: string;
  village_code: string;
  households: number;
}

export const FACILITY_KINDS = [
  'governance_centre',
  'service_station',
  'migrant_service_station',
  'mediation_organisation',
  'police_station',
  'school',
  'hospital',
  'resettlement_base',
] as const;

export type FacilityKind = (typeof FACILITY_KINDS)[number];

export interface FacilityProperties {
  id: number | string;
  kind: FacilityKind;
  name: string;
}

export type AdminUnitCollection = FeatureCollection<MultiPolygon | Polygon, AdminUnitProperties>;
export type GridCellCollection = FeatureCollection<MultiPolygon | Polygon, GridCellProperties>;
export type FacilityCollection = FeatureCollection<Point, FacilityProperties>;
export type AdminUnitFeature = Feature<MultiPolygon | Polygon, AdminUnitProperties>;

export interface StatsSummary {
  admin_units: Partial<Record<'city' | 'county' | 'township' | 'village', number>>;
  grid_plans: number;
  grid_cells: number;
  households: number;
  residents: number;
  facilities: number;
  grid_workers: number;
  incidents: number;
  incident_events: number;
}

/** RFC 9457 problem details, as the server sends them. */
export interface ProblemDetails {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
}

/** A failed API call: HTTP error (with problem details when the server sent them) or network failure. */
export class ApiError extends Error {
  readonly url: string;
  readonly status: number | null;
  readonly problem: ProblemDetails | null;

  constructor(url: string, status: number | null, problem: ProblemDetails | null, message: string) {
    super(message);
    this.name = 'ApiError';
    this.url = url;
    this.status = status;
    this.problem = problem;
  }
}

function isProblem(value: unknown): value is ProblemDetails {
  return typeof value === 'object' && value !== null && ('title' in value || 'detail' in value || 'status' in value);
}

function buildUrl(path: string, params: Record<string, string | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) search.set(key, value);
  }
  const qs = search.toString();
  return `${API_BASE}${path}${qs ? `?${qs}` : ''}`;
}

function bboxParam(bbox?: BBox): string | undefined {
  return bbox ? bbox.map((n) => String(n)).join(',') : undefined;
}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { Accept: 'application/geo+json, application/json;q=0.9, application/problem+json;q=0.8' },
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ApiError(url, null, null, message);
  }
  if (!response.ok) {
    let problem: ProblemDetails | null = null;
    const type = response.headers.get('content-type') ?? '';
    if (type.includes('json')) {
      try {
        const body: unknown = await response.json();
        if (isProblem(body)) problem = body;
      } catch {
        // not JSON after all: keep the status line
      }
    }
    const message = problem?.detail ?? problem?.title ?? `${response.status} ${response.statusText}`.trim();
    throw new ApiError(url, response.status, problem, message);
  }
  try {
    return (await response.json()) as T;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ApiError(url, response.status, null, `invalid JSON: ${message}`);
  }
}

export function fetchAdminUnits(level: AdminLevel, bbox?: BBox, signal?: AbortSignal): Promise<AdminUnitCollection> {
  return getJson(buildUrl('/admin-units', { level, bbox: bboxParam(bbox) }), signal);
}

export function fetchGridCells(bbox?: BBox, signal?: AbortSignal): Promise<GridCellCollection> {
  return getJson(buildUrl('/grid-cells', { bbox: bboxParam(bbox) }), signal);
}

/** All facilities, or only those of one kind. */
export function fetchFacilities(kind?: FacilityKind, bbox?: BBox, signal?: AbortSignal): Promise<FacilityCollection> {
  return getJson(buildUrl('/facilities', { kind, bbox: bboxParam(bbox) }), signal);
}

export function fetchStatsSummary(signal?: AbortSignal): Promise<StatsSummary> {
  return getJson(buildUrl('/stats/summary'), signal);
}
