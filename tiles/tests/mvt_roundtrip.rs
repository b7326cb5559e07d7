//! Tiles from our encoder, read back by an independent decoder (`mvt-reader`, built on
//! `prost`), so the checks do not share our reading of the spec.
//!
//! `mvt-reader` reports point features as `MultiPoint`, a single line as `LineString` and
//! several as `MultiLineString`, and polygon features as `MultiPolygon` with closed rings. It
//! groups rings into polygons by winding (a positive-area ring starts a new polygon, a
//! negative one is a hole of the previous), so grouping it gets right shows our winding is
//! right.

use std::collections::HashMap;

use geo_types::{Coord, Geometry, LineString, MultiPolygon};
use mvt_reader::Reader;
use mvt_reader::feature::{Feature, Value as Decoded};
use wangge_tiles::{
    DEFAULT_EXTENT, LayerBuilder, Polygon, TileBuilder, TileGeometry, Value, parse_wkb,
};

fn decode(bytes: &[u8]) -> Reader {
    Reader::new(bytes.to_vec()).expect("mvt-reader decodes our tile")
}

fn features(reader: &Reader, layer: usize) -> Vec<Feature<i32>> {
    reader
        .get_features_as::<i32>(layer)
        .expect("mvt-reader decodes our features")
}

fn tile_of(layers: Vec<LayerBuilder>) -> Vec<u8> {
    let mut tile = TileBuilder::new();
    for layer in layers {
        tile.add_layer(layer).unwrap();
    }
    let bytes = tile.encode();
    assert_eq!(bytes.len(), tile.encoded_len());
    bytes
}

fn coords(line: &LineString<i32>) -> Vec<[i32; 2]> {
    line.0.iter().map(|c: &Coord<i32>| [c.x, c.y]).collect()
}

/// Twice the signed area by the surveyor's formula in tile coordinates (y down).
fn doubled_area(ring: &[[i32; 2]]) -> i64 {
    ring.windows(2)
        .map(|w| i64::from(w[0][0]) * i64::from(w[1][1]) - i64::from(w[1][0]) * i64::from(w[0][1]))
        .sum()
}

/// Rings of a decoded polygon feature: per polygon, exterior first, as closed coordinate lists.
fn polygon_rings(geometry: &Geometry<i32>) -> Vec<Vec<Vec<[i32; 2]>>> {
    let Geometry::MultiPolygon(MultiPolygon(polygons)) = geometry else {
        panic!("expected a MultiPolygon, got {geometry:?}");
    };
    polygons
        .iter()
        .map(|p| {
            std::iter::once(p.exterior())
                .chain(p.interiors())
                .map(coords)
                .collect()
        })
        .collect()
}

fn props(feature: &Feature<i32>) -> &HashMap<String, Decoded> {
    feature.properties.as_ref().expect("properties present")
}

