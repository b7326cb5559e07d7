//! Gi* over GeoJSON features, checked against the statistic worked out in the test from
//! weights built by the definitions (lattice adjacency, brute-force nearest neighbours).

use geojson::{FeatureCollection, JsonValue};
use wangge_analysis::feature_gistar::{
    FeatureResult, gistar_csv, gistar_features, with_gistar_properties,
};
use wangge_analysis::gi_star::GiStarOptions;

/// Ord & Getis's z for binary weights with the location included, from neighbour lists.
fn z_by_formula(values: &[f64], neighbours: &[Vec<usize>]) -> Vec<f64> {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let s = (values.iter().map(|x| x * x).sum::<f64>() / n - mean * mean).sqrt();
    neighbours
        .iter()
        .enumerate()
        .map(|(i, js)| {
            let w = (js.len() + 1) as f64;
            let lag = values[i] + js.iter().map(|&j| values[j]).sum::<f64>();
            (lag - mean * w) / (s * ((n * w - w * w) / (n - 1.0)).sqrt())
        })
        .collect()
}

fn square_feature(id: usize, col: f64, row: f64, value: f64) -> String {
    // Corners from the lattice numbers, so neighbouring squares share them bit for bit.
    let (x, y, x1, y1) = (
        102.5 + col * 0.01,
        24.3 + row * 0.01,
        102.5 + (col + 1.0) * 0.01,
        24.3 + (row + 1.0) * 0.01,
    );
    format!(
        r#"{{"type": "Feature", "id": {id}, "properties": {{"count": {value}}}, "geometry": {{"type": "Polygon",
        "coordinates": [[[{x}, {y}], [{x1}, {y}], [{x1}, {y1}], [{x}, {y1}], [{x}, {y}]]]}}}}"#
    )
}

fn collection(features: &[String]) -> FeatureCollection {
    format!(
        r#"{{"type": "FeatureCollection", "features": [{}]}}"#,
        features.join(",")
    )
    .parse()
    .unwrap()
}

fn analytic() -> GiStarOptions {
    GiStarOptions {
        permutations: 0,
        ..Default::default()
    }
}

#[test]
fn polygons_with_queen_and_rook_weights() {
    // A 7 × 6 lattice of squares with a block of high counts in one corner. The squares'
    // corners are computed the same way for every square, so neighbours share vertices
    // exactly (as polygons cut from one coverage do).
    let (cols, rows) = (7usize, 6usize);
    let value = |c: usize, r: usize| {
        if c < 3 && r < 3 {
            20.0 + (c + r) as f64
        } else {
            ((c * 7 + r * 3) % 5) as f64
        }
    };
    let mut features = Vec::new();
    let mut values = Vec::new();
    for r in 0..rows {
        for c in 0..cols {
            features.push(square_feature(
                r * cols + c,
                c as f64,
                r as f64,
                value(c, r),
            ));
            values.push(value(c, r));
        }
    }
    let fc = collection(&features);
    for (spec, diagonal) in [("queen", true), ("rook", false)] {
        let neighbours: Vec<Vec<usize>> = (0..rows * cols)
            .map(|i| {
                let (r, c) = ((i / cols) as i64, (i % cols) as i64);
                (0..rows * cols)
                    .filter(|&j| {
                        let (dr, dc) =
                            (((j / cols) as i64 - r).abs(), ((j % cols) as i64 - c).abs());
                        j != i && dr <= 1 && dc <= 1 && (diagonal || dr + dc == 1)
                    })
                    .collect()
            })
            .collect();
        let expected = z_by_formula(&values, &neighbours);
        let results =
            gistar_features(&fc, "count", &spec.parse().unwrap(), &analytic(), false).unwrap();
        for (i, (r, e)) in results.iter().zip(&expected).enumerate() {
            assert!((r.z - e).abs() < 1e-9, "{spec} {i}: {} vs {e}", r.z);
            assert_eq!(r.neighbours, neighbours[i].len());
        }
        // The corner block is a 99% hot spot.
        assert_eq!(results[cols + 1].bin, 3, "{spec}");
    }
}

