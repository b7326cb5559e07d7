//! Group commit for located reports. Every audited write takes the audit chain's head until
//! it commits, so one report per transaction would cap intake at one durable commit at a
//! time. Instead, reports that arrive while a group is being written wait in a queue and are
//! written together by the next group: placed with one statement, inserted with one, audited
//! with one, made durable with one commit, and each answered only after that commit.
//!
//! Each report keeps its own rules: an Idempotency-Key already answered is replayed (or
//! refused if the request differs) and leaves the group; a place outside the city or the
//! caller's area, or an unknown category, is refused alone. Should a group fail as a whole,
//! its reports are written again one by one, so one bad report never fails another.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use crate::audit::RequestMeta;
use crate::auth::Caller;
use crate::incidents::IncidentError;
use crate::incidents::idempotency::{self, Claim, Key, Stored};
use crate::incidents::intake::{self, CategoryRule, NewCase, Placement, Report};
use crate::incidents::read::created_answers;
use crate::model::LocationMethod;
use crate::personal::Cipher;

/// Most reports in one group.
const MAX_GROUP: usize = 128;
/// Groups written at once: while one waits for its commit or the audit chain, the others are
/// placed and inserted. Three kept both cores busier than two on the intake benchmark.
const WRITERS: usize = 3;

/// A located, checked report waiting to be written.
#[derive(Debug)]
pub struct Job {
    pub caller: Caller,
    pub meta: RequestMeta,
    pub report: Report,
    pub key: Option<Key>,
}

/// A report's answer: the stored `201`, a replay, or why it was refused.
pub type Answer = Result<Stored, IncidentError>;

type Reply = oneshot::Sender<Answer>;

#[derive(Debug)]
pub struct IntakeQueue {
    sender: mpsc::Sender<(Job, Reply)>,
}

impl IntakeQueue {
    /// Starts the writers on the current Tokio runtime.
    pub fn start(pool: PgPool, cipher: Cipher) -> Arc<Self> {
        let (sender, receiver) = mpsc::channel(4 * MAX_GROUP);
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..WRITERS {
            let (pool, cipher, receiver) = (pool.clone(), cipher.clone(), Arc::clone(&receiver));
            tokio::spawn(async move {
                loop {
                    let group = {
                        let mut receiver = receiver.lock().await;
                        let Some(first) = receiver.recv().await else {
                            return;
                        };
                        let mut group = vec![first];
                        while group.len() < MAX_GROUP {
                            match receiver.try_recv() {
                                Ok(job) => group.push(job),
                                Err(_) => break,
                            }
                        }
                        group
                    };
                    write_group(&pool, &cipher, group).await;
                }
            });
        }
        Arc::new(Self { sender })
    }

    /// Queues a located report and waits for its answer (after its group commits).
    pub async fn submit(&self, job: Job) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send((job, reply))
            .await
            .map_err(|_| IncidentError::internal("the intake queue has stopped"))?;
        answer
            .await
            .map_err(|_| IncidentError::internal("the intake queue dropped a report"))?
    }
}

/// A report that passed the checks that need no transaction.
struct Ready {
    job: Job,
    reply: Reply,
    rule: CategoryRule,
    placement: Placement,
}

async fn write_group(pool: &PgPool, cipher: &Cipher, group: Vec<(Job, Reply)>) {
    // The same key twice in one group: the later ones wait for the first's answer and are
    // written alone after the group (where they find the key answered).
    let mut seen = HashSet::new();
    let (group, later): (Vec<_>, Vec<_>) = group.into_iter().partition(|(job, _)| {
        job.key
            .as_ref()
            .is_none_or(|k| seen.insert((job.caller.user_id, k.key.clone())))
    });
    let Some(ready) = prepare(pool, group).await else {
        return;
    };
    if !ready.is_empty() {
        match write(pool, cipher, &ready).await {
            Ok(answers) => {
                for (r, answer) in ready.into_iter().zip(answers) {
                    let _ = r.reply.send(answer);
                }
            }
            Err(GroupError::CommitUnknown(error)) => {
                tracing::error!(%error, size = ready.len(), "an intake group's commit failed");
                for r in ready {
                    let _ = r
                        .reply
                        .send(Err(IncidentError::from(sqlx::Error::PoolClosed)));
                }
            }
            Err(GroupError::Before(error)) => {
                tracing::warn!(%error, size = ready.len(), "an intake group failed; writing its reports one by one");
                for r in ready {
                    let answer = write_one(pool, cipher, &r).await;
                    let _ = r.reply.send(answer);
                }
            }
        }
    }
    for (job, reply) in later {
        for r in prepare(pool, vec![(job, reply)]).await.unwrap_or_default() {
            let answer = write_one(pool, cipher, &r).await;
            let _ = r.reply.send(answer);
        }
    }
}

/// Places the group's reports and checks their categories and areas; answers those that
/// fail (all of them if the database does) and returns the rest.
async fn prepare(pool: &PgPool, group: Vec<(Job, Reply)>) -> Option<Vec<Ready>> {
    match placed(pool, &group).await {
        Ok((routes, rules)) => Some(check(group, routes, rules)),
        Err(error) => {
            tracing::error!(%error, "placing reports failed");
            for (_, reply) in group {
                let _ = reply.send(Err(IncidentError::from(sqlx::Error::PoolClosed)));
            }
            None
        }
    }
}

type Routes = Vec<Option<intake::Route>>;

