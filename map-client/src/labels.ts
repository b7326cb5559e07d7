// Area labels: one label per area, inside it.
//
// A symbol layer on a polygon tile source would label each tile's piece of a
// polygon, repeating names at tile seams. Instead each labelled layer has a
// point source of its own (`${layer}-label`):
//
// - counties, townships, villages: from `GET /api/v1/admin-units?level=…`
//   (GeoJSON with names), once per session: they do not change while the
//   map is watched;
// - grid cells (thousands of them, labelled only from zoom 13, and changed
//   by plan edits): from the `grid-cells` tiles already loaded for the view,
//   recomputed when the view or those tiles change. The pieces of a cell
//   that lie in several tiles are grouped by code, and the label goes inside
//   the largest piece.

import type { Feature, FeatureCollection, MultiPolygon, Point, Polygon, Position } from 'geojson';
import type { GeoJSONSource, Map as MapLibreMap } from 'maplibre-gl';
import { interiorPoint, ringArea } from './geo';
import { ZOOM, labelSourceId } from './layers';

type Rings = Position[][];


function polygons(geometry: Polygon | MultiPolygon): Rings[] {
  return geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
}

/**
 * Label points for tile features: one per `code`, inside its largest piece.
 * `features` are the (clipped) pieces of the source's loaded tiles.
 */
export function labelPointsFromPieces(
  features: readonly { geometry: { type: string }; properties: Record<string, unknown> | null }[],
): FeatureCollection<Point> {
  const best = new Map<string, { area: number; rings: Rings; name: unknown }>();
  for (const feature of features) {
    const geometry = feature.geometry as Polygon | MultiPolygon;
    if (geometry.type !== 'Polygon' && geometry.type !== 'MultiPolygon') continue;
    const code = feature.properties?.['code'];
    if (typeof code !== 'string' && typeof code !== 'number') continue;
    for (const rings of polygons(geometry)) {
      const outer = rings[0];
      if (!outer) continue;
      const area = Math.abs(ringArea(outer));
      const current = best.get(String(code));
      if (!current || area > current.area) best.set(String(code), { area, rings, name: feature.properties?.['name'] });
    }
  }
  const out: Feature<Point>[] = [];
  for (const [code, { rings, name }] of best) {
    const point = interiorPoint(rings);
    if (!point) continue;
    out.push({ type: 'Feature', geometry: { type: 'Point', coordinates: point }, properties: { code, name } });
  }
  return { type: 'FeatureCollection', features: out };
}

/** Keeps the grid-cell label source in step with the loaded grid-cell tiles. */
export class GridCellLabels {
  #map: MapLibreMap;
  #dirty = true;
  #empty = true;
  #enabled = false;

  #timer = 0;

  /**
   * Recomputed shortly after the view or the grid-cell tiles change, once
   * the map has stopped moving and those tiles are loaded (not on `idle`:
   * with live workers gliding, the map as a whole is hardly ever idle).
   */
  constructor(map: MapLibreMap) {
    this.#map = map;
    map.on('sourcedata', (e) => {
      if (e.sourceId === 'grid-cells' && (e.tile !== undefined || e.sourceDataType === 'content')) this.#schedule();
    });
    map.on('moveend', () => this.#schedule());
  }

  #schedule(): void {
    this.#dirty = true;
    if (this.#timer) return;
    this.#timer = window.setTimeout(() => {
      this.#timer = 0;
      const source = this.#map.getSource('grid-cells') ? this.#map.isSourceLoaded('grid-cells') : true;
      if (this.#map.isMoving() || !source) this.#schedule();
      else this.update();
    }, 250);
  }

  /** Labels only while signed in (the tiles are there). */
  setEnabled(enabled: boolean): void {
    this.#enabled = enabled;
    if (enabled) this.#schedule();
    else {
      window.clearTimeout(this.#timer);
      this.#timer = 0;
      this.#set({ type: 'FeatureCollection', features: [] });
    }
  }

  /** Recompute at the next idle (e.g. the layer was switched on). */
  invalidate(): void {
    this.#schedule();
  }

  update(): void {
    if (!this.#dirty || !this.#enabled) return;
    this.#dirty = false;
    const layerOn =
      this.#map.getLayer('grid-cells-label') !== undefined &&
      this.#map.getLayoutProperty('grid-cells-label', 'visibility') !== 'none';
    if (!layerOn || this.#map.getZoom() < ZOOM.gridLabels - 0.5 || !this.#map.getSource('grid-cells')) {
      if (!this.#empty) this.#set({ type: 'FeatureCollection', features: [] });
      return;
    }
    const pieces = this.#map.querySourceFeatures('grid-cells', { sourceLayer: 'grid-cells' });
    this.#set(labelPointsFromPieces(pieces as unknown as Parameters<typeof labelPointsFromPieces>[0]));
  }

  #set(data: FeatureCollection): void {
    this.#empty = data.features.length === 0;
    const source = this.#map.getSource<GeoJSONSource>(labelSourceId('grid-cells'));
    source?.setData(data).catch(() => {});
  }
}
