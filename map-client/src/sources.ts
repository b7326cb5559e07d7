// The client's own GeoJSON sources (area labels, selection, dispatch lines):
// the style declares them, so they can only be written once it has loaded.

import type { FeatureCollection } from 'geojson';
import type { GeoJSONSource, Map as MapLibreMap } from 'maplibre-gl';

import { GEOJSON_SOURCES } from './layers';

export const EMPTY: FeatureCollection = { type: 'FeatureCollection', features: [] };

export interface GeoJsonSources {
  set(id: string, data: FeatureCollection): Promise<void>;
  /** Empties every one (on sign-out or expiry: nothing of the last user stays on the map). */
  clear(): Promise<void>;
}

export function createSources(map: MapLibreMap, styleLoaded: Promise<void>): GeoJsonSources {
  const set = async (id: string, data: FeatureCollection): Promise<void> => {
    await styleLoaded;
    const source = map.getSource<GeoJSONSource>(id);
    if (!source) throw new Error(`no source ${id}`);
    await source.setData(data);
  };
  return {
    set,
    async clear() {
      await Promise.all(GEOJSON_SOURCES.map((id) => set(id, EMPTY)));
    },
  };
}
