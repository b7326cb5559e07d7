//! Applies a lifecycle [`Action`] to a stored case: locks it, asks the state machine, writes
//! the change, its timeline event and its audit row in one transaction.

use sqlx::PgConnection;

use crate::audit::{self, RequestMeta};
use crate::auth::Caller;
use crate::db::geometry::Ewkb;
use crate::incidents::IncidentError;
use crate::incidents::intake::{Placement, actor, check_in_area, route_point};
use crate::incidents::lifecycle::{Action, Actor, Case, Refusal};
use crate::model::{IncidentSeverity, IncidentStatus, IncidentTier, LocationMethod};

/// Who held a case before and after an action (for the dispatch index's caseloads).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Acted {
    pub previous_assignee: Option<i64>,
    pub assignee: Option<i64>,
}

impl Acted {
    /// The workers whose caseload the action may have changed.
    pub fn workers(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = [self.previous_assignee, self.assignee]
            .into_iter()
            .flatten()
            .collect();
        ids.dedup();
        ids
    }
}

/// Does `action` to case `id` for `caller`. A case outside the caller's area is not found
/// (a grid worker also reaches the cases assigned to them).
pub async fn act(
    conn: &mut PgConnection,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
    action: &Action,
) -> Result<Acted, IncidentError> {
    act_expecting(conn, caller, meta, id, action, None).await
}

/// The case as it is now, for a conflict's answer.
pub async fn current_state(
    conn: &mut PgConnection,
    id: i64,
) -> Result<serde_json::Value, IncidentError> {
    let state: serde_json::Value = sqlx::query_scalar(
        "SELECT json_build_object('id', i.id, 'status', i.status, 'tier', i.tier,
                                  'assignee_id', i.assignee_id, 'assignee_name', w.name,
                                  'updated_at', i.updated_at)
         FROM incident i LEFT JOIN grid_worker w ON w.id = i.assignee_id
         WHERE i.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(state)
}

