//! An outline prepared for many questions: which points it holds, and which of its edges
//! pass near a small box. Edges are bucketed into horizontal bands, so a question reads the
//! few edges of one or two bands instead of every vertex of a village (hundreds to
//! thousands); geo's `Intersects` on the raw outline is linear in its vertices.

use geo::MultiPolygon;

/// One edge of an outline ring: start and end as `[lon, lat]`.
pub(crate) type Segment = ([f64; 2], [f64; 2]);

/// A MultiPolygon's edges in bands of latitude, with its rings kept for clipping.
#[derive(Debug, Clone)]
pub(crate) struct OutlineIndex {
    /// Each ring as closed coordinates, and whether it is an exterior.
    pub(crate) rings: Vec<(Vec<[f64; 2]>, bool)>,
    segments: Vec<Segment>,
    /// `[min_lon, min_lat, max_lon, max_lat]`; all NaN-free, empty outlines have min > max.
    pub(crate) bbox: [f64; 4],
    band_height: f64,
    bands: Vec<Vec<u32>>,
}

impl OutlineIndex {
    pub(crate) fn new(outline: &MultiPolygon<f64>) -> Self {
        let mut rings = Vec::new();
        let mut segments = Vec::new();
        let mut bbox = [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ];
        for polygon in &outline.0 {
            let all = std::iter::once((polygon.exterior(), true))
                .chain(polygon.interiors().iter().map(|r| (r, false)));
            for (ring, exterior) in all {
                let coords: Vec<[f64; 2]> = ring.coords().map(|c| [c.x, c.y]).collect();
                if coords.len() < 4 {
                    continue;
                }
                for w in coords.windows(2) {
                    segments.push((w[0], w[1]));
                    bbox[0] = bbox[0].min(w[0][0]);
                    bbox[1] = bbox[1].min(w[0][1]);
                    bbox[2] = bbox[2].max(w[0][0]);
                    bbox[3] = bbox[3].max(w[0][1]);
                }
                rings.push((coords, exterior));
            }
        }
        let count = (segments.len() / 4).clamp(1, 4096);
        let height = if bbox[3] > bbox[1] {
            (bbox[3] - bbox[1]) / count as f64
        } else {
            1.0
        };
        let mut index = OutlineIndex {
            rings,
            segments,
            bbox,
            band_height: height,
            bands: vec![Vec::new(); count],
        };
        for (i, s) in index.segments.iter().enumerate() {
            let (lo, hi) = index.band_range(s.0[1].min(s.1[1]), s.0[1].max(s.1[1]));
            for band in &mut index.bands[lo..=hi] {
                band.push(i as u32);
            }
        }
        index
    }

    fn band_range(&self, y0: f64, y1: f64) -> (usize, usize) {
        let last = self.bands.len() - 1;
        let at =
            |y: f64| (((y - self.bbox[1]) / self.band_height).floor().max(0.0) as usize).min(last);
        (at(y0), at(y1))
    }

    /// Whether `[lon, lat]` lies inside (even-odd rule over all rings, so holes are out).
    /// A point exactly on an edge may fall either way.
    pub(crate) fn contains(&self, p: [f64; 2]) -> bool {
        if p[0] < self.bbox[0] || p[0] > self.bbox[2] || p[1] < self.bbox[1] || p[1] > self.bbox[3]
        {
            return false;
        }
        let (band, _) = self.band_range(p[1], p[1]);
        let mut inside = false;
        for &i in &self.bands[band] {
            let (a, b) = self.segments[i as usize];
            // Half-open in latitude, so a vertex on the ray counts once.
            if (a[1] > p[1]) != (b[1] > p[1]) {
                let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
                if x > p[0] {
                    inside = !inside;
                }
            }
        }
        inside
    }

