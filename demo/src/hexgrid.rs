//! A hexagonal lattice over a local equirectangular projection, and the dissolve of a set of
//! its hexagons into a valid MultiPolygon.
//!
//! The demo builds every boundary (county, township, village, grid cell) as a union of the
//! same hexagons, so the levels nest exactly and neighbours share edges with no gap or
//! overlap. Vertices are identified by integer lattice coordinates and turned into degrees by
//! one function, so a vertex shared by two polygons has bit-identical coordinates in both.
//!
//! Hexagons are pointy-top, in axial coordinates (q, r). In integer "vertex units" (x unit =
//! size·√3/2, y unit = size/2), a centre is at (2q + r, 3r) and its corners at the centre
//! plus (1,1), (0,2), (-1,1), (-1,-1), (0,-2), (1,-1), counter-clockwise.

use std::collections::HashMap;

use geo::{Coord, LineString, MultiPolygon, Polygon};

/// A closed ring of lattice vertices (the first is not repeated at the end).
type Ring = Vec<(i64, i64)>;

const CORNERS: [(i64, i64); 6] = [(1, 1), (0, 2), (-1, 1), (-1, -1), (0, -2), (1, -1)];
const NEIGHBOURS: [(i32, i32); 6] = [(1, 0), (1, -1), (0, -1), (-1, 0), (-1, 1), (0, 1)];
const KM_PER_DEGREE_LAT: f64 = 110.574;
const KM_PER_DEGREE_LON_AT_EQUATOR: f64 = 111.320;

/// A bounded hexagonal lattice. Hexagons are addressed by a dense index.
#[derive(Debug, Clone)]
pub struct Lattice {
    /// Centre-to-corner distance, km.
    size_km: f64,
    origin_lon: f64,
    origin_lat: f64,
    km_per_degree_lon: f64,
    q0: i32,
    r0: i32,
    width: i32,
    height: i32,
    /// Vertex displacement, as a fraction of `size_km`, and the seed that draws it.
    jitter: f64,
    jitter_seed: u64,
}

/// The largest vertex displacement that keeps every dissolved outline valid: a vertex is at
/// least √3/2·size from any edge it is not on, and each end of an edge moving by `j` moves
/// the edge by at most `j`, so 2j must stay well under √3/2.
pub const MAX_JITTER: f64 = 0.2;
/// Radius (in sizes) of the disc around a hexagon's centre that stays inside its outline
/// however its vertices are displaced: √3/2 − MAX_JITTER, rounded down.
pub const CORE_RADIUS: f64 = 0.6;

impl Lattice {
    /// A lattice of hexagons of `size_km` covering the lon/lat box around `origin`.
    pub fn new(origin: (f64, f64), size_km: f64, min: (f64, f64), max: (f64, f64)) -> Self {
        let mut lattice = Self {
            size_km,
            origin_lon: origin.0,
            origin_lat: origin.1,
            km_per_degree_lon: KM_PER_DEGREE_LON_AT_EQUATOR * origin.1.to_radians().cos(),
            q0: 0,
            r0: 0,
            width: 0,
            height: 0,
            jitter: 0.0,
            jitter_seed: 0,
        };
        let corners = [min, max, (min.0, max.1), (max.0, min.1)];
        let axial: Vec<(i32, i32)> = corners
            .iter()
            .map(|&(lon, lat)| lattice.axial_of(lattice.to_km(lon, lat)))
            .collect();
        let (rmin, rmax) = (
            axial.iter().map(|a| a.1).min().unwrap_or(0),
            axial.iter().map(|a| a.1).max().unwrap_or(0),
        );
        // q shifts with r across the box (axial skew), so widen q by the r span.
        let span = rmax - rmin;
        let qmin = axial.iter().map(|a| a.0).min().unwrap_or(0) - span;
        let qmax = axial.iter().map(|a| a.0).max().unwrap_or(0) + span;
        lattice.q0 = qmin;
        lattice.r0 = rmin;
        lattice.width = qmax - qmin + 1;
        lattice.height = rmax - rmin + 1;
        lattice
    }

    /// Displaces every vertex by a deterministic amount up to `fraction` (at most
    /// [`MAX_JITTER`]) of the size, so outlines wander instead of zigzagging regularly. A
    /// vertex shared by several outlines moves the same way in all of them.
    pub fn with_jitter(mut self, seed: u64, fraction: f64) -> Self {
        self.jitter = fraction.clamp(0.0, MAX_JITTER);
        self.jitter_seed = seed;
        self
    }

