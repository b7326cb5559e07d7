//! The starting partition of a group: the current cells as they lie on the units, each
//! cut into its connected pieces, then merged (the lightest part shared among the parts
//! around it) or split (the heaviest part grown from two far-apart seeds) to the count
//! asked for. Starting from the current cells is what keeps households where they are.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use super::group::Group;

/// The part of each local unit, parts numbered `0..k` by their lowest unit; fewer than
/// `k` only when no part is left with two units to split.
pub(crate) fn initial(group: &Group<'_>, k: usize) -> Vec<u32> {
    let n = group.len();
    const NONE: u32 = u32::MAX;
    let mut part = vec![NONE; n];
    let mut parts = 0u32;
    for s in 0..n {
        if part[s] != NONE {
            continue;
        }
        let label = group.unit(s).current;
        part[s] = parts;
        let mut queue = VecDeque::from([s]);
        while let Some(u) = queue.pop_front() {
            for &(v, _) in group.neighbours(u) {
                let v = v as usize;
                if part[v] == NONE && group.unit(v).current == label {
                    part[v] = parts;
                    queue.push_back(v);
                }
            }
        }
        parts += 1;
    }
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); parts as usize];
    for (u, &p) in part.iter().enumerate() {
        members[p as usize].push(u as u32);
    }
    let mut load: Vec<f64> = members
        .iter()
        .map(|m| m.iter().map(|&u| group.unit(u as usize).load).sum())
        .collect();
    let mut alive: Vec<bool> = vec![true; parts as usize];
    let mut count = parts as usize;
    let weight = |p: usize, load: &[f64], members: &[Vec<u32>]| (load[p], members[p].len(), p);

    while count > k {
        let p = (0..alive.len())
            .filter(|&p| alive[p])
            .min_by(|&a, &b| {
                let (x, y) = (weight(a, &load, &members), weight(b, &load, &members));
                x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2))
            })
            .expect("more than k parts");
        let moving = std::mem::take(&mut members[p]);
        alive[p] = false;
        load[p] = 0.0;
        count -= 1;
        if dissolve(group, &mut part, &moving, p as u32) {
            for &u in &moving {
                let q = part[u as usize] as usize;
                members[q].push(u);
                load[q] += group.unit(u as usize).load;
            }
        } else {
            // A part no other touches (a group the graph leaves in pieces): merged anyway
            // into the lightest, which the plan then reports as not contiguous.
            let q = (0..alive.len())
                .filter(|&q| alive[q])
                .min_by(|&a, &b| load[a].total_cmp(&load[b]).then(a.cmp(&b)))
                .expect("another part");
            for &u in &moving {
                part[u as usize] = q as u32;
            }
            members[q].extend(moving.iter().copied());
            load[q] += moving
                .iter()
                .map(|&u| group.unit(u as usize).load)
                .sum::<f64>();
        }
    }

    let total: f64 = load.iter().sum();
    let mean = total / k as f64;
    while count < k {
        let Some(p) = (0..alive.len())
            .filter(|&p| alive[p] && members[p].len() >= 2)
            .max_by(|&a, &b| {
                load[a]
                    .total_cmp(&load[b])
                    .then(members[a].len().cmp(&members[b].len()))
                    .then(b.cmp(&a))
            })
        else {
            break;
        };
        // Into two shares of whole target loads where the part holds several.
        let holds = if mean > 0.0 {
            ((load[p] / mean).round() as usize).clamp(2, k - count + 1)
        } else {
            2
        };
        let share = (holds / 2) as f64 / holds as f64;
        let new = alive.len() as u32;
        let b_side = split(group, &mut part, &members[p], p as u32, new, share);
        let b_set: std::collections::HashSet<u32> = b_side.iter().copied().collect();
        members[p].retain(|u| !b_set.contains(u));
        let moved: f64 = b_side.iter().map(|&u| group.unit(u as usize).load).sum();
        load[p] -= moved;
        load.push(moved);
        members.push(b_side);
        alive.push(true);
        count += 1;
    }

    // Renumbered by lowest unit, so the numbering depends on the units alone.
    let mut order: Vec<usize> = (0..alive.len()).filter(|&p| alive[p]).collect();
    order.sort_by_key(|&p| members[p].iter().min().copied());
    let mut new_id = vec![NONE; alive.len()];
    for (i, &p) in order.iter().enumerate() {
        new_id[p] = i as u32;
    }
    part.iter().map(|&p| new_id[p as usize]).collect()
}

