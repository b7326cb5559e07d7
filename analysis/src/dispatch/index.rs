//! The dispatch index: every grid worker's latest committed state (position, status,
//! caseload, skills, cells), the grid's topology (each cell's township and neighbours), and a
//! [`PointIndex`] over positions, all in memory, so a recommendation needs no database.
//!
//! The index is kept in step by its owner: every committed change to a worker carries a
//! version that only grows (a database sequence), and [`WorkerIndex::upsert`] ignores a copy
//! older than the one it holds, so changes may arrive twice or out of order (once from the
//! writer that committed them, once from the change feed) and the newest always wins.

use std::collections::HashMap;

use crate::dispatch::nearest::PointIndex;
use crate::sphere::LonLat;

/// Side of the position buckets. Grid workers stand a few hundred metres to a few kilometres
/// apart in a city's grid; a nearest search then reads a few dozen buckets.
const BUCKET_M: f64 = 2_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerStatus {
    Available,
    Busy,
    OffDuty,
}

/// One grid worker as dispatch sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct Worker {
    pub id: i64,
    /// Grows with every committed change to the worker.
    pub version: i64,
    pub status: WorkerStatus,
    pub position: Option<LonLat>,
    /// When the position was taken, in Unix seconds.
    pub seen_at: Option<i64>,
    /// Open cases assigned to the worker.
    pub caseload: u32,
    /// Most open cases the worker may hold.
    pub capacity: u32,
    pub skills: Vec<String>,
    /// The grid cells the worker is responsible for.
    pub cells: Vec<i64>,
    /// Who takes the worker's cells' cases while the worker is away (off duty).
    pub cover: Option<i64>,
    /// The name dispatchers know the worker by.
    pub name: String,
}

impl Worker {
    /// The position is missing or older than `stale_after_s` at `now` (Unix seconds).
    pub fn is_stale(&self, now: i64, stale_after_s: i64) -> bool {
        self.seen_at.is_none_or(|seen| now - seen > stale_after_s)
    }

    pub fn has_room(&self) -> bool {
        self.caseload < self.capacity
    }

    /// Available, with room for another case, and a fresh position.
    pub fn is_eligible(&self, now: i64, stale_after_s: i64) -> bool {
        self.status == WorkerStatus::Available
            && self.has_room()
            && !self.is_stale(now, stale_after_s)
    }

    pub fn has_skill(&self, skill: &str) -> bool {
        self.skills.iter().any(|s| s == skill)
    }
}

/// Each grid cell's township and its neighbouring cells (sharing a boundary), for the
/// published grid plan.
#[derive(Debug, Clone, Default)]
pub struct CellTopology {
    township_of: HashMap<i64, i64>,
    neighbours: HashMap<i64, Vec<i64>>,
}

impl CellTopology {
    /// From `(cell, township)` pairs and the pairs of cells that touch (either order).
    pub fn new(
        townships: impl IntoIterator<Item = (i64, i64)>,
        touching: impl IntoIterator<Item = (i64, i64)>,
    ) -> Self {
        let mut neighbours: HashMap<i64, Vec<i64>> = HashMap::new();
        for (a, b) in touching {
            if a != b {
                neighbours.entry(a).or_default().push(b);
                neighbours.entry(b).or_default().push(a);
            }
        }
        for cells in neighbours.values_mut() {
            cells.sort_unstable();
            cells.dedup();
        }
        Self {
            township_of: townships.into_iter().collect(),
            neighbours,
        }
    }

    pub fn township_of(&self, cell: i64) -> Option<i64> {
        self.township_of.get(&cell).copied()
    }

    pub fn neighbours(&self, cell: i64) -> &[i64] {
        self.neighbours.get(&cell).map_or(&[], Vec::as_slice)
    }
}