#[test]
fn layers_extents_ids_and_property_types() {
    let mut poi = LayerBuilder::new("poi", DEFAULT_EXTENT).unwrap();
    poi.add_feature(
        Some(42),
        &TileGeometry::Points(vec![[100, 200]]),
        &[
            ("name", Value::from("玉溪 school")),
            ("rating", Value::Double(4.25)),
            ("pupils", Value::Int(1234)),
            ("delta", Value::Int(-7)),
            ("big", Value::Int(i64::MAX)),
            ("small", Value::Int(i64::MIN)),
            ("open", Value::Bool(true)),
            ("closed", Value::Bool(false)),
        ],
    )
    .unwrap();
    poi.add_feature(
        None,
        &TileGeometry::Points(vec![[-10, 4100], [5, 5], [5, 5]]),
        &[],
    )
    .unwrap();

    let mut coarse = LayerBuilder::new("coarse", 512).unwrap();
    coarse
        .add_feature(Some(0), &TileGeometry::Points(vec![[256, 256]]), &[])
        .unwrap();
    let empty = LayerBuilder::new("empty", DEFAULT_EXTENT).unwrap();

    let reader = decode(&tile_of(vec![poi, empty, coarse]));
    assert_eq!(reader.get_layer_names().unwrap(), ["poi", "coarse"]);
    let meta = reader.get_layer_metadata().unwrap();
    assert_eq!(
        meta.iter()
            .map(|l| (l.name.as_str(), l.version, l.extent, l.feature_count))
            .collect::<Vec<_>>(),
        [("poi", 2, 4096, 2), ("coarse", 2, 512, 1)]
    );

    let poi = features(&reader, 0);
    assert_eq!(poi[0].id, Some(42));
    assert_eq!(poi[1].id, None);
    let p = props(&poi[0]);
    let expected: HashMap<String, Decoded> = [
        ("name", Decoded::String("玉溪 school".into())),
        ("rating", Decoded::Double(4.25)),
        ("pupils", Decoded::UInt(1234)),
        ("delta", Decoded::SInt(-7)),
        ("big", Decoded::UInt(i64::MAX as u64)),
        ("small", Decoded::SInt(i64::MIN)),
        ("open", Decoded::Bool(true)),
        ("closed", Decoded::Bool(false)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(p, &expected);
    assert!(props(&poi[1]).is_empty());

    let Geometry::MultiPoint(points) = &poi[0].geometry else {
        panic!("{:?}", poi[0].geometry);
    };
    assert_eq!(
        points.0.iter().map(|p| [p.x(), p.y()]).collect::<Vec<_>>(),
        [[100, 200]]
    );
    // Buffer coordinates outside 0..extent survive; repeated points in a multi-point too.
    let Geometry::MultiPoint(points) = &poi[1].geometry else {
        panic!("{:?}", poi[1].geometry);
    };
    assert_eq!(
        points.0.iter().map(|p| [p.x(), p.y()]).collect::<Vec<_>>(),
        [[-10, 4100], [5, 5], [5, 5]]
    );

    let coarse = features(&reader, 1);
    assert_eq!(coarse[0].id, Some(0), "an explicit id 0 is written");
}

#[test]
fn lines_keep_the_cursor_across_parts_and_drop_repeats() {
    let mut roads = LayerBuilder::new("roads", DEFAULT_EXTENT).unwrap();
    roads
        .add_feature(
            Some(1),
            &TileGeometry::Lines(vec![vec![[2, 2], [2, 10], [2, 10], [10, 10]]]),
            &[],
        )
        .unwrap();
    roads
        .add_feature(
            Some(2),
            &TileGeometry::Lines(vec![
                vec![[4000, 100], [4200, -50]],
                vec![[9, 9], [9, 9]], // degenerate: dropped
                vec![[0, 4096], [1, 4095], [1, 4095], [2, 4096]],
            ]),
            &[],
        )
        .unwrap();
    let reader = decode(&tile_of(vec![roads]));
    let f = features(&reader, 0);
    assert_eq!(f.len(), 2);
    let Geometry::LineString(line) = &f[0].geometry else {
        panic!("{:?}", f[0].geometry);
    };
    assert_eq!(coords(line), [[2, 2], [2, 10], [10, 10]]);
    let Geometry::MultiLineString(lines) = &f[1].geometry else {
        panic!("{:?}", f[1].geometry);
    };
    assert_eq!(
        lines.0.iter().map(coords).collect::<Vec<_>>(),
        [
            vec![[4000, 100], [4200, -50]],
            vec![[0, 4096], [1, 4095], [2, 4096]]
        ]
    );
}

#[test]
fn polygon_winding_is_normalised_and_holes_stay_with_their_exterior() {
    // Exterior counter-clockwise on screen and closed; hole clockwise and open: both wrong.
    let wrong_way = Polygon::new(
        vec![[0, 0], [0, 100], [100, 100], [100, 0], [0, 0]],
        vec![vec![[20, 20], [80, 20], [80, 80], [20, 80]]],
    );
    // Already right, with a degenerate hole and a repeated vertex.
    let right_way = Polygon::new(
        vec![[200, 200], [300, 200], [300, 200], [300, 300], [200, 300]],
        vec![vec![[210, 210], [220, 220], [230, 230]]],
    );
    // Zero-area exterior: dropped together with its valid-looking hole.
    let flat = Polygon::new(
        vec![[500, 500], [600, 500], [700, 500]],
        vec![vec![[510, 510], [510, 520], [520, 520]]],
    );
    let mut cells = LayerBuilder::new("cells", DEFAULT_EXTENT).unwrap();
    assert!(
        cells
            .add_feature(
                Some(9),
                &TileGeometry::Polygons(vec![wrong_way, flat.clone(), right_way]),
                &[("code", "A".into())],
            )
            .unwrap()
    );
    assert!(
        !cells
            .add_feature(Some(10), &TileGeometry::Polygons(vec![flat]), &[])
            .unwrap(),
        "a feature with only a degenerate polygon is skipped"
    );
    let reader = decode(&tile_of(vec![cells]));
    let f = features(&reader, 0);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].id, Some(9));
    let rings = polygon_rings(&f[0].geometry);
    assert_eq!(
        rings,
        [
            vec![
                vec![[0, 0], [100, 0], [100, 100], [0, 100], [0, 0]],
                vec![[20, 20], [20, 80], [80, 80], [80, 20], [20, 20]],
            ],
            vec![vec![
                [200, 200],
                [300, 200],
                [300, 300],
                [200, 300],
                [200, 200]
            ]],
        ]
    );
    for polygon in &rings {
        assert!(doubled_area(&polygon[0]) > 0, "exterior {:?}", polygon[0]);
        for hole in &polygon[1..] {
            assert!(doubled_area(hole) < 0, "hole {hole:?}");
        }
    }
}

