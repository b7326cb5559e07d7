//! Moving boundary units between neighbouring parts of a group until every part's load is
//! within the band, then moving households back to their own cell where the band allows,
//! then tidying empty units into the part they are most surrounded by.
//!
//! A move takes a unit from a part to a neighbouring one, only if the part it leaves stays
//! connected and keeps a unit: connected when the unit's neighbours in that part are joined
//! by edges among themselves (a way round it; checked in constant time), else when a search
//! from one of them reaches the others. So parts connected at the start stay connected.
//!
//! Balancing moves lower the sum of squared deviations (load flows from the heavier part to
//! the lighter, never past equality), so the largest deviation never grows and the search
//! ends. When no move touches a part outside the band, any move between two parts that
//! lowers the sum is taken, to open a way. When no single move lowers it (every unit along
//! the edge is heavier than the difference it would settle, carries no load, or holds its
//! part together): first a bite, a connected piece of the part grown from its edge with a
//! neighbour that has room, layer by layer, until it carries the load that brings the part
//! into the band, moved as a whole (through units with no load, which no single move
//! shifts, and with the pieces it would cut off); then a chain, one unit of the same load
//! across each link of a path of parts, so only the ends change (a part walled in by parts
//! already at the aim can still give a household); then, last, a part outside the band and
//! a neighbour are cut again as one region into two halves of equal load
//! ([`super::bisect`]'s sweep), if that lowers the sum: kept for last because a new
//! boundary moves many households: the neighbour and direction whose cut moves fewest are
//! chosen, and only if it moves no more than [`HOUSEHOLDS_PER_LOAD`] households per unit
//! of load it brings into the band. Among single moves the preference is: not making the
//! part less compact (shared boundary with the new part at least that with the old), then
//! moving households home rather than away, then the most shared boundary, then the
//! largest drop. Only units on a part's boundary are looked at, and they are kept in a list
//! per part, so a move costs in proportion to the boundary, not the part. Everything is in
//! index order: no randomness.
//!
//! The search may be given several bands in turn ([`improve`]): the caller aims first at
//! the group's mean, then accepts anything within the tolerance; a later band is tried only
//! while a part is outside the last. Households go home only where neither part leaves the
//! last band nor, outside it, goes further out, so that phase never undoes the balance.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::bisect::Sweeper;
use super::group::Group;

const NOT_LISTED: u32 = u32::MAX;

/// The most households a re-cut of two parts may move per unit of load it brings into the
/// band (a household's load is 1, cases add a little). Set when re-cuts were the only way
/// past a wall of empty units: on the demo city 24 kept a 5% load change under 10% of
/// households moved (9.3%; 10.8% with no limit). Bites now take most of those cases, moving
/// only the load that has to move.
const HOUSEHOLDS_PER_LOAD: f64 = 24.0;

/// What a search ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Moves made, all phases.
    pub(crate) moves: usize,
    /// Whether balancing stopped with a part outside the band because no move helped, or
    /// at the cap.
    pub(crate) stuck: bool,
}

/// Band: a part is fine when `lo ≤ load ≤ hi`; `aim` (the group's mean load per part,
/// inside the band) is what the sum of squares is taken around. The band need not be
/// centred on the aim: a village whose mean is 4% above the target may still have parts
/// anywhere from 5% below it to 5% above, and the lighter ones leave room for the rest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Band {
    pub(crate) aim: f64,
    pub(crate) lo: f64,
    pub(crate) hi: f64,
}

impl Band {
    /// `aim ± allowed`.
    pub(crate) fn around(aim: f64, allowed: f64) -> Self {
        Band {
            aim,
            lo: aim - allowed,
            hi: aim + allowed,
        }
    }

    fn slack(&self) -> f64 {
        1e-9 * self.aim.abs().max(1.0)
    }

    pub(crate) fn fine(&self, load: f64) -> bool {
        self.excess(load) <= self.slack()
    }

    /// How far `load` lies outside the band (0 inside).
    pub(crate) fn excess(&self, load: f64) -> f64 {
        (self.lo - load).max(load - self.hi).max(0.0)
    }
}

struct Search<'a, 'g> {
    g: &'a Group<'g>,
    part: Vec<u32>,
    load: Vec<f64>,
    members: Vec<Vec<u32>>,
    pos: Vec<u32>,
    /// Per part, its units with a neighbour in another part (the only ones a move can
    /// take or receive through), and each unit's place in its part's list.
    boundary: Vec<Vec<u32>>,
    bpos: Vec<u32>,
    /// Per unit, the households whose own cell is matched to each part (part, households).
    home: Vec<Vec<(u32, u32)>>,
    seen: Vec<u32>,
    stamp: u32,
}

/// A re-cut of two parts being weighed: whether a part stays outside the band, the
/// households it moves, and the new part of each unit it moves.
struct Recut {
    outside: bool,
    moved: u64,
    changes: Vec<(u32, u32)>,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    unit: u32,
    from: u32,
    to: u32,
    key: (bool, i8, f64, f64),
}

