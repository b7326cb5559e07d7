//! Ranking grid workers for one incident, with the reasons for each rank.
//!
//! Groups come first, in this order:
//! 1. the workers responsible for the incident's grid cell (they know its people), or, for
//!    one who is away (off duty), the cover worker they named;
//! 2. workers of the neighbouring cells (sharing a boundary);
//! 3. other workers of the incident's township;
//! 4. the nearest workers anywhere else, while fewer than the asked number are found;
//! 5. workers whose position is stale or unknown: where they are is a guess;
//! 6. workers who cannot take the case now (busy, off duty, or at capacity), listed for the
//!    responsible and neighbouring cells only, so a dispatcher sees why they are not first.
//!
//! Groups 1–4 hold only workers who are available, have room and have a fresh position, so a
//! stale or off-duty worker is never ranked above one of them. Within a group, a worker with
//! the skill the category asks for comes first; then the lower score wins, where the score is
//! the distance along the sphere in metres plus [`CASELOAD_PENALTY_M`] per open case (a
//! worker 500 m farther away but with one case fewer ties); then the lower id.

use std::collections::HashSet;

use crate::dispatch::index::{Worker, WorkerIndex, WorkerStatus};
use crate::sphere::{LonLat, haversine_m};

/// Metres of extra distance one open case weighs in the score.
pub const CASELOAD_PENALTY_M: f64 = 500.0;

/// Which workers the asker may see (and assign): the others are never ranked.
pub type Admit<'a> = &'a dyn Fn(&Worker) -> bool;

/// What to rank workers for.
#[derive(Clone)]
pub struct Request<'a> {
    pub at: LonLat,
    /// The incident's grid cell, when it is placed in one.
    pub cell: Option<i64>,
    /// The incident's township, when known (taken from the cell otherwise).
    pub township: Option<i64>,
    /// The skill the incident's category asks for.
    pub skill: Option<&'a str>,
    /// Unix seconds.
    pub now: i64,
    /// A position older than this many seconds is stale.
    pub stale_after_s: i64,
    /// How many candidates to answer (workers of the incident's own cell are always included).
    pub limit: usize,
    /// Only these workers are ranked (None: everyone), e.g. those inside the asker's area.
    pub admit: Option<Admit<'a>>,
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("at", &self.at)
            .field("cell", &self.cell)
            .field("township", &self.township)
            .field("skill", &self.skill)
            .field("now", &self.now)
            .field("stale_after_s", &self.stale_after_s)
            .field("limit", &self.limit)
            .field("admit", &self.admit.map(|_| "…"))
            .finish()
    }
}

impl Request<'_> {
    fn admits(&self, worker: &Worker) -> bool {
        self.admit.is_none_or(|admit| admit(worker))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Group {
    OwnCell,
    Cover,
    NeighbourCell,
    Township,
    Beyond,
    Stale,
    Unavailable,
}

/// Why a worker is where they are in the ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Responsible for the incident's grid cell.
    OwnCell,
    /// Covers for this worker, who is away.
    CoverFor(i64),
    /// Responsible for this neighbouring cell.
    NeighbourCell(i64),
    SameTownship,
    /// Among the nearest outside the township.
    Nearest,
    HasSkill,
    LacksSkill,
    /// Position older than the stale limit (its age in seconds), or never reported (None).
    Stale(Option<i64>),
    Busy,
    OffDuty,
    AtCapacity,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub worker_id: i64,
    /// 1 is the best.
    pub rank: usize,
    pub group: Group,
    /// Along the sphere to the worker's last position, in metres.
    pub distance_m: Option<f64>,
    pub caseload: u32,
    pub capacity: u32,
    /// Lower is better, within a group: metres plus the caseload penalty.
    pub score_m: f64,
    pub reasons: Vec<Reason>,
}

struct Ranking<'a> {
    request: &'a Request<'a>,
    seen: HashSet<i64>,
    found: Vec<(bool, Candidate)>,
}

