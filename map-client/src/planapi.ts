// The grid plan endpoints (/api/v1/plans/…, planners only): URLs and the
// shapes the server answers (http/src/routes/plans.rs, domain/src/plans/).

import type { FeatureCollection, Geometry, MultiPolygon, Polygon } from 'geojson';

import { ACCEPT_JSON, ApiError, buildUrl, deleteResource, getJson, sendJson } from './api';

export type PlanStatus = 'draft' | 'published' | 'archived';

export interface PlanSummary {
  version: number;
  name: string;
  status: PlanStatus;
  revision: number;
  based_on: number | null;
  area_code: string | null;
  area_name: string | null;
  created_by: string | null;
  created_at: string;
  updated_at: string;
  published_at: string | null;
  archived_at: string | null;
  cells: number;
  cells_in_area: number;
  editable: boolean;
}

export interface PlanCellProperties {
  code: string;
  name: string;
  village_code: string;
  village_name: string;
  revision: number;
}

export type PlanCellCollection = FeatureCollection<Polygon | MultiPolygon, PlanCellProperties>;

export interface WorkloadSummary {
  cells: number;
  households: number;
  residents: number;
  cases: number;
  workers: number;
  load: number;
  case_weight: number;
  target_per_worker: number | null;
  max_abs_deviation: number | null;
  within_5_percent: number;
  within_20_percent: number;
  unstaffed: number;
  mean_polsby_popper: number;
  non_contiguous: number;
  crossing_village: number;
}

export interface CellLoad {
  code: string;
  name: string;
  village_code: string;
  village_name: string;
  households: number;
  residents: number;
  cases: number;
  weighted_cases: number;
  area_km2: number;
  workers: number;
  load: number;
  /** load per worker over the target, minus 1 (0.05 = 5 % over); null: no worker. */
  deviation: number | null;
  polsby_popper: number;
  parts: number;
  outside_village_m2: number;
}

export interface Workload {
  version: number;
  summary: WorkloadSummary;
  cells: CellLoad[];
}

export interface PlanIssue {
  kind: string;
  severity: 'error' | 'warning';
  cells: string[];
  village: string | null;
  location: [number, number];
  geometry: Geometry | null;
  measure: number;
  message: string;
  message_en: string;
}

export interface IssuesAnswer {
  version: number;
  errors: number;
  warnings: number;
  issues: PlanIssue[];
}

export interface Flow {
  from: string | null;
  to: string | null;
  households: number;
}

export interface CellChange {
  code: string;
  change: string;
  load_before: number | null;
  load_after: number | null;
  deviation_before: number | null;
  deviation_after: number | null;
  cases_before: number | null;
  cases_after: number | null;
}

export interface PlanDiff {
  draft_version: number;
  published_version: number;
  added: string[];
  removed: string[];
  reshaped: string[];
  renamed: string[];
  households_moving: number;
  flows: Flow[];
  workers_moving: { worker_id: number; from: string; to: string | null }[];
  before: WorkloadSummary;
  after: WorkloadSummary;
  cells: CellChange[];
}

export type Lonlat = [number, number];

export type Edit =
  | { op: 'move_vertex'; from: Lonlat; to: Lonlat }
  | { op: 'split'; cell: string; line: Lonlat[]; new_code?: string; new_name?: string }
  | { op: 'merge'; cells: string[]; into?: string }
  | { op: 'move_boundary'; cells: [string, string]; line: Lonlat[] }
  | { op: 'add_cell'; code: string; name: string; village: string; polygon: Lonlat[] }
  | { op: 'remove_cell'; cell: string; into?: string }
  | { op: 'rename'; cell: string; name: string };

export interface EditOutcome {
  revision: number;
  kind: string;
  summary: string;
  changed: PlanCellCollection;
  removed: string[];
  warnings: PlanIssue[];
}

export interface HistoryEntry {
  revision: number;
  kind: string;
  summary: string;
  username: string | null;
  at: string;
  undone: boolean;
}

export interface RebalanceRequest {
  township?: string;
  villages?: string[];
  cells?: string[];
  target_cells?: number;
  target_load?: number;
  tolerance?: number;
}

export interface RebalanceOutcome {
  edit: EditOutcome;
  cells: number;
  target_load: number;
  max_deviation: number;
  tolerance_met: boolean;
  mean_polsby_popper: number;
  contiguous_share: number;
  households: number;
  households_moved: number;
  shortfalls: Shortfall[];
}