/// Like [`act`], but when `expected_assignee` is given and the case's assignee is not that
/// (someone assigned it first), nothing changes and the answer is a conflict that carries the
/// case as it is now.
pub async fn act_expecting(
    conn: &mut PgConnection,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
    action: &Action,
    expected_assignee: Option<Option<i64>>,
) -> Result<Acted, IncidentError> {
    let own_worker = caller.own_worker(&mut *conn).await?.map(|w| w.id);
    let row: Option<(
        IncidentStatus,
        IncidentTier,
        IncidentSeverity,
        Option<i64>,
        String,
    )> = sqlx::query_as(
        "SELECT status, tier, severity, assignee_id, area_code FROM incident
             WHERE id = $1
               AND ((area_code LIKE $2 || '%' AND ($3::int8 IS NULL OR grid_cell_id = $3))
                    OR assignee_id = $4)
             FOR UPDATE",
    )
    .bind(id)
    .bind(&caller.area.prefix)
    .bind(caller.area.grid_cell_id)
    .bind(own_worker)
    .fetch_optional(&mut *conn)
    .await?;
    let (status, tier, severity, assignee_id, mut area_code) =
        row.ok_or(IncidentError::NotFound)?;
    if let Some(expected) = expected_assignee
        && expected != assignee_id
    {
        let detail = match assignee_id {
            Some(worker) => format!("the case is assigned to worker {worker} now"),
            None => "the case has no assignee now".to_owned(),
        };
        return Err(IncidentError::Moved {
            detail,
            current: current_state(conn, id).await?,
        });
    }
    let case = Case {
        status,
        tier,
        severity,
        assignee_id,
    };
    let by = Actor {
        role: caller.role,
        worker_id: own_worker,
    };
    let change = match action.apply(&case, by) {
        Err(Refusal::State { .. }) if expected_assignee.is_some() => {
            return Err(IncidentError::Moved {
                detail: format!(
                    "cannot {} a case that is {}",
                    action.name(),
                    status.as_str()
                ),
                current: current_state(conn, id).await?,
            });
        }
        other => other?,
    };
    let mut detail = String::new();
    let (mut new_assignee, mut duplicate_of, mut leader) = (None, None, None);
    match action {
        Action::Assign { worker_id, .. } => {
            // Locked: assignments to one worker queue here, so each sees the caseload the one
            // before it left.
            let worker: Option<(String, String, i32, i32, Option<i64>)> = sqlx::query_as(
                "SELECT w.name, w.status::text, w.caseload, w.capacity, w.cover_worker_id
                 FROM grid_worker w
                 WHERE w.id = $1 AND EXISTS (
                     SELECT 1 FROM grid_worker_cell wc
                     JOIN grid_cell g ON g.id = wc.grid_cell_id
                     JOIN admin_unit v ON v.id = g.village_id
                     WHERE wc.worker_id = w.id AND v.code LIKE $2 || '%')
                 FOR NO KEY UPDATE OF w",
            )
            .bind(worker_id)
            .bind(&caller.area.prefix)
            .fetch_optional(&mut *conn)
            .await?;
            let (name, worker_status, caseload, capacity, cover) = worker.ok_or_else(|| {
                IncidentError::Invalid(format!("no grid worker {worker_id} in your area"))
            })?;
            let worker_state = || {
                serde_json::json!({
                    "worker_id": worker_id, "status": worker_status, "caseload": caseload,
                    "capacity": capacity, "cover_worker_id": cover,
                })
            };
            if assignee_id == Some(*worker_id) {
                return Err(IncidentError::Moved {
                    detail: format!("the case is already assigned to worker {worker_id}"),
                    current: current_state(conn, id).await?,
                });
            }
            if worker_status == "off_duty" {
                let detail = match cover {
                    Some(cover) => {
                        format!("worker {worker_id} is off duty; worker {cover} covers their cells")
                    }
                    None => format!("worker {worker_id} is off duty"),
                };
                return Err(IncidentError::Moved {
                    detail,
                    current: worker_state(),
                });
            }
            if caseload >= capacity {
                return Err(IncidentError::Moved {
                    detail: format!(
                        "worker {worker_id} already holds {caseload} of {capacity} open cases"
                    ),
                    current: worker_state(),
                });
            }
            new_assignee = Some(*worker_id);
            detail = format!("交办给网格员 {name}（#{worker_id}）");
        }
        Action::Decline { .. } => {
            detail = match assignee_id {
                Some(worker) => format!("网格员 #{worker} 退回"),
                None => String::new(),
            };
        }
        Action::MarkDuplicate { of, .. } => {
            if *of == id {
                return Err(IncidentError::Invalid(
                    "a case cannot duplicate itself".into(),
                ));
            }
            // Locked, so that two cases marked as each other's duplicate at the same moment
            // cannot both succeed (one waits, then sees the other is a duplicate now).
            let original: Option<IncidentStatus> = sqlx::query_scalar(
                "SELECT status FROM incident WHERE id = $1 AND area_code LIKE $2 || '%' FOR UPDATE",
            )
            .bind(of)
            .bind(&caller.area.prefix)
            .fetch_optional(&mut *conn)
            .await?;
            match original {
                None => {
                    return Err(IncidentError::Invalid(format!("no case {of} in your area")));
                }
                Some(IncidentStatus::Duplicate) => {
                    return Err(IncidentError::Invalid(format!(
                        "case {of} is itself a duplicate; name its original"
                    )));
                }
                Some(_) => {}
            }
            duplicate_of = Some(*of);
            detail = format!("与 #{of} 重复");
        }
        Action::Lead { leader: name, .. } => {
            leader = Some(name.trim().to_owned());
            detail = format!("包案领导：{}", name.trim());
        }
        Action::Place { location, .. } => {
            let route = route_point(conn, *location).await?.ok_or_else(|| {
                IncidentError::OutsideArea("the place is outside the city".into())
            })?;
            let placement = Placement {
                point: *location,
                method: LocationMethod::Manual,
                precision_m: None,
                route,
            };
            check_in_area(caller, &placement)?;
            sqlx::query(
                "UPDATE incident SET geom = $2::geometry,
                        grid_cell_id = $3, village_id = $4, township_id = $5, county_id = $6,
                        area_code = $7, location_method = 'manual', location_precision_m = NULL
                 WHERE id = $1",
            )
            .bind(id)
            .bind(Ewkb::lon_lat(*location))
            .bind(placement.route.grid_cell_id)
            .bind(placement.route.village_id)
            .bind(placement.route.township_id)
            .bind(placement.route.county_id)
            .bind(&placement.route.area_code)
            .execute(&mut *conn)
            .await?;
            area_code = placement.route.area_code;
            detail = format!("人工标定位置 {:.6}, {:.6}", location.lon(), location.lat());
        }
        _ => {}
    }
    sqlx::query(
        "UPDATE incident SET
             status = $2, tier = $3, updated_at = now(),
             due_at = CASE WHEN $4 THEN now() + wangge_deadline(category, severity, $3) ELSE due_at END,
             assignee_id = CASE WHEN $8 THEN NULL ELSE coalesce($5, assignee_id) END,
             resolved_at = CASE WHEN $2 IN ('resolved', 'closed') THEN coalesce(resolved_at, now()) END,
             resolved_tier = CASE WHEN $2 IN ('resolved', 'closed') THEN coalesce(resolved_tier, $3) END,
             closed_at = CASE WHEN $2 = 'closed' THEN now() END,
             duplicate_of = coalesce($6, duplicate_of),
             leader = coalesce($7, leader)
         WHERE id = $1",
    )
    .bind(id)
    .bind(change.status)
    .bind(change.tier)
    .bind(change.new_deadline)
    .bind(new_assignee)
    .bind(duplicate_of)
    .bind(leader)
    .bind(matches!(action, Action::Decline { .. }))
    .execute(&mut *conn)
    .await?;
    let note = match (detail.is_empty(), change.note.is_empty()) {
        (true, _) => change.note.clone(),
        (false, true) => detail,
        (false, false) => format!("{detail}；{}", change.note),
    };
    sqlx::query(
        "INSERT INTO incident_event (incident_id, kind, status, tier, actor, note)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(change.kind)
    .bind(change.status)
    .bind(change.tier)
    .bind(actor(caller))
    .bind(&note)
    .execute(&mut *conn)
    .await?;
    let mut entry = caller.entry(action.name(), "incident", id.to_string(), meta);
    entry.area_code = &area_code;
    audit::record(conn, &entry).await?;
    Ok(Acted {
        previous_assignee: assignee_id,
        assignee: match action {
            Action::Decline { .. } => None,
            _ => new_assignee.or(assignee_id),
        },
    })
}
