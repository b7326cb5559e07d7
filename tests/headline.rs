//! The headline's figure tells the truth about the demo city: the simulated city resolves
//! cases at the tiers its history does (over 80% at township level or below, hour by hour),
//! without missing deadlines because its clock is compressed, and a backlog that came due
//! while no server ran is not escalated in one burst at start-up.

use chrono::{DateTime, TimeDelta, Utc};

use crate::common::{self, TestDb};
use wangge::demo::simulator::{Simulator, SimulatorConfig};
use wangge::incidents::escalation::{escalate_overdue, resume_after_outage};

/// Cases resolved since `since` up to `now`, and those of them at township level or below.
async fn resolved_since(db: &TestDb, since: DateTime<Utc>, now: DateTime<Utc>) -> (i64, i64) {
    sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE resolved_tier IN ('village', 'township'))
         FROM incident WHERE resolved_at >= $1 AND resolved_at <= $2",
    )
    .bind(since)
    .bind(now)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn the_simulated_city_resolves_at_township_or_below_as_its_history_does() {
    let db = TestDb::small_demo().await;
    let cipher = wangge::personal::Cipher::new(&common::test_key());
    // The demo's history ends at the reference time; the server starts there.
    let start = common::reference_time();
    let restarted = resume_after_outage(&db.pool, start).await.unwrap();
    assert!(!restarted.is_empty(), "the history leaves overdue cases");
    let config = SimulatorConfig {
        seed: 7,
        ..SimulatorConfig::default()
    };
    let speed = config.speed;
    let mut simulator = Simulator::new(config, start);
    // Two simulated days in ten-minute steps, on the test's own clock.
    let tick = TimeDelta::seconds((600.0 / speed) as i64);
    let mut now = start;
    for hour in 1..=48 {
        for _ in 0..6 {
            now += tick;
            simulator.tick(&db.pool, &cipher, now).await;
        }
        // What the headline shows since the start, every simulated hour.
        let (resolved, low) = resolved_since(&db, start, now).await;
        if resolved >= 10 {
            let share = low as f64 / resolved as f64;
            assert!(
                share >= 0.8,
                "hour {hour}: {low} of {resolved} resolved at township or below"
            );
        }
        // Nobody the simulated city works for misses a deadline.
        let late: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM incident
             WHERE status IN ('assigned', 'accepted', 'in_progress') AND due_at < $1",
        )
        .bind(now)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(late, 0, "hour {hour}: cases past their deadline");
    }
    let (resolved, low) = resolved_since(&db, start, now).await;
    assert!(resolved > 40, "{resolved} resolved in two simulated days");
    // Not a city that never escalates: some cases go above the township, as in the history.
    assert!(low < resolved, "{low} of {resolved}");
    let escalated: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM incident_event WHERE kind = 'escalated' AND at > $1",
    )
    .bind(start)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(escalated > 0);
}

/// An open history case below the city, not yet resolved.
async fn open_cases(db: &TestDb, n: i64) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT id FROM incident
         WHERE status IN ('assigned', 'accepted', 'in_progress') AND tier <> 'city'
         ORDER BY id LIMIT $1",
    )
    .bind(n)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn set_due(db: &TestDb, id: i64, ago: &str) {
    sqlx::query("UPDATE incident SET due_at = now() - $2::interval WHERE id = $1")
        .bind(id)
        .bind(ago)
        .execute(&db.pool)
        .await
        .unwrap();
}

async fn tier_and_hours_left(db: &TestDb, id: i64) -> (String, f64) {
    sqlx::query_as(
        "SELECT tier::text, extract(epoch FROM due_at - now())::float8 / 3600 FROM incident WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn deadlines_that_passed_while_the_server_was_down_restart_and_missed_ones_escalate() {
    let db = TestDb::small_demo().await;
    let cases = open_cases(&db, 3).await;
    let (down, missed, later) = (cases[0], cases[1], cases[2]);
    // The last sweep ran two hours ago; then the server stopped.
    sqlx::query("UPDATE deadline_watch SET swept_at = now() - interval '2 hours'")
        .execute(&db.pool)
        .await
        .unwrap();
    set_due(&db, down, "1 hour").await; // came due while nothing ran
    set_due(&db, missed, "3 hours").await; // missed while the server ran
    set_due(&db, later, "-1 hour").await; // still ahead
    let (tier_before, _) = tier_and_hours_left(&db, down).await;
    let later_before = tier_and_hours_left(&db, later).await;

    let restarted = resume_after_outage(&db.pool, Utc::now()).await.unwrap();
    let escalated = escalate_overdue(&db.pool).await.unwrap();

    assert!(restarted.contains(&down));
    assert!(!escalated.contains(&down));
    let (tier, left) = tier_and_hours_left(&db, down).await;
    assert_eq!(tier, tier_before);
    let hours: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM wangge_deadline(category, severity, tier))::float8 / 3600
         FROM incident WHERE id = $1",
    )
    .bind(down)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        (left - hours).abs() < 0.1,
        "{left} h left, its tier has {hours}"
    );
    let note: String = sqlx::query_scalar(
        "SELECT note FROM incident_event WHERE incident_id = $1 AND kind = 'note'
         ORDER BY id DESC LIMIT 1",
    )
    .bind(down)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(note.contains("服务停止期间"), "{note}");

    assert!(!restarted.contains(&missed));
    assert!(escalated.contains(&missed));
    assert!(!restarted.contains(&later) && !escalated.contains(&later));
    let later_after = tier_and_hours_left(&db, later).await;
    assert_eq!(later_after.0, later_before.0);
    assert!((later_after.1 - later_before.1).abs() < 0.1);
}

#[tokio::test]
async fn a_quick_restart_is_no_outage_and_an_overdue_case_escalates() {
    let db = TestDb::small_demo().await;
    let id = open_cases(&db, 1).await[0];
    sqlx::query("UPDATE deadline_watch SET swept_at = now() - interval '1 minute'")
        .execute(&db.pool)
        .await
        .unwrap();
    set_due(&db, id, "30 seconds").await;
    let restarted = resume_after_outage(&db.pool, Utc::now()).await.unwrap();
    assert!(restarted.is_empty());
    assert!(escalate_overdue(&db.pool).await.unwrap().contains(&id));
}