async fn placed(
    pool: &PgPool,
    group: &[(Job, Reply)],
) -> Result<(Routes, HashMap<String, CategoryRule>), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let points: Vec<_> = group
        .iter()
        .map(|(job, _)| job.report.point.expect("only located reports are queued"))
        .collect();
    let routes = intake::route_points(&mut conn, &points).await?;
    let codes: Vec<String> = group
        .iter()
        .map(|(j, _)| j.report.category.clone())
        .collect();
    let rules = intake::categories(&mut conn, &codes).await?;
    Ok((routes, rules))
}

fn check(
    group: Vec<(Job, Reply)>,
    routes: Routes,
    rules: HashMap<String, CategoryRule>,
) -> Vec<Ready> {
    let mut ready = Vec::with_capacity(group.len());
    for ((job, reply), route) in group.into_iter().zip(routes) {
        let Some(rule) = rules.get(&job.report.category).cloned() else {
            let _ = reply.send(Err(IncidentError::Invalid(format!(
                "unknown category `{}`; GET /api/v1/incident-categories lists them",
                job.report.category
            ))));
            continue;
        };
        let Some(route) = route else {
            let _ = reply.send(Err(IncidentError::OutsideArea(
                "the place is outside the city".into(),
            )));
            continue;
        };
        let placement = Placement {
            point: job.report.point.expect("only located reports are queued"),
            method: LocationMethod::Device,
            precision_m: job.report.accuracy_m,
            route,
        };
        if let Err(refused) = intake::check_in_area(&job.caller, &placement) {
            let _ = reply.send(Err(refused));
            continue;
        }
        ready.push(Ready {
            job,
            reply,
            rule,
            placement,
        });
    }
    ready
}

/// A commit that failed: whether it took effect is unknown.
#[derive(Debug, thiserror::Error)]
#[error("commit failed: {0}")]
struct CommitUnknown(sqlx::Error);

#[derive(Debug, thiserror::Error)]
enum GroupError {
    /// Nothing was written.
    #[error("{0}")]
    Before(#[from] IncidentError),
    #[error("{0}")]
    CommitUnknown(#[from] CommitUnknown),
}

impl From<sqlx::Error> for GroupError {
    fn from(error: sqlx::Error) -> Self {
        GroupError::Before(error.into())
    }
}

/// Writes a prepared group in one transaction and returns each report's answer (a replay
/// for a key already answered).
async fn write(pool: &PgPool, cipher: &Cipher, ready: &[Ready]) -> Result<Vec<Answer>, GroupError> {
    let mut tx = pool.begin().await?;
    // Keys first: a key answered before replays; a key in flight elsewhere waits for it.
    let mut replays: HashMap<usize, Answer> = HashMap::new();
    let keyed: Vec<(usize, (i64, &Key))> = ready
        .iter()
        .enumerate()
        .filter_map(|(n, r)| r.job.key.as_ref().map(|k| (n, (r.job.caller.user_id, k))))
        .collect();
    let claims =
        idempotency::claim_many(&mut tx, &keyed.iter().map(|(_, k)| *k).collect::<Vec<_>>())
            .await?;
    for ((n, _), claim) in keyed.iter().zip(claims) {
        match claim {
            Ok(Claim::Fresh) => {}
            Ok(Claim::Replay(answer)) => {
                replays.insert(*n, Ok(answer));
            }
            Err(refused) => {
                replays.insert(*n, Err(refused));
            }
        }
    }
    let fresh: Vec<&Ready> = ready
        .iter()
        .enumerate()
        .filter(|(n, _)| !replays.contains_key(n))
        .map(|(_, r)| r)
        .collect();
    let cases: Vec<NewCase<'_>> = fresh
        .iter()
        .map(|r| NewCase {
            caller: &r.job.caller,
            report: &r.job.report,
            rule: &r.rule,
            placement: &r.placement,
        })
        .collect();
    let created = intake::create_many(&mut tx, cipher, &cases).await?;
    let written: Vec<_> = cases.iter().zip(&created).collect();
    let answers: Vec<Stored> = created_answers(&written)?;
    let keyed_answers: Vec<(i64, &Key, &Stored)> = fresh
        .iter()
        .zip(&answers)
        .filter_map(|(r, a)| r.job.key.as_ref().map(|k| (r.job.caller.user_id, k, a)))
        .collect();
    idempotency::store_many(&mut tx, &keyed_answers).await?;
    let audited: Vec<_> = fresh
        .iter()
        .zip(&created)
        .map(|(r, c)| (&r.job.caller, &r.job.meta, c))
        .collect();
    intake::audit_created_many(&mut tx, &audited).await?;
    // A commit whose outcome is unknown (the connection broke during it) must not be written
    // again: the group may be in the database already.
    tx.commit().await.map_err(CommitUnknown)?;
    let mut answers = answers.into_iter();
    Ok((0..ready.len())
        .map(|n| match replays.remove(&n) {
            Some(replay) => replay,
            None => answers
                .next()
                .ok_or_else(|| IncidentError::internal("an answer went missing")),
        })
        .collect())
}

/// One prepared report in a transaction of its own.
async fn write_one(pool: &PgPool, cipher: &Cipher, ready: &Ready) -> Answer {
    let mut answers = write(pool, cipher, std::slice::from_ref(ready))
        .await
        .map_err(|e| match e {
            GroupError::Before(e) => e,
            GroupError::CommitUnknown(e) => IncidentError::from(e.0),
        })?;
    answers
        .pop()
        .ok_or_else(|| IncidentError::internal("no answer for a report"))?
}