impl<'a, 'g> Search<'a, 'g> {
    /// The search state of `part` (each unit's part, `parts` of them) with its loads,
    /// members and boundary lists.
    fn new(g: &'a Group<'g>, part: Vec<u32>, parts: usize, home: Vec<Vec<(u32, u32)>>) -> Self {
        let n = g.len();
        let mut members = vec![Vec::new(); parts];
        let mut pos = vec![0u32; n];
        let mut load = vec![0.0; parts];
        for (u, &p) in part.iter().enumerate() {
            pos[u] = members[p as usize].len() as u32;
            members[p as usize].push(u as u32);
            load[p as usize] += g.unit(u).load;
        }
        let mut s = Search {
            g,
            part,
            load,
            members,
            pos,
            boundary: vec![Vec::new(); parts],
            bpos: vec![NOT_LISTED; n],
            home,
            seen: vec![0; n],
            stamp: 0,
        };
        for u in 0..n {
            s.refresh(u);
        }
        s
    }
}

impl Search<'_, '_> {
    fn at_home(&self, u: usize, p: u32) -> u32 {
        self.home[u]
            .iter()
            .find(|(q, _)| *q == p)
            .map_or(0, |x| x.1)
    }

    fn shared(&self, u: usize, p: u32) -> f64 {
        self.g
            .neighbours(u)
            .iter()
            .filter(|(v, _)| self.part[*v as usize] == p)
            .map(|x| x.1)
            .sum()
    }

    fn touches(&self, u: usize, p: u32) -> bool {
        self.g
            .neighbours(u)
            .iter()
            .any(|(v, _)| self.part[*v as usize] == p)
    }

    fn on_boundary(&self, u: usize) -> bool {
        let p = self.part[u];
        self.g
            .neighbours(u)
            .iter()
            .any(|(v, _)| self.part[*v as usize] != p)
    }

    /// Puts `u` in or out of its part's boundary list as its neighbours now say.
    fn refresh(&mut self, u: usize) {
        let p = self.part[u] as usize;
        match (self.on_boundary(u), self.bpos[u] != NOT_LISTED) {
            (true, false) => {
                self.bpos[u] = self.boundary[p].len() as u32;
                self.boundary[p].push(u as u32);
            }
            (false, true) => self.unlist(u),
            _ => {}
        }
    }

    fn unlist(&mut self, u: usize) {
        let p = self.part[u] as usize;
        let i = self.bpos[u] as usize;
        let list = &mut self.boundary[p];
        list.swap_remove(i);
        if let Some(&moved) = list.get(i) {
            self.bpos[moved as usize] = i as u32;
        }
        self.bpos[u] = NOT_LISTED;
    }

    /// Whether part `p` stays connected without unit `u` (and is not emptied).
    fn can_leave(&mut self, u: usize, p: u32) -> bool {
        if self.members[p as usize].len() < 2 {
            return false;
        }
        let inside: Vec<usize> = self
            .g
            .neighbours(u)
            .iter()
            .map(|x| x.0 as usize)
            .filter(|&v| self.part[v] == p)
            .collect();
        if inside.len() <= 1 {
            // A unit with no neighbour in its part is itself cut off: leaving mends that.
            return true;
        }
        if self.linked_around(&inside) {
            return true;
        }
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
        let stamp = self.stamp;
        self.seen[u] = stamp;
        self.seen[inside[0]] = stamp;
        let mut missing = inside.len() - 1;
        let mut queue = VecDeque::from([inside[0]]);
        while let Some(x) = queue.pop_front() {
            for &(v, _) in self.g.neighbours(x) {
                let v = v as usize;
                if self.part[v] == p && self.seen[v] != stamp {
                    self.seen[v] = stamp;
                    if inside.contains(&v) {
                        missing -= 1;
                        if missing == 0 {
                            return true;
                        }
                    }
                    queue.push_back(v);
                }
            }
        }
        false
    }

    /// Whether `inside` (a unit's neighbours in its part) are joined by edges among
    /// themselves: then any path through the unit has a way round it, and the search a
    /// move would otherwise need (possibly over the whole part) is spared.
    fn linked_around(&self, inside: &[usize]) -> bool {
        if inside.len() > 8 {
            return false;
        }
        let mut root: [usize; 8] = std::array::from_fn(|i| i);
        fn find(root: &mut [usize; 8], mut x: usize) -> usize {
            while root[x] != x {
                x = root[x];
            }
            x
        }
        let mut groups = inside.len();
        for (i, &x) in inside.iter().enumerate() {
            let around = self.g.neighbours(x);
            for (j, &y) in inside.iter().enumerate().skip(i + 1) {
                if around.binary_search_by_key(&(y as u32), |n| n.0).is_ok() {
                    let (a, b) = (find(&mut root, i), find(&mut root, j));
                    if a != b {
                        root[a.max(b)] = a.min(b);
                        groups -= 1;
                    }
                }
            }
        }
        groups == 1
    }