/// Shares the units `members` of part `p` among the parts around it, each unit to the part
/// that reaches it first growing in from all sides at once (breadth first, seeds in index
/// order), so every part that grows stays connected and the load of the part dissolved
/// goes to all its neighbours, not one: a cell fewer then moves the dissolved cell's
/// households and little more. Returns false, leaving `part` as it was, when no other part
/// touches it.
fn dissolve(group: &Group<'_>, part: &mut [u32], members: &[u32], p: u32) -> bool {
    let mut queue: VecDeque<u32> = VecDeque::new();
    let mut seeds: Vec<(u32, u32)> = Vec::new();
    for &u in members {
        let by = group
            .neighbours(u as usize)
            .iter()
            .map(|&(v, _)| part[v as usize])
            .filter(|&q| q != p)
            .min();
        if let Some(q) = by {
            seeds.push((u, q));
        }
    }
    if seeds.is_empty() {
        return false;
    }
    seeds.sort_unstable();
    for &(u, q) in &seeds {
        part[u as usize] = q;
        queue.push_back(u);
    }
    while let Some(u) = queue.pop_front() {
        let q = part[u as usize];
        for &(v, _) in group.neighbours(u as usize) {
            if part[v as usize] == p {
                part[v as usize] = q;
                queue.push_back(v);
            }
        }
    }
    // Units of `p` no other part reached (a piece of it cut off from the rest): with the
    // part that took its first unit.
    let fallback = seeds[0].1;
    for &u in members {
        if part[u as usize] == p {
            part[u as usize] = fallback;
        }
    }
    true
}

/// Hops from `from` to every unit of part `p` (u32::MAX outside it or unreached).
fn hops(group: &Group<'_>, part: &[u32], p: u32, from: usize) -> Vec<u32> {
    let mut d = vec![u32::MAX; part.len()];
    d[from] = 0;
    let mut queue = VecDeque::from([from]);
    while let Some(u) = queue.pop_front() {
        for &(v, _) in group.neighbours(u) {
            let v = v as usize;
            if part[v] == p && d[v] == u32::MAX {
                d[v] = d[u] + 1;
                queue.push_back(v);
            }
        }
    }
    d
}

fn farthest(members: &[u32], d: &[u32]) -> usize {
    members
        .iter()
        .copied()
        .filter(|&u| d[u as usize] != u32::MAX)
        .max_by_key(|&u| (d[u as usize], Reverse(u)))
        .expect("a seed") as usize
}

/// Splits part `p` (its `members`) in two by growing regions from two far-apart seeds, the
/// first taking about `share` of the load; relabels the second region `new` and returns
/// it. Each region grows only into units next to it, so both stay connected.
fn split(
    group: &Group<'_>,
    part: &mut [u32],
    members: &[u32],
    p: u32,
    new: u32,
    share: f64,
) -> Vec<u32> {
    let a = farthest(members, &hops(group, part, p, members[0] as usize));
    let da = hops(group, part, p, a);
    let b = farthest(members, &da);
    let db = hops(group, part, p, b);
    const FREE: u8 = 0;
    let mut side = vec![FREE; part.len()];
    let (mut heap_a, mut heap_b) = (BinaryHeap::new(), BinaryHeap::new());
    heap_a.push(Reverse((0u32, a as u32)));
    heap_b.push(Reverse((0u32, b as u32)));
    let (mut load_a, mut load_b) = (0.0f64, 0.0f64);
    let (mut n_a, mut n_b) = (0usize, 0usize);
    let total: f64 = members.iter().map(|&u| group.unit(u as usize).load).sum();
    let mut left = members.len();
    while left > 0 {
        let a_behind = if total > 0.0 {
            load_a / share <= load_b / (1.0 - share)
        } else {
            n_a as f64 / share <= n_b as f64 / (1.0 - share)
        };
        let order = if a_behind { [1u8, 2] } else { [2u8, 1] };
        let mut grew = false;
        for s in order {
            let (heap, d) = if s == 1 {
                (&mut heap_a, &da)
            } else {
                (&mut heap_b, &db)
            };
            while let Some(Reverse((_, u))) = heap.pop() {
                let u = u as usize;
                if side[u] != FREE {
                    continue;
                }
                side[u] = s;
                left -= 1;
                let w = group.unit(u).load;
                if s == 1 {
                    load_a += w;
                    n_a += 1;
                } else {
                    load_b += w;
                    n_b += 1;
                }
                for &(v, _) in group.neighbours(u) {
                    let v = v as usize;
                    if part[v] == p && side[v] == FREE {
                        heap.push(Reverse((d[v], v as u32)));
                    }
                }
                grew = true;
                break;
            }
            if grew {
                break;
            }
        }
        if !grew {
            break;
        }
    }
    let b_side: Vec<u32> = members
        .iter()
        .copied()
        .filter(|&u| side[u as usize] != 1)
        .collect();
    for &u in &b_side {
        part[u as usize] = new;
    }
    b_side
}
