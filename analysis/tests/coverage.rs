//! Coverage validation under random edits: a clean tiling stays clean through any number of
//! valid edits (a shared vertex moved for every cell that has it; two neighbours merged by
//! dissolving their shared edge), and a vertex moved in one cell only is always caught, as an
//! overlap when it moved into a neighbour and a gap or mismatched edge when it moved inwards.
//!
//! The plan is a lattice of 100 m squares near Yuxi in two villages (left and right halves);
//! a cell is a set of lattice faces, its ring the faces' outline with every lattice vertex on
//! it, so neighbours share vertices exactly as the planners' tools keep them.

use std::collections::{BTreeMap, BTreeSet};

use geo::{
    Coord, CoordinatePosition, LineString, MultiPolygon, Polygon, coordinate_position::CoordPos,
};
use wangge_analysis::coverage::{Cell, Issue, IssueKind, Tolerances, Village, validate};

const NX: usize = 8;
const NY: usize = 6;
const SIZE: f64 = 100.0;
const LON: f64 = 102.5;
const LAT: f64 = 24.35;

type Vertex = (usize, usize);
type Face = (usize, usize);

/// Degrees per metre east and north here.
fn k() -> (f64, f64) {
    let ky = 1.0 / 111_195.08;
    (ky / LAT.to_radians().cos(), ky)
}

fn at(x: f64, y: f64) -> Coord<f64> {
    let (kx, ky) = k();
    Coord {
        x: LON + x * kx,
        y: LAT + y * ky,
    }
}

/// A small xorshift generator: the test is repeatable without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Plan {
    /// Each lattice vertex's offset from its square-grid place, m.
    offsets: BTreeMap<Vertex, (f64, f64)>,
    /// Cell key → its faces.
    cells: BTreeMap<i64, BTreeSet<Face>>,
}

fn village_of(face: Face) -> i64 {
    if face.0 < NX / 2 { 1 } else { 2 }
}

impl Plan {
    fn new() -> Self {
        let mut cells = BTreeMap::new();
        for j in 0..NY {
            for i in 0..NX {
                cells.insert((j * NX + i + 1) as i64, BTreeSet::from([(i, j)]));
            }
        }
        Self {
            offsets: BTreeMap::new(),
            cells,
        }
    }

    fn coord(&self, v: Vertex) -> Coord<f64> {
        let (dx, dy) = self.offsets.get(&v).copied().unwrap_or((0.0, 0.0));
        at(v.0 as f64 * SIZE + dx, v.1 as f64 * SIZE + dy)
    }

