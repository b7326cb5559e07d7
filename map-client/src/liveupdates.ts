// What follows from the live feed: tiles, overlays and panels track its
// changes (throttled), and a resync reloads them all. The feed itself (socket,
// reconnects) is live.ts; what ends the session is the caller's business.

import type { Map as MapLibreMap } from 'maplibre-gl';

import { fetchCategories, fetchHeadline, fetchStatsSummary, type IncidentCategory } from './api';
import type { AnalysisPanel } from './analysis';
import type { AnalysisAlert } from './analysisapi';
import type { DispatchSection } from './dispatch';
import type { HeadlineStrip } from './headline';
import type { MessageKey } from './i18n';
import type { IncidentPanel } from './incidents';
import type { GridCellLabels } from './labels';
import { LiveClient, type ChangesMessage } from './live';
import type { Loader } from './loading';
import type { PulseOverlay } from './pulse';
import type { TileRefresher } from './tiles';
import type { Ui } from './ui';
import type { WorkerList } from './workerlist';
import type { WorkerOverlay } from './workers';

export interface LiveUpdatesOptions {
  map: MapLibreMap;
  refresher: TileRefresher;
  workers: WorkerOverlay;
  pulses: PulseOverlay;
  gridLabels: GridCellLabels;
  ui: Pick<Ui, 'setStats' | 'setLive'>;
  headline: Pick<HeadlineStrip, 'set'>;
  incidents: Pick<IncidentPanel, 'refresh' | 'refreshSelected' | 'selected'>;
  workerList: Pick<WorkerList, 'changed' | 'apply' | 'remove' | 'refresh'>;
  dispatch: Pick<DispatchSection, 'followLive' | 'refresh'>;
  loader: Pick<Loader, 'loading' | 'deferRefresh' | 'reloadAreaLabels'>;
  /** The analysis panel: its area analysis goes out of date when cases change. */
  analysis: Pick<AnalysisPanel, 'incidentsChanged' | 'refresh'>;
  /** Hot spot alerts: new ones come with the changes; a resync fetches them all again. */
  alerts: { add(alerts: readonly AnalysisAlert[]): void; refresh(): void };
  /** The planners' panel: it follows the drafts the feed says changed (null: all, after a resync). */
  plans: { heard(versions: readonly number[] | null): void };
  onCategories(categories: IncidentCategory[]): void;
  /** Messages and answers that arrive once the session is over are dropped. */
  signedIn(): boolean;
  /** Aborted when the session ends: refreshes under way are abandoned. */
  signal(): AbortSignal | undefined;
  /** A refresh failed (a 401 among them: the session may have gone). */
  onError(what: MessageKey, err: unknown): void;
  /** The server closed the feed because the session is over. */
  onSessionEnded(): void;
  /** The feed could not connect: the upgrade may have been refused because the session is gone. */
  onConnectFailed(): void;
}

export interface LiveUpdates {
  readonly live: LiveClient;
  /** The list, headline and statistics, fetched again (throttled); after the first load if it is under way. */
  refreshPanels(): void;
  /** The feed closed and every pending refresh dropped (the session is over). */
  stop(): void;
}

/** `fn` at most once per `ms`: the first call runs at once, later ones once more at the end. */
function throttle(fn: () => void, ms: number): { (): void; cancel(): void } {
  let last = 0;
  let timer = 0;
  const run = (): void => {
    timer = 0;
    last = Date.now();
    fn();
  };
  const call = (): void => {
    if (timer) return;
    timer = window.setTimeout(run, Math.max(0, last + ms - Date.now()));
  };
  call.cancel = (): void => {
    window.clearTimeout(timer);
    timer = 0;
  };
  return call;
}

