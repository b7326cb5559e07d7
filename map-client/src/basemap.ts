// An optional basemap beneath our layers, as `GET /api/v1/client-config`
// names it:
//
//   {"basemap": null}                                             none (the default: no internet needed)
//   {"basemap": {"type":"raster","tiles":[…],"tile_size":256,"attribution":"…"}}
//   {"basemap": {"type":"vector","style":"https://…/style.json"}}
//
// A vector basemap's sources and layers are copied in beneath ours, renamed
// `basemap:…`. Its symbol layers are left out: they need the basemap's glyphs
// and sprite, and a style has one glyphs URL, which would then also serve (or
// fail) our own labels, drawn locally today.
//
// With a basemap, the counties' land fill becomes translucent so the basemap
// shows through (it stays there, invisible, for clicks).

import type { LayerSpecification, Map as MapLibreMap, SourceSpecification, StyleSpecification } from 'maplibre-gl';
import type { Basemap } from './api';
import { firstDataLayer } from './tiles';

const PREFIX = 'basemap:';

/** Ids of what addBasemap added, for removeBasemap. */
let added: { layers: string[]; sources: string[] } = { layers: [], sources: [] };

function isUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value, window.location.href);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

/** Resolves URLs in a copied source against the style's own URL. */
function absolutise(source: SourceSpecification, base: string): SourceSpecification {
  const copy = { ...source } as Record<string, unknown>;
  if (typeof copy['url'] === 'string') copy['url'] = new URL(copy['url'], base).href;
  if (Array.isArray(copy['tiles'])) copy['tiles'] = (copy['tiles'] as string[]).map((t) => (isUrl(t) ? new URL(t, base).href : t));
  return copy as unknown as SourceSpecification;
}

export function landOpacity(withBasemap: boolean): number {
  return withBasemap ? 0.35 : 1;
}

/** Adds the basemap beneath our layers. Throws (a plain Error) when the basemap cannot be used. */
export async function addBasemap(map: MapLibreMap, basemap: Basemap, signal?: AbortSignal): Promise<void> {
  removeBasemap(map);
  const before = () => firstDataLayer(map);
  if (basemap.type === 'raster') {
    const tiles = (basemap.tiles ?? []).filter(isUrl);
    if (tiles.length === 0) throw new Error('basemap: no usable tile URL');
    const id = `${PREFIX}raster`;
    const source: SourceSpecification = { type: 'raster', tiles, tileSize: basemap.tile_size ?? 256 };
    if (basemap.attribution) source.attribution = basemap.attribution;
    if (basemap.min_zoom !== undefined) source.minzoom = basemap.min_zoom;
    if (basemap.max_zoom !== undefined) source.maxzoom = basemap.max_zoom;
    map.addSource(id, source);
    map.addLayer({ id, type: 'raster', source: id }, before());
    added = { layers: [id], sources: [id] };
  } else if (basemap.type === 'vector') {
    if (!isUrl(basemap.style)) throw new Error('basemap: the style URL is not http(s)');
    const styleUrl = new URL(basemap.style, window.location.href).href;
    const response = await fetch(styleUrl, { credentials: 'omit', ...(signal ? { signal } : {}) });
    if (!response.ok) throw new Error(`basemap style: ${response.status} ${response.statusText}`);
    const style = (await response.json()) as StyleSpecification;
    if (signal?.aborted) return;
    const sources: string[] = [];
    for (const [id, source] of Object.entries(style.sources ?? {})) {
      map.addSource(PREFIX + id, absolutise(source, styleUrl));
      sources.push(PREFIX + id);
    }
    const layers: string[] = [];
    for (const layer of style.layers ?? []) {
      if (layer.type === 'symbol') continue;
      const copy = { ...layer, id: PREFIX + layer.id } as LayerSpecification & { source?: unknown };
      if (typeof copy.source === 'string') copy.source = PREFIX + copy.source;
      map.addLayer(copy as LayerSpecification, before());
      layers.push(copy.id);
    }
    added = { layers, sources };
  } else {
    return;
  }
  if (map.getLayer('counties-fill')) map.setPaintProperty('counties-fill', 'fill-opacity', landOpacity(true));
}

export function hasBasemap(): boolean {
  return added.layers.length > 0;
}

export function removeBasemap(map: MapLibreMap): void {
  for (const id of added.layers) if (map.getLayer(id)) map.removeLayer(id);
  for (const id of added.sources) if (map.getSource(id)) map.removeSource(id);
  added = { layers: [], sources: [] };
  if (map.getLayer('counties-fill')) map.setPaintProperty('counties-fill', 'fill-opacity', landOpacity(false));
}
