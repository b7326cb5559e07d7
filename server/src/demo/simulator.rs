//! The live demo: a simulated city day, so the map is alive the moment the demo starts.
//!
//! On a compressed clock (`speed` simulated seconds per real second), reports arrive at a busy
//! day's rate anywhere in the published grid; grid workers on duty walk about inside their
//! cells; open cases move on (assigned to the cell's worker, accepted, started, resolved or
//! escalated a tier, closed). Every change is an ordinary committed write, so tiles, the live
//! feed and the audit trail follow it exactly as they follow real work. Workers' positions are
//! telemetry and are not audited; every incident change is, as the `system` user.

use std::time::Duration;

use sqlx::PgPool;

use wangge_demo::generate::{CATEGORIES, SEVERITIES, person_name, phone_number};
use wangge_demo::rng::Rng;
use wangge_domain::audit::{self, Entry, RequestMeta};
use wangge_domain::model::open_statuses;
use wangge_domain::personal::Cipher;

/// A busy day: about 2.7 times Yuxi's average of some 55 disputes a day.
pub const BUSY_DAY_REPORTS: f64 = 150.0;

#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// New reports per simulated day.
    pub reports_per_day: f64,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// Share of on-duty workers that take a step each second.
    pub walking_share: f64,
    pub seed: u64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            reports_per_day: BUSY_DAY_REPORTS,
            speed: 60.0,
            walking_share: 0.1,
            seed: 1,
        }
    }
}

/// Runs until the runtime ends or the handle is aborted. Failures are logged and the next
/// tick tries again.
pub fn start(pool: PgPool, cipher: Cipher, config: SimulatorConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut rng = Rng::derive(config.seed, "simulator");
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut owed_reports = 0.0;
        loop {
            interval.tick().await;
            owed_reports += config.reports_per_day * config.speed / 86_400.0;
            while owed_reports >= 1.0 {
                owed_reports -= 1.0;
                if let Err(e) = report(&pool, &cipher, &mut rng).await {
                    tracing::warn!(error = %e, "simulator: a report failed");
                }
            }
            if let Err(e) = walk(&pool, config.walking_share).await {
                tracing::warn!(error = %e, "simulator: workers' walk failed");
            }
            if let Err(e) = progress(&pool, &mut rng, config.speed).await {
                tracing::warn!(error = %e, "simulator: case progress failed");
            }
        }
    })
}

/// One new report at a random place in a random cell of the published plan.
async fn report(pool: &PgPool, cipher: &Cipher, rng: &mut Rng) -> Result<(), sqlx::Error> {
    let (category, category_name, _) = CATEGORIES[rng.weighted(&CATEGORIES.map(|c| c.2))];
    let severity = SEVERITIES[rng.weighted(&SEVERITIES.map(|s| s.1))].0;
    let name = cipher.seal(&person_name(rng));
    let phone = cipher.seal(&phone_number(rng));
    let mut tx = pool.begin().await?;
    let created: Option<(i64, String)> = sqlx::query_as(
        "WITH cell AS (
             SELECT g.id, g.geom, v.id AS village_id, v.name AS village_name,
                    t.id AS township_id, t.name AS township_name, t.parent_id AS county_id
             FROM grid_cell g
             JOIN grid_plan p ON p.id = g.plan_id AND p.status = 'published'
             JOIN admin_unit v ON v.id = g.village_id
             JOIN admin_unit t ON t.id = v.parent_id
             OFFSET floor(random() * (SELECT count(*) FROM grid_cell g2 JOIN grid_plan p2
                                      ON p2.id = g2.plan_id AND p2.status = 'published'))
             LIMIT 1)
         INSERT INTO incident (category, severity, title, description, geom, grid_cell_id,
                               village_id, township_id, county_id, due_at,
                               reporter_name_enc, reporter_phone_enc)
         SELECT $1, $2::incident_severity, cell.village_name || $3,
                cell.township_name || cell.village_name || '群众反映' || $3 || ',请网格员核实处理。',
                (ST_Dump(ST_GeneratePoints(cell.geom, 1))).geom, cell.id,
                cell.village_id, cell.township_id, cell.county_id,
                now() + wangge_deadline($1, $2::incident_severity, 'village'), $4, $5
         FROM cell
         RETURNING id, (SELECT a.code FROM admin_unit a WHERE a.id = village_id)",
    )
    .bind(category)
    .bind(severity)
    .bind(category_name)
    .bind(name)
    .bind(phone)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, village_code)) = created else {
        return Ok(()); // no published grid yet
    };
    sqlx::query(
        "INSERT INTO incident_event (incident_id, kind, status, tier, actor, note)
         VALUES ($1, 'reported', 'reported', 'village', 'citizen', '')",
    )
    .bind(id)
    .execute(&mut *tx)
    .await?;
    let meta = RequestMeta::cli();
    let mut entry = Entry::system("report_incident", "incident", id.to_string(), &meta);
    entry.area_code = &village_code;
    audit::record(&mut tx, &entry).await?;
    tx.commit().await
}

