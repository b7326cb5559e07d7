// Small planar geometry helpers for label placement.
//
// MapLibre places a symbol on a polygon once per tile piece, so a big polygon
// gets its name repeated at tile seams. Instead each area gets one label point,
// computed here, guaranteed inside the area (on its largest part).

import type { Feature, FeatureCollection, MultiPolygon, Point, Polygon, Position } from 'geojson';

type Ring = Position[];

/** Signed area of a ring by the shoelace formula, in squared coordinate units. */
export function ringArea(ring: Ring): number {
  let sum = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const a = ring[j];
    const b = ring[i];
    if (!a || !b) continue;
    sum += (a[0] ?? 0) * (b[1] ?? 0) - (b[0] ?? 0) * (a[1] ?? 0);
  }
  return sum / 2;
}

function polygonArea(rings: Ring[]): number {
  let area = 0;
  rings.forEach((ring, i) => {
    const a = Math.abs(ringArea(ring));
    area += i === 0 ? a : -a;
  });
  return area;
}

/** Area-weighted centroid of the outer ring (may lie outside a concave ring). */
function ringCentroid(ring: Ring): [number, number] {
  let cx = 0;
  let cy = 0;
  let a2 = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const p = ring[j];
    const q = ring[i];
    if (!p || !q) continue;
    const [x0 = 0, y0 = 0] = p;
    const [x1 = 0, y1 = 0] = q;
    const cross = x0 * y1 - x1 * y0;
    a2 += cross;
    cx += (x0 + x1) * cross;
    cy += (y0 + y1) * cross;
  }
  if (a2 === 0) {
    const first = ring[0] ?? [0, 0];
    return [first[0] ?? 0, first[1] ?? 0];
  }
  return [cx / (3 * a2), cy / (3 * a2)];
}

/** The widest inside stretch of a horizontal line at latitude y: [midX, width]. */
function widestSpanAt(rings: Ring[], y: number): [number, number] | null {
  const xs: number[] = [];
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const p = ring[j];
      const q = ring[i];
      if (!p || !q) continue;
      const [x0 = 0, y0 = 0] = p;
      const [x1 = 0, y1 = 0] = q;
      // half-open rule so that a vertex exactly on the line counts once
      if (y0 > y !== y1 > y) {
        xs.push(x0 + ((y - y0) * (x1 - x0)) / (y1 - y0));
      }
    }
  }
  xs.sort((a, b) => a - b);
  let best: [number, number] | null = null;
  for (let i = 0; i + 1 < xs.length; i += 2) {
    const a = xs[i] ?? 0;
    const b = xs[i + 1] ?? 0;
    const width = b - a;
    if (!best || width > best[1]) best = [(a + b) / 2, width];
  }
  return best;
}

/** A point inside the polygon, roughly central: the middle of the widest span among a few scanlines. */
export function interiorPoint(rings: Ring[]): [number, number] | null {
  const outer = rings[0];
  if (!outer || outer.length < 4) return null;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const p of outer) {
    const y = p[1] ?? 0;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const [, cy] = ringCentroid(outer);
  const candidates = [cy, minY + (maxY - minY) * 0.5, minY + (maxY - minY) * 0.35, minY + (maxY - minY) * 0.65];
  let best: [number, number, number] | null = null; // x, y, width
  for (const y of candidates) {
    const span = widestSpanAt(rings, y);
    // prefer the centroid line unless another one is much wider
    const score = span ? span[1] * (y === cy ? 1.25 : 1) : 0;
    if (span && (!best || score > best[2])) best = [span[0], y, score];
  }
  return best ? [best[0], best[1]] : null;
}

function largestPolygon(geometry: Polygon | MultiPolygon): Ring[] | null {
  if (geometry.type === 'Polygon') return geometry.coordinates;
  let best: Ring[] | null = null;
  let bestArea = -Infinity;
  for (const polygon of geometry.coordinates) {
    const area = polygonArea(polygon);
    if (area > bestArea) {
      bestArea = area;
      best = polygon;
    }
  }
  return best;
}

/** One label point per area feature, carrying the feature's properties and id. */
export function labelPoints<P>(collection: FeatureCollection<Polygon | MultiPolygon, P>): FeatureCollection<Point, P> {
  const features: Feature<Point, P>[] = [];
  for (const feature of collection.features) {
    if (!feature.geometry) continue;
    const rings = largestPolygon(feature.geometry);
    const point = rings ? interiorPoint(rings) : null;
    if (!point) continue;
    const labelled: Feature<Point, P> = {
      type: 'Feature',
      geometry: { type: 'Point', coordinates: point },
      properties: feature.properties,
    };
    if (feature.id !== undefined) labelled.id = feature.id;
    features.push(labelled);
  }
  return { type: 'FeatureCollection', features };
}