/// Grid workers in memory: by id, by cell, by township and by position.
#[derive(Debug, Clone)]
pub struct WorkerIndex {
    workers: HashMap<i64, Worker>,
    positions: PointIndex<i64>,
    by_cell: HashMap<i64, Vec<i64>>,
    by_township: HashMap<i64, Vec<i64>>,
    topology: CellTopology,
    /// The last version of each removed worker: a late copy must not bring one back.
    removed: HashMap<i64, i64>,
}

impl Default for WorkerIndex {
    fn default() -> Self {
        Self::new(CellTopology::default())
    }
}

impl WorkerIndex {
    pub fn new(topology: CellTopology) -> Self {
        Self {
            workers: HashMap::new(),
            positions: PointIndex::new(BUCKET_M),
            by_cell: HashMap::new(),
            by_township: HashMap::new(),
            topology,
            removed: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.workers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.workers.keys().copied()
    }

    pub fn get(&self, id: i64) -> Option<&Worker> {
        self.workers.get(&id)
    }

    pub fn topology(&self) -> &CellTopology {
        &self.topology
    }

    /// Replaces the topology (a new grid plan was published) and re-files workers by township.
    pub fn set_topology(&mut self, topology: CellTopology) {
        self.topology = topology;
        self.by_township.clear();
        let ids: Vec<i64> = self.workers.keys().copied().collect();
        for id in ids {
            let worker = self.workers[&id].clone();
            self.file(&worker);
        }
    }

    pub fn workers_in_cell(&self, cell: i64) -> impl Iterator<Item = &Worker> {
        self.ids_to_workers(self.by_cell.get(&cell))
    }

    pub fn workers_in_township(&self, township: i64) -> impl Iterator<Item = &Worker> {
        self.ids_to_workers(self.by_township.get(&township))
    }

    fn ids_to_workers<'a>(&'a self, ids: Option<&'a Vec<i64>>) -> impl Iterator<Item = &'a Worker> {
        ids.into_iter()
            .flatten()
            .filter_map(|id| self.workers.get(id))
    }

    /// Stores `worker` unless the index already holds the same or a newer version of them.
    /// Returns whether it was stored.
    pub fn upsert(&mut self, worker: Worker) -> bool {
        if let Some(current) = self.workers.get(&worker.id)
            && current.version >= worker.version
        {
            return false;
        }
        if self
            .removed
            .get(&worker.id)
            .is_some_and(|&gone| gone >= worker.version)
        {
            return false;
        }
        self.unfile(worker.id);
        self.file(&worker);
        self.workers.insert(worker.id, worker);
        true
    }

    /// Forgets a worker who no longer exists.
    pub fn remove(&mut self, id: i64) {
        if let Some(worker) = self.workers.get(&id) {
            self.removed.insert(id, worker.version);
            self.unfile(id);
            self.workers.remove(&id);
        }
    }

    fn file(&mut self, worker: &Worker) {
        if let Some(at) = worker.position {
            self.positions.insert(worker.id, at);
        }
        for &cell in &worker.cells {
            self.by_cell.entry(cell).or_default().push(worker.id);
            if let Some(township) = self.topology.township_of(cell) {
                let members = self.by_township.entry(township).or_default();
                if !members.contains(&worker.id) {
                    members.push(worker.id);
                }
            }
        }
    }

    fn unfile(&mut self, id: i64) {
        let Some(old) = self.workers.get(&id) else {
            return;
        };
        if let Some(at) = old.position {
            self.positions.remove(id, at);
        }
        for cell in &old.cells {
            if let Some(members) = self.by_cell.get_mut(cell) {
                members.retain(|&m| m != id);
            }
            if let Some(township) = self.topology.township_of(*cell)
                && let Some(members) = self.by_township.get_mut(&township)
            {
                members.retain(|&m| m != id);
            }
        }
    }

    /// Every worker with a position, nearest to `from` first, with the distance in metres.
    pub fn nearest(&self, from: LonLat) -> impl Iterator<Item = (&Worker, f64)> {
        self.positions
            .nearest(from)
            .filter_map(|(id, metres)| self.workers.get(&id).map(|w| (w, metres)))
    }

    /// The nearest eligible worker (available, with room, fresh position) and the distance.
    pub fn nearest_eligible(
        &self,
        from: LonLat,
        now: i64,
        stale_after_s: i64,
    ) -> Option<(i64, f64)> {
        self.nearest(from)
            .find(|(w, _)| w.is_eligible(now, stale_after_s))
            .map(|(w, metres)| (w.id, metres))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn worker(id: i64, version: i64, at: (f64, f64), cells: &[i64]) -> Worker {
        Worker {
            id,
            version,
            status: WorkerStatus::Available,
            position: Some(LonLat::new(at.0, at.1).unwrap()),
            seen_at: Some(1_000),
            caseload: 0,
            capacity: 5,
            skills: Vec::new(),
            cells: cells.to_vec(),
            cover: None,
            name: String::new(),
        }
    }

    #[test]
    fn newer_versions_win_whatever_order_they_arrive_in() {
        let mut index = WorkerIndex::new(CellTopology::new([(10, 1), (11, 1)], []));
        assert!(index.upsert(worker(1, 5, (102.5, 24.3), &[10])));
        assert!(!index.upsert(worker(1, 4, (102.9, 24.9), &[11])));
        assert!(!index.upsert(worker(1, 5, (102.9, 24.9), &[11])));
        assert_eq!(index.get(1).unwrap().cells, vec![10]);
        assert!(index.upsert(worker(1, 6, (102.9, 24.9), &[11])));
        assert_eq!(index.workers_in_cell(10).count(), 0);
        assert_eq!(index.workers_in_cell(11).count(), 1);
        assert_eq!(index.workers_in_township(1).count(), 1);
        let (id, metres) = index
            .nearest(LonLat::new(102.9, 24.9).unwrap())
            .next()
            .unwrap();
        assert_eq!((id.id, metres), (1, 0.0));
        assert_eq!(index.nearest(LonLat::new(102.9, 24.9).unwrap()).count(), 1);
    }

    #[test]
    fn removed_workers_stay_removed() {
        let mut index = WorkerIndex::default();
        index.upsert(worker(1, 5, (102.5, 24.3), &[10]));
        index.remove(1);
        assert!(!index.upsert(worker(1, 5, (102.5, 24.3), &[10])));
        assert!(index.is_empty());
        assert_eq!(index.nearest(LonLat::new(102.5, 24.3).unwrap()).count(), 0);
        assert_eq!(index.workers_in_cell(10).count(), 0);
    }

    #[test]
    fn nearest_eligible_skips_the_stale_busy_and_full() {
        let mut index = WorkerIndex::default();
        let mut stale = worker(1, 1, (102.5000, 24.3), &[]);
        stale.seen_at = Some(0);
        let mut busy = worker(2, 1, (102.5001, 24.3), &[]);
        busy.status = WorkerStatus::Busy;
        let mut full = worker(3, 1, (102.5002, 24.3), &[]);
        full.caseload = 5;
        let free = worker(4, 1, (102.6, 24.3), &[]);
        for w in [stale, busy, full, free] {
            index.upsert(w);
        }
        let (id, metres) = index
            .nearest_eligible(LonLat::new(102.5, 24.3).unwrap(), 1_000, 600)
            .unwrap();
        assert_eq!(id, 4);
        assert!((metres - 10_140.0).abs() < 10.0, "{metres}");
        assert_eq!(
            index.nearest_eligible(LonLat::new(102.5, 24.3).unwrap(), 100_000, 600),
            None
        );
    }

    #[test]
    fn a_new_topology_refiles_workers_by_township() {
        let mut index = WorkerIndex::new(CellTopology::new([(10, 1)], []));
        index.upsert(worker(1, 1, (102.5, 24.3), &[10]));
        assert_eq!(index.workers_in_township(1).count(), 1);
        index.set_topology(CellTopology::new([(10, 2)], []));
        assert_eq!(index.workers_in_township(1).count(), 0);
        assert_eq!(index.workers_in_township(2).count(), 1);
    }
}