    fn apply(&mut self, u: usize, to: u32) {
        if self.bpos[u] != NOT_LISTED {
            self.unlist(u);
        }
        let from = self.part[u];
        let w = self.g.unit(u).load;
        let i = self.pos[u] as usize;
        let list = &mut self.members[from as usize];
        list.swap_remove(i);
        if let Some(&moved) = list.get(i) {
            self.pos[moved as usize] = i as u32;
        }
        self.pos[u] = self.members[to as usize].len() as u32;
        self.members[to as usize].push(u as u32);
        self.part[u] = to;
        self.load[from as usize] -= w;
        self.load[to as usize] += w;
        self.refresh(u);
        for i in 0..self.g.neighbours(u).len() {
            let v = self.g.neighbours(u)[i].0 as usize;
            self.refresh(v);
        }
    }

    fn candidate(&self, u: usize, from: u32, to: u32) -> Option<Candidate> {
        let w = self.g.unit(u).load;
        let (lf, lt) = (self.load[from as usize], self.load[to as usize]);
        let drop = 2.0 * w * (lf - lt - w);
        if w <= 0.0 || drop <= 1e-12 * lf.abs().max(1.0).powi(2) {
            return None;
        }
        let gain = self.shared(u, to) - self.shared(u, from);
        let households = self.at_home(u, from) as i64 - self.at_home(u, to) as i64;
        Some(Candidate {
            unit: u as u32,
            from,
            to,
            key: (gain < 0.0, households.signum() as i8, -gain, -drop),
        })
    }

    /// When no single move lowers the sum of squares: load passed along a chain of parts,
    /// one unit of the same load `w` across each link, so the parts between keep their
    /// loads and only the ends change, by `w`; the ends differ by more than `w`, so the sum
    /// falls. This is what balances loads that are whole households when the part that
    /// must give is walled in by parts already at the aim. One end is a part outside the
    /// band; the chain is the shortest found (breadth first over parts), for the lightest
    /// `w` on its edge first. Returns the units moved.
    fn chain(&mut self, band: &Band) -> usize {
        let dev = |s: &Self, p: u32| (s.load[p as usize] - band.aim).abs();
        let mut bad: Vec<u32> = (0..self.load.len() as u32)
            .filter(|&p| !band.fine(self.load[p as usize]))
            .collect();
        bad.sort_by(|&x, &y| dev(self, y).total_cmp(&dev(self, x)).then(x.cmp(&y)));
        for a in bad {
            let heavy = self.load[a as usize] > band.aim;
            // The loads that can cross a's edge, lightest first.
            let mut weights: Vec<f64> = self.boundary[a as usize]
                .iter()
                .flat_map(|&u| {
                    let here = std::iter::once(u);
                    let there = self.g.neighbours(u as usize).iter().map(|x| x.0);
                    here.chain(there)
                })
                .filter(|&u| (self.part[u as usize] == a) == heavy)
                .map(|u| self.g.unit(u as usize).load)
                .filter(|&w| w > 0.0)
                .collect();
            weights.sort_by(f64::total_cmp);
            weights.dedup();
            for &w in weights.iter().take(3) {
                if let Some(links) = self.find_chain(a, heavy, w)
                    && self.apply_chain(&links)
                {
                    return links.len();
                }
            }
        }
        0
    }

    /// The links (unit, from, to) of a chain passing `w` out of `a` (`out`) or into it,
    /// ordered from the giving end to the receiving end.
    fn find_chain(&mut self, a: u32, out: bool, w: f64) -> Option<Vec<(u32, u32, u32)>> {
        let parts = self.load.len();
        // Breadth first over parts; `via[q]` the link that reached q.
        let mut via: Vec<Option<(u32, u32, u32)>> = vec![None; parts];
        let mut reached = vec![false; parts];
        reached[a as usize] = true;
        let mut queue = VecDeque::from([a]);
        let la = self.load[a as usize];
        while let Some(p) = queue.pop_front() {
            // Out: units of p that could go to a neighbour q. In: units of a neighbour q
            // that could come into p.
            let mut steps: Vec<(u32, u32, u32)> = Vec::new();
            for &u in &self.boundary[p as usize] {
                for &(v, _) in self.g.neighbours(u as usize) {
                    let q = self.part[v as usize];
                    if q == p || reached[q as usize] {
                        continue;
                    }
                    let (unit, from, to) = if out { (u, p, q) } else { (v, q, p) };
                    if self.g.unit(unit as usize).load == w {
                        steps.push((unit, from, to));
                    }
                }
            }
            steps.sort_unstable();
            steps.dedup();
            for (unit, from, to) in steps {
                let q = if out { to } else { from };
                if reached[q as usize] || !self.can_leave(unit as usize, from) {
                    continue;
                }
                reached[q as usize] = true;
                via[q as usize] = Some((unit, from, to));
                let lq = self.load[q as usize];
                let ends = if out { la - lq } else { lq - la };
                if ends > w * (1.0 + 1e-12) {
                    let mut links = Vec::new();
                    let mut at = q;
                    while at != a {
                        let link = via[at as usize].expect("reached by a link");
                        links.push(link);
                        at = if out { link.1 } else { link.2 };
                    }
                    // From the giving end: for `out` that is a, for `in` it is q.
                    if out {
                        links.reverse();
                    }
                    return Some(links);
                }
                queue.push_back(q);
            }
        }
        None
    }

