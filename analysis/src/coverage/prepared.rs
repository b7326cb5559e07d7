//! Cells and villages made ready for the rules: valid ones only, rings oriented one way
//! (shells counter-clockwise, holes clockwise, so a polygon's interior is always left of its
//! edges), consecutive repeated vertices dropped, on the local plane in metres beside the
//! original degrees, and indexed by bounding box in an R-tree.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use geo::{
    BoundingRect, Coord, LineString, MultiPolygon, Orient, Polygon, Rect, orient::Direction,
};
use rstar::{AABB, RTree, primitives::GeomWithData, primitives::Rectangle};

use super::project::LocalProjection;
use super::{Cell, Village};

type Boxed<T> = GeomWithData<Rectangle<[f64; 2]>, T>;

/// One ring in both coordinate systems, vertex for vertex, closed (first = last).
#[derive(Debug)]
pub(crate) struct Ring {
    pub ll: Vec<Coord<f64>>,
    pub m: Vec<Coord<f64>>,
}

impl Ring {
    pub(crate) fn segments(&self) -> usize {
        self.ll.len() - 1
    }
}

/// A valid cell on the plane.
#[derive(Debug)]
pub(crate) struct PreparedCell {
    pub key: i64,
    pub village: i64,
    /// In metres, oriented.
    pub m: MultiPolygon<f64>,
    /// Every ring of every part, in part order (shell, then holes).
    pub rings: Vec<Ring>,
    pub bbox: Rect<f64>,
    /// Whether the caller asked about this cell (always, without a focus).
    pub focus: bool,
}

/// A valid village on the plane.
#[derive(Debug)]
pub(crate) struct PreparedVillage {
    pub key: i64,
    pub m: MultiPolygon<f64>,
    pub bbox: Rect<f64>,
}

/// Where a segment is: ring index within its cell and segment index within the ring.
pub(crate) type SegmentId = (u32, u32);

/// The data every rule reads.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub proj: LocalProjection,
    pub cells: Vec<PreparedCell>,
    pub villages: Vec<PreparedVillage>,
    pub village_index: HashMap<i64, usize>,
    /// Villages some cell of which was left out as invalid: their coverage cannot be judged.
    pub villages_with_invalid_cells: HashSet<i64>,
    /// Villages given whose outline is invalid (reported by rule 1).
    pub invalid_villages: HashSet<i64>,
    tree: RTree<Boxed<usize>>,
    segment_trees: Vec<OnceCell<RTree<Boxed<SegmentId>>>>,
    village_segment_trees: Vec<OnceCell<RTree<Rectangle<[f64; 2]>>>>,
}

impl Prepared {
    /// `cells` and `villages` are the valid ones, already chosen; `focus[i]` whether cell i
    /// was asked about.
    pub(crate) fn new(
        proj: LocalProjection,
        cells: Vec<(&Cell, bool)>,
        villages: Vec<&Village>,
        villages_with_invalid_cells: HashSet<i64>,
        invalid_villages: HashSet<i64>,
    ) -> Self {
        let cells: Vec<PreparedCell> = cells
            .into_iter()
            .filter_map(|(c, focus)| prepare_cell(&proj, c, focus))
            .collect();
        let villages: Vec<PreparedVillage> = villages
            .into_iter()
            .filter_map(|v| {
                let m = proj.multi_polygon_m(&v.geom).orient(Direction::Default);
                Some(PreparedVillage {
                    key: v.key,
                    bbox: m.bounding_rect()?,
                    m,
                })
            })
            .collect();
        let village_index = villages
            .iter()
            .enumerate()
            .map(|(i, v)| (v.key, i))
            .collect();
        let tree = RTree::bulk_load(
            cells
                .iter()
                .enumerate()
                .map(|(i, c)| GeomWithData::new(rectangle(c.bbox), i))
                .collect(),
        );
        let segment_trees = cells.iter().map(|_| OnceCell::new()).collect();
        let village_segment_trees = villages.iter().map(|_| OnceCell::new()).collect();
        Self {
            proj,
            cells,
            villages,
            village_index,
            villages_with_invalid_cells,
            invalid_villages,
            tree,
            segment_trees,
            village_segment_trees,
        }
    }

    /// Cells whose bounding box comes within `reach_m` of `bbox`, ascending.
    pub(crate) fn cells_near(&self, bbox: Rect<f64>, reach_m: f64) -> Vec<usize> {
        let mut found: Vec<usize> = self
            .tree
            .locate_in_envelope_intersecting(&envelope(bbox, reach_m))
            .map(|g| g.data)
            .collect();
        found.sort_unstable();
        found
    }

    /// Cell `cell`'s segments whose bounding box comes within `reach_m` of `bbox`.
    pub(crate) fn segments_near(
        &self,
        cell: usize,
        bbox: Rect<f64>,
        reach_m: f64,
    ) -> impl Iterator<Item = SegmentId> + '_ {
        let tree = self.segment_trees[cell].get_or_init(|| {
            let mut items = Vec::new();
            for (r, ring) in self.cells[cell].rings.iter().enumerate() {
                for (s, w) in ring.m.windows(2).enumerate() {
                    items.push(GeomWithData::new(
                        rectangle(Rect::new(w[0], w[1])),
                        (r as u32, s as u32),
                    ));
                }
            }
            RTree::bulk_load(items)
        });
        tree.locate_in_envelope_intersecting(&envelope(bbox, reach_m))
            .map(|g| g.data)
    }
}

impl Prepared {
    /// Whether any segment of village `village`'s outline has its box meeting `bbox`.
    pub(crate) fn village_outline_meets(&self, village: usize, bbox: Rect<f64>) -> bool {
        let tree = self.village_segment_trees[village].get_or_init(|| {
            let m = &self.villages[village].m;
            let rings =
                m.0.iter()
                    .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()));
            RTree::bulk_load(
                rings
                    .flat_map(|r| r.lines())
                    .map(|l| rectangle(Rect::new(l.start, l.end)))
                    .collect(),
            )
        });
        tree.locate_in_envelope_intersecting(&envelope(bbox, 0.0))
            .next()
            .is_some()
    }
}

fn prepare_cell(proj: &LocalProjection, c: &Cell, focus: bool) -> Option<PreparedCell> {
    let parts: Vec<Polygon<f64>> = c
        .geom
        .0
        .iter()
        .map(|p| {
            Polygon::new(
                deduplicated(p.exterior()),
                p.interiors().iter().map(deduplicated).collect(),
            )
        })
        .collect();
    let ll = MultiPolygon::new(parts).orient(Direction::Default);
    let m = proj.multi_polygon_m(&ll);
    let rings =
        ll.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .map(|r| Ring {
                m: r.0.iter().map(|&c| proj.to_m(c)).collect(),
                ll: r.0.clone(),
            })
            .collect();
    Some(PreparedCell {
        key: c.key,
        village: c.village,
        bbox: m.bounding_rect()?,
        m,
        rings,
        focus,
    })
}

fn deduplicated(ring: &LineString<f64>) -> LineString<f64> {
    let mut out: Vec<Coord<f64>> = Vec::with_capacity(ring.0.len());
    for &c in &ring.0 {
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    LineString::new(out)
}

fn rectangle(r: Rect<f64>) -> Rectangle<[f64; 2]> {
    Rectangle::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y])
}

fn envelope(r: Rect<f64>, reach: f64) -> AABB<[f64; 2]> {
    AABB::from_corners(
        [r.min().x - reach, r.min().y - reach],
        [r.max().x + reach, r.max().y + reach],
    )
}
