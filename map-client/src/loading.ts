// A session's first load: tile sources added, the live feed started, each API
// answer in its panel or label source, and the tiles of the current view
// drawn. Its failures decide whether the session goes on (see session.ts).

import type { FeatureCollection, MultiPolygon, Polygon } from 'geojson';
import type { Map as MapLibreMap } from 'maplibre-gl';

import {
  fetchAdminUnits,
  fetchCategories,
  fetchClientConfig,
  fetchHeadline,
  fetchStatsSummary,
  isUnauthenticated,
  type AdminLevel,
  type AdminUnitProperties,
  type ApiError,
  type IncidentCategory,
} from './api';
import { addBasemap, hasBasemap, landOpacity } from './basemap';
import { describeError, sourceError } from './errors';
import { labelPoints } from './geo';
import type { HeadlineStrip } from './headline';
import type { MessageKey } from './i18n';
import { addWorkerIcons } from './icons';
import type { IncidentPanel } from './incidents';
import type { GridCellLabels } from './labels';
import { DATA_SOURCES, GROUP_LAYERS, isTileLayer, labelSourceId, type LabelledArea } from './layers';
import type { GeoJsonSources } from './sources';
import { addTileSources } from './tiles';
import type { Ui } from './ui';

export interface LoaderOptions {
  map: MapLibreMap;
  styleLoaded: Promise<void>;
  sources: GeoJsonSources;
  gridLabels: GridCellLabels;
  ui: Pick<Ui, 'showError' | 'hiddenGroups' | 'setStats' | 'setStatsUnavailable'>;
  headline: Pick<HeadlineStrip, 'set' | 'setUnavailable'>;
  incidents: Pick<IncidentPanel, 'load'>;
  /** Every view that names categories keeps the latest list. */
  onCategories(categories: IncidentCategory[]): void;
  /** Started before anything is fetched: changes made while the rest loads are not missed. */
  startLive(): void;
  /** Incidents changed while the load ran: its answers may predate the change. */
  refreshPanels(): void;
}

export interface Loader {
  /**
   * Style loaded, tile sources added, the live feed started, all API data in
   * the panels and label sources, tiles for the current view built. Rejects
   * with the first 401 if any (the session has expired), else with the first
   * error (after the others have settled: whatever loaded is still shown).
   */
  load(signal: AbortSignal): Promise<void>;
  /** True while a load runs: its tile errors then fail the load rather than end the session. */
  loading(): boolean;
  /**
   * A panel refresh asked for while a load runs is put off until it ends
   * (true: put off); the load's own answers may already be out of date.
   */
  deferRefresh(): boolean;
  /** The area labels fetched again (resync); `onError` hears of each failure. */
  reloadAreaLabels(onError: (what: MessageKey, err: unknown) => void): void;
}

const ADMIN_LABELS: Record<AdminLevel, { area: LabelledArea; what: MessageKey }> = {
  county: { area: 'counties', what: 'layer.counties' },
  township: { area: 'townships', what: 'layer.townships' },
  village: { area: 'villages', what: 'layer.villages' },
};

const ADMIN_LEVELS: readonly AdminLevel[] = ['county', 'township', 'village'];

/**
 * Resolves once every data source (tiles and area labels) has its data for
 * the current view and the map has drawn a frame since (or `signal` is
 * aborted). The live overlays (workers, pulses) do not count: patched
 * several times a second, they would keep the whole map from ever being idle.
 */