impl Ranking<'_> {
    fn eligible_count(&self) -> usize {
        self.found
            .iter()
            .filter(|(_, c)| c.group < Group::Stale)
            .count()
    }

    /// Files `worker` in `group` when they can take the case, in the stale or unavailable
    /// group otherwise (only when `keep_unavailable`); a worker already filed stays put.
    fn consider(&mut self, worker: &Worker, group: Group, why: Reason, keep_unavailable: bool) {
        let r = self.request;
        if self.seen.contains(&worker.id) || !r.admits(worker) {
            return;
        }
        let mut reasons = vec![why];
        let group = match worker.status {
            WorkerStatus::Busy => {
                reasons.push(Reason::Busy);
                Group::Unavailable
            }
            WorkerStatus::OffDuty => {
                reasons.push(Reason::OffDuty);
                Group::Unavailable
            }
            WorkerStatus::Available if !worker.has_room() => {
                reasons.push(Reason::AtCapacity);
                Group::Unavailable
            }
            WorkerStatus::Available if worker.is_stale(r.now, r.stale_after_s) => {
                reasons.push(Reason::Stale(worker.seen_at.map(|seen| r.now - seen)));
                Group::Stale
            }
            WorkerStatus::Available => group,
        };
        if group == Group::Unavailable && !keep_unavailable {
            return;
        }
        let lacks_skill = match r.skill {
            Some(skill) if worker.has_skill(skill) => {
                reasons.push(Reason::HasSkill);
                false
            }
            Some(_) => {
                reasons.push(Reason::LacksSkill);
                true
            }
            None => false,
        };
        let distance_m = worker.position.map(|p| haversine_m(r.at, p));
        let score_m = distance_m.unwrap_or(0.0) + CASELOAD_PENALTY_M * f64::from(worker.caseload);
        self.seen.insert(worker.id);
        self.found.push((
            lacks_skill,
            Candidate {
                worker_id: worker.id,
                rank: 0,
                group,
                distance_m,
                caseload: worker.caseload,
                capacity: worker.capacity,
                score_m,
                reasons,
            },
        ));
    }
}

