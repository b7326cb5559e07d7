//! The Yuxi demo: real names and codes, Yuxi's figures, and boundaries that nest with no gaps
//! and no overlaps, checked by PostGIS.

use crate::common;

use std::collections::HashSet;

use common::{TestDb, reference_time};
use wangge::demo::{self, Scale};

#[tokio::test]
async fn the_full_demo_has_yuxis_figures_and_clean_topology() {
    let db = TestDb::empty().await;
    let data = demo::generate(Scale::Full, demo::DEFAULT_SEED, reference_time());
    let cipher = wangge::personal::Cipher::new(&common::test_key());
    demo::load::load(&db.pool, &data, &cipher, &mut |_| {})
        .await
        .unwrap();

    let levels: Vec<(String, i64)> = sqlx::query_as(
        "SELECT level::text, count(*) FROM admin_unit GROUP BY level ORDER BY level",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        levels,
        vec![
            ("city".into(), 1),
            ("county".into(), 9),
            ("township".into(), 76),
            ("village".into(), 718)
        ]
    );
    assert_eq!(db.count("grid_cell").await, 5162);
    // The loader rebuilds the big tables' indexes after the load: all are back.
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE tablename IN ('household', 'resident') ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        indexes,
        [
            "household_geom_idx",
            "household_pkey",
            "household_village_idx",
            "resident_household_idx",
            "resident_pkey"
        ]
    );
    assert_eq!(db.count("grid_worker").await, 7817);
    let households = db.count("household").await;
    assert!(
        (700_000..=800_000).contains(&households),
        "about 750,000 households: {households}"
    );
    let facilities = db.count("facility").await;
    assert!(
        (1_700..=2_300).contains(&facilities),
        "about 2,000 facilities: {facilities}"
    );

    // Every grid cell lies within its village, no two overlap, and together they cover the
    // city exactly (equal area + no overlap + all inside = no gaps).
    let outside: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM grid_cell g JOIN admin_unit v ON v.id = g.village_id
         WHERE NOT ST_CoveredBy(g.geom, v.geom)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(outside, 0, "grid cells outside their village");
    let overlapping: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM grid_cell a JOIN grid_cell b
           ON a.id < b.id AND a.geom && b.geom AND ST_Relate(a.geom, b.geom, '2********')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(overlapping, 0, "overlapping grid cells");
    // Each level nests in its parent and tiles it.
    let misnested: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM admin_unit c JOIN admin_unit p ON p.id = c.parent_id
         WHERE NOT ST_CoveredBy(c.geom, p.geom)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(misnested, 0);
    let areas: Vec<(String, f64, f64)> = sqlx::query_as(
        "SELECT p.level::text, max(ST_Area(p.geom)), sum(ST_Area(c.geom))
         FROM admin_unit p JOIN admin_unit c ON c.parent_id = p.id GROUP BY p.id, p.level",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for (level, parent, children) in areas {
        assert!(
            (parent - children).abs() / parent < 1e-9,
            "{level}: children tile the parent"
        );
    }
    let (city, cells): (f64, f64) = sqlx::query_as(
        "SELECT (SELECT ST_Area(geom) FROM admin_unit WHERE level = 'city'), (SELECT sum(ST_Area(geom)) FROM grid_cell)",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        (city - cells).abs() / city < 1e-9,
        "grid cells cover the city: {city} vs {cells}"
    );

    // Counties about their real size (km², on the spheroid).
    let county_areas: Vec<(String, f64)> = sqlx::query_as(
        "SELECT code, ST_Area(geom::geography) / 1e6 FROM admin_unit WHERE level = 'county' ORDER BY code",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for (code, area) in county_areas {
        let real = demo::divisions::COUNTIES
            .iter()
            .find(|c| c.code == code)
            .unwrap()
            .area_km2;
        assert!(
            (area - real).abs() / real < 0.1,
            "{code}: {area:.0} km² vs about {real} km²"
        );
    }

    // About 20,000 incidents a year, over 80% resolved at township level or below.
    let (per_year, low_share): (f64, f64) = sqlx::query_as(
        "SELECT count(*) / 2.0::float8,
                (count(*) FILTER (WHERE resolved_tier IN ('village', 'township')))::float8
                  / count(*) FILTER (WHERE resolved_tier IS NOT NULL)
         FROM incident",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        (18_000.0..=22_000.0).contains(&per_year),
        "{per_year} incidents a year"
    );
    assert!(
        low_share > 0.8,
        "resolved at township level or below: {low_share}"
    );
    // Every incident lies in its grid cell, which lies in its village.
    let misplaced: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM incident i JOIN grid_cell g ON g.id = i.grid_cell_id
         WHERE NOT ST_Intersects(g.geom, i.geom) OR g.village_id <> i.village_id",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(misplaced, 0);
    // Every grid cell has a worker and households.
    let (without_worker, without_households): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM grid_worker_cell w WHERE w.grid_cell_id = g.id)),
                count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM household h WHERE h.village_id = g.village_id AND ST_Intersects(g.geom, h.geom)))
         FROM grid_cell g",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((without_worker, without_households), (0, 0));
}

#[test]
fn the_demo_is_deterministic_and_the_small_one_is_a_county_of_the_full_one() {
    let full = demo::generate(Scale::Full, 7, reference_time());
    let again = demo::generate(Scale::Full, 7, reference_time());
    let small = demo::generate(Scale::Small, 7, reference_time());
    assert_eq!(full.households.len(), again.households.len());
    assert_eq!(
        full.households
            .iter()
            .map(|h| (h.lonlat, &h.address))
            .collect::<Vec<_>>(),
        again
            .households
            .iter()
            .map(|h| (h.lonlat, &h.address))
            .collect::<Vec<_>>()
    );
    let other = demo::generate(Scale::Small, 8, reference_time());
    assert_ne!(
        small.households[0].lonlat, other.households[0].lonlat,
        "the seed matters"
    );

    let codes = |d: &demo::DemoData| {
        d.grid_cells
            .iter()
            .map(|g| g.code.clone())
            .collect::<HashSet<_>>()
    };
    let small_codes = codes(&small);
    let full_in_county: HashSet<String> = codes(&full)
        .into_iter()
        .filter(|c| c.starts_with(demo::generate::SMALL_COUNTY))
        .collect();
    assert_eq!(small_codes, full_in_county);
    assert_eq!(
        small
            .units
            .iter()
            .filter(|u| u.level == wangge::model::AdminLevel::County)
            .count(),
        1
    );
    let small_addresses: HashSet<&String> = small.households.iter().map(|h| &h.address).collect();
    let full_addresses_in_county = full
        .households
        .iter()
        .filter(|h| h.address.contains("红塔区"))
        .count();
    assert_eq!(small.households.len(), full_addresses_in_county);
    assert!(
        full.households
            .iter()
            .filter(|h| h.address.contains("红塔区"))
            .all(|h| small_addresses.contains(&h.address))
    );
}
