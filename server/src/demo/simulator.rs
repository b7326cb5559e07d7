//! The live demo: a simulated city day, so the map is alive the moment the demo starts.
//!
//! On a compressed clock (`speed` simulated seconds per real second), reports arrive at a busy
//! day's rate anywhere in the published grid; grid workers on duty walk about inside their
//! cells; open cases move on (assigned to the cell's worker, accepted, started, resolved or
//! escalated a tier, closed). Every change is an ordinary committed write, so tiles, the live
//! feed and the audit trail follow it exactly as they follow real work. Workers' positions are
//! telemetry and are not audited; every incident change is, as the `system` user. A worker
//! with a sign-in of their own (the demo's `worker`) is left to whoever signs in: not walked,
//! not handed cases, their cases not worked.
//!
//! The simulated city works like the demo's history ([`wangge_demo::generate`]): each step of
//! a case comes after a wait drawn from the history's ranges, and a case being worked at a tier
//! goes up one with the chance that, in the history, a case of its severity that got this far
//! went further ([`escalation_chance`]), so cases end at each tier in the history's shares
//! (about 86% at township level or below). Time before the simulator started (the history)
//! counts at its real length and time since at `speed` times it, so a case the history left
//! open carries on where the history left it rather than being finished in a burst. Every step
//! but closing comes before the case's deadline: the simulated city does not miss deadlines
//! because its clock is compressed, and escalation by the deadline sweep stays what it is in
//! the product, the sign that someone missed one.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use wangge_demo::generate::{
    CATEGORIES, ESCALATE_MINUTES, RESOLVE_MINUTES, SEVERITIES, TIERS, escalation_chance,
    person_name, phone_number,
};
use wangge_demo::rng::Rng;
use wangge_domain::audit::{self, Entry, RequestMeta};
use wangge_domain::model::open_statuses;
use wangge_domain::personal::Cipher;

/// A busy day: about 2.7 times Yuxi's average of some 55 disputes a day.
pub const BUSY_DAY_REPORTS: f64 = 150.0;

/// Case steps taken in one tick at most; the rest come in the next ones.
const STEPS_PER_TICK: usize = 40;

/// Of the time a case has before its deadline, the share by which its next step comes at
/// the latest.
const BEFORE_DEADLINE: f64 = 0.8;

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
        let mut simulator = Simulator::new(config, Utc::now());
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            simulator.tick(&pool, &cipher, Utc::now()).await;
        }
    })
}

/// The simulated city, driven by [`Simulator::tick`] with the time of each tick (the wall
/// clock when serving; any clock in tests).
#[derive(Debug)]
pub struct Simulator {
    config: SimulatorConfig,
    rng: Rng,
    /// When the simulation started: before it, time counts at its real length.
    started: DateTime<Utc>,
    last_tick: DateTime<Utc>,
    owed_reports: f64,
}

impl Simulator {
    pub fn new(config: SimulatorConfig, started: DateTime<Utc>) -> Self {
        Self {
            rng: Rng::derive(config.seed, "simulator"),
            config,
            started,
            last_tick: started,
            owed_reports: 0.0,
        }
    }

    /// Everything due by `now`: the reports owed since the last tick, a step of the workers
    /// on duty, and the case steps that have come. Failures are logged; the next tick tries
    /// again.
    pub async fn tick(&mut self, pool: &PgPool, cipher: &Cipher, now: DateTime<Utc>) {
        // At most a minute's reports at once, should ticks have stalled.
        let elapsed = (now - self.last_tick).as_seconds_f64().clamp(0.0, 60.0);
        self.last_tick = now;
        self.owed_reports += self.config.reports_per_day * self.config.speed * elapsed / 86_400.0;
        while self.owed_reports >= 1.0 {
            self.owed_reports -= 1.0;
            if let Err(e) = report(pool, cipher, &mut self.rng, now).await {
                tracing::warn!(error = %e, "simulator: a report failed");
            }
        }
        if let Err(e) = walk(pool, self.config.walking_share).await {
            tracing::warn!(error = %e, "simulator: workers' walk failed");
        }
        if let Err(e) = progress(pool, &self.config, self.started, now).await {
            tracing::warn!(error = %e, "simulator: case progress failed");
        }
    }
}