    /// Applies a chain from its receiving end back, each link only if its unit still
    /// touches the part it joins and its own part stays connected; all or nothing.
    fn apply_chain(&mut self, links: &[(u32, u32, u32)]) -> bool {
        let mut done: Vec<(u32, u32)> = Vec::new();
        for &(unit, from, to) in links.iter().rev() {
            let u = unit as usize;
            if self.part[u] != from || !self.touches(u, to) || !self.can_leave(u, from) {
                for &(u, back) in done.iter().rev() {
                    self.apply(u as usize, back);
                }
                return false;
            }
            self.apply(u, to);
            done.push((unit, from));
        }
        true
    }

    /// When no single move or chain lowers the sum of squares: a part outside the band and
    /// a neighbour, cut again as one region into two connected halves of equal load (the
    /// sweep of [`super::bisect`]), if that lowers their sum of squared deviations. Of the
    /// worst part's neighbours, and of four sweeps each (along the pair's longest direction
    /// and across it, from either end), the cut that puts both in the band is preferred,
    /// then the one moving fewest households, among those moving at most
    /// [`HOUSEHOLDS_PER_LOAD`] households per unit of load brought into the band; each half
    /// takes the number of the part whose households it holds more of. Returns the units
    /// moved.
    fn resplit(&mut self, band: &Band, sweeper: &mut Sweeper) -> usize {
        let dev = |s: &Self, p: u32| (s.load[p as usize] - band.aim).abs();
        let mut bad: Vec<u32> = (0..self.load.len() as u32)
            .filter(|&p| !band.fine(self.load[p as usize]))
            .collect();
        bad.sort_by(|&x, &y| dev(self, y).total_cmp(&dev(self, x)).then(x.cmp(&y)));
        let square = |l: f64| (l - band.aim) * (l - band.aim);
        for a in bad {
            let mut next: Vec<u32> = self.boundary[a as usize]
                .iter()
                .flat_map(|&u| self.g.neighbours(u as usize))
                .map(|&(v, _)| self.part[v as usize])
                .filter(|&b| b != a)
                .collect();
            next.sort_unstable();
            next.dedup();
            let mut best: Option<Recut> = None;
            for (b, quarter) in next.into_iter().flat_map(|b| (0..4).map(move |q| (b, q))) {
                let before = square(self.load[a as usize]) + square(self.load[b as usize]);
                let mut units = self.members[a as usize].clone();
                units.extend(&self.members[b as usize]);
                units.sort_unstable();
                let Some((x, y)) = sweeper.split_turned(self.g, &units, 1, 1, quarter) else {
                    continue;
                };
                let load = |side: &[u32]| -> f64 {
                    side.iter().map(|&u| self.g.unit(u as usize).load).sum()
                };
                let (lx, ly) = (load(&x), load(&y));
                if square(lx) + square(ly) >= before - 1e-9 * band.aim.abs().max(1.0).powi(2) {
                    continue;
                }
                let households = |side: &[u32], p: u32| -> u64 {
                    side.iter()
                        .filter(|&&u| self.part[u as usize] != p)
                        .map(|&u| u64::from(self.g.unit(u as usize).households))
                        .sum()
                };
                let keep = households(&x, a) + households(&y, b);
                let swap = households(&x, b) + households(&y, a);
                let (to_x, to_y, moved) = if keep <= swap {
                    (a, b, keep)
                } else {
                    (b, a, swap)
                };
                // Worth it only where it brings load into the band in proportion to the
                // households it moves: a part a household or two outside the band is not
                // worth a new boundary across two cells.
                let excess = |l: f64| band.excess(l);
                let gain = excess(self.load[a as usize]) + excess(self.load[b as usize])
                    - excess(lx)
                    - excess(ly);
                if gain <= 0.0 || moved as f64 > HOUSEHOLDS_PER_LOAD * gain {
                    continue;
                }
                let outside = !(band.fine(lx) && band.fine(ly));
                if best
                    .as_ref()
                    .is_some_and(|r| (r.outside, r.moved) <= (outside, moved))
                {
                    continue;
                }
                let changes = x
                    .iter()
                    .map(|&u| (u, to_x))
                    .chain(y.iter().map(|&u| (u, to_y)))
                    .filter(|&(u, to)| self.part[u as usize] != to)
                    .collect();
                best = Some(Recut {
                    outside,
                    moved,
                    changes,
                });
            }
            if let Some(Recut { changes, .. }) = best {
                for &(u, to) in &changes {
                    self.apply(u as usize, to);
                }
                return changes.len();
            }
        }
        0
    }

