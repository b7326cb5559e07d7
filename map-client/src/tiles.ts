// The vector tile sources: adding them (after signing in) and removing them
// (on sign-out), the incident filters carried on the incident tile URLs, and
// refreshing a source's tiles when the live feed says they changed.
//
// Refreshing uses `map.refreshTiles(sourceId)` (maplibre-gl ≥ 5.6): every
// tile of the source is reloaded in the "expired" state, so the old tile stays
// drawn until the new one has arrived (no flicker), and the out-of-view cache
// is dropped so that tiles coming back into view are fetched again. The
// server sends ETags and `Cache-Control: no-cache`: the browser revalidates
// and an unchanged tile costs a 304, which MapLibre then does not even parse
// again (same ETag).

import type { Map as MapLibreMap, RequestParameters, ResourceType } from 'maplibre-gl';
import type { IncidentFilter } from './api';
import { LAYER_ORDER, TILE_LAYERS, isTileLayer, tileLayers, tileSources, type TileLayer } from './layers';

/** Adds `layer` below the next layer of LAYER_ORDER that is already in the map. */
export function addLayerInOrder(map: MapLibreMap, layer: Parameters<MapLibreMap['addLayer']>[0]): void {
  if (map.getLayer(layer.id)) return;
  const index = LAYER_ORDER.indexOf(layer.id);
  const before = index < 0 ? undefined : LAYER_ORDER.slice(index + 1).find((id) => map.getLayer(id));
  map.addLayer(layer, before);
}

/** The first of our layers above the background: a basemap goes below it. */
export function firstDataLayer(map: MapLibreMap): string | undefined {
  return LAYER_ORDER.slice(1).find((id) => map.getLayer(id));
}

export function addTileSources(map: MapLibreMap, hidden: ReadonlySet<string> = new Set()): void {
  const sources = tileSources();
  for (const layer of TILE_LAYERS) {
    if (!map.getSource(layer)) map.addSource(layer, sources[layer]);
  }
  for (const layer of tileLayers()) {
    addLayerInOrder(map, hidden.has(layer.id) ? { ...layer, layout: { ...layer.layout, visibility: 'none' } } : layer);
  }
}

export function removeTileSources(map: MapLibreMap): void {
  for (const layer of tileLayers()) {
    if (map.getLayer(layer.id)) map.removeLayer(layer.id);
  }
  for (const layer of TILE_LAYERS) {
    if (map.getSource(layer)) map.removeSource(layer);
  }
}

/** The incident tiles' query parameters for a filter (the list's `q` has no tile equivalent). */
export function incidentTileParams(filter: IncidentFilter): URLSearchParams {
  const params = new URLSearchParams();
  if (filter.status) params.set('status', filter.status);
  if (filter.category) params.set('category', filter.category);
  if (filter.tier) params.set('tier', filter.tier);
  return params;
}

/** Which tile layer a tile URL (`…/tiles/L/{z}/{x}/{y}`) belongs to, if any. */
export function tileLayerOf(url: string): TileLayer | null {
  let path: string;
  try {
    path = new URL(url, window.location.href).pathname;
  } catch {
    return null;
  }
  const m = /\/tiles\/([a-z-]+)\/\d+\/\d+\/\d+/.exec(path);
  const layer = m?.[1];
  return layer && isTileLayer(layer) ? layer : null;
}

/**
 * The map's `transformRequest`: adds the incident filter to incident tile
 * URLs and a draft plan's version (`?plan=` in the page URL) to grid-cell
 * tile URLs, and makes relative URLs absolute (tiles are fetched from a
 * worker, whose base URL is the script's).
 */
export function transformRequest(
  incidentFilter: () => IncidentFilter,
  plan: () => string | null,
): (url: string, resourceType?: ResourceType) => RequestParameters | undefined {
  return (url, resourceType) => {
    if (resourceType !== 'Tile' && resourceType !== 'Source') return undefined;
    let absolute: URL;
    try {
      absolute = new URL(url, window.location.href);
    } catch {
      return undefined;
    }
    if (absolute.origin !== window.location.origin) return undefined;
    if (resourceType === 'Tile') {
      const layer = tileLayerOf(absolute.href);
      let extra: URLSearchParams | null = null;
      // A URL that carries its own query is an analysis source's (analysisstyle.ts:
      // the analysis filter, always with `since`): the incident panel's filter is not for it.
      if (layer === 'incidents' && absolute.search === '') extra = incidentTileParams(incidentFilter());
      else if (layer === 'grid-cells' && plan()) extra = new URLSearchParams({ plan: plan() ?? '' });
      if (extra) for (const [key, value] of extra) absolute.searchParams.set(key, value);
    }
    return { url: absolute.href, credentials: 'same-origin' };
  };
}

/**
 * Refreshes sources' tiles at most once per `intervalMs` (the live feed may
 * say "changed" a few times a second): the first change is applied at once,
 * later ones are collected and applied together when the interval is over.
 */
export class TileRefresher {
  #map: MapLibreMap;
  #interval: number;
  #dirty = new Set<string>();
  #last = 0;
  #timer = 0;
  /** Sources refreshed so far, by id (for the browser tests). */
  readonly counts: Record<string, number> = {};

  #also: Readonly<Record<string, readonly string[]>>;

  /**
   * `also`: other sources drawing a tile layer's tiles (by the layer's name,
   * e.g. the analysis heat map for `incidents`, and layers that are no
   * source of ours, e.g. `hexagons`); they are refreshed with it.
   */
  constructor(map: MapLibreMap, intervalMs = 1000, also: Readonly<Record<string, readonly string[]>> = {}) {
    this.#map = map;
    this.#interval = intervalMs;
    this.#also = also;
  }

  /** The sources drawing tile layer `layer`'s tiles. */
  sourcesOf(layer: string): string[] {
    return [...(isTileLayer(layer) ? [layer] : []), ...(this.#also[layer] ?? [])];
  }

  /** Every tile layer the refresher knows (ours and those named in `also`). */
  layers(): string[] {
    return [...new Set([...TILE_LAYERS, ...Object.keys(this.#also)])];
  }

  /** Tile layers changed (the live feed's names): their sources are refreshed, throttled. */
  mark(ids: Iterable<string>): void {
    for (const id of ids) for (const source of this.sourcesOf(id)) this.#dirty.add(source);
    if (this.#dirty.size === 0 || this.#timer) return;
    const wait = Math.max(0, this.#last + this.#interval - Date.now());
    this.#timer = window.setTimeout(() => this.#flush(), wait);
  }

  /** Refreshes now every source of tile layer `layer` (a resync). */
  nowLayer(layer: string): void {
    for (const id of this.sourcesOf(layer)) this.now(id);
  }

  /** Refreshes source `id` now (a user action, e.g. a new filter), whatever the interval. */
  now(id: string): void {
    this.#dirty.delete(id);
    this.#refresh(id);
  }

  cancel(): void {
    window.clearTimeout(this.#timer);
    this.#timer = 0;
    this.#dirty.clear();
  }

  #flush(): void {
    this.#timer = 0;
    this.#last = Date.now();
    const ids = [...this.#dirty];
    this.#dirty.clear();
    for (const id of ids) this.#refresh(id);
  }

  #refresh(id: string): void {
    if (!this.#map.getSource(id)) return;
    this.#map.refreshTiles(id);
    this.counts[id] = (this.counts[id] ?? 0) + 1;
  }
}