    /// The squared distance in degrees (longitude scaled by `cos_lat`) from `p` to the
    /// nearest edge; infinite for an empty outline.
    pub(crate) fn distance2(&self, p: [f64; 2], cos_lat: f64) -> f64 {
        self.segments
            .iter()
            .map(|&(a, b)| {
                let (ax, ay) = ((a[0] - p[0]) * cos_lat, a[1] - p[1]);
                let (bx, by) = ((b[0] - p[0]) * cos_lat, b[1] - p[1]);
                let (dx, dy) = (bx - ax, by - ay);
                let len2 = dx * dx + dy * dy;
                let t = if len2 > 0.0 {
                    (-(ax * dx + ay * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (x, y) = (ax + t * dx, ay + t * dy);
                x * x + y * y
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// The edges whose boxes meet the box `[min_lon, min_lat, max_lon, max_lat]`.
    pub(crate) fn segments_near(&self, b: [f64; 4]) -> Vec<Segment> {
        if b[2] < self.bbox[0] || b[0] > self.bbox[2] || b[3] < self.bbox[1] || b[1] > self.bbox[3]
        {
            return Vec::new();
        }
        let (lo, hi) = self.band_range(b[1], b[3]);
        let mut ids: Vec<u32> = self.bands[lo..=hi].iter().flatten().copied().collect();
        if hi > lo {
            ids.sort_unstable();
            ids.dedup();
        }
        ids.into_iter()
            .map(|i| self.segments[i as usize])
            .filter(|(a, c)| {
                a[0].max(c[0]) >= b[0]
                    && a[0].min(c[0]) <= b[2]
                    && a[1].max(c[1]) >= b[1]
                    && a[1].min(c[1]) <= b[3]
            })
            .collect()
    }
}

/// Boxes bucketed on a coarse lon/lat grid: which of many outlines may hold a point.
#[derive(Debug, Clone)]
pub(crate) struct BoxGrid {
    step: f64,
    buckets: std::collections::HashMap<(i64, i64), Vec<u32>>,
}

impl BoxGrid {
    /// Indexes `boxes` (`[min_lon, min_lat, max_lon, max_lat]`; empty ones are skipped) in
    /// buckets of `step` degrees.
    pub(crate) fn new(boxes: impl Iterator<Item = [f64; 4]>, step: f64) -> Self {
        let mut buckets: std::collections::HashMap<(i64, i64), Vec<u32>> = Default::default();
        for (i, b) in boxes.enumerate() {
            if !(b[0] <= b[2] && b[1] <= b[3]) {
                continue;
            }
            let (x0, y0) = ((b[0] / step).floor() as i64, (b[1] / step).floor() as i64);
            let (x1, y1) = ((b[2] / step).floor() as i64, (b[3] / step).floor() as i64);
            for x in x0..=x1 {
                for y in y0..=y1 {
                    buckets.entry((x, y)).or_default().push(i as u32);
                }
            }
        }
        BoxGrid { step, buckets }
    }

    /// The boxes whose bucket holds `p`, in index order.
    pub(crate) fn candidates(&self, p: [f64; 2]) -> &[u32] {
        let key = (
            (p[0] / self.step).floor() as i64,
            (p[1] / self.step).floor() as i64,
        );
        self.buckets.get(&key).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    #[test]
    fn a_square_with_a_hole_holds_its_ring_only() {
        let square = MultiPolygon::new(vec![polygon!(
            exterior: [(x: 0.0, y: 0.0), (x: 4.0, y: 0.0), (x: 4.0, y: 4.0), (x: 0.0, y: 4.0)],
            interiors: [[(x: 1.0, y: 1.0), (x: 3.0, y: 1.0), (x: 3.0, y: 3.0), (x: 1.0, y: 3.0)]],
        )]);
        let index = OutlineIndex::new(&square);
        assert!(index.contains([0.5, 0.5]));
        assert!(index.contains([3.5, 2.0]));
        assert!(!index.contains([2.0, 2.0]));
        assert!(!index.contains([5.0, 2.0]));
        assert_eq!(index.segments_near([3.9, 3.9, 4.1, 4.1]).len(), 2);
        assert!(index.segments_near([1.5, 1.5, 2.5, 2.5]).is_empty());
    }
}