    /// When no single move helps a part outside the band: a bite, a connected piece of one
    /// part taken by a neighbour as a whole, grown from their shared boundary one layer of
    /// units at a time until it carries the load that brings the part outside the band in
    /// (or as much of it as the neighbour can take and stay in the band). A bite goes
    /// where single moves cannot: through units with no load (a park or a field along the
    /// edge, which no single move shifts since it changes nothing), and past units that
    /// hold their part together (taken with the units they join). Units that would carry
    /// the bite past what the neighbour can take are left out; pieces of the giving part
    /// the bite cuts off go with it, or the bite is given up. Of the part's neighbours the
    /// one whose bite brings it into the band, then moves fewest households, is chosen.
    /// Only the households in the bite move, about the load that had to: far fewer than a
    /// re-cut of both parts. Returns the units moved.
    fn bite(&mut self, band: &Band) -> usize {
        let dev = |s: &Self, p: u32| (s.load[p as usize] - band.aim).abs();
        let mut bad: Vec<u32> = (0..self.load.len() as u32)
            .filter(|&p| !band.fine(self.load[p as usize]))
            .collect();
        bad.sort_by(|&x, &y| dev(self, y).total_cmp(&dev(self, x)).then(x.cmp(&y)));
        for a in bad {
            let heavy = self.load[a as usize] > band.aim;
            let mut next: Vec<u32> = self.boundary[a as usize]
                .iter()
                .flat_map(|&u| self.g.neighbours(u as usize))
                .map(|&(v, _)| self.part[v as usize])
                .filter(|&b| b != a)
                .collect();
            next.sort_unstable();
            next.dedup();
            // (still outside, households moved, units, giver, taker)
            let mut best: Option<(bool, i64, Vec<u32>, u32, u32)> = None;
            for b in next {
                let (giver, taker) = if heavy { (a, b) } else { (b, a) };
                let (lg, lt) = (self.load[giver as usize], self.load[taker as usize]);
                // The load that brings `a` into the band, and the most the other side can
                // pass without leaving it (which also keeps the sum of squares falling).
                let (need, limit) = if heavy {
                    (lg - band.hi, band.hi - lt)
                } else {
                    (band.lo - lt, lg - band.lo)
                };
                if limit <= 0.0 {
                    continue;
                }
                let Some((units, carried)) = self.grow_bite(giver, taker, need.min(limit), limit)
                else {
                    continue;
                };
                let outside = carried < need - band.slack();
                let moved: i64 = units
                    .iter()
                    .map(|&u| {
                        i64::from(self.at_home(u as usize, giver))
                            - i64::from(self.at_home(u as usize, taker))
                    })
                    .sum();
                if best
                    .as_ref()
                    .is_some_and(|x| (x.0, x.1) <= (outside, moved))
                {
                    continue;
                }
                best = Some((outside, moved, units, giver, taker));
            }
            if let Some((_, _, units, _, taker)) = best {
                for &u in &units {
                    self.apply(u as usize, taker);
                }
                return units.len();
            }
        }
        0
    }