export function createLiveUpdates(options: LiveUpdatesOptions): LiveUpdates {
  const { refresher, workers, pulses, gridLabels, ui, incidents, workerList, dispatch, loader, analysis, alerts } = options;

  const refreshHeadline = throttle(() => {
    fetchHeadline(options.signal()).then(
      (h) => {
        if (options.signedIn()) options.headline.set(h);
      },
      (err: unknown) => options.onError('headline.title', err),
    );
  }, 2000);
  const refreshList = throttle(() => incidents.refresh(), 2000);
  /** Workers move every few seconds in a busy city: the ranking follows at most every 5 s. */
  const followWorkers = throttle(() => dispatch.followLive(), 5000);
  const refreshStats = throttle(() => {
    fetchStatsSummary(options.signal()).then(
      (s) => {
        if (options.signedIn()) ui.setStats(s, new Date());
      },
      (err: unknown) => options.onError('stats.title', err),
    );
  }, 15_000);

  function refreshPanels(): void {
    if (loader.deferRefresh()) return;
    refreshList();
    refreshHeadline();
    refreshStats();
  }

  function onChanges(message: ChangesMessage): void {
    if (!options.signedIn()) return;
    const layers = new Set<string>(message.layers ?? []);
    const changed = message.incidents ?? [];
    const moved = message.workers ?? [];
    if (changed.length > 0) {
      layers.add('incidents');
      // counted per hexagon too (the server names it as well, when it knows the layer)
      layers.add('hexagons');
      analysis.incidentsChanged();
      pulses.add(changed);
      refreshPanels();
      workerList.changed();
      const selected = incidents.selected();
      if (selected !== null && changed.some((i) => String(i.id) === String(selected))) incidents.refreshSelected();
    }
    if (moved.length > 0) {
      workers.apply(moved);
      workerList.apply(moved);
      followWorkers();
    }
    if (message.removed_workers?.length) {
      workers.remove(message.removed_workers);
      workerList.remove(message.removed_workers);
      layers.add('workers');
      followWorkers();
    }
    if (message.removed_incidents?.length) {
      layers.add('incidents');
      layers.add('hexagons');
      analysis.incidentsChanged();
      refreshPanels();
      const selected = incidents.selected();
      if (selected !== null && message.removed_incidents.some((id) => String(id) === String(selected))) incidents.refreshSelected();
    }
    if (message.alerts?.length) alerts.add(message.alerts);
    if (message.plans?.length) options.plans.heard(message.plans);
    refresher.mark(layers);
    ui.setLive(live.status, live.lastMessageAt);
  }

  /** Everything may have changed (the server said so, or it restarted): reload it all. */
  function resync(): void {
    if (!options.signedIn() || loader.loading()) return;
    refresher.cancel();
    workers.clear();
    pulses.clear();
    for (const layer of refresher.layers()) refresher.nowLayer(layer);
    gridLabels.invalidate();
    loader.reloadAreaLabels((what, err) => options.onError(what, err));
    fetchCategories().then(
      (c) => options.onCategories(c),
      (err: unknown) => options.onError('categories.title', err),
    );
    incidents.refresh();
    incidents.refreshSelected();
    dispatch.refresh();
    workerList.refresh();
    analysis.refresh();
    alerts.refresh();
    options.plans.heard(null);
    refreshHeadline();
    refreshStats();
  }

  /** Resyncs asked for in a burst (a new epoch's hello, then the server's own resync) run once. */
  let resyncTimer = 0;
  function scheduleResync(): void {
    window.clearTimeout(resyncTimer);
    resyncTimer = window.setTimeout(resync, 300);
  }

  const live = new LiveClient({
    onChanges,
    onResync: () => scheduleResync(),
    onSessionEnded: () => options.onSessionEnded(),
    onConnectFailed: () => options.onConnectFailed(),
  });
  live.addEventListener('status', () => ui.setLive(live.status, live.lastMessageAt));

  return {
    live,
    refreshPanels,
    stop() {
      window.clearTimeout(resyncTimer);
      live.stop();
      refresher.cancel();
      refreshHeadline.cancel();
      refreshList.cancel();
      refreshStats.cancel();
    },
  };
}