/// One new report at a random place in a random cell of the published plan.
async fn report(
    pool: &PgPool,
    cipher: &Cipher,
    rng: &mut Rng,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
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
                               village_id, township_id, county_id, reported_at, updated_at, due_at,
                               reporter_name_enc, reporter_phone_enc)
         SELECT $1, $2::incident_severity, cell.village_name || $3,
                cell.township_name || cell.village_name || '群众反映' || $3 || ',请网格员核实处理。',
                (ST_Dump(ST_GeneratePoints(cell.geom, 1))).geom, cell.id,
                cell.village_id, cell.township_id, cell.county_id, $6, $6,
                $6 + wangge_deadline($1, $2::incident_severity, 'village'), $4, $5
         FROM cell
         RETURNING id, (SELECT a.code FROM admin_unit a WHERE a.id = village_id)",
    )
    .bind(category)
    .bind(severity)
    .bind(category_name)
    .bind(name)
    .bind(phone)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((id, village_code)) = created else {
        return Ok(()); // no published grid yet
    };
    sqlx::query(
        "INSERT INTO incident_event (incident_id, at, kind, status, tier, actor, note)
         VALUES ($1, $2, 'reported', 'reported', 'village', 'citizen', '')",
    )
    .bind(id)
    .bind(now)
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
             -- a worker with a sign-in of their own is moved by their phone, not by us
             WHERE w.status <> 'off_duty' AND w.last_position IS NOT NULL AND w.user_id IS NULL
               AND random() < $1)
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

/// An open (or resolved, not yet closed) case as the simulator sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Case {
    pub id: i64,
    pub status: String,
    pub tier: String,
    pub severity: String,
    pub updated_at: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Assign,
    Accept,
    Start,
    Escalate,
    Resolve,
    Close,
}

/// The next step of a case and when it comes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub action: Action,
    pub at: DateTime<Utc>,
}

/// The simulated clock: time before `started` at its real length, since then `speed` times.
fn simulated(at: DateTime<Utc>, started: DateTime<Utc>, speed: f64) -> f64 {
    let seconds = (at - started).as_seconds_f64();
    if seconds <= 0.0 {
        seconds
    } else {
        seconds * speed
    }
}

/// The real time at which `seconds` of the simulated clock (see [`simulated`]) is reached.
fn real(seconds: f64, started: DateTime<Utc>, speed: f64) -> DateTime<Utc> {
    let real_seconds = if seconds <= 0.0 {
        seconds
    } else {
        seconds / speed
    };
    started + TimeDelta::microseconds((real_seconds * 1e6) as i64)
}

/// Chance that a uniform wait in `range` (minutes) is longer than `elapsed` minutes.
fn longer_than(range: (i64, i64), elapsed: f64) -> f64 {
    let (lo, hi) = (range.0 as f64, range.1 as f64);
    ((hi - elapsed.max(lo)) / (hi - lo)).clamp(0.0, 1.0)
}

/// What `case` does next and when, as in the demo's history; `None` for a case that is
/// finished. The same case in the same state always gets the same answer (the draw is the
/// seed's, the case's and its state's), so a tick need not remember anything. A case that
/// had already waited when the simulator started (one the history left open) is given what
/// the history would still have in store for it: a wait longer than the one it has had, and
/// an escalation only as likely as such a wait makes it.
pub fn next_step(seed: u64, speed: f64, started: DateTime<Utc>, case: &Case) -> Option<Step> {
    let mut rng = Rng::derive(
        seed,
        &format!(
            "case {} {} {} {}",
            case.id,
            case.status,
            case.tier,
            case.updated_at.timestamp_micros()
        ),
    );
    // Minutes the case had waited in this state when the simulator started.
    let waited = ((started - case.updated_at).as_seconds_f64() / 60.0).max(0.0);
    let tier = TIERS.iter().position(|t| *t == case.tier).unwrap_or(0);
    let severity = SEVERITIES
        .iter()
        .position(|s| s.0 == case.severity)
        .unwrap_or(0);
    let (action, range) = match case.status.as_str() {
        "reported" => (Action::Assign, (5, 120)),
        "assigned" => (Action::Accept, (5, 60)),
        "accepted" => (Action::Start, (10, 240)),
        "in_progress" => {
            let up = escalation_chance(severity, tier);
            let (up_still, stay_still) = (
                up * longer_than(ESCALATE_MINUTES, waited),
                (1.0 - up) * longer_than(RESOLVE_MINUTES[tier], waited),
            );
            let up = if up_still + stay_still > 0.0 {
                up_still / (up_still + stay_still)
            } else {
                0.0
            };
            if rng.chance(up) {
                (Action::Escalate, ESCALATE_MINUTES)
            } else {
                (Action::Resolve, RESOLVE_MINUTES[tier])
            }
        }
        "resolved" => (Action::Close, (24 * 60, 3 * 24 * 60)),
        _ => return None,
    };
    let low = (range.0 as f64).max(waited).min(range.1 as f64);
    let wait_minutes = rng.range_f64(low, range.1 as f64);
    let mut at = real(
        simulated(case.updated_at, started, speed) + wait_minutes * 60.0,
        started,
        speed,
    );
    // Before the deadline, while there is one ahead: within its share of the time the case
    // had left when it last moved, or when the simulator started, whichever came later.
    let since = case.updated_at.max(started);
    if let Some(due) = case.due_at
        && action != Action::Close
        && due > since
    {
        let latest = since
            + TimeDelta::microseconds(
                ((due - since).as_seconds_f64() * BEFORE_DEADLINE * 1e6) as i64,
            );
        at = at.min(latest);
    }
    Some(Step { action, at })
}

