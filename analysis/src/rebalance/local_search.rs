//! Moving boundary units between neighbouring parts of a group until every part's load is
//! within the band, then moving households back to their own cell where the band allows,
//! then tidying empty units into the part they are most surrounded by.
//!
//! A move takes a unit from a part to a neighbouring one, only if the part it leaves stays
//! connected (a search from one of the unit's neighbours in that part must reach its others)
//! and keeps a unit. Balancing moves lower the sum of squared deviations (load flows from
//! the heavier part to the lighter, never past equality), so the largest deviation never
//! grows and the search ends (when no move touches a part outside the band, any move
//! between two parts that lowers the sum is taken, to open a way); among such moves the preference is: not making the part
//! less compact (shared boundary with the new part at least that with the old), then
//! moving households home rather than away, then the most shared boundary, then the
//! largest drop. Everything is in index order: no randomness.

use std::collections::VecDeque;

use super::group::Group;

/// What a search ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    /// Moves made, all phases.
    pub(crate) moves: usize,
    /// Whether balancing stopped with a part outside the band because no move helped, or
    /// at the cap.
    pub(crate) stuck: bool,
}

/// Band: a part is fine when |load − aim| ≤ allowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Band {
    pub(crate) aim: f64,
    pub(crate) allowed: f64,
}

impl Band {
    fn fine(&self, load: f64) -> bool {
        (load - self.aim).abs() <= self.allowed + 1e-9 * self.aim.abs().max(1.0)
    }
}

struct Search<'a, 'g> {
    g: &'a Group<'g>,
    part: Vec<u32>,
    load: Vec<f64>,
    members: Vec<Vec<u32>>,
    pos: Vec<u32>,
    /// Per unit, the households whose own cell is matched to each part (part, households).
    home: Vec<Vec<(u32, u32)>>,
    seen: Vec<u32>,
    stamp: u32,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    unit: u32,
    from: u32,
    to: u32,
    key: (bool, i8, f64, f64),
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

    fn apply(&mut self, u: usize, to: u32) {
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

    /// The balancing moves touching part `a`: out of it when heavy, into it when light.
    fn candidates(&self, a: u32, band: &Band) -> Vec<Candidate> {
        let heavy = self.load[a as usize] > band.aim;
        let mut out = Vec::new();
        for &u in &self.members[a as usize] {
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

/// Improves `part` (the part of each local unit, parts `0..parts`) in place: see the module
/// doc. `home` is the matched part of each current cell's households per unit; `cap` bounds
/// the balancing moves.
pub(crate) fn improve(
    g: &Group<'_>,
    part: &mut Vec<u32>,
    parts: usize,
    home: Vec<Vec<(u32, u32)>>,
    band: Band,
    cap: usize,
) -> Outcome {
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
        part: std::mem::take(part),
        load,
        members,
        pos,
        home,
        seen: vec![0; n],
        stamp: 0,
    };
    let mut moves = 0;
    let mut stuck = false;
    loop {
        let mut bad: Vec<u32> = (0..parts as u32)
            .filter(|&p| !band.fine(s.load[p as usize]))
            .collect();
        if bad.is_empty() {
            break;
        }
        if moves >= cap {
            stuck = true;
            break;
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
            for c in s.candidates(a, &band) {
                if s.can_leave(c.unit as usize, c.from) {
                    s.apply(c.unit as usize, c.to);
                    moves += 1;
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
                for c in s.candidates(a, &band) {
                    if s.can_leave(c.unit as usize, c.from) {
                        s.apply(c.unit as usize, c.to);
                        moves += 1;
                        moved = true;
                        break 'all;
                    }
                }
            }
        }
        if !moved {
            stuck = true;
            break;
        }
    }

    // Households home, where both parts stay fine (or no worse than the worst part now).
    let worst = (0..parts)
        .map(|p| (s.load[p] - band.aim).abs())
        .fold(band.allowed, f64::max);
    let within = Band {
        aim: band.aim,
        allowed: worst,
    };
    for _ in 0..10 {
        let mut changed = false;
        for u in 0..n {
            let from = s.part[u];
            let w = g.unit(u).load;
            let mut homes: Vec<(u32, u32)> = s.home[u].clone();
            homes.sort_by_key(|&(p, h)| (std::cmp::Reverse(h), p));
            for (to, h) in homes {
                if to == from || h <= s.at_home(u, from) || !s.touches(u, to) {
                    continue;
                }
                if within.fine(s.load[from as usize] - w)
                    && within.fine(s.load[to as usize] + w)
                    && s.can_leave(u, from)
                {
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