/// Ranks the workers in `index` for `request`; see the module's documentation for the rules.
pub fn rank(index: &WorkerIndex, request: &Request<'_>) -> Vec<Candidate> {
    let mut ranking = Ranking {
        request,
        seen: HashSet::new(),
        found: Vec::new(),
    };
    let topology = index.topology();
    if let Some(cell) = request.cell {
        for worker in index.workers_in_cell(cell) {
            ranking.consider(worker, Group::OwnCell, Reason::OwnCell, true);
        }
        for worker in index.workers_in_cell(cell) {
            if worker.status == WorkerStatus::OffDuty
                && let Some(cover) = worker.cover.and_then(|id| index.get(id))
            {
                ranking.consider(cover, Group::Cover, Reason::CoverFor(worker.id), true);
            }
        }
        for &next in topology.neighbours(cell) {
            for worker in index.workers_in_cell(next) {
                ranking.consider(
                    worker,
                    Group::NeighbourCell,
                    Reason::NeighbourCell(next),
                    true,
                );
            }
        }
    }
    let township = request
        .township
        .or_else(|| request.cell.and_then(|c| topology.township_of(c)));
    if let Some(township) = township {
        for worker in index.workers_in_township(township) {
            ranking.consider(worker, Group::Township, Reason::SameTownship, false);
        }
    }
    if ranking.eligible_count() < request.limit {
        let mut wanted = request.limit - ranking.eligible_count();
        for (worker, _) in index.nearest(request.at) {
            if wanted == 0 {
                break;
            }
            if !ranking.seen.contains(&worker.id)
                && request.admits(worker)
                && worker.is_eligible(request.now, request.stale_after_s)
            {
                ranking.consider(worker, Group::Beyond, Reason::Nearest, false);
                wanted -= 1;
            }
        }
    }
    let mut found = ranking.found;
    found.sort_by(|(a_lacks, a), (b_lacks, b)| {
        (a.group, a_lacks)
            .cmp(&(b.group, b_lacks))
            .then(a.score_m.total_cmp(&b.score_m))
            .then(a.worker_id.cmp(&b.worker_id))
    });
    let mut answer: Vec<Candidate> = Vec::with_capacity(request.limit);
    for (i, (_, candidate)) in found.into_iter().enumerate() {
        if i < request.limit || candidate.reasons.first() == Some(&Reason::OwnCell) {
            answer.push(candidate);
        }
    }
    for (i, candidate) in answer.iter_mut().enumerate() {
        candidate.rank = i + 1;
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::index::CellTopology;

    const NOW: i64 = 10_000;

    fn worker(id: i64, lon: f64, cells: &[i64]) -> Worker {
        Worker {
            id,
            version: 1,
            status: WorkerStatus::Available,
            position: Some(LonLat::new(lon, 24.0).unwrap()),
            seen_at: Some(NOW - 60),
            caseload: 0,
            capacity: 5,
            skills: Vec::new(),
            cells: cells.to_vec(),
            cover: None,
            name: String::new(),
        }
    }

    /// Cells 1 and 2 touch; both, and cell 3, are in township 100; cell 4 is in township 200.
    fn index(workers: Vec<Worker>) -> WorkerIndex {
        let topology = CellTopology::new([(1, 100), (2, 100), (3, 100), (4, 200)], [(1, 2)]);
        let mut index = WorkerIndex::new(topology);
        for w in workers {
            index.upsert(w);
        }
        index
    }

    fn request(skill: Option<&str>) -> Request<'_> {
        Request {
            at: LonLat::new(102.0, 24.0).unwrap(),
            cell: Some(1),
            township: None,
            skill,
            now: NOW,
            stale_after_s: 600,
            limit: 10,
            admit: None,
        }
    }

    fn order(candidates: &[Candidate]) -> Vec<(i64, Group)> {
        candidates.iter().map(|c| (c.worker_id, c.group)).collect()
    }

    #[test]
    fn own_cell_then_neighbours_then_township_then_beyond() {
        let index = index(vec![
            worker(1, 102.30, &[1]),
            worker(2, 102.01, &[2]),
            worker(3, 102.001, &[3]),
            worker(4, 102.0001, &[4]),
        ]);
        let ranked = rank(&index, &request(None));
        assert_eq!(
            order(&ranked),
            vec![
                (1, Group::OwnCell),
                (2, Group::NeighbourCell),
                (3, Group::Township),
                (4, Group::Beyond)
            ]
        );
        assert_eq!(
            ranked.iter().map(|c| c.rank).collect::<Vec<_>>(),
            [1, 2, 3, 4]
        );
        assert!((ranked[3].distance_m.unwrap() - 10.2).abs() < 0.1);
    }

    #[test]
    fn stale_and_off_duty_are_never_first() {
        let mut stale = worker(1, 102.0, &[1]);
        stale.seen_at = Some(NOW - 601);
        let mut off = worker(2, 102.0, &[1]);
        off.status = WorkerStatus::OffDuty;
        let mut unknown = worker(3, 102.0, &[1]);
        unknown.seen_at = None;
        let far = worker(4, 103.5, &[4]);
        let ranked = rank(&index(vec![stale, off, unknown, far]), &request(None));
        assert_eq!(
            order(&ranked),
            vec![
                (4, Group::Beyond),
                (1, Group::Stale),
                (3, Group::Stale),
                (2, Group::Unavailable)
            ]
        );
        assert_eq!(
            ranked[1].reasons,
            vec![Reason::OwnCell, Reason::Stale(Some(601))]
        );
        assert_eq!(
            ranked[2].reasons,
            vec![Reason::OwnCell, Reason::Stale(None)]
        );
        assert_eq!(ranked[3].reasons, vec![Reason::OwnCell, Reason::OffDuty]);
    }

    #[test]
    fn a_full_or_busy_own_worker_gives_way_to_a_neighbour() {
        let mut full = worker(1, 102.0, &[1]);
        full.caseload = 5;
        let mut busy = worker(2, 102.0, &[1]);
        busy.status = WorkerStatus::Busy;
        let neighbour = worker(3, 102.2, &[2]);
        let ranked = rank(&index(vec![full, busy, neighbour]), &request(None));
        assert_eq!(ranked[0].worker_id, 3);
        assert!(ranked[1..].iter().all(|c| c.group == Group::Unavailable));
        assert!(
            ranked
                .iter()
                .any(|c| c.reasons.contains(&Reason::AtCapacity))
        );
        assert!(ranked.iter().any(|c| c.reasons.contains(&Reason::Busy)));
    }

    #[test]
    fn an_away_worker_hands_over_to_their_cover() {
        let mut away = worker(1, 102.0, &[1]);
        away.status = WorkerStatus::OffDuty;
        away.cover = Some(9);
        let cover = worker(9, 102.5, &[4]);
        let nearer = worker(2, 102.01, &[2]);
        let ranked = rank(&index(vec![away, cover, nearer]), &request(None));
        assert_eq!(
            order(&ranked),
            vec![
                (9, Group::Cover),
                (2, Group::NeighbourCell),
                (1, Group::Unavailable)
            ]
        );
        assert_eq!(ranked[0].reasons, vec![Reason::CoverFor(1)]);
    }

    #[test]
    fn skills_then_distance_and_caseload_order_a_group() {
        let near = worker(1, 102.001, &[3]);
        let mut skilled = worker(2, 102.05, &[3]);
        skilled.skills = vec!["mediation".into()];
        let mut loaded = worker(3, 102.0005, &[3]);
        loaded.caseload = 2;
        let ranked = rank(
            &index(vec![near, skilled, loaded]),
            &request(Some("mediation")),
        );
        assert_eq!(
            ranked.iter().map(|c| c.worker_id).collect::<Vec<_>>(),
            vec![2, 1, 3]
        );
        assert!(ranked[0].reasons.contains(&Reason::HasSkill));
        assert!(ranked[1].reasons.contains(&Reason::LacksSkill));
        let unskilled = rank(&index(vec![worker(1, 102.001, &[3])]), &request(None));
        assert_eq!(unskilled[0].reasons, vec![Reason::SameTownship]);
    }

    #[test]
    fn the_limit_keeps_the_best_and_every_own_worker() {
        let mut workers: Vec<Worker> = (10..40)
            .map(|id| worker(id, 102.0 + id as f64 * 0.001, &[4]))
            .collect();
        let mut own = worker(1, 102.0, &[1]);
        own.status = WorkerStatus::Busy;
        workers.push(own);
        let mut r = request(None);
        r.limit = 3;
        let ranked = rank(&index(workers), &r);
        assert_eq!(
            order(&ranked),
            vec![
                (10, Group::Beyond),
                (11, Group::Beyond),
                (12, Group::Beyond),
                (1, Group::Unavailable)
            ]
        );
    }

    #[test]
    fn only_admitted_workers_are_ranked() {
        let index = index(vec![
            worker(1, 102.0, &[1]),
            worker(2, 102.01, &[2]),
            worker(3, 102.001, &[4]),
        ]);
        let outside_township_200 = |w: &Worker| !w.cells.contains(&4);
        let mut r = request(None);
        r.admit = Some(&outside_township_200);
        let ranked = rank(&index, &r);
        assert_eq!(
            order(&ranked),
            vec![(1, Group::OwnCell), (2, Group::NeighbourCell)]
        );
    }

    #[test]
    fn nothing_to_rank_is_an_empty_answer() {
        assert!(rank(&index(Vec::new()), &request(None)).is_empty());
    }
}
