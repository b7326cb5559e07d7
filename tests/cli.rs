//! The `wangge` binary itself, against a database given by `--database-url`.

use crate::common;

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

#[tokio::test]
async fn users_are_added_listed_disabled_and_reset_from_the_command_line() {
    let db = TestDb::small_demo().await;
    let cell: String = sqlx::query_scalar("SELECT code FROM grid_cell ORDER BY code LIMIT 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let run = |args: &[&str], password: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_wangge"));
        command
            .arg("--database-url")
            .arg(db.url())
            .args(args)
            .env("RUST_LOG", "warn");
        match password {
            Some(p) => command.env("WANGGE_PASSWORD", p),
            None => command.env_remove("WANGGE_PASSWORD"),
        };
        command.output().expect("run wangge")
    };
    let added = run(
        &[
            "user",
            "add",
            "chen",
            "--role",
            "dispatcher",
            "--area",
            "530402",
        ],
        Some("a-long-password"),
    );
    assert!(added.status.success(), "{}", text(&added.stderr));
    assert!(
        !text(&added.stdout).contains("a-long-password"),
        "a given password is not echoed"
    );
    let worker = run(
        &[
            "user",
            "add",
            "li",
            "--role",
            "worker",
            "--grid-cell",
            &cell,
        ],
        None,
    );
    assert!(worker.status.success(), "{}", text(&worker.stderr));
    let generated = text(&worker.stdout);
    let password = generated
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("a generated password is printed");
    assert!(
        wangge::auth::session::sign_in(
            &db.pool,
            "li",
            password,
            wangge::auth::session::SessionKind::Bearer,
            "t",
            &Default::default(),
            &wangge::audit::RequestMeta::cli()
        )
        .await
        .is_ok()
    );

    let weak = run(
        &[
            "user", "add", "wang", "--role", "planner", "--area", "530402",
        ],
        Some("short"),
    );
    assert!(!weak.status.success());
    let nowhere = run(
        &[
            "user", "add", "wang", "--role", "planner", "--area", "999999",
        ],
        Some("a-long-password"),
    );
    assert!(
        text(&nowhere.stderr).contains("no administrative unit or grid cell has the code `999999`")
    );

    assert!(run(&["user", "disable", "chen"], None).status.success());
    let listed = text(&run(&["user", "list"], None).stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("chen\tdispatcher\t530402 红塔区 [disabled]")),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("li\tworker\tgrid cell ")),
        "{listed}"
    );

    let reset = run(&["user", "reset-password", "li"], None);
    let new_password = text(&reset.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("password: ").map(str::to_owned))
        .unwrap();
    assert_ne!(new_password, password);
    assert!(
        wangge::auth::session::sign_in(
            &db.pool,
            "li",
            password,
            wangge::auth::session::SessionKind::Bearer,
            "t",
            &Default::default(),
            &wangge::audit::RequestMeta::cli()
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn plan_commands_draft_list_and_publish_as_a_planner() {
    let db = TestDb::small_demo().await;
    db.user_token(
        "planner-cli",
        wangge::auth::Role::Planner,
        wangge::auth::users::AreaCode::Unit("530402".into()),
    )
    .await;
    let new = wangge(&db, &["plan", "new", "--as", "planner-cli", "县级调整"]);
    assert!(new.status.success(), "{}", text(&new.stderr));
    let line = text(&new.stdout);
    let version: i32 = line.split_whitespace().next().unwrap().parse().unwrap();
    assert!(
        line.contains("draft") && line.contains("县级调整"),
        "{line}"
    );
    let list = wangge(&db, &["plan", "list", "--as", "planner-cli"]);
    assert!(text(&list.stdout).lines().any(|l| l.contains("县级调整")));
    // Only planners: an operator's name is refused, and nothing is written.
    db.user_token(
        "operator-cli",
        wangge::auth::Role::Operator,
        wangge::auth::users::AreaCode::Unit("530402".into()),
    )
    .await;
    let refused = wangge(
        &db,
        &[
            "plan",
            "publish",
            "--as",
            "operator-cli",
            &version.to_string(),
        ],
    );
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("planners"),
        "{}",
        text(&refused.stderr)
    );
    let published = wangge(
        &db,
        &[
            "plan",
            "publish",
            "--as",
            "planner-cli",
            &version.to_string(),
        ],
    );
    assert!(published.status.success(), "{}", text(&published.stderr));
    assert!(text(&published.stdout).contains(&format!("plan {version} published")));
    let status: String =
        sqlx::query_scalar("SELECT status::text FROM grid_plan WHERE version = $1")
            .bind(version)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(status, "published");
}
