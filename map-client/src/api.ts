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

/** A grid cell as the `grid-cells` vector tiles carry it. */
export interface GridCellProperties {
  code: string;
  name: string;
  village_code: string;
  plan_version?: number;
  /** Open incidents in the cell: its load. */
  open_incidents?: number;
  /** Grid workers responsible for the cell. */
  workers?: number;
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
  /** For conflicts (409): the resource as it is now. */
  current?: Record<string, unknown>;
  /** For a grid plan edit the rules refuse (422 `/problems/invalid-plan`): what is wrong, and where. */
  issues?: unknown[];
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

export function buildUrl(path: string, params: Record<string, string | undefined> = {}): string {
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
export const ACCEPT_JSON = 'application/json, application/problem+json;q=0.9';

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

export async function getJson<T>(url: string, signal?: AbortSignal, accept: string = ACCEPT_GEOJSON): Promise<T> {
  const response = await send(url, { headers: { Accept: accept }, ...(signal ? { signal } : {}) });
  if (!response.ok) throw await failure(url, response);
  return readJson<T>(url, response);
}

function postJson<T>(url: string, body: unknown, signal?: AbortSignal): Promise<T> {
  return sendJson('POST', url, body, signal);
}

export async function sendJson<T>(
  method: 'POST' | 'PUT' | 'PATCH',
  url: string,
  body: unknown,
  signal?: AbortSignal,
  extraHeaders: Record<string, string> = {},
): Promise<T> {
  const response = await send(url, {
    method,
    headers: { Accept: ACCEPT_JSON, 'Content-Type': 'application/json', ...extraHeaders },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  if (!response.ok) throw await failure(url, response);
  return readJson<T>(url, response);
}

/** DELETE answered 204 (or any 2xx without a body of interest). */
export async function deleteResource(url: string): Promise<void> {
  const response = await send(url, { method: 'DELETE', headers: { Accept: ACCEPT_JSON } });
  if (!response.ok) throw await failure(url, response);
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
  /** The area's box [west, south, east, north] (lon/lat): where the map opens. */
  bbox?: [number, number, number, number] | null;
  /** For a grid worker: the worker they are. */
  worker?: OwnWorker | null;
  /** RFC 3339 */
  expires_at: string;
}

/** The grid worker a signed-in grid worker is. */
export interface OwnWorker {
  id: number;
  name: string;
  status: WorkerStatus | string;
}

/** `PUT /api/v1/workers/{id}/status`: on duty (available, busy) or off duty; answers the worker. */
export function setWorkerStatus(id: number, status: WorkerStatus): Promise<{ id: number; status: string }> {
  return sendJson('PUT', buildUrl(`/workers/${encodeURIComponent(String(id))}/status`), { status });
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

// ---------------------------------------------------------------- incidents

export const INCIDENT_STATUSES = [
  'reported',
  'assigned',
  'accepted',
  'in_progress',
  'resolved',
  'closed',
  'rejected',
  'duplicate',
] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

/** The statuses `status=open` stands for (not yet resolved, closed, rejected or a duplicate). */
export const OPEN_STATUSES: readonly IncidentStatus[] = ['reported', 'assigned', 'accepted', 'in_progress'];

/** Where an incident is handled, lowest first: 小事不出村、大事不出乡镇、难事不出县. */
export const TIERS = ['village', 'township', 'county', 'city'] as const;
export type Tier = (typeof TIERS)[number];

export const SEVERITIES = ['minor', 'moderate', 'major', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const WORKER_STATUSES = ['available', 'busy', 'off_duty'] as const;
export type WorkerStatus = (typeof WORKER_STATUSES)[number];

/** `GET /api/v1/incident-categories` */
export interface IncidentCategory {
  code: string;
  name_zh: string;
  name_en: string;
  /** How near (metres) and how recent (hours) another open report must be to be suggested as a duplicate. */
  duplicate_radius_m: number;
  duplicate_window_hours: number;
}

/** One row of `GET /api/v1/incidents` (times RFC 3339 UTC). */
export interface IncidentSummary {
  id: number | string;
  title: string;
  category: string;
  severity: Severity | string;
  status: IncidentStatus | string;
  tier: Tier | string;
  overdue: boolean;
  reported_at: string;
  due_at: string | null;
  lon: number;
  lat: number;
  grid_cell_code: string | null;
  village_code: string | null;
  village_name: string | null;
  township_name: string | null;
  county_name: string | null;
  /** The grid worker holding the case, if any. */
  assignee_id?: number | null;
  assignee_name: string | null;
  /** How its place is known (LOCATION_METHODS); `area`: only its unit, waiting to be placed. */
  location_method?: LocationMethod | string;
  /** Metres within which the true place lies, when known. */
  location_precision_m?: number | null;
  /** The leader owning a major case (包案领导). */
  leader?: string | null;
}

/** How an incident's place is known: the device (GPS), the address register, by hand, or only its unit. */
export const LOCATION_METHODS = ['device', 'geocoded', 'manual', 'area'] as const;
export type LocationMethod = (typeof LOCATION_METHODS)[number];

/** Where a report came in. */
export const CHANNELS = ['api', 'open311', 'demo', 'simulator'] as const;
export type Channel = (typeof CHANNELS)[number];

export interface IncidentPage {
  total: number;
  items: IncidentSummary[];
}

export interface TimelineEntry {
  at: string;
  kind: string;
  status?: IncidentStatus | string | null;
  tier?: Tier | string | null;
  /** As stored: `user:NAME`, `grid_worker:ID`, `citizen`, `system`, `dispatcher`. */
  actor?: string | null;
  /** Who that is: a user's username, a grid worker's name. */
  actor_name?: string | null;
  /** A user's role (ROLES), `grid_worker`, or what the actor is (`citizen`, `system`, `dispatcher`). */
  actor_role?: string | null;
  note?: string | null;
}

/** `GET /api/v1/incidents/{id}`: the list fields, the description, the reporter (masked; absent for roles that may not see it) and the timeline. */
export interface IncidentDetail extends IncidentSummary {
  description?: string | null;
  /** The address given with the report, if any. */
  address?: string | null;
  channel?: Channel | string;
  resolved_tier?: Tier | string | null;
  resolved_at?: string | null;
  closed_at?: string | null;
  /** The case this one duplicates. */
  duplicate_of?: number | string | null;
  /** Open cases of the same category close by in space and time, nearest first. */
  possible_duplicates?: (number | string)[];
  reporter?: { name?: string | null; phone?: string | null } | null;
  timeline?: TimelineEntry[];
  /** What the caller may do to the case now (`POST …/actions` names): a client shows these and no others. */
  actions?: string[];
  /** The case's photos, oldest first (report and resolution together, at most MAX_PHOTOS_PER_CASE). */
  photos?: Photo[];
}

/**
 * Which incidents the list and the map's incident tiles show. `status` is
 * `open`, one status, or empty for all; `tier` and `category` are empty for
 * all. `q` (free text) only filters the list; the tiles have no text search.
 */
export interface IncidentFilter {
  status: string;
  tier: string;
  category: string;
  q: string;
}

export const DEFAULT_FILTER: IncidentFilter = { status: 'open', tier: '', category: '', q: '' };

/** The list's query parameters for a filter (empty values left out). */
export function incidentQuery(filter: IncidentFilter, limit: number, offset: number): Record<string, string | undefined> {
  const q = filter.q.trim();
  return {
    status: filter.status || undefined,
    tier: filter.tier || undefined,
    category: filter.category || undefined,
    q: q || undefined,
    limit: String(limit),
    offset: String(offset),
  };
}

export function fetchIncidents(filter: IncidentFilter, limit: number, offset: number, signal?: AbortSignal): Promise<IncidentPage> {
  return getJson(buildUrl('/incidents', incidentQuery(filter, limit, offset)), signal, ACCEPT_JSON);
}

export function fetchIncident(id: number | string, signal?: AbortSignal): Promise<IncidentDetail> {
  return getJson(buildUrl(`/incidents/${encodeURIComponent(String(id))}`), signal, ACCEPT_JSON);
}

/** An open case a report about to be sent would be told is a possible duplicate, with how far it is. */
export interface NearbyIncident extends IncidentSummary {
  distance_m: number;
}

/** `GET /api/v1/incidents/possible-duplicates`: nearest first, at most 5. */
export async function fetchPossibleDuplicates(category: string, lon: number, lat: number, signal?: AbortSignal): Promise<NearbyIncident[]> {
  const answer = await getJson<{ items: NearbyIncident[] }>(
    buildUrl('/incidents/possible-duplicates', { category, lon: String(lon), lat: String(lat) }),
    signal,
    ACCEPT_JSON,
  );
  return answer.items;
}

/** One place an address may be (`GET /api/v1/geocode`). */
export interface GeocodeCandidate {
  address: string;
  lon: number;
  lat: number;
  /** 0..1 */
  score: number;
  village_code: string;
  village_name: string;
}

export interface Geocoded {
  query: string;
  detail?: string;
  candidates: GeocodeCandidate[];
  /** The best candidate is good enough to place a report by itself. */
  accepted: boolean;
}

export function fetchGeocode(q: string, limit = 5, signal?: AbortSignal): Promise<Geocoded> {
  return getJson(buildUrl('/geocode', { q, limit: String(limit) }), signal, ACCEPT_JSON);
}

/** `POST /api/v1/incidents`: a report. */
export interface NewReport {
  category: string;
  severity: Severity;
  title?: string;
  description: string;
  reporter?: { name?: string; phone?: string };
  location: { lon?: number; lat?: number; accuracy_m?: number; address?: string };
}

/** The answer to a report: the case as stored (its fields at the top level), and how an address was placed. */
export interface CreatedIncident extends IncidentDetail {
  geocoding?: Geocoded | null;
}

/**
 * Files a report. The same `idempotencyKey` for retries and double clicks:
 * the server files one case and answers the first answer again.
 */
export function reportIncident(report: NewReport, idempotencyKey: string): Promise<CreatedIncident> {
  return sendJson('POST', buildUrl('/incidents'), report, undefined, { 'Idempotency-Key': idempotencyKey });
}

/** The lifecycle actions of `POST /api/v1/incidents/{id}/actions`, in the order the server lists them. */
export const INCIDENT_ACTIONS = [
  'assign',
  'accept',
  'start',
  'resolve',
  'decline',
  'close',
  'reopen',
  'escalate',
  'lead',
  'place',
  'mark_duplicate',
  'reject',
  'note',
] as const;
export type IncidentAction = (typeof INCIDENT_ACTIONS)[number];

export interface ActionRequest {
  action: IncidentAction | string;
  note?: string;
  worker_id?: number;
  /** mark_duplicate: the case this one duplicates. */
  of?: number;
  /** lead: the leader's name. */
  leader?: string;
  /** place: where it happened, by hand. */
  location?: { lon: number; lat: number };
  /** escalate: the tier the user saw (a conflict if the case moved since). */
  from?: Tier | string;
}

/** Takes an action; answers the case as it is after it (409 `/problems/conflict` when the case moved). */
export function actOnIncident(id: number | string, request: ActionRequest): Promise<IncidentDetail> {
  return postJson(buildUrl(`/incidents/${encodeURIComponent(String(id))}/actions`), request);
}

// ---------------------------------------------------------------- photos

/** When a photo was taken: with the report, or as proof of the resolution. */
export const PHOTO_STAGES = ['report', 'resolution'] as const;
export type PhotoStage = (typeof PHOTO_STAGES)[number];

/** Largest photo the server takes (bytes), and most photos a case holds: the server's limits. */
export const MAX_PHOTO_BYTES = 10 * 1024 * 1024;
export const MAX_PHOTOS_PER_CASE = 9;

/** A photo of a case, without its bytes (`GET /api/v1/incidents/{id}/photos`, and the details' `photos`). */
export interface Photo {
  id: number;
  incident_id: number;
  stage: PhotoStage | string;
  content_type: string;
  size: number;
  width: number | null;
  height: number | null;
  /** The reporter asked to keep where it was taken (otherwise the server stripped it). */
  location_kept: boolean;
  /** As stored: `user:NAME`, … */
  uploaded_by: string;
  uploaded_at: string;
  /** Where the photo is read (same origin: the session cookie goes with an <img>). */
  url: string;
  /** Where its thumbnail (JPEG) is read; null for a HEIC, which has none. */
  thumbnail_url: string | null;
}

export function fetchPhotos(id: number | string, signal?: AbortSignal): Promise<Photo[]> {
  return getJson(buildUrl(`/incidents/${encodeURIComponent(String(id))}/photos`), signal, ACCEPT_JSON);
}

/**
 * Adds a photo to case `id`: the bytes as they are, with the file's media type (the server
 * reads the format from the bytes). The same bytes sent again answer the photo already kept
 * (200, not a second one), so a retry is harmless. Throws ApiError: 413 too large, 415 not a
 * JPEG/PNG/HEIC, 422 damaged, 409 nine photos already or the case finished, 403, 404.
 */
export async function uploadPhoto(
  id: number | string,
  file: Blob,
  stage: PhotoStage,
  keepLocation = false,
  signal?: AbortSignal,
): Promise<Photo> {
  const url = buildUrl(`/incidents/${encodeURIComponent(String(id))}/photos`, {
    stage,
    keep_location: keepLocation ? 'true' : undefined,
  });
  const response = await send(url, {
    method: 'POST',
    headers: { Accept: ACCEPT_JSON, 'Content-Type': file.type || 'application/octet-stream' },
    body: file,
    ...(signal ? { signal } : {}),
  });
  if (!response.ok) throw await failure(url, response);
  return readJson<Photo>(url, response);
}

export function fetchCategories(signal?: AbortSignal): Promise<IncidentCategory[]> {
  return getJson(buildUrl('/incident-categories'), signal, ACCEPT_JSON);
}

// ---------------------------------------------------------------- headline, client config

/** `GET /api/v1/stats/headline`: the command centre's key figures. */
export interface Headline {
  open_by_tier: Partial<Record<Tier, number>>;
  overdue: number;
  resolved_this_month: number;
  resolved_at_township_or_below: number;
  /** 0..1 */
  share_at_township_or_below: number | null;
  /** YYYY-MM (CST) */
  month: string;
}

export function fetchHeadline(signal?: AbortSignal): Promise<Headline> {
  return getJson(buildUrl('/stats/headline'), signal, ACCEPT_JSON);
}

// ---------------------------------------------------------------- resolution figures

/**
 * Groupings of `GET /api/v1/stats/resolution?by=`: units (the case's county,
 * township, village or grid cell), its category, or the CST period of the
 * report (for `reported`) and of the resolution (for `resolved`).
 */
export const RESOLUTION_GROUPINGS = ['county', 'township', 'village', 'grid_cell', 'category', 'month', 'week', 'day'] as const;
export type ResolutionGrouping = (typeof RESOLUTION_GROUPINGS)[number];

export const TIME_GROUPINGS: readonly ResolutionGrouping[] = ['month', 'week', 'day'];

export function isTimeGrouping(by: ResolutionGrouping): boolean {
  return TIME_GROUPINGS.includes(by);
}

/** The period and category every figure endpoint takes: CST days `YYYY-MM-DD`, both included; absent: open-ended. */
export interface FiguresQuery {
  from?: string;
  to?: string;
  category?: string;
}

/** One group's figures (and the total's). */
export interface ResolutionFigures {
  reported: number;
  resolved: number;
  resolved_village: number;
  resolved_township: number;
  resolved_county: number;
  resolved_city: number;
  /** Resolved at village or township tier, of all resolved (0..1); null when none were. */
  share_township_or_below: number | null;
  /** As of now, among the cases reported in the period. */
  open: number;
  overdue: number;
  median_hours_to_resolve: number | null;
}

export interface ResolutionRow extends ResolutionFigures {
  /** A unit's or cell's code, a category, or a period; null for cases not yet placed in a unit. */
  key: string | null;
  name: string | null;
}

/** `GET /api/v1/stats/resolution` */
export interface Resolution {
  by: ResolutionGrouping | string;
  from: string | null;
  to: string | null;
  rows: ResolutionRow[];
  total: ResolutionRow | null;
}

/** `GET /api/v1/stats/mediators`: cases resolved per grid worker (一案一补). */
export interface MediatorRow {
  worker_id: number;
  worker_name: string;
  /** The cells the worker serves, space-separated. */
  grid_cell_codes: string;
  village_name: string | null;
  resolved: number;
  resolved_at_village: number;
}

/** `GET /api/v1/stats/mediated?level=`: cases resolved at that tier, per unit of it. */
export interface MediatedRow {
  code: string;
  name: string;
  resolved: number;
}

/**
 * The URL of a figures endpoint for `query`, as JSON or (`csv`) as the CSV
 * download the server offers (UTF-8 with BOM, as an attachment).
 */
export function figuresUrl(
  path: '/stats/resolution' | '/stats/mediators' | '/stats/mediated',
  params: Record<string, string | undefined>,
  query: FiguresQuery,
  csv = false,
): string {
  return buildUrl(path, {
    ...params,
    from: query.from || undefined,
    to: query.to || undefined,
    category: query.category || undefined,
    format: csv ? 'csv' : undefined,
  });
}

export function resolutionUrl(by: ResolutionGrouping, query: FiguresQuery, csv = false): string {
  return figuresUrl('/stats/resolution', { by }, query, csv);
}

export function mediatorsUrl(query: FiguresQuery, csv = false): string {
  return figuresUrl('/stats/mediators', {}, query, csv);
}

export function mediatedUrl(level: Tier, query: FiguresQuery, csv = false): string {
  return figuresUrl('/stats/mediated', { level }, query, csv);
}

export function fetchJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  return getJson(url, signal, ACCEPT_JSON);
}

export type Basemap =
  | { type: 'raster'; tiles: string[]; tile_size?: number; attribution?: string; min_zoom?: number; max_zoom?: number }
  | { type: 'vector'; style: string };

/** `GET /api/v1/client-config` */
export interface ClientConfig {
  basemap: Basemap | null;
}

export function fetchClientConfig(signal?: AbortSignal): Promise<ClientConfig> {
  return getJson(buildUrl('/client-config'), signal, ACCEPT_JSON);
}

// ---------------------------------------------------------------- tile features

export interface IncidentTileProperties {
  id: number | string;
  category: string;
  severity: Severity | string;
  status: IncidentStatus | string;
  tier: Tier | string;
  open: boolean;
  overdue: boolean;
  /** Unix seconds */
  reported_at: number;
}

export interface WorkerProperties {
  id: number | string;
  status: WorkerStatus | string;
  stale: boolean;
  /** Unix seconds (or RFC 3339 from the live feed) */
  last_seen: number | string | null;
  cell_code: string | null;
}

export interface HouseholdProperties {
  id: number | string;
  grid_cell_code: string | null;
}

/** A time from the API: Unix seconds or an RFC 3339 string; null if absent or unreadable. */
export function toDate(value: number | string | null | undefined): Date | null {
  if (value === null || value === undefined || value === '') return null;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

// ---------------------------------------------------------------- dispatch

/**
 * Groups of `GET /api/v1/incidents/{id}/candidates`, best first: the cell's own
 * workers, a cover for one who is away, neighbouring cells, the township, the
 * nearest beyond it, then those whose position is stale and those who cannot
 * take the case now.
 */
export const CANDIDATE_GROUPS = ['own_cell', 'cover', 'neighbour_cell', 'township', 'beyond', 'stale', 'unavailable'] as const;
export type CandidateGroup = (typeof CANDIDATE_GROUPS)[number];

export const REASON_CODES = [
  'own_cell',
  'cover_for',
  'neighbour_cell',
  'same_township',
  'nearest',
  'has_skill',
  'lacks_skill',
  'stale',
  'busy',
  'off_duty',
  'at_capacity',
] as const;
export type ReasonCode = (typeof REASON_CODES)[number];

/** Why a worker is where they are in the ranking: a stable code and what it refers to. */
export interface CandidateReason {
  code: ReasonCode | string;
  /** cover_for: the worker who is away. */
  worker_id?: number;
  /** neighbour_cell: the neighbouring cell (its id). */
  grid_cell_id?: number;
  /** has_skill, lacks_skill: the skill the category asks for. */
  skill?: string;
  /** stale: the position's age in seconds (absent: never reported). */
  age_s?: number;
}

export interface Candidate {
  /** 1 is the best. */
  rank: number;
  worker_id: number;
  name: string;
  group: CandidateGroup | string;
  status: WorkerStatus | string;
  /** Metres from the incident to the worker's last position; null without one. */
  distance_m: number | null;
  lon: number | null;
  lat: number | null;
  /** Unix seconds of the last position. */
  last_seen: number | null;
  stale: boolean;
  caseload: number;
  capacity: number;
  skills: string[];
  reasons: CandidateReason[];
}

/** The incident as the ranking saw it. */
export interface CandidateIncident {
  id: number;
  lon: number;
  lat: number;
  status: IncidentStatus | string;
  category: string;
  grid_cell_id: number | null;
  township_id: number | null;
  assignee_id: number | null;
  /** The skill the category calls for. */
  skill: string | null;
}

export interface Candidates {
  incident: CandidateIncident;
  /** A position older than this is stale. */
  stale_after_s: number;
  candidates: Candidate[];
}

/** `POST /api/v1/incidents/{id}/assignment`: the case's new state. */
export interface Assignment {
  id: number;
  status: IncidentStatus | string;
  tier: Tier | string;
  assignee_id: number | null;
  assignee_name: string | null;
  updated_at: string;
  previous_assignee_id: number | null;
}

/** `GET /api/v1/worker-skills` */
export interface WorkerSkill {
  code: string;
  name_zh: string;
  name_en: string;
}

/** A grid worker as `GET /api/v1/workers` lists them (a GeoJSON feature, no geometry without a position). */
export interface WorkerListProperties {
  id: number;
  name: string;
  status: WorkerStatus | string;
  stale: boolean;
  /** RFC 3339, null when the worker never reported a position. */
  last_seen_at: string | null;
  cell_codes: string[] | null;
  /** Open cases assigned to the worker. */
  caseload: number;
  /** Most open cases the worker may hold (when the server sends it). */
  capacity?: number | null;
  /** Skill codes (`worker-skills`), when the server sends them. */
  skills?: string[];
  /** Who covers the worker's cells while they are off duty, when the server sends it. */
  cover_worker_id?: number | null;
}

export type WorkerCollection = FeatureCollection<Point | null, WorkerListProperties>;

export function fetchCandidates(id: number | string, limit = 10, signal?: AbortSignal): Promise<Candidates> {
  return getJson(buildUrl(`/incidents/${encodeURIComponent(String(id))}/candidates`, { limit: String(limit) }), signal, ACCEPT_JSON);
}

/**
 * Assigns incident `id` to `workerId`. `replaces` is the assignee the
 * dispatcher saw (null: none): if the case has another by now, the server
 * answers 409 with the case as it is in the problem's `current`.
 */
export function assignIncident(id: number | string, workerId: number, replaces: number | null, note?: string): Promise<Assignment> {
  const body: Record<string, unknown> = { worker_id: workerId, replaces };
  if (note) body['note'] = note;
  return postJson(buildUrl(`/incidents/${encodeURIComponent(String(id))}/assignment`), body);
}

// ---------------------------------------------------------------- case rules

/** Longest deadline a tier may be given (hours): a year, as the server allows. */
export const MAX_DEADLINE_HOURS = 8760;
/** Widest duplicate reach (metres) and longest duplicate window (hours), as the server allows. */
export const MAX_DUPLICATE_RADIUS_M = 50_000;
export const MAX_DUPLICATE_WINDOW_HOURS = 8760;

/** One row of `GET /api/v1/incident-deadlines`: `category` null for the default of every category without its own. */
export interface DeadlineRule {
  category: string | null;
  severity: Severity;
  tier: Tier;
  hours: number;
}

export function fetchDeadlines(signal?: AbortSignal): Promise<DeadlineRule[]> {
  return getJson(buildUrl('/incident-deadlines'), signal, ACCEPT_JSON);
}

/** Sets one rule (city-wide administrators only); answers the rule as saved. */
export function setDeadline(rule: DeadlineRule): Promise<DeadlineRule> {
  return sendJson('PUT', buildUrl('/incident-deadlines'), rule);
}

/** Drops a category's own rule, so the default applies to it again. */
export async function dropDeadline(category: string, severity: Severity, tier: Tier): Promise<void> {
  const url = buildUrl('/incident-deadlines', { category, severity, tier });
  const response = await send(url, { method: 'DELETE', headers: { Accept: ACCEPT_JSON } });
  if (!response.ok) throw await failure(url, response);
}

/** Sets how near (metres) and how recent (hours) another report must be to look like a duplicate. */
export function setDuplicateReach(
  code: string,
  change: { duplicate_radius_m?: number; duplicate_window_hours?: number },
): Promise<IncidentCategory> {
  return sendJson('PATCH', buildUrl(`/incident-categories/${encodeURIComponent(code)}`), change);
}

export function fetchWorkerSkills(signal?: AbortSignal): Promise<WorkerSkill[]> {
  return getJson(buildUrl('/worker-skills'), signal, ACCEPT_JSON);
}

export function fetchWorkers(signal?: AbortSignal): Promise<WorkerCollection> {
  return getJson(buildUrl('/workers'), signal);
}
