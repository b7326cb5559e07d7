//! Area, perimeter and compactness of arbitrary lon/lat polygons, on the local plane of
//! [`super::project`] around each geometry's own centre (within a few tenths of a percent of
//! the sphere at city scale).
//!
//! Polsby–Popper compactness is 4πA/P²: 1 for a disc, π/4 ≈ 0.785 for a square, about 0.26
//! for a 1:10 rectangle and 0.05 for roughly 1:60. The perimeter counts holes' rings too, so
//! a hole makes a polygon less compact, as it does for the planners' figure.

use geo::{Area, Coord, Euclidean, Length, LineString, MultiPolygon};

use super::project::LocalProjection;

/// The area of a lon/lat (multi)polygon in square metres (holes subtracted).
pub fn area_m2(geom: &MultiPolygon<f64>) -> f64 {
    planar_area(&on_own_plane(geom))
}

/// The length of every ring of a lon/lat (multi)polygon, holes included, in metres.
pub fn perimeter_m(geom: &MultiPolygon<f64>) -> f64 {
    planar_perimeter(&on_own_plane(geom))
}

/// Polsby–Popper compactness 4πA/P², from 0 (a line) to 1 (a disc); 0 for an empty or
/// degenerate geometry. Unitless.
pub fn polsby_popper(geom: &MultiPolygon<f64>) -> f64 {
    let m = on_own_plane(geom);
    compactness(planar_area(&m), planar_perimeter(&m))
}

/// The width in metres of the rectangle with the same area and perimeter as `geom`: exact
/// for rectangles (a 4 m × 100 m strip gives 4 m), close for strips of any shape, and P/4 for
/// shapes rounder than a square (for which no such rectangle exists).
pub fn equivalent_width_m(geom: &MultiPolygon<f64>) -> f64 {
    let m = on_own_plane(geom);
    rectangle_width(planar_area(&m), planar_perimeter(&m))
}

fn on_own_plane(geom: &MultiPolygon<f64>) -> MultiPolygon<f64> {
    LocalProjection::around_mean([geom]).multi_polygon_m(geom)
}

/// Area of a geometry already in metres, in m².
pub(crate) fn planar_area(m: &MultiPolygon<f64>) -> f64 {
    m.unsigned_area()
}

/// Total ring length of a geometry already in metres, in m.
pub(crate) fn planar_perimeter(m: &MultiPolygon<f64>) -> f64 {
    m.0.iter()
        .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
        .map(|r: &LineString<f64>| Euclidean.length(r))
        .sum()
}

/// 4πA/P², or 0 when there is no perimeter.
pub(crate) fn compactness(area: f64, perimeter: f64) -> f64 {
    if perimeter > 0.0 {
        4.0 * std::f64::consts::PI * area / (perimeter * perimeter)
    } else {
        0.0
    }
}

/// w with w·l = A and 2(w + l) = P, the smaller root; P/4 when P² < 16A.
pub(crate) fn rectangle_width(area: f64, perimeter: f64) -> f64 {
    let disc = perimeter * perimeter - 16.0 * area;
    (perimeter - disc.max(0.0).sqrt()) / 4.0
}

/// Length of a segment in the plane, m.
pub(crate) fn segment_length(a: Coord<f64>, b: Coord<f64>) -> f64 {
    (b.x - a.x).hypot(b.y - a.y)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use geo::{LineString, Polygon};

    /// Metres to degrees near the test site (102.5° E, 24.35° N).
    pub(crate) const DEG_PER_M_LAT: f64 = 1.0 / 111_195.08;
    pub(crate) fn deg_per_m_lon() -> f64 {
        DEG_PER_M_LAT / 24.35f64.to_radians().cos()
    }

    /// A w × h metre rectangle whose south-west corner is x, y metres from (102.5, 24.35).
    pub(crate) fn rect_m(x: f64, y: f64, w: f64, h: f64) -> MultiPolygon<f64> {
        let (kx, ky) = (deg_per_m_lon(), DEG_PER_M_LAT);
        let c = |a: f64, b: f64| (102.5 + a * kx, 24.35 + b * ky);
        MultiPolygon::new(vec![Polygon::new(
            LineString::from(vec![
                c(x, y),
                c(x + w, y),
                c(x + w, y + h),
                c(x, y + h),
                c(x, y),
            ]),
            vec![],
        )])
    }

    #[test]
    fn coverage_measure_rectangle() {
        let r = rect_m(0.0, 0.0, 100.0, 40.0);
        assert!((area_m2(&r) - 4000.0).abs() < 4.0, "{}", area_m2(&r));
        assert!((perimeter_m(&r) - 280.0).abs() < 0.3, "{}", perimeter_m(&r));
        let pp = 4.0 * std::f64::consts::PI * 4000.0 / (280.0 * 280.0);
        assert!((polsby_popper(&r) - pp).abs() < 1e-3);
        assert!(
            (equivalent_width_m(&r) - 40.0).abs() < 0.1,
            "{}",
            equivalent_width_m(&r)
        );
    }

    #[test]
    fn coverage_measure_square_and_empty() {
        let s = rect_m(0.0, 0.0, 50.0, 50.0);
        assert!((polsby_popper(&s) - std::f64::consts::FRAC_PI_4).abs() < 1e-3);
        assert!((equivalent_width_m(&s) - 50.0).abs() < 0.1);
        let empty = MultiPolygon::<f64>::new(vec![]);
        assert_eq!(polsby_popper(&empty), 0.0);
        assert_eq!(area_m2(&empty), 0.0);
    }
}
