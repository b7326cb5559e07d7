//! Cutting a region of the hex lattice into connected parts by growing them from seeds.
//!
//! Growth is a best-first flood: every part expands from its seed, always claiming next the
//! unclaimed hexagon with the lowest cost `distance / weight × (1 + wiggle)`. A part only
//! claims hexagons adjacent to what it holds, so every part is connected; without quotas the
//! parts cover the region completely. Weights set relative sizes (a part of weight 2 reaches
//! twice as far); coherent noise makes borders wander like real ones.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::hexgrid::Lattice;
use crate::noise::Noise;

/// Marks a hexagon no part holds.
pub const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
pub struct Seed {
    pub hex: usize,
    /// Relative reach.
    pub weight: f64,
    /// Most hexagons this part may claim (`usize::MAX` for no limit).
    pub quota: usize,
}

#[derive(Debug, PartialEq)]
struct Frontier {
    cost: f64,
    part: u32,
    hex: usize,
}

impl Eq for Frontier {}

impl Ord for Frontier {
    fn cmp(&self, other: &Self) -> Ordering {
        // Min-heap on cost; ties broken by part and hexagon so the result is deterministic.
        other
            .cost
            .total_cmp(&self.cost)
            .then_with(|| other.part.cmp(&self.part))
            .then_with(|| other.hex.cmp(&self.hex))
    }
}

impl PartialOrd for Frontier {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Grows one part per seed over the hexagons where `allowed` holds, writing part numbers
/// (indices into `seeds`) into `owner`, which must hold [`NONE`] where parts may grow.
/// Returns how many hexagons each part claimed.
pub fn grow(
    lattice: &Lattice,
    seeds: &[Seed],
    allowed: impl Fn(usize) -> bool,
    noise: &Noise,
    wiggle: f64,
    owner: &mut [u32],
) -> Vec<usize> {
    let mut claimed = vec![0usize; seeds.len()];
    let mut heap = BinaryHeap::new();
    let centres: Vec<(f64, f64)> = seeds.iter().map(|s| lattice.centre_km(s.hex)).collect();
    let cost = |part: usize, hex: usize| {
        let (x, y) = lattice.centre_km(hex);
        let (sx, sy) = centres[part];
        let d = ((x - sx).powi(2) + (y - sy).powi(2)).sqrt();
        d / seeds[part].weight * (1.0 + wiggle * noise.at(x, y))
    };
    for (part, seed) in seeds.iter().enumerate() {
        heap.push(Frontier {
            cost: 0.0,
            part: part as u32,
            hex: seed.hex,
        });
    }
    while let Some(Frontier { part, hex, .. }) = heap.pop() {
        let p = part as usize;
        if owner[hex] != NONE || claimed[p] >= seeds[p].quota || !allowed(hex) {
            continue;
        }
        owner[hex] = part;
        claimed[p] += 1;
        for n in lattice.neighbours(hex) {
            if owner[n] == NONE && allowed(n) {
                heap.push(Frontier {
                    cost: cost(p, n),
                    part,
                    hex: n,
                });
            }
        }
    }
    claimed
}

/// Gives every unowned hexagon in `allowed` that touches an owned one (repeatedly) to a
/// neighbouring part: closes the gaps quotas leave inside a region.
pub fn absorb_unowned(lattice: &Lattice, allowed: impl Fn(usize) -> bool, owner: &mut [u32]) {
    loop {
        let mut changed = false;
        for hex in 0..owner.len() {
            if owner[hex] != NONE || !allowed(hex) {
                continue;
            }
            if let Some(part) = lattice
                .neighbours(hex)
                .map(|n| owner[n])
                .filter(|&o| o != NONE)
                .min()
            {
                owner[hex] = part;
                changed = true;
            }
        }
        if !changed {
            return;
        }
    }
}

/// Seeds spread out over a region: each next one the hexagon farthest from those already
/// chosen (with a little jitter so the pattern is not regular).
pub fn spread_seeds(
    lattice: &Lattice,
    region: &[usize],
    first: usize,
    count: usize,
    rng: &mut crate::rng::Rng,
) -> Vec<usize> {
    let mut chosen = vec![first];
    let mut nearest: Vec<f64> = region.iter().map(|&h| dist2(lattice, h, first)).collect();
    while chosen.len() < count.min(region.len()) {
        let mut best = (f64::MIN, 0usize);
        for (i, &d) in nearest.iter().enumerate() {
            let score = d * rng.range_f64(0.7, 1.0);
            if score > best.0 {
                best = (score, i);
            }
        }
        let pick = region[best.1];
        chosen.push(pick);
        for (i, &h) in region.iter().enumerate() {
            nearest[i] = nearest[i].min(dist2(lattice, h, pick));
        }
    }
    chosen
}

fn dist2(lattice: &Lattice, a: usize, b: usize) -> f64 {
    let (ax, ay) = lattice.centre_km(a);
    let (bx, by) = lattice.centre_km(b);
    (ax - bx).powi(2) + (ay - by).powi(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn parts_cover_the_region_and_are_connected() {
        let lattice = Lattice::new((102.5, 24.3), 0.5, (102.3, 24.1), (102.7, 24.5));
        let region: Vec<usize> = (0..lattice.len())
            .filter(|&h| {
                let (x, y) = lattice.centre_km(h);
                x * x + y * y < 12.0 * 12.0
            })
            .collect();
        let mut inside = vec![false; lattice.len()];
        for &h in &region {
            inside[h] = true;
        }
        let mut rng = Rng::new(3);
        let seeds: Vec<Seed> = spread_seeds(&lattice, &region, region[0], 5, &mut rng)
            .into_iter()
            .map(|hex| Seed {
                hex,
                weight: 1.0,
                quota: usize::MAX,
            })
            .collect();
        let mut owner = vec![NONE; lattice.len()];
        let claimed = grow(
            &lattice,
            &seeds,
            |h| inside[h],
            &Noise::new(1, 5.0),
            0.3,
            &mut owner,
        );
        assert_eq!(
            claimed.iter().sum::<usize>(),
            region.len(),
            "every hexagon is claimed"
        );
        for part in 0..seeds.len() as u32 {
            // Flood from the seed through the part's own hexagons reaches all of them.
            let mut seen = vec![false; lattice.len()];
            let mut stack = vec![seeds[part as usize].hex];
            let mut reached = 0;
            while let Some(h) = stack.pop() {
                if seen[h] || owner[h] != part {
                    continue;
                }
                seen[h] = true;
                reached += 1;
                stack.extend(lattice.neighbours(h));
            }
            assert_eq!(reached, claimed[part as usize], "part {part} is connected");
        }
    }
}
