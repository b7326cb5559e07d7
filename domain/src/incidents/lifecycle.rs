//! The incident lifecycle as a pure state machine: which action may happen from which state,
//! by which role, and what it changes. The database layer applies the [`Change`]; nothing
//! here does I/O, so every rule is unit-tested.
//!
//! reported → assigned → accepted → in progress → resolved → closed, or rejected / duplicate
//! from any open state. Escalation moves an open case one tier up (village → township →
//! county → city) and gives it that tier's deadline; the tier at resolution is recorded.

use serde::Deserialize;
use wangge_analysis::sphere::LonLat;

use crate::auth::Role;
use crate::model::{IncidentEventKind, IncidentSeverity, IncidentStatus, IncidentTier};

/// A place in an action, `{"lon": …, "lat": …}` and nothing else, checked to be on the globe.
fn lon_lat<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<LonLat, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        lon: f64,
        lat: f64,
    }
    let raw = Raw::deserialize(deserializer)?;
    LonLat::new(raw.lon, raw.lat).map_err(serde::de::Error::custom)
}

/// Something a user does to a case. Every action may carry a note for the timeline.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Give the case to a grid worker (again, if it had one).
    Assign {
        worker_id: i64,
        note: Option<String>,
    },
    /// The worker takes the case on.
    Accept {
        note: Option<String>,
    },
    /// The assigned worker gives the case back (a note says why); it waits for another.
    Decline {
        note: String,
    },
    /// Work on the case has begun.
    Start {
        note: Option<String>,
    },
    Resolve {
        note: Option<String>,
    },
    /// The resolution was checked: the case is finished.
    Close {
        note: Option<String>,
    },
    /// The resolution did not hold: back to work.
    Reopen {
        note: String,
    },
    /// Not a matter for the grid system (a note says why).
    Reject {
        note: String,
    },
    MarkDuplicate {
        of: i64,
        note: Option<String>,
    },
    /// Hand the case one tier up.
    Escalate {
        /// The tier the user saw: when the case has moved since (the deadline escalated it
        /// first, or another user), the request is a conflict rather than a second step up.
        #[serde(default)]
        from: Option<IncidentTier>,
        note: Option<String>,
    },
    /// Put the case where it happened (by hand).
    Place {
        #[serde(deserialize_with = "lon_lat")]
        location: LonLat,
        note: Option<String>,
    },
    /// A named leader owns the (major or critical) case until it is solved.
    Lead {
        leader: String,
        note: Option<String>,
    },
    Note {
        note: String,
    },
}

/// The part of a case the rules look at.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub status: IncidentStatus,
    pub tier: IncidentTier,
    pub severity: IncidentSeverity,
    pub assignee_id: Option<i64>,
}

/// Who acts on a case: their role and, for a grid worker's sign-in, the grid worker it is
/// (`None`: bound to no worker, so nobody's assignee).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub role: Role,
    pub worker_id: Option<i64>,
}

impl From<Role> for Actor {
    fn from(role: Role) -> Self {
        Self {
            role,
            worker_id: None,
        }
    }
}

/// What an allowed action does to a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: IncidentEventKind,
    pub status: IncidentStatus,
    pub tier: IncidentTier,
    /// The tier changed: the deadline starts again for the new tier.
    pub new_deadline: bool,
    pub note: String,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// The role may never do this.
    #[error("a {role} may not {action} a case")]
    Role {
        role: &'static str,
        action: &'static str,
    },
    /// Not from the case's present state (a conflict: someone else may have moved it).
    #[error("cannot {action} a case that is {status}")]
    State {
        action: &'static str,
        status: &'static str,
    },
    /// A grid worker may move only the cases assigned to them, not a colleague's in the
    /// same cell.
    #[error("the case is not assigned to you")]
    NotAssignee,
    #[error("{0}")]
    Invalid(String),
    /// The case moved since the user saw it.
    #[error("{0}")]
    Moved(String),
}

/// Longest timeline note (characters).
pub const MAX_NOTE_CHARS: usize = 2000;