/** Why a rebalancing fell short of its tolerance, by village. */
export type Shortfall =
  | { kind: 'heavy_unit'; village_code: string; village_name: string; load: number }
  | { kind: 'village_share'; village_code: string; village_name: string; cells: number; mean_deviation: number }
  | { kind: 'coarse_units'; village_code: string | null; village_name: string | null; typical_load: number; band_width: number }
  | { kind: 'stalled'; village_code: string | null; village_name: string | null };

export interface Published {
  version: number;
  archived_version: number;
  changed_cells: number;
  worker_links: number;
  user_areas: number;
  open_cases: number;
}

export const PLAN_PROBLEM = {
  invalid: '/problems/invalid-plan',
  conflict: '/problems/conflict',
} as const;

const plan = (v: number, rest = ''): string => buildUrl(`/plans/${v}${rest}`);

export const fetchPlans = (signal?: AbortSignal): Promise<PlanSummary[]> => getJson(buildUrl('/plans'), signal, ACCEPT_JSON);
export const fetchPlan = (v: number): Promise<PlanSummary> => getJson(plan(v), undefined, ACCEPT_JSON);
export const createPlan = (name: string, from?: number): Promise<PlanSummary> =>
  sendJson('POST', buildUrl('/plans'), from === undefined ? { name } : { name, from });
export const deletePlan = (v: number): Promise<void> => deleteResource(plan(v));
export const archivePlan = (v: number): Promise<PlanSummary> => sendJson('POST', plan(v, '/archive'), {});
export const publishPlan = (v: number): Promise<Published> => sendJson('POST', plan(v, '/publish'), {});

export function fetchPlanCells(v: number, codes: string[], signal?: AbortSignal): Promise<PlanCellCollection> {
  return getJson(buildUrl(`/plans/${v}/cells`, { codes: codes.join(',') }), signal);
}

export const fetchWorkload = (v: number, signal?: AbortSignal): Promise<Workload> => getJson(plan(v, '/workload'), signal, ACCEPT_JSON);
export const fetchIssues = (v: number): Promise<IssuesAnswer> => getJson(plan(v, '/issues'), undefined, ACCEPT_JSON);
export const fetchDiff = (v: number): Promise<PlanDiff> => getJson(plan(v, '/diff'), undefined, ACCEPT_JSON);
export const fetchHistory = (v: number): Promise<HistoryEntry[]> => getJson(plan(v, '/edits'), undefined, ACCEPT_JSON);

export const sendEdit = (v: number, revision: number, edit: Edit): Promise<EditOutcome> =>
  sendJson('POST', plan(v, '/edits'), { revision, ...edit });
export const undoEdit = (v: number, revision: number): Promise<EditOutcome> => sendJson('POST', plan(v, '/undo'), { revision });
export const redoEdit = (v: number, revision: number): Promise<EditOutcome> => sendJson('POST', plan(v, '/redo'), { revision });
export const rebalance = (v: number, revision: number, request: RebalanceRequest): Promise<RebalanceOutcome> =>
  sendJson('POST', plan(v, '/rebalance'), { revision, ...request });

/** The tile URL template of a plan version's grid cells (the grid-cells tiles with `plan=`). */
export function planTiles(v: number): string {
  return `${window.location.origin}/tiles/grid-cells/{z}/{x}/{y}?plan=${v}`;
}

/** The issues of a refused edit (422 `/problems/invalid-plan`), if that is what `err` is. */
export function refusedIssues(err: unknown): PlanIssue[] | null {
  if (!(err instanceof ApiError) || err.status !== 422) return null;
  const issues = err.problem?.issues;
  return Array.isArray(issues) ? (issues as PlanIssue[]) : null;
}

/** A conflict's `current` (409): the plan's revision and the cells as they are now. */
export function conflictCurrent(err: unknown): { revision: number; cells: PlanCellCollection | null } | null {
  if (!(err instanceof ApiError) || err.status !== 409) return null;
  const current = err.problem?.current as { revision?: unknown; cells?: unknown } | undefined;
  if (!current || typeof current.revision !== 'number') return null;
  const cells = current.cells as PlanCellCollection | undefined;
  return { revision: current.revision, cells: cells && Array.isArray(cells.features) ? cells : null };
}
