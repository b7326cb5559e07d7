// Rings on incidents the live feed has just reported (new or changed), for a
// few seconds, so an operator sees where something happened even before the
// incident tiles have been refreshed. The source is set when rings come and
// go, not animated (the map keeps its quiet moments).

import type { Feature, Point } from 'geojson';
import type { GeoJSONSource, Map as MapLibreMap } from 'maplibre-gl';
import { PULSE_SOURCE } from './layers';
import type { LiveIncident } from './live';

const LIFETIME_MS = 8000;

export class PulseOverlay {
  #map: MapLibreMap;
  #items = new Map<string, { incident: LiveIncident; until: number }>();
  #timer = 0;

  constructor(map: MapLibreMap) {
    this.#map = map;
  }

  add(incidents: readonly LiveIncident[]): void {
    const until = Date.now() + LIFETIME_MS;
    let added = false;
    for (const incident of incidents) {
      if (typeof incident.lon !== 'number' || typeof incident.lat !== 'number') continue;
      this.#items.set(String(incident.id), { incident, until });
      added = true;
    }
    if (added) this.#update();
  }

  clear(): void {
    window.clearTimeout(this.#timer);
    this.#timer = 0;
    this.#items.clear();
    this.#set([]);
  }

  #update(): void {
    window.clearTimeout(this.#timer);
    this.#timer = 0;
    const now = Date.now();
    const features: Feature<Point>[] = [];
    let next = Infinity;
    for (const [id, { incident, until }] of this.#items) {
      if (until <= now) {
        this.#items.delete(id);
        continue;
      }
      next = Math.min(next, until);
      features.push({
        type: 'Feature',
        geometry: { type: 'Point', coordinates: [incident.lon, incident.lat] },
        properties: { id: incident.id, status: incident.status },
      });
    }
    this.#set(features);
    if (Number.isFinite(next)) this.#timer = window.setTimeout(() => this.#update(), next - now + 50);
  }

  #set(features: Feature<Point>[]): void {
    this.#map.getSource<GeoJSONSource>(PULSE_SOURCE)?.setData({ type: 'FeatureCollection', features }).catch(() => {});
  }
}