impl Action {
    pub fn name(&self) -> &'static str {
        match self {
            Action::Assign { .. } => "assign",
            Action::Accept { .. } => "accept",
            Action::Decline { .. } => "decline",
            Action::Start { .. } => "start",
            Action::Resolve { .. } => "resolve",
            Action::Close { .. } => "close",
            Action::Reopen { .. } => "reopen",
            Action::Reject { .. } => "reject",
            Action::MarkDuplicate { .. } => "mark_duplicate",
            Action::Escalate { .. } => "escalate",
            Action::Place { .. } => "place",
            Action::Lead { .. } => "lead",
            Action::Note { .. } => "note",
        }
    }

    fn note(&self) -> Option<&str> {
        match self {
            Action::Assign { note, .. }
            | Action::Accept { note }
            | Action::Start { note }
            | Action::Resolve { note }
            | Action::Close { note }
            | Action::MarkDuplicate { note, .. }
            | Action::Escalate { note, .. }
            | Action::Place { note, .. }
            | Action::Lead { note, .. } => note.as_deref(),
            Action::Reopen { note }
            | Action::Reject { note }
            | Action::Note { note }
            | Action::Decline { note } => Some(note),
        }
    }

    /// Who may do this. Dispatchers run cases; grid workers work them (and may escalate what
    /// the village cannot solve); operators watching the map may escalate and annotate.
    pub fn allowed_for(&self, role: Role) -> bool {
        use Role::*;
        match self {
            Action::Assign { .. }
            | Action::Close { .. }
            | Action::Reopen { .. }
            | Action::Reject { .. }
            | Action::MarkDuplicate { .. }
            | Action::Place { .. }
            | Action::Lead { .. } => matches!(role, Dispatcher),
            Action::Accept { .. }
            | Action::Decline { .. }
            | Action::Start { .. }
            | Action::Resolve { .. } => matches!(role, Dispatcher | Worker),
            Action::Escalate { .. } | Action::Note { .. } => {
                matches!(role, Dispatcher | Worker | Operator)
            }
        }
    }

    /// What this action does to `case` when `by` asks, or why it may not.
    pub fn apply(&self, case: &Case, by: impl Into<Actor>) -> Result<Change, Refusal> {
        let by = by.into();
        let change = self.apply_for_role(case, by.role)?;
        // After the state's check: a case that moved on is a conflict for anyone.
        let works_the_case = matches!(
            self,
            Action::Accept { .. }
                | Action::Decline { .. }
                | Action::Start { .. }
                | Action::Resolve { .. }
        );
        if works_the_case
            && by.role == Role::Worker
            && (by.worker_id.is_none() || case.assignee_id != by.worker_id)
        {
            return Err(Refusal::NotAssignee);
        }
        Ok(change)
    }

    fn apply_for_role(&self, case: &Case, role: Role) -> Result<Change, Refusal> {
        use IncidentStatus as S;
        if !self.allowed_for(role) {
            return Err(Refusal::Role {
                role: role.as_str(),
                action: self.name(),
            });
        }
        let note = self.note().map(str::trim).unwrap_or_default().to_owned();
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(Refusal::Invalid(format!(
                "the note is longer than {MAX_NOTE_CHARS} characters"
            )));
        }
        if matches!(
            self,
            Action::Reopen { .. }
                | Action::Reject { .. }
                | Action::Note { .. }
                | Action::Decline { .. }
        ) && note.is_empty()
        {
            return Err(Refusal::Invalid(format!(
                "{} needs a note saying why",
                self.name()
            )));
        }
        let refuse = || Refusal::State {
            action: self.name(),
            status: case.status.as_str(),
        };
        let open = case.status.is_open();
        let stay = |kind| Change {
            kind,
            status: case.status,
            tier: case.tier,
            new_deadline: false,
            note: note.clone(),
        };
        let to = |kind, status| Change {
            status,
            ..stay(kind)
        };
        Ok(match self {
            Action::Assign { .. } if open => {
                if case.assignee_id.is_some() {
                    to(IncidentEventKind::Reassigned, S::Assigned)
                } else {
                    to(IncidentEventKind::Assigned, S::Assigned)
                }
            }
            Action::Accept { .. } if case.status == S::Assigned => {
                to(IncidentEventKind::Accepted, S::Accepted)
            }
            Action::Decline { .. } if matches!(case.status, S::Assigned | S::Accepted) => {
                to(IncidentEventKind::Declined, S::Reported)
            }
            Action::Start { .. } if matches!(case.status, S::Assigned | S::Accepted) => {
                to(IncidentEventKind::Started, S::InProgress)
            }
            Action::Resolve { .. } if open => to(IncidentEventKind::Resolved, S::Resolved),
            Action::Close { .. } if case.status == S::Resolved => {
                to(IncidentEventKind::Closed, S::Closed)
            }
            Action::Reopen { .. } if case.status == S::Resolved => {
                let status = if case.assignee_id.is_some() {
                    S::Assigned
                } else {
                    S::Reported
                };
                // Back at work: the tier's clock starts again.
                Change {
                    new_deadline: true,
                    ..to(IncidentEventKind::Reopened, status)
                }
            }
            Action::Reject { .. } if open => to(IncidentEventKind::Rejected, S::Rejected),
            Action::MarkDuplicate { .. } if open => {
                to(IncidentEventKind::MarkedDuplicate, S::Duplicate)
            }
            Action::Escalate {
                from: Some(seen), ..
            } if open && *seen != case.tier => {
                return Err(Refusal::Moved(format!(
                    "the case is already at the {} tier, not the {seen} tier you saw",
                    case.tier
                )));
            }
            Action::Escalate { .. } if open => match case.tier.next() {
                Some(tier) => Change {
                    tier,
                    new_deadline: true,
                    ..stay(IncidentEventKind::Escalated)
                },
                None => {
                    return Err(Refusal::Invalid(
                        "the case is already at the city, the highest tier".into(),
                    ));
                }
            },
            Action::Place { .. } if open => stay(IncidentEventKind::Located),
            Action::Lead { leader, .. } if open => {
                if !matches!(
                    case.severity,
                    IncidentSeverity::Major | IncidentSeverity::Critical
                ) {
                    return Err(Refusal::Invalid(
                        "only major and critical cases are owned by a leader".into(),
                    ));
                }
                let len = leader.trim().chars().count();
                if !(1..=100).contains(&len) {
                    return Err(Refusal::Invalid(
                        "the leader's name must be 1 to 100 characters".into(),
                    ));
                }
                stay(IncidentEventKind::LeaderAssigned)
            }
            Action::Note { .. } => stay(IncidentEventKind::Note),
            _ => return Err(refuse()),
        })
    }
}