export async function sourcesLoaded(map: MapLibreMap, signal: AbortSignal): Promise<void> {
  const settled = (): boolean => DATA_SOURCES.every((id) => !map.getSource(id) || map.isSourceLoaded(id));
  for (;;) {
    if (signal.aborted) return;
    if (settled() && !map.isMoving()) {
      // a frame drawn with that data
      await new Promise<void>((resolve) => {
        map.once('render', () => resolve());
        map.triggerRepaint();
      });
      // (a camera move may have begun meanwhile: a new ranking fitted)
      if (settled() && !map.isMoving()) return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        map.off('idle', done);
        map.off('sourcedata', done);
        resolve();
      };
      map.on('idle', done);
      map.on('sourcedata', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

export function createLoader(options: LoaderOptions): Loader {
  const { map, sources, ui } = options;
  let loading = false;
  let changedWhileLoading = false;

  /** One label point per unit of a level, from the admin-units GeoJSON (the polygons are not kept). */
  async function loadAdminLabels(level: AdminLevel, signal?: AbortSignal): Promise<void> {
    const units = await fetchAdminUnits(level, undefined, signal);
    if (signal?.aborted) return;
    const points = labelPoints(units as FeatureCollection<Polygon | MultiPolygon, AdminUnitProperties>);
    await sources.set(labelSourceId(ADMIN_LABELS[level].area), points);
  }

  async function loadBasemap(signal: AbortSignal): Promise<void> {
    const config = await fetchClientConfig(signal);
    if (signal.aborted || !config.basemap) return;
    try {
      await addBasemap(map, config.basemap, signal);
    } catch (err) {
      // the data is fine without it: say so, but do not fail the load
      if (!signal.aborted) ui.showError(describeError('basemap.title', err));
    }
  }

  /**
   * One fetch per panel or label source. Errors go to the banner, except 401
   * (the session is gone: the sign-in form says so) and those of an abandoned
   * load (`signal` aborted by a sign-out).
   */
  function tasks(signal: AbortSignal): Promise<void>[] {
    const task = <T>(what: MessageKey, fetched: Promise<T>, use: (value: T) => unknown, onError?: () => void): Promise<void> =>
      fetched.then(
        async (value) => {
          if (!signal.aborted) await use(value);
        },
        (err: unknown) => {
          if (!signal.aborted && !isUnauthenticated(err)) {
            onError?.();
            ui.showError(describeError(what, err));
          }
          throw err;
        },
      );
    const admin = (level: AdminLevel): Promise<void> => task(ADMIN_LABELS[level].what, loadAdminLabels(level, signal), () => {});
    return [
      task('basemap.title', loadBasemap(signal), () => {}),
      admin('county'),
      admin('township'),
      admin('village'),
      task('categories.title', fetchCategories(signal), (c) => options.onCategories(c)),
      task('incidents.title', options.incidents.load(signal), () => {}),
      task('headline.title', fetchHeadline(signal), (h) => options.headline.set(h), () => options.headline.setUnavailable()),
      task('stats.title', fetchStatsSummary(signal), (s) => ui.setStats(s, new Date()), () => ui.setStatsUnavailable()),
    ];
  }

  /** Layers of the groups switched off in the legend. */
  function hiddenLayerIds(): Set<string> {
    return new Set([...ui.hiddenGroups()].flatMap((group) => GROUP_LAYERS[group]));
  }

  async function load(signal: AbortSignal): Promise<void> {
    await options.styleLoaded;
    if (signal.aborted) return;
    const tileErrors: ApiError[] = [];
    const onError = (e: unknown): void => {
      const failed = sourceError(e as { sourceId?: string; error?: unknown });
      if (failed && isTileLayer(failed.source)) tileErrors.push(failed.error);
    };
    loading = true;
    changedWhileLoading = false;
    map.on('error', onError);
    try {
      addWorkerIcons(map);
      addTileSources(map, hiddenLayerIds());
      map.setPaintProperty('counties-fill', 'fill-opacity', landOpacity(hasBasemap()));
      options.gridLabels.setEnabled(true);
      options.startLive();
      const results = await Promise.allSettled(tasks(signal));
      const failures: unknown[] = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
      await sourcesLoaded(map, signal);
      failures.push(...tileErrors);
      const failed = failures.find(isUnauthenticated) ?? failures[0];
      if (failed !== undefined) throw failed;
    } finally {
      loading = false;
      map.off('error', onError);
    }
    if (changedWhileLoading && !signal.aborted) options.refreshPanels();
  }

  return {
    load,
    loading: () => loading,
    deferRefresh() {
      if (loading) changedWhileLoading = true;
      return loading;
    },
    reloadAreaLabels(onError) {
      for (const level of ADMIN_LEVELS) {
        loadAdminLabels(level).catch((err: unknown) => onError(ADMIN_LABELS[level].what, err));
      }
    },
  };
}
