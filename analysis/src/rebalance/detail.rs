//! How fine a village's units need to be ([`super::build_units_adaptive`]).
//!
//! Units exist so that new cell boundaries can follow where people live, and so that a cell
//! can gain or lose load in small steps. Neither needs 25 m hexagons over a rural village's
//! empty hillsides: there, hexagons by the thousand per household cost time (building and
//! searching) and buy nothing. So a village is built at the finest resolution asked for
//! unless it would have more units than [`UNITS_PER_CELL`] per current cell and
//! [`UNITS_PER_HOUSEHOLD`] per household; then one resolution coarser at a time, for as long
//! as that holds and the heaviest unit stays within [`GRAIN`] of a current cell's mean load
//! (or no heavier than the heaviest at the finest resolution, which no coarsening causes).
//! The grain keeps balance reachable: a cell is tuned by moving units along its edge, and a
//! unit heavier than a few percent of a cell makes ±5% a matter of luck.
//!
//! The other way, a village whose units at the resolution asked for are too heavy is built
//! finer (down to 12, 300 m² hexagons), one resolution at a time, for as long as its typical
//! unit (the one the average unit of load lies in: Σ load² / Σ load over its hexagons) is
//! heavier than [`FINE_GRAIN`] of its mean load per current cell and the finer hexagons stay
//! within the budget above. Without it the blocks of flats of a town centre (30 to 80
//! households in a 25 m hexagon) leave each cell to be tuned in steps of a fifth of its load
//! or more, and a ±5% band is missed for want of a small enough step, not of a better search.
//!
//! A village is judged on its own outline, points and current cells, so its units never
//! depend on its neighbours.

use h3o::{CellIndex, LatLng, Resolution};

use super::clip;
use super::index_hash::IndexMap;
use super::outline_index::OutlineIndex;

/// The resolutions units may be built at: 9 (0.1 km²) to 12 (300 m²).
pub const RESOLUTIONS: std::ops::RangeInclusive<u8> = 9..=12;

/// Units per current cell a village may have before it is built coarser.
pub(crate) const UNITS_PER_CELL: f64 = 300.0;

/// Units per household a village may have before it is built coarser.
pub(crate) const UNITS_PER_HOUSEHOLD: f64 = 2.0;

/// The heaviest unit a coarser resolution may make, as a share of the village's mean load
/// per current cell.
pub(crate) const GRAIN: f64 = 0.2;

/// The typical unit a village may have before it is built finer, as a share of its mean load
/// per current cell: about half the room a ±5% band leaves a cell on either side.
pub(crate) const FINE_GRAIN: f64 = 0.03;

/// One point as the rule sees it: its hexagon at the resolution asked for, its load, its
/// households and where it is (longitude, latitude).
pub(crate) type Located = (CellIndex, f64, u32, [f64; 2]);

/// The resolution the rule gives a village with `outline`, points `points` and `current`
/// cells: `base`, coarser (down to 9) or finer (up to 12).
pub(crate) fn resolution(
    outline: &OutlineIndex,
    points: &[Located],
    current: usize,
    base: Resolution,
) -> Resolution {
    let area_m2 = area_m2(outline);
    let load: f64 = points.iter().map(|p| p.1).sum();
    let households: f64 = points.iter().map(|p| f64::from(p.2)).sum();
    let cells = current.max(1) as f64;
    let budget = (UNITS_PER_CELL * cells).max(UNITS_PER_HOUSEHOLD * households);
    // Each hexagon's load at `r`, by H3 parent (near enough for a rule).
    let loads = |r: Resolution| {
        let mut by: IndexMap<CellIndex, f64> = IndexMap::default();
        for &(c, l, _, [lon, lat]) in points {
            let cell = match r.cmp(&base) {
                std::cmp::Ordering::Less => c.parent(r).expect("coarser"),
                std::cmp::Ordering::Equal => c,
                std::cmp::Ordering::Greater => LatLng::new(lat, lon).map_or(c, |ll| ll.to_cell(r)),
            };
            *by.entry(cell).or_default() += l;
        }
        by
    };
    let heaviest = |r: Resolution| loads(r).into_values().fold(0.0, f64::max);
    let typical = |r: Resolution| {
        let by = loads(r);
        let sum: f64 = by.values().sum();
        if sum > 0.0 {
            by.values().map(|l| l * l).sum::<f64>() / sum
        } else {
            0.0
        }
    };
    let mut r = base;
    while typical(r) > FINE_GRAIN * load / cells
        && let Some(finer) = r.succ().filter(|f| RESOLUTIONS.contains(&u8::from(*f)))
        && area_m2 / finer.area_m2() <= budget
    {
        r = finer;
    }
    if r != base {
        return r;
    }
    let allowed = (GRAIN * load / cells).max(heaviest(base));
    while u8::from(r) > *RESOLUTIONS.start() {
        if area_m2 / r.area_m2() <= budget {
            break;
        }
        let Some(coarser) = r.pred() else { break };
        if heaviest(coarser) > allowed {
            break;
        }
        r = coarser;
    }
    r
}