    pub fn len(&self) -> usize {
        (self.width as usize) * (self.height as usize)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Area of one hexagon, km².
    pub fn hex_area_km2(&self) -> f64 {
        1.5 * 3f64.sqrt() * self.size_km * self.size_km
    }

    pub fn size_km(&self) -> f64 {
        self.size_km
    }

    fn index_of_axial(&self, q: i32, r: i32) -> Option<usize> {
        let (dq, dr) = (q - self.q0, r - self.r0);
        (dq >= 0 && dr >= 0 && dq < self.width && dr < self.height)
            .then(|| (dr as usize) * (self.width as usize) + dq as usize)
    }

    fn axial(&self, index: usize) -> (i32, i32) {
        let w = self.width as usize;
        ((index % w) as i32 + self.q0, (index / w) as i32 + self.r0)
    }

    /// The hexagons sharing an edge with `index` (fewer at the lattice's rim).
    pub fn neighbours(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let (q, r) = self.axial(index);
        NEIGHBOURS
            .iter()
            .filter_map(move |(dq, dr)| self.index_of_axial(q + dq, r + dr))
    }

    /// Projected position (km east, km north of the origin) of a hexagon's centre.
    pub fn centre_km(&self, index: usize) -> (f64, f64) {
        let (q, r) = self.axial(index);
        self.vertex_km(2 * i64::from(q) + i64::from(r), 3 * i64::from(r))
    }

    /// Longitude/latitude of a hexagon's centre.
    pub fn centre_lonlat(&self, index: usize) -> (f64, f64) {
        let (x, y) = self.centre_km(index);
        self.to_lonlat(x, y)
    }

    /// The hexagon containing a projected point, if inside the lattice.
    pub fn hex_at_km(&self, x: f64, y: f64) -> Option<usize> {
        let (q, r) = self.axial_of((x, y));
        self.index_of_axial(q, r)
    }

    /// The hexagon containing a lon/lat point, if inside the lattice.
    pub fn hex_at_lonlat(&self, lon: f64, lat: f64) -> Option<usize> {
        let (x, y) = self.to_km(lon, lat);
        self.hex_at_km(x, y)
    }

    pub fn to_km(&self, lon: f64, lat: f64) -> (f64, f64) {
        (
            (lon - self.origin_lon) * self.km_per_degree_lon,
            (lat - self.origin_lat) * KM_PER_DEGREE_LAT,
        )
    }

    pub fn to_lonlat(&self, x: f64, y: f64) -> (f64, f64) {
        (
            self.origin_lon + x / self.km_per_degree_lon,
            self.origin_lat + y / KM_PER_DEGREE_LAT,
        )
    }

    fn axial_of(&self, (x, y): (f64, f64)) -> (i32, i32) {
        let q = (3f64.sqrt() / 3.0 * x - y / 3.0) / self.size_km;
        let r = (2.0 / 3.0 * y) / self.size_km;
        cube_round(q, r)
    }

    fn vertex_km(&self, vx: i64, vy: i64) -> (f64, f64) {
        (
            vx as f64 * self.size_km * 3f64.sqrt() / 2.0,
            vy as f64 * self.size_km / 2.0,
        )
    }

    fn vertex_lonlat(&self, v: (i64, i64)) -> Coord<f64> {
        let (mut x, mut y) = self.vertex_km(v.0, v.1);
        if self.jitter > 0.0 {
            let (dx, dy) = self.displacement(v);
            x += dx;
            y += dy;
        }
        let (lon, lat) = self.to_lonlat(x, y);
        Coord { x: lon, y: lat }
    }

    /// A vertex's displacement (km), within a disc of radius `jitter · size`.
    fn displacement(&self, (vx, vy): (i64, i64)) -> (f64, f64) {
        let mut h = self.jitter_seed ^ (vx as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h = (h ^ (vy as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9)).rotate_left(29);
        h = (h ^ (h >> 31)).wrapping_mul(0x94D0_49BB_1331_11EB);
        h ^= h >> 29;
        let unit = |bits: u64| (bits & 0xFFFF_FFFF) as f64 / 4_294_967_296.0;
        let radius = self.jitter * self.size_km * unit(h).sqrt();
        let angle = std::f64::consts::TAU * unit(h >> 32);
        (radius * angle.cos(), radius * angle.sin())
    }

    /// A point moved, if need be, into the core of hexagon `index` (within
    /// [`CORE_RADIUS`]·size of its centre), where it lies inside the hexagon's outline
    /// whatever the jitter.
    pub fn into_core(&self, index: usize, (x, y): (f64, f64)) -> (f64, f64) {
        let (cx, cy) = self.centre_km(index);
        let (dx, dy) = (x - cx, y - cy);
        let d = dx.hypot(dy);
        let limit = CORE_RADIUS * self.size_km;
        if d <= limit {
            (x, y)
        } else {
            (cx + dx * limit / d, cy + dy * limit / d)
        }
    }

    /// The outline of a set of hexagons: outer rings counter-clockwise, holes clockwise, as
    /// RFC 7946 asks. Hexagons meeting at a corner always share an edge too, so the
    /// boundary never pinches and every ring is simple; the result is valid.
    pub fn dissolve(&self, hexes: &[usize]) -> MultiPolygon<f64> {
        // Directed edges of every hexagon; an edge whose reverse is also present is interior.
        let mut edges: HashMap<(i64, i64), (i64, i64)> = HashMap::with_capacity(hexes.len() * 6);
        let mut all: std::collections::HashSet<((i64, i64), (i64, i64))> =
            std::collections::HashSet::with_capacity(hexes.len() * 6);
        let corners_of = |index: usize| {
            let (q, r) = self.axial(index);
            let (cx, cy) = (2 * i64::from(q) + i64::from(r), 3 * i64::from(r));
            CORNERS.map(|(dx, dy)| (cx + dx, cy + dy))
        };
        for &h in hexes {
            let c = corners_of(h);
            for i in 0..6 {
                all.insert((c[i], c[(i + 1) % 6]));
            }
        }
        for &(a, b) in &all {
            if !all.contains(&(b, a)) {
                edges.insert(a, b);
            }
        }
        let mut rings: Vec<Vec<(i64, i64)>> = Vec::new();
        let mut starts: Vec<(i64, i64)> = edges.keys().copied().collect();
        starts.sort_unstable();
        for start in starts {
            if !edges.contains_key(&start) {
                continue;
            }
            let mut ring = vec![start];
            let mut at = start;
            while let Some(next) = edges.remove(&at) {
                if next == start {
                    break;
                }
                ring.push(next);
                at = next;
            }
            rings.push(ring);
        }
        let (outers, holes): (Vec<_>, Vec<_>) =
            rings.into_iter().partition(|ring| signed_area2(ring) > 0);
        let mut polygons: Vec<(Ring, Vec<Ring>)> =
            outers.into_iter().map(|o| (o, Vec::new())).collect();
        for hole in holes {
            let probe = hole[0];
            if let Some(p) = polygons
                .iter_mut()
                .find(|(outer, _)| contains(outer, probe))
            {
                p.1.push(hole);
            }
        }
        let to_ring = |ring: &[(i64, i64)]| {
            let mut coords: Vec<Coord<f64>> = ring.iter().map(|&v| self.vertex_lonlat(v)).collect();
            coords.push(coords[0]);
            LineString(coords)
        };
        MultiPolygon(
            polygons
                .iter()
                .map(|(outer, holes)| {
                    Polygon::new(to_ring(outer), holes.iter().map(|h| to_ring(h)).collect())
                })
                .collect(),
        )
    }
}

fn cube_round(q: f64, r: f64) -> (i32, i32) {
    let s = -q - r;
    let (mut rq, mut rr, rs) = (q.round(), r.round(), s.round());
    let (dq, dr, ds) = ((rq - q).abs(), (rr - r).abs(), (rs - s).abs());
    if dq > dr && dq > ds {
        rq = -rr - rs;
    } else if dr > ds {
        rr = -rq - rs;
    }
    (rq as i32, rr as i32)
}

/// Twice the signed area in vertex units; positive for counter-clockwise.
fn signed_area2(ring: &[(i64, i64)]) -> i64 {
    let n = ring.len();
    (0..n)
        .map(|i| {
            let (a, b) = (ring[i], ring[(i + 1) % n]);
            a.0 * b.1 - b.0 * a.1
        })
        .sum()
}

/// Even-odd point-in-ring test, with the probe nudged off the lattice so it never lies on an
/// edge's line (vertex coordinates are integers).
fn contains(ring: &[(i64, i64)], probe: (i64, i64)) -> bool {
    let (px, py) = (probe.0 as f64 + 0.25, probe.1 as f64 + 0.125);
    let n = ring.len();
    let mut inside = false;
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + 1) % n]);
        let (ax, ay, bx, by) = (a.0 as f64, a.1 as f64, b.0 as f64, b.1 as f64);
        if (ay > py) != (by > py) && px < ax + (py - ay) * (bx - ax) / (by - ay) {
            inside = !inside;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Area, Validation};

    fn lattice() -> Lattice {
        Lattice::new((102.5, 24.3), 0.2, (102.4, 24.2), (102.6, 24.4))
    }

    #[test]
    fn a_point_falls_in_the_hexagon_whose_centre_is_nearest() {
        let l = lattice();
        let h = l.hex_at_lonlat(102.5, 24.3).unwrap();
        let (cx, cy) = l.centre_km(h);
        assert_eq!(l.hex_at_km(cx + 0.05, cy - 0.05), Some(h));
        assert_eq!(l.neighbours(h).count(), 6);
        for n in l.neighbours(h) {
            let (nx, ny) = l.centre_km(n);
            let d = ((nx - cx).powi(2) + (ny - cy).powi(2)).sqrt();
            assert!(
                (d - 0.2 * 3f64.sqrt()).abs() < 1e-9,
                "neighbour centres are √3·size apart"
            );
        }
    }

    #[test]
    fn dissolving_a_ring_of_hexagons_gives_one_valid_polygon_with_a_hole() {
        let l = lattice();
        let centre = l.hex_at_lonlat(102.5, 24.3).unwrap();
        let ring: Vec<usize> = l.neighbours(centre).collect();
        let mp = l.dissolve(&ring);
        assert_eq!(mp.0.len(), 1);
        assert_eq!(mp.0[0].interiors().len(), 1, "the centre hexagon is a hole");
        assert!(mp.is_valid());
        let mut all = ring.clone();
        all.push(centre);
        let filled = l.dissolve(&all);
        assert_eq!(filled.0[0].interiors().len(), 0);
        assert!(filled.is_valid());
        // Area of 7 hexagons vs 6: the hole is exactly one hexagon.
        let ratio = filled.unsigned_area() / mp.unsigned_area();
        assert!((ratio - 7.0 / 6.0).abs() < 1e-6);
        assert!(filled.0[0].exterior().is_closed());
        assert!(mp.signed_area() > 0.0, "outer rings are counter-clockwise");
    }

    #[test]
    fn jittered_outlines_stay_valid_and_shared_vertices_stay_shared() {
        let l = lattice().with_jitter(9, MAX_JITTER);
        let centre = l.hex_at_lonlat(102.5, 24.3).unwrap();
        let ring: Vec<usize> = l.neighbours(centre).collect();
        let outer = l.dissolve(&ring);
        let inner = l.dissolve(&[centre]);
        assert!(outer.is_valid() && inner.is_valid());
        // The hole of the ring is exactly the centre hexagon's outline, vertex for vertex.
        let mut hole: Vec<_> = outer.0[0].interiors()[0]
            .0
            .iter()
            .map(|c| (c.x.to_bits(), c.y.to_bits()))
            .collect();
        let mut own: Vec<_> = inner.0[0]
            .exterior()
            .0
            .iter()
            .map(|c| (c.x.to_bits(), c.y.to_bits()))
            .collect();
        hole.sort_unstable();
        own.sort_unstable();
        assert_eq!(hole, own);
        // A point pulled into a hexagon's core is inside its jittered outline.
        use geo::Contains;
        let (cx, cy) = l.centre_km(centre);
        for k in 0..36 {
            let a = f64::from(k) * 10f64.to_radians();
            let (x, y) = l.into_core(centre, (cx + a.cos(), cy + a.sin()));
            let (lon, lat) = l.to_lonlat(x, y);
            assert!(inner.contains(&geo::Point::new(lon, lat)));
        }
    }

    #[test]
    fn separate_groups_become_separate_polygons() {
        let l = lattice();
        let a = l.hex_at_lonlat(102.45, 24.25).unwrap();
        let b = l.hex_at_lonlat(102.55, 24.35).unwrap();
        let mp = l.dissolve(&[a, b]);
        assert_eq!(mp.0.len(), 2);
        assert!(mp.is_valid());
        assert_eq!(mp.0[0].exterior().0.len(), 7);
    }
}