    /// The bite of [`Self::bite`]: units of `giver` grown from its boundary with `taker`,
    /// breadth first, until they carry at least `least` and at most `most` load, with the
    /// pieces of `giver` they cut off; `None` when there is none (or it would empty the
    /// giver). Returns the units and their load.
    fn grow_bite(
        &mut self,
        giver: u32,
        taker: u32,
        least: f64,
        most: f64,
    ) -> Option<(Vec<u32>, f64)> {
        let members = self.members[giver as usize].len();
        self.next_stamp();
        let stamp = self.stamp;
        // Layer by layer from the boundary; within a layer, the units whose households
        // would move least first (those whose own cell is the taker's go home).
        let cost = |s: &Self, u: u32| {
            i64::from(s.at_home(u as usize, giver)) - i64::from(s.at_home(u as usize, taker))
        };
        let mut queue: BinaryHeap<Reverse<(u32, i64, u32)>> = BinaryHeap::new();
        let seeds: Vec<u32> = self.boundary[giver as usize]
            .iter()
            .copied()
            .filter(|&u| self.touches(u as usize, taker))
            .collect();
        for u in seeds {
            self.seen[u as usize] = stamp;
            queue.push(Reverse((0, cost(self, u), u)));
        }
        let mut taken: Vec<u32> = Vec::new();
        let mut carried = 0.0;
        let slack = 1e-9 * most.abs().max(1.0);
        while carried < least - slack {
            let Reverse((layer, _, u)) = queue.pop()?;
            let w = self.g.unit(u as usize).load;
            if carried + w > most + slack {
                continue;
            }
            carried += w;
            taken.push(u);
            if taken.len() + 1 >= members {
                return None;
            }
            for &(v, _) in self.g.neighbours(u as usize) {
                if self.part[v as usize] == giver && self.seen[v as usize] != stamp {
                    self.seen[v as usize] = stamp;
                    queue.push(Reverse((layer + 1, cost(self, v), v)));
                }
            }
        }
        if taken.is_empty() {
            return None;
        }
        // What is left of the giver must be one piece: pieces cut off go with the bite.
        let mut side = std::collections::HashSet::with_capacity(taken.len());
        side.extend(taken.iter().copied());
        let mut pieces: Vec<Vec<u32>> = Vec::new();
        self.next_stamp();
        let stamp = self.stamp;
        for &start in &self.members[giver as usize] {
            if side.contains(&start) || self.seen[start as usize] == stamp {
                continue;
            }
            self.seen[start as usize] = stamp;
            let mut piece = vec![start];
            let mut i = 0;
            while i < piece.len() {
                let x = piece[i] as usize;
                i += 1;
                for &(v, _) in self.g.neighbours(x) {
                    if self.part[v as usize] == giver
                        && self.seen[v as usize] != stamp
                        && !side.contains(&v)
                    {
                        self.seen[v as usize] = stamp;
                        piece.push(v);
                    }
                }
            }
            pieces.push(piece);
        }
        if pieces.len() > 1 {
            let main = (0..pieces.len())
                .max_by_key(|&i| (pieces[i].len(), std::cmp::Reverse(i)))
                .expect("pieces");
            for (i, piece) in pieces.iter().enumerate() {
                if i != main {
                    carried += piece
                        .iter()
                        .map(|&u| self.g.unit(u as usize).load)
                        .sum::<f64>();
                    taken.extend(piece);
                }
            }
            if carried > most + slack {
                return None;
            }
        }
        Some((taken, carried))
    }

    fn next_stamp(&mut self) {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
    }

    /// The balancing moves touching part `a`: out of it when heavy, into it when light.
    fn candidates(&self, a: u32, band: &Band) -> Vec<Candidate> {
        let heavy = self.load[a as usize] > band.aim;
        let mut out = Vec::new();
        for &u in &self.boundary[a as usize] {
            for &(v, _) in self.g.neighbours(u as usize) {
                let b = self.part[v as usize];
                if b == a {
                    continue;
                }
                let c = if heavy {
                    self.candidate(u as usize, a, b)
                } else {
                    self.candidate(v as usize, b, a)
                };
                out.extend(c);
            }
        }
        out.sort_by(|x, y| {
            x.key
                .0
                .cmp(&y.key.0)
                .then(x.key.1.cmp(&y.key.1))
                .then(x.key.2.total_cmp(&y.key.2))
                .then(x.key.3.total_cmp(&y.key.3))
                .then(x.unit.cmp(&y.unit))
                .then(x.to.cmp(&y.to))
        });
        out.dedup_by_key(|c| (c.unit, c.to));
        out
    }
}

/// The balancing phase of [`improve`] for one band: moves until every part is in it, no
/// move helps, or `moves` reaches `cap`. Returns whether it stopped with a part outside.
fn balance(
    s: &mut Search<'_, '_>,
    band: &Band,
    cap: usize,
    moves: &mut usize,
    sweeper: &mut Option<Sweeper>,
) -> bool {
    let g = s.g;
    let parts = s.load.len();
    loop {
        let mut bad: Vec<u32> = (0..parts as u32)
            .filter(|&p| !band.fine(s.load[p as usize]))
            .collect();
        if bad.is_empty() {
            return false;
        }
        if *moves >= cap {
            return true;
        }
        bad.sort_by(|&x, &y| {
            let (dx, dy) = (
                (s.load[x as usize] - band.aim).abs(),
                (s.load[y as usize] - band.aim).abs(),
            );
            dy.total_cmp(&dx).then(x.cmp(&y))
        });
        let mut moved = false;
        'parts: for a in bad {
            for c in s.candidates(a, band) {
                if s.can_leave(c.unit as usize, c.from) {
                    s.apply(c.unit as usize, c.to);
                    *moves += 1;
                    moved = true;
                    break 'parts;
                }
            }
        }
        if !moved {
            // A bad part may be walled in by parts just inside the band that are no lighter:
            // then load flows between any two parts (still lowering the sum of squares) to
            // open a way.
            let mut all: Vec<u32> = (0..parts as u32).collect();
            all.sort_by(|&x, &y| {
                let (dx, dy) = (
                    (s.load[x as usize] - band.aim).abs(),
                    (s.load[y as usize] - band.aim).abs(),
                );
                dy.total_cmp(&dx).then(x.cmp(&y))
            });
            'all: for a in all {
                for c in s.candidates(a, band) {
                    if s.can_leave(c.unit as usize, c.from) {
                        s.apply(c.unit as usize, c.to);
                        *moves += 1;
                        moved = true;
                        break 'all;
                    }
                }
            }
        }
        if !moved {
            let changed = s.bite(band);
            *moves += changed;
            moved = changed > 0;
        }
        if !moved {
            let changed = s.chain(band);
            *moves += changed;
            moved = changed > 0;
        }
        if !moved {
            let sweeper = sweeper.get_or_insert_with(|| Sweeper::new(g));
            let changed = s.resplit(band, sweeper);
            *moves += changed;
            moved = changed > 0;
        }
        if !moved {
            return true;
        }
    }
}