/// Takes the case steps that have come by `now`, earliest first, each in its own transaction
/// with its timeline event and audit row.
async fn progress(
    pool: &PgPool,
    config: &SimulatorConfig,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let cases: Vec<Case> = sqlx::query_as(concat!(
        "SELECT id, status::text AS status, tier::text AS tier, severity::text AS severity,
                updated_at, due_at
         FROM incident
         WHERE (status IN ",
        open_statuses!(),
        " OR status = 'resolved')
           -- the cases of a worker with a sign-in of their own are theirs to work
           AND NOT EXISTS (SELECT 1 FROM grid_worker w
                           WHERE w.id = incident.assignee_id AND w.user_id IS NOT NULL)"
    ))
    .fetch_all(pool)
    .await?;
    let mut due: Vec<(Step, Case)> = cases
        .into_iter()
        .filter_map(|case| {
            let step = next_step(config.seed, config.speed, started, &case)?;
            (step.at <= now).then_some((step, case))
        })
        .collect();
    due.sort_by_key(|(step, case)| (step.at, case.id));
    due.truncate(STEPS_PER_TICK);
    for (step, case) in due {
        take_step(pool, &case, step.action, now).await?;
    }
    Ok(())
}

/// One step of one case, unless the case moved since it was read.
async fn take_step(
    pool: &PgPool,
    case: &Case,
    action: Action,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let current: Option<(Option<i64>, String)> = sqlx::query_as(
        "SELECT -- The case's worker, or for a new case a worker of its cell with room.
                coalesce(i.assignee_id,
                         (SELECT wc.worker_id FROM grid_worker_cell wc
                          JOIN grid_worker w ON w.id = wc.worker_id
                          WHERE wc.grid_cell_id = i.grid_cell_id AND w.caseload < w.capacity
                            AND w.user_id IS NULL
                          ORDER BY wc.worker_id LIMIT 1)),
                coalesce((SELECT v.code FROM admin_unit v WHERE v.id = i.village_id), '')
         FROM incident i
         WHERE i.id = $1 AND i.status::text = $2 AND i.tier::text = $3 AND i.updated_at = $4
         FOR UPDATE",
    )
    .bind(case.id)
    .bind(&case.status)
    .bind(&case.tier)
    .bind(case.updated_at)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((worker, village_code)) = current else {
        return Ok(()); // someone else moved it: the next tick sees its new state
    };
    let tier = case.tier.as_str();
    let tier_index = TIERS.iter().position(|t| *t == tier).unwrap_or(0);
    let actor = worker.map_or_else(|| "dispatcher".to_owned(), |w| format!("grid_worker:{w}"));
    let (kind, new_status, new_tier, note) = match action {
        Action::Assign if worker.is_some() => ("assigned", "assigned", tier, ""),
        Action::Assign => return Ok(()), // nobody to send: it waits for a dispatcher
        Action::Accept => ("accepted", "accepted", tier, ""),
        Action::Start => ("started", "in_progress", tier, ""),
        Action::Escalate => (
            "escalated",
            "in_progress",
            TIERS[(tier_index + 1).min(TIERS.len() - 1)],
            "升级处理",
        ),
        Action::Resolve => ("resolved", "resolved", tier, "调解成功"),
        Action::Close => ("closed", "closed", tier, ""),
    };
    sqlx::query(
        "UPDATE incident i SET
             status = $2::incident_status,
             tier = $3::incident_tier,
             assignee_id = CASE WHEN $2 = 'assigned' THEN $4 ELSE i.assignee_id END,
             updated_at = $5,
             due_at = CASE WHEN $3::incident_tier <> i.tier
                           THEN $5 + wangge_deadline(i.category, i.severity, $3::incident_tier)
                           ELSE i.due_at END,
             resolved_at = CASE WHEN $2 = 'resolved' THEN $5 ELSE i.resolved_at END,
             resolved_tier = CASE WHEN $2 = 'resolved' THEN $3::incident_tier
                                  ELSE i.resolved_tier END,
             closed_at = CASE WHEN $2 = 'closed' THEN $5 ELSE i.closed_at END
         WHERE i.id = $1",
    )
    .bind(case.id)
    .bind(new_status)
    .bind(new_tier)
    .bind(worker)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO incident_event (incident_id, at, kind, status, tier, actor, note)
         VALUES ($1, $7, $2::incident_event_kind, $3::incident_status, $4::incident_tier, $5, $6)",
    )
    .bind(case.id)
    .bind(kind)
    .bind(new_status)
    .bind(new_tier)
    .bind(if kind == "escalated" {
        "system"
    } else {
        actor.as_str()
    })
    .bind(note)
    .bind(now)
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
    let mut entry = Entry::system(kind, "incident", case.id.to_string(), &meta);
    entry.area_code = &village_code;
    audit::record(&mut tx, &entry).await?;
    tx.commit().await
}
