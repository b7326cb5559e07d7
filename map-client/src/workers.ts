// Live worker positions.
//
// The `workers` vector tiles show where each worker was when the tile was
// loaded. When the live feed reports a worker, it joins an overlay GeoJSON
// source (`workers-live`) and its tile feature is hidden (feature state
// `live`, icon opacity 0): from then on the overlay draws it, gliding from
// where it was shown to where it is now over `durationMs`.
//
// The overlay is patched with `GeoJSONSource.updateData` (only the workers
// that moved or changed), never rebuilt. Only workers moving inside the view
// glide; others jump. Each frame waits for the last update to be applied and
// then a short gap (about 12 frames a second), so a slow machine shows fewer
// frames rather than a backlog, and the map still has quiet moments (its
// `idle` event keeps coming).
//
// A resync or sign-out clears the overlay and the feature states: the tiles,
// reloaded, are up to date again.

import type { Feature, Point } from 'geojson';
import type { GeoJSONSource, GeoJSONSourceDiff, LngLatBounds, Map as MapLibreMap } from 'maplibre-gl';
import { WORKERS_LIVE_SOURCE, ZOOM } from './layers';
import type { LiveWorker } from './live';

type Positioned = LiveWorker & { lon: number; lat: number };

interface Track {
  worker: Positioned;
  from: [number, number];
  to: [number, number];
  start: number;
}

const FRAME_GAP_MS = 80;

const key = (id: number | string): string => String(id);

function properties(w: Positioned): Record<string, unknown> {
  return { id: w.id, status: w.status, stale: w.stale === true, last_seen: w.last_seen, cell_code: w.cell_code };
}

export class WorkerOverlay {
  #map: MapLibreMap;
  #duration: number;
  #tracks = new Map<string, Track>();
  /** Ids of the features in the source, with their id as the source knows it. */
  #published = new Map<string, number | string>();
  /** Workers whose target or properties changed since the last frame. */
  #dirty = new Set<string>();
  #removed = new Set<string>();
  /** Workers that were gliding at the last frame (their final position is still to be set). */
  #wasMoving = new Set<string>();
  #animating = false;
  #generation = 0;
  /** Updates applied so far (for the browser tests). */
  updates = 0;

  constructor(map: MapLibreMap, durationMs = 900) {
    this.#map = map;
    this.#duration = durationMs;
  }

  /** How many workers the overlay draws. */
  get size(): number {
    return this.#tracks.size;
  }

  /** Where the overlay shows a worker now (null if it is not in the overlay). */
  position(id: number | string): [number, number] | null {
    const track = this.#tracks.get(key(id));
    return track ? this.#at(track, performance.now()) : null;
  }

