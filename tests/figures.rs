//! The figures leaders read, against counts computed here from the raw rows: resolution by
//! unit, category and month (with the share resolved at township level or below and the
//! median time to resolve), cases per mediator and per unit, CSV exports, and scoping.

use crate::common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use serde_json::Value;
use wangge::auth::Role;
use wangge::auth::users::AreaCode;
use wangge::config::{Config, DatabaseConfig};

use common::{TestDb, get_as_bearer, send};

async fn state(db: &TestDb) -> wangge::AppState {
    db.state(Config::for_database(DatabaseConfig::External {
        url: db.url(),
    }))
    .await
}

#[derive(Debug, sqlx::FromRow)]
struct Case {
    county: Option<String>,
    township: Option<String>,
    category: String,
    status: String,
    reported_at: DateTime<Utc>,
    resolved_at: Option<DateTime<Utc>>,
    resolved_tier: Option<String>,
    due_at: Option<DateTime<Utc>>,
    assignee_id: Option<i64>,
}

async fn cases(db: &TestDb) -> Vec<Case> {
    sqlx::query_as(
        "SELECT c.code AS county, t.code AS township, i.category, i.status::text, i.reported_at,
                i.resolved_at, i.resolved_tier::text, i.due_at, i.assignee_id
         FROM incident i
         LEFT JOIN admin_unit c ON c.id = i.county_id
         LEFT JOIN admin_unit t ON t.id = i.township_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// What the API should say for one group, computed here.
#[derive(Debug, Default, PartialEq)]
struct Expected {
    reported: i64,
    resolved: i64,
    by_tier: [i64; 4],
    open: i64,
    overdue: i64,
    hours: Vec<f64>,
}

fn tier_index(tier: &str) -> usize {
    ["village", "township", "county", "city"]
        .iter()
        .position(|t| *t == tier)
        .unwrap()
}

fn cst_month(at: DateTime<Utc>) -> String {
    at.with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y-%m")
        .to_string()
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// Groups the cases as the API should, for reports and resolutions inside [start, end).
fn expected(
    cases: &[Case],
    key: impl Fn(&Case, DateTime<Utc>) -> Option<String>,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
) -> BTreeMap<Option<String>, Expected> {
    let inside = |t: DateTime<Utc>| start.is_none_or(|s| t >= s) && end.is_none_or(|e| t < e);
    let now = Utc::now();
    let mut groups: BTreeMap<Option<String>, Expected> = BTreeMap::new();
    for case in cases {
        if inside(case.reported_at) {
            let group = groups.entry(key(case, case.reported_at)).or_default();
            group.reported += 1;
            let open =
                ["reported", "assigned", "accepted", "in_progress"].contains(&case.status.as_str());
            group.open += i64::from(open);
            group.overdue += i64::from(open && case.due_at.is_some_and(|d| d < now));
        }
        if let Some(resolved_at) = case.resolved_at.filter(|t| inside(*t)) {
            let group = groups.entry(key(case, resolved_at)).or_default();
            group.resolved += 1;
            group.by_tier[tier_index(case.resolved_tier.as_deref().unwrap())] += 1;
            group
                .hours
                .push((resolved_at - case.reported_at).num_milliseconds() as f64 / 3_600_000.0);
        }
    }
    groups
}

fn check(rows: &[Value], expected: &BTreeMap<Option<String>, Expected>, what: &str) {
    assert_eq!(rows.len(), expected.len(), "{what}: groups");
    for row in rows {
        let key = row["key"].as_str().map(str::to_owned);
        let want = &expected[&key];
        let context = format!("{what} {key:?}");
        assert_eq!(row["reported"], want.reported, "{context}");
        assert_eq!(row["resolved"], want.resolved, "{context}");
        for (i, tier) in ["village", "township", "county", "city"].iter().enumerate() {
            assert_eq!(
                row[format!("resolved_{tier}")],
                want.by_tier[i],
                "{context} {tier}"
            );
        }
        assert_eq!(row["open"], want.open, "{context}");
        assert_eq!(row["overdue"], want.overdue, "{context}");
        match median(want.hours.clone()) {
            Some(m) => assert!(
                (row["median_hours_to_resolve"].as_f64().unwrap() - m).abs() < 1e-6,
                "{context}"
            ),
            None => assert!(row["median_hours_to_resolve"].is_null(), "{context}"),
        }
        if want.resolved > 0 {
            let share = (want.by_tier[0] + want.by_tier[1]) as f64 / want.resolved as f64;
            assert!(
                (row["share_township_or_below"].as_f64().unwrap() - share).abs() < 1e-9,
                "{context}"
            );
        }
    }
}

#[tokio::test]
async fn resolution_figures_match_counts_computed_independently() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let all = cases(&db).await;

    let (status, answer) =
        get_as_bearer(&state, &token, "/api/v1/stats/resolution?by=township").await;
    assert_eq!(status, StatusCode::OK);
    let by_township = expected(&all, |c, _| c.township.clone(), None, None);
    check(
        answer["rows"].as_array().unwrap(),
        &by_township,
        "by township",
    );
    assert!(
        answer["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"].as_str().is_some_and(|n| !n.is_empty()))
    );
    // The total agrees with the whole, and the headline share is the domain's figure.
    let whole = expected(&all, |_, _| None, None, None);
    check(&[answer["total"].clone()], &whole, "total");
    let share = answer["total"]["share_township_or_below"].as_f64().unwrap();
    assert!(share > 0.5 && share <= 1.0, "{share}");

    let (_, answer) = get_as_bearer(&state, &token, "/api/v1/stats/resolution?by=county").await;
    let by_county = expected(&all, |c, _| c.county.clone(), None, None);
    check(answer["rows"].as_array().unwrap(), &by_county, "by county");

    let (_, answer) = get_as_bearer(&state, &token, "/api/v1/stats/resolution?by=month").await;
    let by_month = expected(&all, |_, at| Some(cst_month(at)), None, None);
    check(answer["rows"].as_array().unwrap(), &by_month, "by month");

    // A period in CST days, both ends included, and one category.
    let cst = FixedOffset::east_opt(8 * 3600).unwrap();
    let start = NaiveDate::from_ymd_opt(2026, 9, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(cst)
        .unwrap()
        .with_timezone(&Utc);
    let end = NaiveDate::from_ymd_opt(2026, 10, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(cst)
        .unwrap()
        .with_timezone(&Utc);
    let (_, answer) = get_as_bearer(
        &state,
        &token,
        "/api/v1/stats/resolution?by=category&from=2026-09-01&to=2026-09-30",
    )
    .await;
    let by_category = expected(
        &all,
        |c, _| Some(c.category.clone()),
        Some(start),
        Some(end),
    );
    check(
        answer["rows"].as_array().unwrap(),
        &by_category,
        "by category in September",
    );
    let land: Vec<&Case> = all.iter().filter(|c| c.category == "land").collect();
    let (_, answer) = get_as_bearer(
        &state,
        &token,
        "/api/v1/stats/resolution?by=county&category=land",
    )
    .await;
    assert_eq!(answer["total"]["reported"], land.len());
}

#[tokio::test]
async fn cases_per_mediator_and_per_unit_match_the_rows() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    let all = cases(&db).await;
    let mut per_worker: BTreeMap<i64, i64> = BTreeMap::new();
    for case in all.iter().filter(|c| c.resolved_at.is_some()) {
        if let Some(worker) = case.assignee_id {
            *per_worker.entry(worker).or_default() += 1;
        }
    }
    let (status, answer) = get_as_bearer(&state, &token, "/api/v1/stats/mediators").await;
    assert_eq!(status, StatusCode::OK);
    let got: BTreeMap<i64, i64> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["worker_id"].as_i64().unwrap(),
                r["resolved"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, per_worker);

    let mut per_township: BTreeMap<String, i64> = BTreeMap::new();
    for case in all
        .iter()
        .filter(|c| c.resolved_tier.as_deref() == Some("township"))
    {
        *per_township
            .entry(case.township.clone().unwrap())
            .or_default() += 1;
    }
    let (_, answer) = get_as_bearer(&state, &token, "/api/v1/stats/mediated?level=township").await;
    let got: BTreeMap<String, i64> = answer
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["code"].as_str().unwrap().to_owned(),
                r["resolved"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, per_township);
}

#[tokio::test]
async fn every_figure_exports_as_csv_and_stays_in_the_callers_area() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let token = db.city_operator().await;
    for (uri, rows_at) in [
        ("/api/v1/stats/resolution?by=village", "rows"),
        ("/api/v1/stats/mediators", ""),
        ("/api/v1/stats/mediated?level=village", ""),
    ] {
        let (_, json) = get_as_bearer(&state, &token, uri).await;
        let rows = if rows_at.is_empty() {
            json.as_array().unwrap().clone()
        } else {
            json[rows_at].as_array().unwrap().clone()
        };
        let request = axum::http::Request::get(format!("{uri}&format=csv").replacen(
            "mediators&",
            "mediators?",
            1,
        ))
        .header(axum::http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
        let reply = send(&state, request).await;
        assert_eq!(reply.status, StatusCode::OK, "{uri}");
        assert_eq!(reply.content_type(), "text/csv; charset=utf-8");
        assert!(
            reply.body.starts_with(b"\xEF\xBB\xBF"),
            "a byte-order mark for spreadsheets"
        );
        let mut reader = csv::Reader::from_reader(&reply.body[3..]);
        let lines: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let extra = usize::from(rows_at == "rows"); // the total line
        assert_eq!(lines.len(), rows.len() + extra, "{uri}");
        let first_column = reader.headers().unwrap()[0].to_owned();
        let want = rows[0][first_column.as_str()].to_string();
        assert_eq!(&lines[0][0], want.trim_matches('"'), "{uri}");
    }
    // A township's user sees its township alone.
    let township: String = sqlx::query_scalar(
        "SELECT code FROM admin_unit WHERE level = 'township' ORDER BY code LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let local = db
        .user_token("local", Role::Operator, AreaCode::Unit(township.clone()))
        .await;
    let (_, answer) = get_as_bearer(&state, &local, "/api/v1/stats/resolution?by=township").await;
    let rows = answer["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["key"], township.as_str());
    for bad in [
        "/api/v1/stats/resolution?by=galaxy",
        "/api/v1/stats/resolution?from=2026-13-01",
        "/api/v1/stats/resolution?from=2026-10-02&to=2026-10-01",
        "/api/v1/stats/resolution?format=pdf",
        "/api/v1/stats/mediated?level=street",
    ] {
        let (status, problem) = get_as_bearer(&state, &token, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(problem["type"], "/problems/invalid-parameter");
    }
}