/// Improves `part` (the part of each local unit, parts `0..parts`) in place: see the module
/// doc. `home` is the matched part of each current cell's households per unit; `bands` are
/// balanced to in turn, each only while a part is outside the last (which the households
/// going home keep to); `cap` bounds the balancing moves.
pub(crate) fn improve(
    g: &Group<'_>,
    part: &mut Vec<u32>,
    parts: usize,
    home: Vec<Vec<(u32, u32)>>,
    bands: &[Band],
    cap: usize,
) -> Outcome {
    let n = g.len();
    let mut s = Search::new(g, std::mem::take(part), parts, home);
    let mut moves = 0;
    let mut stuck = false;
    let mut sweeper: Option<Sweeper> = None;
    let band = *bands.last().expect("a band");
    for b in bands {
        if (0..parts).all(|p| band.fine(s.load[p])) {
            stuck = false;
            break;
        }
        stuck = balance(&mut s, b, cap, &mut moves, &mut sweeper);
    }

    // Households home, where neither part leaves the band nor, outside it, goes further out.
    let keeps =
        |before: f64, after: f64| band.fine(after) || band.excess(after) <= band.excess(before);
    for _ in 0..10 {
        let mut changed = false;
        for u in 0..n {
            let from = s.part[u];
            if s.home[u].iter().all(|&(p, _)| p == from) {
                continue;
            }
            let w = g.unit(u).load;
            let mut homes: Vec<(u32, u32)> = s.home[u].clone();
            homes.sort_by_key(|&(p, h)| (std::cmp::Reverse(h), p));
            for (to, h) in homes {
                if to == from || h <= s.at_home(u, from) || !s.touches(u, to) {
                    continue;
                }
                let (lf, lt) = (s.load[from as usize], s.load[to as usize]);
                if keeps(lf, lf - w) && keeps(lt, lt + w) && s.can_leave(u, from) {
                    s.apply(u, to);
                    moves += 1;
                    changed = true;
                    break;
                }
            }
        }
        if !changed {
            break;
        }
    }

    // Empty units (no load, no households) into the part that surrounds them most.
    for _ in 0..3 {
        let mut changed = false;
        for u in 0..n {
            let unit = g.unit(u);
            if unit.load != 0.0 || unit.households != 0 {
                continue;
            }
            let from = s.part[u];
            let here = s.shared(u, from);
            let mut best: Option<(f64, u32)> = None;
            for &(v, _) in g.neighbours(u) {
                let p = s.part[v as usize];
                let l = s.shared(u, p);
                if p != from && l > here && best.is_none_or(|b| l > b.0 || (l == b.0 && p < b.1)) {
                    best = Some((l, p));
                }
            }
            if let Some((_, to)) = best
                && s.can_leave(u, from)
            {
                s.apply(u, to);
                moves += 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    *part = s.part;
    Outcome { moves, stuck }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rebalance::bisect::tests::{connected_parts, disk};

    fn search<'a, 'g>(g: &'a Group<'g>, part: Vec<u32>, parts: usize) -> Search<'a, 'g> {
        Search::new(g, part, parts, vec![Vec::new(); g.len()])
    }

    #[test]
    fn leaving_is_allowed_exactly_when_the_part_stays_in_one_piece() {
        let graph = disk(6, |_| 1.0);
        let g = Group::new(&graph, 0, graph.units.len(), false);
        // Three parts by a made-up rule that leaves ragged edges and thin necks.
        let part: Vec<u32> = (0..g.len()).map(|u| ((u * 7919) % 11 % 3) as u32).collect();
        let mut s = search(&g, part.clone(), 3);
        let mut sweeper = Sweeper::new(&g);
        for u in 0..g.len() {
            let p = part[u];
            let rest: Vec<u32> = (0..g.len() as u32)
                .filter(|&v| v as usize != u && part[v as usize] == p)
                .collect();
            // Only parts that are one piece now can be kept in one piece.
            let whole: Vec<u32> = (0..g.len() as u32)
                .filter(|&v| part[v as usize] == p)
                .collect();
            if !sweeper.connected(&g, &whole) {
                continue;
            }
            assert_eq!(
                s.can_leave(u, p),
                !rest.is_empty() && sweeper.connected(&g, &rest),
                "unit {u}"
            );
        }
    }

    #[test]
    fn boundary_lists_follow_the_moves() {
        let graph = disk(5, |_| 1.0);
        let g = Group::new(&graph, 0, graph.units.len(), false);
        let part: Vec<u32> = (0..g.len()).map(|u| u32::from(u >= g.len() / 2)).collect();
        let mut s = search(&g, part, 2);
        for u in [3, 17, 40, 41, 60] {
            let to = 1 - s.part[u];
            s.apply(u, to);
        }
        for u in 0..g.len() {
            let listed = s.bpos[u] != NOT_LISTED;
            assert_eq!(listed, s.on_boundary(u), "unit {u}");
            if listed {
                assert_eq!(s.boundary[s.part[u] as usize][s.bpos[u] as usize], u as u32);
            }
        }
    }

    #[test]
    fn a_bite_passes_load_through_units_with_none() {
        // Two halves of a disk; every unit within two rings of the cut carries nothing (a
        // road and a park), the rest 2 on one side and 1 on the other. No single unit along
        // the edge can shift any load, so only a bite through the empty strip can.
        let mut graph = disk(10, |_| 1.0);
        let (a, _) = {
            let g = Group::new(&graph, 0, graph.units.len(), false);
            let all: Vec<u32> = (0..g.len() as u32).collect();
            Sweeper::new(&g).split(&g, &all, 1, 1).unwrap()
        };
        let n = graph.units.len();
        let mut part = vec![1u32; n];
        for &u in &a {
            part[u as usize] = 0;
        }
        let mut near = vec![u32::MAX; n];
        let mut queue: VecDeque<usize> = VecDeque::new();
        for e in &graph.edges {
            if part[e.a as usize] != part[e.b as usize] {
                for u in [e.a as usize, e.b as usize] {
                    near[u] = 0;
                    queue.push_back(u);
                }
            }
        }
        while let Some(u) = queue.pop_front() {
            for e in graph
                .edges
                .iter()
                .filter(|e| e.a as usize == u || e.b as usize == u)
            {
                let v = if e.a as usize == u { e.b } else { e.a } as usize;
                if part[v] == part[u] && near[v] == u32::MAX {
                    near[v] = near[u] + 1;
                    queue.push_back(v);
                }
            }
        }
        for (u, unit) in graph.units.iter_mut().enumerate() {
            unit.load = match (near[u] <= 2, part[u]) {
                (true, _) => 0.0,
                (false, 0) => 2.0,
                (false, _) => 1.0,
            };
        }
        let g = Group::new(&graph, 0, n, false);
        let total: f64 = graph.units.iter().map(|u| u.load).sum();
        let band = Band::around(total / 2.0, 0.05 * total / 2.0);
        let mut s = search(&g, part, 2);
        assert!(!band.fine(s.load[0]) && !band.fine(s.load[1]));
        assert!(
            (0..2).all(|p| s.candidates(p, &band).is_empty()),
            "no single move"
        );
        let (before, need) = (s.load[0], s.load[0] - band.hi);
        while !(band.fine(s.load[0]) && band.fine(s.load[1])) {
            assert!(s.bite(&band) > 0, "a bite is found: {:?}", s.load);
        }
        assert!(connected_parts(&g, &s.part));
        // The load that had to move and less than one unit more, not a new cut.
        assert!(
            before - s.load[0] < need + 2.0,
            "{} for {need}",
            before - s.load[0]
        );
    }

    #[test]
    fn lumpy_units_still_balance_and_parts_stay_connected() {
        // Every 5th unit is an apartment block of 12; two parts start as a lopsided cut.
        let graph = disk(12, |i| if i % 5 == 0 { 12.0 } else { 1.0 });
        let g = Group::new(&graph, 0, graph.units.len(), false);
        let n = g.len();
        let mut sweeper = Sweeper::new(&g);
        let all: Vec<u32> = (0..n as u32).collect();
        let (a, _) = sweeper.split(&g, &all, 1, 4).unwrap();
        let mut part = vec![1u32; n];
        for u in a {
            part[u as usize] = 0;
        }
        assert!(connected_parts(&g, &part));
        let total: f64 = graph.units.iter().map(|u| u.load).sum();
        let band = Band::around(total / 2.0, 0.02 * total / 2.0);
        let outcome = improve(&g, &mut part, 2, vec![Vec::new(); n], &[band], 100_000);
        assert!(!outcome.stuck);
        assert!(connected_parts(&g, &part));
        let a: f64 = (0..n)
            .filter(|&u| part[u] == 0)
            .map(|u| graph.units[u].load)
            .sum();
        assert!(band.fine(a), "{a} of {total}");
    }
}