    /// The outline of a set of faces, counter-clockwise through every lattice vertex on it,
    /// if it is one simple loop.
    fn outline(faces: &BTreeSet<Face>) -> Option<Vec<Vertex>> {
        let mut edges: BTreeMap<Vertex, Vec<Vertex>> = BTreeMap::new();
        let mut all = BTreeSet::new();
        for &(i, j) in faces {
            let c = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)];
            for w in 0..4 {
                all.insert((c[w], c[(w + 1) % 4]));
            }
        }
        for &(a, b) in &all {
            if !all.contains(&(b, a)) {
                edges.entry(a).or_default().push(b);
            }
        }
        // A vertex the outline passes twice would pinch the cell: not a simple polygon.
        if edges.values().any(|v| v.len() != 1) {
            return None;
        }
        let start = *edges.keys().next()?;
        let mut ring = vec![start];
        let mut v = edges[&start][0];
        while v != start {
            ring.push(v);
            v = edges[&v][0];
        }
        (ring.len() == edges.len()).then_some(ring)
    }

    fn cells(&self) -> Vec<Cell> {
        self.cells
            .iter()
            .map(|(&key, faces)| {
                let ring = Self::outline(faces).expect("cells stay simple");
                let village = village_of(*faces.iter().next().unwrap());
                Cell {
                    key,
                    village,
                    geom: self.polygon(&ring),
                }
            })
            .collect()
    }

    fn polygon(&self, ring: &[Vertex]) -> MultiPolygon<f64> {
        let mut coords: Vec<Coord<f64>> = ring.iter().map(|&v| self.coord(v)).collect();
        coords.push(coords[0]);
        MultiPolygon::new(vec![Polygon::new(LineString::new(coords), vec![])])
    }

    /// Valid edit: an inner lattice vertex moved for every cell (kept within ±25 m of its
    /// grid place, so no quadrilateral folds; one on the villages' common boundary slides
    /// along it).
    fn move_shared_vertex(&mut self, rng: &mut Rng) {
        let v = (1 + rng.below(NX - 1), 1 + rng.below(NY - 1));
        let (dx, dy) = self.offsets.get(&v).copied().unwrap_or((0.0, 0.0));
        let sideways = if v.0 == NX / 2 { 0.0 } else { 8.0 };
        let moved = (
            (dx + rng.uniform(-sideways, sideways)).clamp(-25.0, 25.0),
            (dy + rng.uniform(-8.0, 8.0)).clamp(-25.0, 25.0),
        );
        self.offsets.insert(v, moved);
    }

    /// Valid edit: two neighbouring cells of one village merged, if the result is one simple
    /// polygon. Returns whether it merged.
    fn merge_neighbours(&mut self, rng: &mut Rng) -> bool {
        let keys: Vec<i64> = self.cells.keys().copied().collect();
        let a = keys[rng.below(keys.len())];
        let face = *self.cells[&a].iter().next().unwrap();
        let neighbour_faces: Vec<Face> = self.cells[&a]
            .iter()
            .flat_map(|&(i, j)| {
                [
                    (i.wrapping_sub(1), j),
                    (i + 1, j),
                    (i, j.wrapping_sub(1)),
                    (i, j + 1),
                ]
            })
            .filter(|&(i, j)| i < NX && j < NY && village_of((i, j)) == village_of(face))
            .collect();
        if neighbour_faces.is_empty() {
            return false;
        }
        let target = neighbour_faces[rng.below(neighbour_faces.len())];
        let Some(&b) = self
            .cells
            .iter()
            .find(|(_, f)| f.contains(&target))
            .map(|(k, _)| k)
        else {
            return false;
        };
        if a == b {
            return false;
        }
        let merged: BTreeSet<Face> = self.cells[&a].union(&self.cells[&b]).copied().collect();
        if Self::outline(&merged).is_none() {
            return false;
        }
        self.cells.remove(&b);
        self.cells.insert(a, merged);
        true
    }

    fn villages(&self) -> Vec<Village> {
        let half = (NX / 2) as f64 * SIZE;
        let rect = |x0: f64, x1: f64| {
            let ring = vec![
                at(x0, 0.0),
                at(x1, 0.0),
                at(x1, NY as f64 * SIZE),
                at(x0, NY as f64 * SIZE),
                at(x0, 0.0),
            ];
            MultiPolygon::new(vec![Polygon::new(LineString::new(ring), vec![])])
        };
        vec![
            Village {
                key: 1,
                geom: rect(0.0, half),
            },
            Village {
                key: 2,
                geom: rect(half, NX as f64 * SIZE),
            },
        ]
    }
}

fn summary(issues: &[Issue]) -> Vec<(IssueKind, Vec<i64>, String)> {
    issues
        .iter()
        .map(|i| (i.kind, i.cells.clone(), i.detail.clone()))
        .collect()
}

#[test]
fn coverage_random_valid_edits_stay_clean() {
    let tol = Tolerances::default();
    let (mut moves, mut merges) = (0, 0);
    for seed in 1..=12u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut plan = Plan::new();
        for step in 0..30 {
            if rng.below(3) == 0 {
                merges += plan.merge_neighbours(&mut rng) as usize;
            } else {
                plan.move_shared_vertex(&mut rng);
                moves += 1;
            }
            let issues = validate(&plan.cells(), &plan.villages(), None, &tol);
            assert!(
                issues.is_empty(),
                "seed {seed}, step {step}: {:?}",
                summary(&issues)
            );
        }
    }
    assert!(moves > 100 && merges > 20, "{moves} moves, {merges} merges");
}

