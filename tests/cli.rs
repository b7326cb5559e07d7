//! The `wangge` binary itself, against a database given by `--database-url`.

mod common;

use std::process::{Command, Output};

use common::TestDb;

fn wangge(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wangge"))
        .arg("--database-url")
        .arg(db.url())
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run wangge")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn migrate_sets_up_a_bare_database() {
    let db = TestDb::bare().await;
    let out = wangge(&db, &["migrate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("migrations applied"));
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'
           AND table_name IN ('admin_unit', 'grid_plan', 'grid_cell', 'household', 'resident',
                              'facility', 'grid_worker', 'incident', 'incident_event')",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(tables, 9);
    // Running it again changes nothing and succeeds.
    assert!(wangge(&db, &["migrate"]).status.success());
}

#[tokio::test]
async fn import_reports_each_bad_feature_and_exits_non_zero() {
    let db = TestDb::empty().await;
    let dir = std::env::temp_dir().join(format!("wangge-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let city = dir.join("city.geojson");
    std::fs::write(&city, r#"{"type":"FeatureCollection","features":[{"type":"Feature",
        "properties":{"code":"530400","name":"玉溪市"},
        "geometry":{"type":"Polygon","coordinates":[[[101,23],[104,23],[104,26],[101,26],[101,23]]]}}]}"#).unwrap();
    let counties = dir.join("counties.geojson");
    std::fs::write(&counties, r#"{"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"code":"530402","name":"红塔区"},
         "geometry":{"type":"Polygon","coordinates":[[[102,24],[102.5,24],[102.5,24.5],[102,24.5],[102,24]]]}},
        {"type":"Feature","properties":{"code":"530403","name":"江川区"},
         "geometry":{"type":"Polygon","coordinates":[[[24,102],[24.5,102],[24.5,102.5],[24,102]]]}},
        {"type":"Feature","properties":{"name":"无码"},
         "geometry":{"type":"Polygon","coordinates":[[[103,24],[103.5,24],[103.5,24.5],[103,24]]]}}]}"#).unwrap();

    let ok = wangge(
        &db,
        &[
            "import",
            "admin-units",
            city.to_str().unwrap(),
            "--level",
            "city",
            "--datum",
            "wgs84",
        ],
    );
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("imported 1 administrative units"));

    let bad = wangge(
        &db,
        &[
            "import",
            "admin-units",
            counties.to_str().unwrap(),
            "--level",
            "county",
            "--datum",
            "wgs84",
        ],
    );
    assert!(!bad.status.success());
    let stderr = text(&bad.stderr);
    assert!(
        stderr.contains("2 bad features; nothing was imported"),
        "{stderr}"
    );
    assert!(
        stderr.contains("feature 1: polygon 0, outer ring: position 0: (24, 102)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("feature 2: it has no `code` or `adcode` property"),
        "{stderr}"
    );
    assert_eq!(db.count("admin_unit").await, 1, "nothing but the city");

    // The datum must be said.
    let unsaid = wangge(
        &db,
        &[
            "import",
            "admin-units",
            counties.to_str().unwrap(),
            "--level",
            "county",
        ],
    );
    assert!(!unsaid.status.success());
    assert!(text(&unsaid.stderr).contains("--datum"));
    std::fs::remove_dir_all(&dir).unwrap();
}