#[test]
fn points_with_knn_and_numeric_strings() {
    // Points along a parallel, unevenly spaced; values given as numbers and as text.
    let lons: [f64; 8] = [
        102.500, 102.503, 102.509, 102.520, 102.524, 102.541, 102.560, 102.561,
    ];
    let values = [5.0, 7.0, 6.0, 1.0, 2.0, 1.5, 9.0, 8.5];
    let features: Vec<String> = lons
        .iter()
        .zip(values)
        .enumerate()
        .map(|(i, (lon, v))| {
            let value = if i % 2 == 0 { format!("{v}") } else { format!("\" {v} \"") };
            format!(r#"{{"type": "Feature", "properties": {{"v": {value}}}, "geometry": {{"type": "Point", "coordinates": [{lon}, 24.3]}}}}"#)
        })
        .collect();
    let fc = collection(&features);
    // On one parallel, nearness is nearness in longitude: the two nearest by |Δlon|.
    let neighbours: Vec<Vec<usize>> = (0..lons.len())
        .map(|i| {
            let mut others: Vec<usize> = (0..lons.len()).filter(|&j| j != i).collect();
            others.sort_by(|&a, &b| {
                (lons[a] - lons[i])
                    .abs()
                    .total_cmp(&(lons[b] - lons[i]).abs())
            });
            others.truncate(2);
            others
        })
        .collect();
    let expected = z_by_formula(&values, &neighbours);
    let results = gistar_features(&fc, "v", &"knn:2".parse().unwrap(), &analytic(), false).unwrap();
    for (r, e) in results.iter().zip(&expected) {
        assert!((r.z - e).abs() < 1e-9, "{} vs {e}", r.z);
    }
    // A distance band that leaves the last pair (≈ 2 km from the rest) to themselves and
    // point 5 alone.
    let results = gistar_features(
        &fc,
        "v",
        &"distance:1300".parse().unwrap(),
        &analytic(),
        false,
    )
    .unwrap();
    assert_eq!(results[5].neighbours, 0);
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
    assert!((results[5].z - (values[5] - mean) / sd).abs() < 1e-12);
}

#[test]
fn refusals_name_the_feature() {
    let point = |id: &str, props: &str, coords: &str| {
        format!(
            r#"{{"type": "Feature", {id} "properties": {props}, "geometry": {{"type": "Point", "coordinates": {coords}}}}}"#
        )
    };
    let ok = |i: usize| {
        point(
            "",
            r#"{"v": 1}"#,
            &format!("[102.5, {}]", 24.0 + i as f64 * 0.01),
        )
    };
    let run = |extra: String, spec: &str| {
        let mut features: Vec<String> = (0..3).map(ok).collect();
        features.push(extra);
        gistar_features(
            &collection(&features),
            "v",
            &spec.parse().unwrap(),
            &analytic(),
            false,
        )
        .unwrap_err()
        .to_string()
    };
    for (extra, spec, message) in [
        (point(r#""id": "x7","#, r#"{"w": 1}"#, "[102.5, 24.5]"), "knn:1", r#"feature 3 (id "x7") has no property "v""#),
        (point(r#""id": 12,"#, r#"{"v": "n/a"}"#, "[102.5, 24.5]"), "knn:1", r#"feature 3 (id "12") has "v" = "n/a", which is not a finite number"#),
        (point("", r#"{"v": null}"#, "[102.5, 24.5]"), "knn:1", "feature 3 has \"v\" = null"),
        (point("", r#"{"v": "NaN"}"#, "[102.5, 24.5]"), "knn:1", "which is not a finite number"),
        (point("", r#"{"v": 2}"#, "[24.5, 102.5]"), "knn:1", "feature 3 has a coordinate off the globe: latitude 102.5 is outside -90..=90"),
        (
            r#"{"type": "Feature", "properties": {"v": 1}, "geometry": {"type": "LineString", "coordinates": [[102.5, 24.5], [102.6, 24.5]]}}"#.to_owned(),
            "knn:1",
            "feature 3 is a LineString; only Points, Polygons and MultiPolygons are analysed",
        ),
        (
            r#"{"type": "Feature", "properties": {"v": 1}, "geometry": {"type": "Polygon", "coordinates": [[[102.5, 24.5], [102.6, 24.5], [102.6, 24.6], [102.5, 24.5]]]}}"#.to_owned(),
            "knn:1",
            "feature 3 is a Polygon but feature 0 is a Point",
        ),
        (r#"{"type": "Feature", "properties": {"v": 1}, "geometry": null}"#.to_owned(), "knn:1", "feature 3 has no geometry"),
        (ok(3), "queen", "queen weights need polygons"),
        (ok(3), "ring:1", "ring:1 weights are for H3 cells"),
        (ok(3), "knn:4", "k = 4 nearest neighbours needs more than k locations, got 4"),
    ] {
        let error = run(extra, spec);
        assert!(error.contains(message), "{error}\n  expected: {message}");
    }
    let two = collection(&[ok(0), ok(1)]);
    assert_eq!(
        gistar_features(&two, "v", &"knn:1".parse().unwrap(), &analytic(), false)
            .unwrap_err()
            .to_string(),
        "Gi* needs at least 3 features, got 2"
    );
    let same = collection(&[ok(0), ok(1), ok(2)]);
    assert!(
        gistar_features(&same, "v", &"knn:1".parse().unwrap(), &analytic(), false)
            .unwrap_err()
            .to_string()
            .contains("every value is the same")
    );
}

#[test]
fn results_write_back_as_properties_and_csv() {
    let fc: FeatureCollection = r#"{"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": "=cmd", "properties": {"v": 1, "gi": "old"}, "geometry": null},
        {"type": "Feature", "id": 5, "geometry": null},
        {"type": "Feature", "properties": null, "geometry": null}]}"#
        .parse()
        .unwrap();
    let results = [
        FeatureResult {
            gi: 0.25,
            z: 2.5,
            p: 0.0124,
            p_sim: Some(0.004),
            bin: 2,
            neighbours: 2,
        },
        FeatureResult {
            gi: 0.5,
            z: -0.1,
            p: 0.92,
            p_sim: None,
            bin: 0,
            neighbours: 0,
        },
        FeatureResult {
            gi: 0.25,
            z: f64::NAN,
            p: 1.0,
            p_sim: None,
            bin: 0,
            neighbours: 1,
        },
    ];
    let out = with_gistar_properties(&fc, &results).unwrap();
    let props = out.features[0].properties.as_ref().unwrap();
    assert_eq!(props["v"], JsonValue::from(1));
    assert_eq!(props["gi"], JsonValue::from(0.25));
    assert_eq!(props["gi_z"], JsonValue::from(2.5));
    assert_eq!(props["gi_p"], JsonValue::from(0.0124));
    assert_eq!(props["gi_p_sim"], JsonValue::from(0.004));
    assert_eq!(props["gi_bin"], JsonValue::from(2));
    assert_eq!(
        out.features[1].properties.as_ref().unwrap()["gi_p_sim"],
        JsonValue::Null
    );
    assert_eq!(
        out.features[2].properties.as_ref().unwrap()["gi_z"],
        JsonValue::Null
    );
    let csv = gistar_csv(&fc, &results).unwrap();
    assert_eq!(
        csv,
        "index,id,gi,z,p,p_sim,bin\n0,'=cmd,0.25,2.5,0.0124,0.004,2\n1,5,0.5,-0.1,0.92,,0\n2,,0.25,NaN,1,,0\n"
    );
    assert!(with_gistar_properties(&fc, &results[..2]).is_err());
}