#[test]
fn coverage_random_invalid_edits_are_caught() {
    let tol = Tolerances::default();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for seed in 1..=60u64 {
        let mut rng = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let mut plan = Plan::new();
        for _ in 0..15 {
            if rng.below(3) == 0 {
                plan.merge_neighbours(&mut rng);
            } else {
                plan.move_shared_vertex(&mut rng);
            }
        }
        let mut cells = plan.cells();
        // One cell moves one of its inner vertices 5–15 m; its neighbours keep theirs.
        let c = rng.below(cells.len());
        let key = cells[c].key;
        let ring = Plan::outline(&plan.cells[&key]).unwrap();
        let inner: Vec<usize> = (0..ring.len())
            .filter(|&n| ring[n].0 > 0 && ring[n].0 < NX && ring[n].1 > 0 && ring[n].1 < NY)
            .collect();
        if inner.is_empty() {
            continue;
        }
        let n = inner[rng.below(inner.len())];
        let (angle, dist) = (
            rng.uniform(0.0, std::f64::consts::TAU),
            rng.uniform(5.0, 15.0),
        );
        let (kx, ky) = k();
        let old = plan.coord(ring[n]);
        let new = Coord {
            x: old.x + dist * angle.cos() * kx,
            y: old.y + dist * angle.sin() * ky,
        };
        let original = cells[c].geom.clone();
        let mut coords: Vec<Coord<f64>> = ring.iter().map(|&v| plan.coord(v)).collect();
        coords[n] = new;
        coords.push(coords[0]);
        cells[c].geom = MultiPolygon::new(vec![Polygon::new(LineString::new(coords), vec![])]);

        let issues = validate(&cells, &plan.villages(), None, &tol);
        let mine: Vec<&Issue> = issues.iter().filter(|i| i.cells.contains(&key)).collect();
        let has = |kind: IssueKind| mine.iter().any(|i| i.kind == kind);
        let into_neighbour = cells
            .iter()
            .filter(|other| other.key != key)
            .find(|other| other.geom.coordinate_position(&new) == CoordPos::Inside);
        if let Some(other) = into_neighbour {
            assert!(
                mine.iter()
                    .any(|i| i.kind == IssueKind::Overlap && i.cells.contains(&other.key)),
                "seed {seed}: cell {key} moved into {}: {:?}",
                other.key,
                summary(&issues)
            );
            *seen.entry("overlap").or_default() += 1;
        } else if original.coordinate_position(&new) == CoordPos::Inside {
            // Bare land between a village's cells is a gap; against the village's outline
            // (a vertex on the villages' common boundary) it is uncovered village land.
            let bare = if ring[n].0 == NX / 2 {
                IssueKind::Uncovered
            } else {
                IssueKind::Gap
            };
            assert!(
                has(bare) || has(IssueKind::UnmatchedEdge),
                "seed {seed}: cell {key} moved inwards: {:?}",
                summary(&issues)
            );
            *seen
                .entry(if has(bare) {
                    bare.code()
                } else {
                    "unmatched_edge"
                })
                .or_default() += 1;
        } else {
            // Onto a boundary exactly: vanishingly rare with random directions.
            assert!(!mine.is_empty(), "seed {seed}: {:?}", summary(&issues));
        }
        // The focus run answers the same issues about the edited cell.
        let focused = validate(&cells, &plan.villages(), Some(&[key]), &tol);
        assert_eq!(
            summary(&focused),
            summary(&mine.into_iter().cloned().collect::<Vec<_>>()),
            "seed {seed}"
        );
    }
    assert!(seen.get("overlap").copied().unwrap_or(0) >= 10, "{seen:?}");
    assert!(seen.get("gap").copied().unwrap_or(0) >= 10, "{seen:?}");
    println!("{seen:?}");
}