#[test]
fn keys_and_values_are_stored_once_per_layer() {
    let long = "x".repeat(1000);
    let mut layer = LayerBuilder::new("dedup", DEFAULT_EXTENT).unwrap();
    for i in 0..100 {
        layer
            .add_feature(
                Some(i),
                &TileGeometry::Points(vec![[i as i32, 0]]),
                &[
                    ("description", Value::from(long.as_str())),
                    ("score", Value::Double(0.1 + 0.2)),
                    ("parity", Value::Int(i as i64 % 2)),
                ],
            )
            .unwrap();
    }
    let bytes = tile_of(vec![layer]);
    // Without deduplication the string alone would take 100 × 1000 bytes.
    assert!(bytes.len() < 4 * long.len(), "{} bytes", bytes.len());
    let (keys, values) = count_keys_and_values(&bytes);
    assert_eq!((keys, values), (3, 4));

    let reader = decode(&bytes);
    let f = features(&reader, 0);
    assert_eq!(f.len(), 100);
    for (i, feature) in f.iter().enumerate() {
        let p = props(feature);
        assert_eq!(p["description"], Decoded::String(long.clone()));
        assert_eq!(p["score"], Decoded::Double(0.1 + 0.2));
        assert_eq!(p["parity"], Decoded::UInt(i as u64 % 2));
        assert_eq!(feature.id, Some(i as u64));
    }
}