/// The outline's area, m², on a local projection at its middle latitude.
fn area_m2(outline: &OutlineIndex) -> f64 {
    if outline.rings.is_empty() {
        return 0.0;
    }
    let lat = (outline.bbox[1] + outline.bbox[3]) / 2.0;
    let twice: f64 = outline
        .rings
        .iter()
        .map(|(ring, exterior)| {
            let a = clip::signed_area2(&ring[..ring.len() - 1]).abs();
            if *exterior { a } else { -a }
        })
        .sum();
    (twice / 2.0).max(0.0) * clip::m2_per_degree2(lat)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{MultiPolygon, polygon};

    /// About 4.4 km × 4.4 km.
    fn square() -> OutlineIndex {
        OutlineIndex::new(&MultiPolygon::new(vec![polygon![
            (x: 102.50, y: 24.30), (x: 102.54, y: 24.30),
            (x: 102.54, y: 24.34), (x: 102.50, y: 24.34),
        ]]))
    }

    fn at(lon: f64, lat: f64, load: f64) -> Located {
        let c = LatLng::new(lat, lon).unwrap().to_cell(Resolution::Eleven);
        (c, load, 1, [lon, lat])
    }

    #[test]
    fn an_empty_hillside_is_coarse_and_a_crowded_one_fine() {
        let outline = square();
        assert!((area_m2(&outline) / 1.0e6 - 18.2).abs() < 0.5);
        // 49 households 500 m apart, one cell: the coarsest resolution does.
        let sparse: Vec<_> = (0..49)
            .map(|i| {
                let (x, y) = ((i % 7) as f64, (i / 7) as f64);
                at(102.505 + 0.005 * x, 24.305 + 0.005 * y, 1.0)
            })
            .collect();
        assert_eq!(
            resolution(&outline, &sparse, 1, Resolution::Eleven),
            Resolution::Nine
        );
        // 10,000 households: two units each is about the whole village at resolution 11.
        let dense: Vec<_> = (0..10_000)
            .map(|i| {
                let (x, y) = ((i % 100) as f64, (i / 100) as f64);
                at(102.501 + 0.00038 * x, 24.301 + 0.00038 * y, 1.0)
            })
            .collect();
        assert_eq!(
            resolution(&outline, &dense, 60, Resolution::Eleven),
            Resolution::Eleven
        );
    }

    #[test]
    fn a_crowded_town_centre_is_built_finer() {
        // 6,000 households in blocks over some 350 m × 330 m, 20 cells of 300: a 25 m
        // hexagon holds about a hundred of them, a third of a cell; a 9 m one a seventh of
        // that, still over 3%, but 12 is the finest there is.
        let centre: Vec<_> = (0..6_000)
            .map(|i| {
                let (x, y) = ((i % 80) as f64, (i / 80) as f64);
                at(102.5005 + 0.000_044 * x, 24.3005 + 0.000_044 * y, 1.0)
            })
            .collect();
        // A village of about 450 m × 450 m around it.
        let town = OutlineIndex::new(&MultiPolygon::new(vec![polygon![
            (x: 102.500, y: 24.300), (x: 102.5045, y: 24.300),
            (x: 102.5045, y: 24.304), (x: 102.500, y: 24.304),
        ]]));
        assert_eq!(
            resolution(&town, &centre, 20, Resolution::Eleven),
            Resolution::Twelve
        );
        // The same households in a village of 18 km²: 9 m hexagons would be some 60,000,
        // far past the budget of units, so it stays at 11.
        assert_eq!(
            resolution(&square(), &centre, 20, Resolution::Eleven),
            Resolution::Eleven
        );
    }

    #[test]
    fn coarsening_stops_before_a_unit_outweighs_the_grain() {
        let outline = square();
        // 200 households in one hamlet of about 150 m, 4 cells (50 each), far more hexagons
        // than the budget: a resolution-10 hexagon would hold several times what the
        // heaviest resolution-11 one does, and far more than 20% of a cell's load.
        let hamlet: Vec<_> = (0..200)
            .map(|i| {
                let (x, y) = ((i % 15) as f64, (i / 15) as f64);
                at(102.52 + 0.0001 * x, 24.32 + 0.0001 * y, 1.0)
            })
            .collect();
        let r = resolution(&outline, &hamlet, 4, Resolution::Eleven);
        assert_eq!(r, Resolution::Eleven);
    }
}