/// On-duty workers take a step of up to about 50 m, staying inside their cell.
async fn walk(pool: &PgPool, share: f64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "WITH stepped AS (
             SELECT w.id, cell.geom AS cell,
                    ST_SetSRID(ST_MakePoint(
                        ST_X(w.last_position) + (random() - 0.5) * 0.001,
                        ST_Y(w.last_position) + (random() - 0.5) * 0.001), 4326) AS position
             FROM grid_worker w
             JOIN LATERAL (SELECT g.geom FROM grid_worker_cell wc
                           JOIN grid_cell g ON g.id = wc.grid_cell_id
                           WHERE wc.worker_id = w.id ORDER BY g.code LIMIT 1) cell ON true
             WHERE w.status <> 'off_duty' AND w.last_position IS NOT NULL AND random() < $1)
         UPDATE grid_worker w
         SET last_position = CASE WHEN ST_Contains(s.cell, s.position) THEN s.position
                                  ELSE w.last_position END,
             last_seen_at = now()
         FROM stepped s WHERE w.id = s.id",
    )
    .bind(share)
    .execute(pool)
    .await?;
    Ok(())
}

const TIERS: [&str; 4] = ["village", "township", "county", "city"];

/// Moves a few open cases one step on, each in its own transaction with its timeline event
/// and audit row. A step comes due half an hour to four simulated hours after the last one.
async fn progress(pool: &PgPool, rng: &mut Rng, speed: f64) -> Result<(), sqlx::Error> {
    let due: Vec<(i64, String, String, bool, Option<i64>, String)> = sqlx::query_as(concat!(
        "SELECT i.id, i.status::text, i.tier::text, coalesce(i.due_at < now(), false),
                -- The case's worker, or for a new case a worker of its cell with room.
                coalesce(i.assignee_id,
                         (SELECT wc.worker_id FROM grid_worker_cell wc
                          JOIN grid_worker w ON w.id = wc.worker_id
                          WHERE wc.grid_cell_id = i.grid_cell_id AND w.caseload < w.capacity
                          ORDER BY wc.worker_id LIMIT 1)),
                coalesce(v.code, '')
         FROM incident i LEFT JOIN admin_unit v ON v.id = i.village_id
         WHERE (i.status IN ",
        open_statuses!(),
        " OR i.status = 'resolved')
           AND i.updated_at < now() - make_interval(secs => $1)
         ORDER BY random() LIMIT 4"
    ))
    .bind(rng.range_f64(30.0, 240.0) * 60.0 / speed)
    .fetch_all(pool)
    .await?;
    for (id, status, tier, overdue, worker, village_code) in due {
        let tier_index = TIERS.iter().position(|t| *t == tier).unwrap_or(0);
        let escalate = status == "in_progress"
            && tier_index + 1 < TIERS.len()
            && (overdue || rng.chance(0.12));
        let actor = worker.map_or_else(|| "dispatcher".to_owned(), |w| format!("grid_worker:{w}"));
        let (kind, new_status, new_tier, note) = match status.as_str() {
            "reported" if worker.is_some() => ("assigned", "assigned", tier.as_str(), ""),
            "reported" => continue, // nobody to send: it waits for a dispatcher
            "assigned" => ("accepted", "accepted", tier.as_str(), ""),
            "accepted" => ("started", "in_progress", tier.as_str(), ""),
            "in_progress" if escalate => (
                "escalated",
                "in_progress",
                TIERS[tier_index + 1],
                "升级处理",
            ),
            "in_progress" => ("resolved", "resolved", tier.as_str(), "调解成功"),
            _ => ("closed", "closed", tier.as_str(), ""),
        };
        let mut tx = pool.begin().await?;
        sqlx::query(
            "UPDATE incident i SET
                 status = $2::incident_status,
                 tier = $3::incident_tier,
                 assignee_id = CASE WHEN $2 = 'assigned' THEN $4 ELSE i.assignee_id END,
                 updated_at = now(),
                 due_at = CASE WHEN $3::incident_tier <> i.tier
                               THEN now() + wangge_deadline(i.category, i.severity, $3::incident_tier)
                               ELSE i.due_at END,
                 resolved_at = CASE WHEN $2 = 'resolved' THEN now() ELSE i.resolved_at END,
                 resolved_tier = CASE WHEN $2 = 'resolved' THEN $3::incident_tier
                                      ELSE i.resolved_tier END,
                 closed_at = CASE WHEN $2 = 'closed' THEN now() ELSE i.closed_at END
             WHERE i.id = $1",
        )
        .bind(id)
        .bind(new_status)
        .bind(new_tier)
        .bind(worker)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO incident_event (incident_id, kind, status, tier, actor, note)
             VALUES ($1, $2::incident_event_kind, $3::incident_status, $4::incident_tier, $5, $6)",
        )
        .bind(id)
        .bind(kind)
        .bind(new_status)
        .bind(new_tier)
        .bind(if kind == "escalated" {
            "system"
        } else {
            actor.as_str()
        })
        .bind(note)
        .execute(&mut *tx)
        .await?;
        // The worker is busy while working a case, free again when it is resolved.
        if let Some(worker) = worker
            && matches!(new_status, "in_progress" | "resolved")
        {
            sqlx::query(
                "UPDATE grid_worker SET status = CASE WHEN $2 THEN 'busy' ELSE 'available' END::worker_status
                 WHERE id = $1 AND status <> 'off_duty'",
            )
            .bind(worker)
            .bind(new_status == "in_progress")
            .execute(&mut *tx)
            .await?;
        }
        let meta = RequestMeta::cli();
        let mut entry = Entry::system(kind, "incident", id.to_string(), &meta);
        entry.area_code = &village_code;
        audit::record(&mut tx, &entry).await?;
        tx.commit().await?;
    }
    Ok(())
}