/// Counts the `keys` (3) and `values` (4) fields of the single layer in `tile`: the decoder
/// resolves tags to values and does not show the tables.
fn count_keys_and_values(tile: &[u8]) -> (usize, usize) {
    fn varint(b: &[u8], pos: &mut usize) -> u64 {
        let mut v = 0;
        let mut shift = 0;
        loop {
            let byte = b[*pos];
            *pos += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }
    let mut pos = 0;
    assert_eq!(varint(tile, &mut pos), 3 << 3 | 2, "one layer field");
    let len = varint(tile, &mut pos) as usize;
    let layer = &tile[pos..pos + len];
    assert_eq!(pos + len, tile.len());
    let (mut keys, mut values, mut pos) = (0, 0, 0);
    while pos < layer.len() {
        let key = varint(layer, &mut pos);
        match key & 7 {
            0 => {
                varint(layer, &mut pos);
            }
            2 => {
                let n = varint(layer, &mut pos) as usize;
                pos += n;
            }
            other => panic!("unexpected wire type {other} in a layer"),
        }
        match key >> 3 {
            3 => keys += 1,
            4 => values += 1,
            _ => {}
        }
    }
    (keys, values)
}

#[test]
fn wkb_from_postgis_shape_to_decoded_tile() {
    // MULTIPOLYGON(((0 0,0 50,50 50,50 0,0 0),(10 10,40 10,40 40,10 40,10 10))), big-endian,
    // wound the "wrong" way for MVT (counter-clockwise exterior in y-down coordinates).
    let mut wkb = vec![0u8];
    wkb.extend_from_slice(&6u32.to_be_bytes());
    wkb.extend_from_slice(&1u32.to_be_bytes());
    wkb.push(0);
    wkb.extend_from_slice(&3u32.to_be_bytes());
    wkb.extend_from_slice(&2u32.to_be_bytes());
    let rings: [&[[f64; 2]]; 2] = [
        &[
            [0.0, 0.0],
            [0.0, 50.0],
            [50.0, 50.0],
            [50.0, 0.0],
            [0.0, 0.0],
        ],
        &[
            [10.0, 10.0],
            [40.0, 10.0],
            [40.0, 40.0],
            [10.0, 40.0],
            [10.0, 10.0],
        ],
    ];
    for ring in rings {
        wkb.extend_from_slice(&(ring.len() as u32).to_be_bytes());
        for [x, y] in ring {
            wkb.extend_from_slice(&x.to_be_bytes());
            wkb.extend_from_slice(&y.to_be_bytes());
        }
    }
    let geometry = parse_wkb(&wkb).unwrap().unwrap();
    let mut layer = LayerBuilder::new("grid", DEFAULT_EXTENT).unwrap();
    assert!(layer.add_feature(Some(5), &geometry, &[]).unwrap());
    let reader = decode(&tile_of(vec![layer]));
    let f = features(&reader, 0);
    assert_eq!(
        polygon_rings(&f[0].geometry),
        [vec![
            vec![[0, 0], [50, 0], [50, 50], [0, 50], [0, 0]],
            vec![[10, 10], [10, 40], [40, 40], [40, 10], [10, 10]],
        ]]
    );
}

#[test]
fn a_size_budget_is_met_by_truncating() {
    const BUDGET: usize = 500 * 1024;
    let mut layer = LayerBuilder::new("dense", DEFAULT_EXTENT).unwrap();
    for i in 0..20_000_i32 {
        let x = i % 4000;
        let y = i / 4000 * 800;
        let square = Polygon::new(
            vec![
                [x, y],
                [x + 7, y],
                [x + 7, y + 700],
                [x + 3, y + 750],
                [x, y + 700],
            ],
            vec![],
        );
        layer
            .add_feature(
                Some(i as u64),
                &TileGeometry::Polygons(vec![square]),
                &[("label", Value::String(format!("cell-{i}")))],
            )
            .unwrap();
    }
    let mut tile = TileBuilder::new();
    tile.add_layer(layer).unwrap();
    assert!(tile.encoded_len() > BUDGET);

    // Drop the last tenth until it fits.
    while tile.encoded_len() > BUDGET {
        let layer = tile.layer_mut("dense").unwrap();
        let n = layer.feature_count();
        layer.truncate(n - n.div_ceil(10));
    }
    let bytes = tile.encode();
    assert!(bytes.len() <= BUDGET);
    assert_eq!(bytes.len(), tile.encoded_len());
    let kept = tile.layers()[0].feature_count();
    let f = features(&decode(&bytes), 0);
    assert_eq!(f.len(), kept);
    let last = f.last().unwrap();
    assert_eq!(last.id, Some(kept as u64 - 1));
    assert_eq!(
        props(last)["label"],
        Decoded::String(format!("cell-{}", kept - 1))
    );
}