  apply(workers: readonly LiveWorker[]): void {
    const valid = workers.filter(
      (w): w is Positioned => typeof w.lon === 'number' && typeof w.lat === 'number' && Number.isFinite(w.lon) && Number.isFinite(w.lat),
    );
    if (valid.length === 0) return;
    const now = performance.now();
    const fresh = valid.filter((w) => !this.#tracks.has(key(w.id)));
    const shown = fresh.length > 0 ? this.#tilePositions(fresh.map((w) => w.id)) : new Map<string, [number, number]>();
    const view = this.#viewBounds();
    for (const worker of valid) {
      const k = key(worker.id);
      const previous = this.#tracks.get(k);
      const to: [number, number] = [worker.lon, worker.lat];
      const from = previous ? this.#at(previous, now) : (shown.get(k) ?? to);
      const glide = view !== null && (view.contains(from) || view.contains(to));
      this.#tracks.set(k, { worker, from: glide ? from : to, to, start: now });
      this.#dirty.add(k);
      this.#removed.delete(k);
      if (!previous) this.#hideTileFeature(worker.id);
    }
    this.updates += 1;
    this.#kick();
  }

  /** Workers deleted or gone from the caller's area: drawn no more (their tile features stay hidden). */
  remove(ids: readonly (number | string)[]): void {
    for (const id of ids) {
      const k = key(id);
      this.#hideTileFeature(id);
      if (this.#tracks.delete(k)) {
        this.#dirty.delete(k);
        this.#removed.add(k);
      }
    }
    if (this.#removed.size > 0) this.#kick();
  }

  /** Forgets every live position: the tiles show the workers again. */
  clear(): void {
    this.#generation += 1;
    this.#tracks.clear();
    this.#published.clear();
    this.#dirty.clear();
    this.#removed.clear();
    this.#wasMoving.clear();
    this.#animating = false;
    const source = this.#map.getSource<GeoJSONSource>(WORKERS_LIVE_SOURCE);
    source?.setData({ type: 'FeatureCollection', features: [] }).catch(() => {});
    if (this.#map.getSource('workers')) this.#map.removeFeatureState({ source: 'workers', sourceLayer: 'workers' });
  }

  /** The view (padded), when workers are drawn at all; null otherwise. */
  #viewBounds(): LngLatBounds | null {
    if (document.hidden) return null;
    if (this.#map.getZoom() < ZOOM.workers) return null;
    if (!this.#map.getLayer('workers-live') || this.#map.getLayoutProperty('workers-live', 'visibility') === 'none') return null;
    const bounds = this.#map.getBounds();
    const dx = (bounds.getEast() - bounds.getWest()) * 0.1;
    const dy = (bounds.getNorth() - bounds.getSouth()) * 0.1;
    return bounds.setSouthWest([bounds.getWest() - dx, bounds.getSouth() - dy]).setNorthEast([bounds.getEast() + dx, bounds.getNorth() + dy]);
  }

  #hideTileFeature(id: number | string): void {
    if (!this.#map.getSource('workers')) return;
    this.#map.setFeatureState({ source: 'workers', sourceLayer: 'workers', id }, { live: true });
  }

  /** Where the tiles show these workers (those in loaded tiles). */
  #tilePositions(ids: (number | string)[]): Map<string, [number, number]> {
    const out = new Map<string, [number, number]>();
    if (!this.#map.getSource('workers')) return out;
    const wanted = new Set(ids.map(key));
    for (const feature of this.#map.querySourceFeatures('workers', { sourceLayer: 'workers' })) {
      const id = (feature.properties as { id?: number | string } | null)?.id ?? feature.id;
      if (id === undefined || !wanted.has(key(id))) continue;
      if (feature.geometry.type !== 'Point') continue;
      const [lon, lat] = feature.geometry.coordinates;
      if (lon !== undefined && lat !== undefined) out.set(key(id), [lon, lat]);
    }
    return out;
  }

  #at(track: Track, now: number): [number, number] {
    const t = Math.min(1, Math.max(0, (now - track.start) / this.#duration));
    // ease in and out
    const e = t < 0.5 ? 2 * t * t : 1 - (-2 * t + 2) ** 2 / 2;
    return [track.from[0] + (track.to[0] - track.from[0]) * e, track.from[1] + (track.to[1] - track.from[1]) * e];
  }

  #moving(track: Track, now: number): boolean {
    return now - track.start < this.#duration && (track.from[0] !== track.to[0] || track.from[1] !== track.to[1]);
  }

  /** The changes since the last frame: new and changed workers, those still gliding, those removed. */
  #diff(now: number): { diff: GeoJSONSourceDiff; moving: boolean } {
    const add: Feature<Point>[] = [];
    const update: NonNullable<GeoJSONSourceDiff['update']> = [];
    let moving = false;
    for (const [k, track] of this.#tracks) {
      const isMoving = this.#moving(track, now);
      moving ||= isMoving;
      const changed = this.#dirty.has(k);
      if (!changed && !isMoving && !this.#wasMoving.has(k)) continue;
      const geometry: Point = { type: 'Point', coordinates: this.#at(track, now) };
      const published = this.#published.get(k);
      if (published === undefined) {
        add.push({ type: 'Feature', geometry, properties: properties(track.worker) });
        this.#published.set(k, track.worker.id);
      } else if (changed) {
        update.push({
          id: published,
          newGeometry: geometry,
          addOrUpdateProperties: Object.entries(properties(track.worker)).map(([key, value]) => ({ key, value })),
        });
      } else {
        update.push({ id: published, newGeometry: geometry });
      }
      if (isMoving) this.#wasMoving.add(k);
      else this.#wasMoving.delete(k);
    }
    const remove: (number | string)[] = [];
    for (const k of this.#removed) {
      const published = this.#published.get(k);
      if (published !== undefined) remove.push(published);
      this.#published.delete(k);
      this.#wasMoving.delete(k);
    }
    this.#dirty.clear();
    this.#removed.clear();
    const diff: GeoJSONSourceDiff = {};
    if (add.length) diff.add = add;
    if (update.length) diff.update = update;
    if (remove.length) diff.remove = remove;
    return { diff, moving };
  }

  #kick(): void {
    if (this.#animating) return;
    this.#animating = true;
    const generation = this.#generation;
    const frame = async (): Promise<void> => {
      if (generation !== this.#generation) return;
      const source = this.#map.getSource<GeoJSONSource>(WORKERS_LIVE_SOURCE);
      const { diff, moving } = this.#diff(performance.now());
      if (source && (diff.add || diff.update || diff.remove)) {
        try {
          await source.updateData(diff);
        } catch {
          // the source is being replaced; a resync sets it again
        }
      }
      if (generation !== this.#generation) return;
      if (moving || this.#dirty.size > 0 || this.#removed.size > 0 || this.#wasMoving.size > 0) {
        window.setTimeout(() => requestAnimationFrame(() => void frame()), FRAME_GAP_MS);
      } else {
        this.#animating = false;
      }
    };
    requestAnimationFrame(() => void frame());
  }
}