/// The actions `by` may take on `case` now, by name, in the order a case panel shows them:
/// each action's own rules asked with a sample of it (a note, a placeholder worker, place or
/// leader), so a client shows what the server would allow without knowing the rules. Whether
/// the particular worker, duplicate or place a user then picks is acceptable is the action's
/// own answer.
pub fn available(case: &Case, by: Actor) -> Vec<&'static str> {
    let note = || "-".to_owned();
    let samples = [
        Action::Assign {
            worker_id: 0,
            note: None,
        },
        Action::Accept { note: None },
        Action::Start { note: None },
        Action::Resolve { note: None },
        Action::Decline { note: note() },
        Action::Close { note: None },
        Action::Reopen { note: note() },
        Action::Escalate {
            from: None,
            note: None,
        },
        Action::Lead {
            leader: note(),
            note: None,
        },
        Action::Place {
            location: LonLat::new(0.0, 0.0).expect("0,0 is on the globe"),
            note: None,
        },
        Action::MarkDuplicate { of: 0, note: None },
        Action::Reject { note: note() },
        Action::Note { note: note() },
    ];
    samples
        .iter()
        .filter(|a| a.apply(case, by).is_ok())
        .map(Action::name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(status: IncidentStatus) -> Case {
        Case {
            status,
            tier: IncidentTier::Village,
            severity: IncidentSeverity::Moderate,
            assignee_id: None,
        }
    }

    fn note(text: &str) -> Option<String> {
        Some(text.into())
    }

    #[test]
    fn the_happy_path_runs_from_report_to_close() {
        use IncidentStatus as S;
        let steps = [
            (
                Action::Assign {
                    worker_id: 7,
                    note: None,
                },
                Role::Dispatcher,
                S::Assigned,
            ),
            (Action::Accept { note: None }, Role::Worker, S::Accepted),
            (Action::Start { note: None }, Role::Worker, S::InProgress),
            (
                Action::Resolve {
                    note: note("调解成功"),
                },
                Role::Worker,
                S::Resolved,
            ),
            (Action::Close { note: None }, Role::Dispatcher, S::Closed),
        ];
        let mut current = case(S::Reported);
        for (action, role, expected) in steps {
            let by = Actor {
                role,
                worker_id: (role == Role::Worker).then_some(7),
            };
            let change = action.apply(&current, by).unwrap();
            assert_eq!(change.status, expected, "{}", action.name());
            current.status = change.status;
            if let Action::Assign { worker_id, .. } = action {
                current.assignee_id = Some(worker_id);
            }
        }
    }

    #[test]
    fn finished_cases_refuse_further_work_as_a_conflict() {
        for status in [
            IncidentStatus::Closed,
            IncidentStatus::Rejected,
            IncidentStatus::Duplicate,
        ] {
            for action in [
                Action::Resolve { note: None },
                Action::Escalate {
                    from: None,
                    note: None,
                },
                Action::Assign {
                    worker_id: 1,
                    note: None,
                },
            ] {
                let refusal = action.apply(&case(status), Role::Dispatcher).unwrap_err();
                assert!(matches!(refusal, Refusal::State { .. }), "{refusal:?}");
            }
        }
        // Accepting needs an assignment first.
        let refusal = Action::Accept { note: None }
            .apply(&case(IncidentStatus::Reported), Role::Worker)
            .unwrap_err();
        assert!(matches!(refusal, Refusal::State { .. }));
    }

    #[test]
    fn escalating_a_case_that_moved_since_it_was_seen_is_a_conflict() {
        let mut township = case(IncidentStatus::Assigned);
        township.tier = IncidentTier::Township;
        let stale = Action::Escalate {
            from: Some(IncidentTier::Village),
            note: None,
        };
        assert!(matches!(
            stale.apply(&township, Role::Worker),
            Err(Refusal::Moved(_))
        ));
        let current = Action::Escalate {
            from: Some(IncidentTier::Township),
            note: None,
        };
        assert_eq!(
            current.apply(&township, Role::Worker).unwrap().tier,
            IncidentTier::County
        );
    }

    #[test]
    fn escalation_climbs_one_tier_to_the_city_and_no_further() {
        let mut current = case(IncidentStatus::Assigned);
        for expected in [
            IncidentTier::Township,
            IncidentTier::County,
            IncidentTier::City,
        ] {
            let change = Action::Escalate {
                from: None,
                note: None,
            }
            .apply(&current, Role::Worker)
            .unwrap();
            assert_eq!(change.tier, expected);
            assert!(change.new_deadline);
            assert_eq!(change.status, IncidentStatus::Assigned);
            current.tier = change.tier;
        }
        let refusal = Action::Escalate {
            from: None,
            note: None,
        }
        .apply(&current, Role::Worker)
        .unwrap_err();
        assert!(matches!(refusal, Refusal::Invalid(_)));
    }

    #[test]
    fn roles_are_held_to_their_work() {
        let reported = case(IncidentStatus::Reported);
        let assign = Action::Assign {
            worker_id: 1,
            note: None,
        };
        for role in [
            Role::Operator,
            Role::Worker,
            Role::Planner,
            Role::Auditor,
            Role::Admin,
        ] {
            assert!(matches!(
                assign.apply(&reported, role),
                Err(Refusal::Role { .. })
            ));
        }
        for role in [Role::Planner, Role::Auditor, Role::Admin] {
            let escalate = Action::Escalate {
                from: None,
                note: None,
            };
            assert!(matches!(
                escalate.apply(&reported, role),
                Err(Refusal::Role { .. })
            ));
        }
        assert!(
            Action::Escalate {
                from: None,
                note: None
            }
            .apply(&reported, Role::Operator)
            .is_ok()
        );
    }

    #[test]
    fn reassigning_is_its_own_event_and_reopening_returns_to_the_assignee() {
        let mut assigned = case(IncidentStatus::Assigned);
        assigned.assignee_id = Some(3);
        let change = Action::Assign {
            worker_id: 4,
            note: None,
        }
        .apply(&assigned, Role::Dispatcher)
        .unwrap();
        assert_eq!(change.kind, IncidentEventKind::Reassigned);

        let mut resolved = assigned.clone();
        resolved.status = IncidentStatus::Resolved;
        let change = Action::Reopen {
            note: "当事人反映未履行".into(),
        }
        .apply(&resolved, Role::Dispatcher)
        .unwrap();
        assert_eq!(change.status, IncidentStatus::Assigned);
        let refusal = Action::Reopen { note: "  ".into() }
            .apply(&resolved, Role::Dispatcher)
            .unwrap_err();
        assert!(matches!(refusal, Refusal::Invalid(_)));
    }

    #[test]
    fn only_major_cases_get_a_leader() {
        let mut major = case(IncidentStatus::Reported);
        major.severity = IncidentSeverity::Major;
        let lead = Action::Lead {
            leader: "李副县长".into(),
            note: None,
        };
        assert_eq!(
            lead.apply(&major, Role::Dispatcher).unwrap().kind,
            IncidentEventKind::LeaderAssigned
        );
        assert!(matches!(
            lead.apply(&case(IncidentStatus::Reported), Role::Dispatcher),
            Err(Refusal::Invalid(_))
        ));
    }

    #[test]
    fn actions_parse_strictly_from_json() {
        let action: Action =
            serde_json::from_str(r#"{"action":"assign","worker_id":5,"note":"就近"}"#).unwrap();
        assert_eq!(
            action,
            Action::Assign {
                worker_id: 5,
                note: note("就近")
            }
        );
        let place: Action =
            serde_json::from_str(r#"{"action":"place","location":{"lon":102.5,"lat":24.3}}"#)
                .unwrap();
        assert!(matches!(place, Action::Place { .. }));
        for bad in [
            r#"{"action":"assign"}"#,
            r#"{"action":"fly"}"#,
            r#"{"action":"accept","worker":1}"#,
            r#"{"action":"place","location":{"lon":200,"lat":24}}"#,
        ] {
            assert!(serde_json::from_str::<Action>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_grid_worker_moves_only_the_cases_assigned_to_them() {
        use IncidentStatus as S;
        let me = Actor {
            role: Role::Worker,
            worker_id: Some(7),
        };
        let colleague = Actor {
            role: Role::Worker,
            worker_id: Some(8),
        };
        let unbound = Actor::from(Role::Worker);
        let mut mine = case(S::Assigned);
        mine.assignee_id = Some(7);
        let works = [
            Action::Accept { note: None },
            Action::Start { note: None },
            Action::Resolve { note: None },
            Action::Decline {
                note: "不在辖区".into(),
            },
        ];
        for action in &works {
            assert!(action.apply(&mine, me).is_ok(), "{}", action.name());
            assert!(
                action.apply(&mine, Role::Dispatcher).is_ok(),
                "{}",
                action.name()
            );
            for other in [colleague, unbound] {
                assert_eq!(
                    action.apply(&mine, other),
                    Err(Refusal::NotAssignee),
                    "{}",
                    action.name()
                );
            }
        }
        // A case nobody holds is resolved by a dispatcher, or assigned first.
        let unassigned = case(S::Reported);
        assert_eq!(
            Action::Resolve { note: None }.apply(&unassigned, me),
            Err(Refusal::NotAssignee)
        );
        // Escalating and notes are not working the case: anyone in the cell may.
        assert!(
            Action::Escalate {
                from: None,
                note: None
            }
            .apply(&mine, colleague)
            .is_ok()
        );
    }

    #[test]
    fn available_actions_follow_the_role_the_state_and_the_assignee() {
        use IncidentStatus as S;
        let worker = |id| Actor {
            role: Role::Worker,
            worker_id: Some(id),
        };
        let assigned = Case {
            assignee_id: Some(7),
            ..case(S::Assigned)
        };
        assert_eq!(
            available(&assigned, worker(7)),
            ["accept", "start", "resolve", "decline", "escalate", "note"]
        );
        // A colleague in the same cell may only escalate and annotate it.
        assert_eq!(available(&assigned, worker(8)), ["escalate", "note"]);
        assert_eq!(
            available(&case(S::Reported), Role::Dispatcher.into()),
            [
                "assign",
                "resolve",
                "escalate",
                "place",
                "mark_duplicate",
                "reject",
                "note"
            ]
        );
        assert_eq!(
            available(&case(S::Resolved), Role::Dispatcher.into()),
            ["close", "reopen", "note"]
        );
        assert_eq!(
            available(&case(S::Reported), Role::Operator.into()),
            ["escalate", "note"]
        );
        assert_eq!(available(&case(S::Closed), Role::Operator.into()), ["note"]);
        // Only major and critical cases get a leader; the city tier cannot go higher.
        let major_at_city = Case {
            severity: IncidentSeverity::Major,
            tier: IncidentTier::City,
            ..case(S::InProgress)
        };
        let names = available(&major_at_city, Role::Dispatcher.into());
        assert!(
            names.contains(&"lead") && !names.contains(&"escalate"),
            "{names:?}"
        );
    }
}
