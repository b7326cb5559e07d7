// Typed fetches of the wangge HTTP API (same origin as the page).
//
// Every map endpoint answers an RFC 7946 GeoJSON FeatureCollection (lon/lat);
// errors are `application/problem+json` ({type, title, status, detail}, RFC 9457).
//
// Every data endpoint needs a session: `POST /api/v1/session` sets an HttpOnly
// cookie that the browser sends with every same-origin request (the client
// never sees the token); without it the server answers 401.

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

/** Problem types of the session endpoints. */
export const PROBLEM = {
  unauthenticated: '/problems/unauthenticated',
  invalidCredentials: '/problems/invalid-credentials',
  tooManyAttempts: '/problems/too-many-attempts',
  malformedBody: '/problems/malformed-body',
} as const;

/** A failed API call: HTTP error (with problem details when the server sent them) or network failure. */
export class ApiError extends Error {
  readonly url: string;
  readonly status: number | null;
  readonly problem: ProblemDetails | null;
  /** Seconds to wait, from a `Retry-After` header (429, 503), if any. */
  readonly retryAfter: number | null;

  constructor(url: string, status: number | null, problem: ProblemDetails | null, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.url = url;
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

/** The call was refused for want of a (valid) session: sign in again. */
export function isUnauthenticated(err: unknown): err is ApiError {
  return err instanceof ApiError && err.status === 401;
}

function isProblem(value: unknown): value is ProblemDetails {
  return (
    typeof value === 'object' &&
    value !== null &&
    ('type' in value || 'title' in value || 'detail' in value || 'status' in value)
  );
}

/** `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); null if absent or unreadable. */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return null;
  return Math.max(0, Math.ceil((date - now) / 1000));
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

const ACCEPT_GEOJSON = 'application/geo+json, application/json;q=0.9, application/problem+json;q=0.8';
const ACCEPT_JSON = 'application/json, application/problem+json;q=0.9';

/** fetch() that turns network failures into ApiError (status null). Sends the session cookie (same origin). */
async function send(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, { credentials: 'same-origin', ...init });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ApiError(url, null, null, message);
  }
}

/** ApiError for a non-2xx answer, with its problem details and Retry-After. */
async function failure(url: string, response: Response): Promise<ApiError> {
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
  return new ApiError(url, response.status, problem, message, parseRetryAfter(response.headers.get('retry-after')));
}

async function readJson<T>(url: string, response: Response): Promise<T> {
  try {
    return (await response.json()) as T;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ApiError(url, response.status, null, `invalid JSON: ${message}`);
  }
}

async function getJson<T>(url: string, signal?: AbortSignal, accept: string = ACCEPT_GEOJSON): Promise<T> {
  const response = await send(url, { headers: { Accept: accept }, ...(signal ? { signal } : {}) });
  if (!response.ok) throw await failure(url, response);
  return readJson<T>(url, response);
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

// ---------------------------------------------------------------- session

export type Role = 'operator' | 'dispatcher' | 'planner' | 'worker' | 'auditor' | 'admin';

export const ROLES: readonly Role[] = ['operator', 'dispatcher', 'planner', 'worker', 'auditor', 'admin'];

export type AreaLevel = 'city' | 'county' | 'township' | 'village' | 'grid_cell';

/** The signed-in user, as `GET`/`POST /api/v1/session` answer it. */
export interface Session {
  username: string;
  /** One of ROLES; shown as is if the server sends a role this client does not know. */
  role: Role | string;
  /** The area the server scopes every data answer to. */
  area: { level: AreaLevel | string; code: string; name: string };
  /** RFC 3339 */
  expires_at: string;
}

const SESSION_URL = `${API_BASE}/session`;

/** The current session, or null when not signed in (401). Other failures throw ApiError. */
export async function fetchSession(): Promise<Session | null> {
  try {
    return await getJson<Session>(SESSION_URL, undefined, ACCEPT_JSON);
  } catch (err) {
    if (isUnauthenticated(err)) return null;
    throw err;
  }
}

/**
 * Signs in; the server sets the session cookie. Throws ApiError: 401 with
 * PROBLEM.invalidCredentials, 429 with PROBLEM.tooManyAttempts and
 * `retryAfter`, 422, or a network failure (status null).
 */
export async function signIn(username: string, password: string): Promise<Session> {
  const response = await send(SESSION_URL, {
    method: 'POST',
    headers: { Accept: ACCEPT_JSON, 'Content-Type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!response.ok) throw await failure(SESSION_URL, response);
  return readJson<Session>(SESSION_URL, response);
}

/** Signs out (the server clears the cookie). A 401 means already signed out: not an error. */
export async function signOut(): Promise<void> {
  const response = await send(SESSION_URL, { method: 'DELETE', headers: { Accept: ACCEPT_JSON } });
  if (!response.ok && response.status !== 401) throw await failure(SESSION_URL, response);
}
