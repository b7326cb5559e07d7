// `window.__wangge`: what the browser tests (tests/browser) read of the
// running client. Its shape is a contract with them, so it is declared here
// on its own rather than grown wherever the parts happen to live.

import type { FeatureCollection } from 'geojson';
import type { Map as MapLibreMap } from 'maplibre-gl';

import type { AnalysisHook } from './analysis';
import type { AnalysisAlert } from './analysisapi';
import type { Candidates, Session, WorkerListProperties } from './api';
import type { FieldHook } from './field';
import type { LiveClient } from './live';
import type { PlansHook } from './plans';
import type { ReportHook } from './report';
import type { SideTab } from './workerlist';
import type { WorkerOverlay } from './workers';

export interface TestHook {
  map: MapLibreMap;
  /**
   * Resolves once signed in and every data source is loaded and drawn.
   * A new promise after each sign-out or expiry (for the next sign-in).
   */
  readonly ready: Promise<void>;
  /** The session: pending while checked, then the session JSON, or null when signed out. */
  readonly session: Promise<Session | null>;
  /** The live feed (an EventTarget: `status`, `changes`, `resync` events). */
  live: LiveClient;
  /** Live worker positions drawn over the tiles. */
  workers: WorkerOverlay;
  /** How often each tile source has been refreshed by live changes or filters. */
  tileRefreshes: Record<string, number>;
  /**
   * Resolves once the tile sources and area labels have their data for the
   * current view and a frame has been drawn with it. Unlike the map's
   * `idle`, the live overlays (gliding workers) do not hold it back.
   */
  settled(): Promise<void>;
  /**
   * The analysis panel: each layer's state (off, loading, ready, failed),
   * `drawn(layer)` (resolves with the state once the layer's data for the
   * current view is drawn), the area analysis shown with its URL, the tile
   * URL templates of the heat map and hexagons, the place outlined.
   */
  analysis: AnalysisHook;
  /**
   * The grid planning panel: the plans listed, the plan open (at the revision
   * the client holds) with its workload, the issues drawn on the map, the
   * message line, the editor's tool, selection and vertices, the diff and
   * rebalancing shown; `idle()` resolves once none of its requests is under way.
   */
  plans: PlansHook;
  /** The report form: open, the point chosen, the possible duplicates shown, the key the next send uses. */
  report: ReportHook;
  /** The grid worker's panel: who they are, the positions the server stored. */
  field: FieldHook;
  /** The hot spot alerts listed, most recent first. */
  alerts(): AnalysisAlert[];
  /** The dispatcher's screen: the ranking shown in the details, its map lines, the worker list. */
  dispatch: {
    /** The candidates shown for the selected incident (null: none). */
    candidates(): Candidates | null;
    /** `idle`, `loading`, `ready` or `failed`. */
    state(): string;
    /** What the dispatch-lines source holds. */
    lines(): FeatureCollection;
    /** The worker list's workers, in the order shown (empty until it is first opened). */
    workers(): WorkerListProperties[];
    /** The right-hand column's tab (incidents or workers). */
    tab(): SideTab;
  };
}

declare global {
  interface Window {
    __wangge?: TestHook;
  }
}

export function exposeTestHook(hook: TestHook): void {
  window.__wangge = hook;
}
