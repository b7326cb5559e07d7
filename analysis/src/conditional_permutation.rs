//! Conditional permutation (Anselin 1995, "Local indicators of spatial association — LISA",
//! section 4): for each location i its own value stays, and its neighbours' values are drawn
//! without replacement from the other n − 1 values, `permutations` times; the neighbour lag
//! Σⱼ wᵢⱼ·x_draw of each draw is compared with the observed lag Σⱼ wᵢⱼ·xⱼ.
//!
//! The scheme follows esda's `crand` (esda/crand.py): one matrix of draws, `permutations`
//! rows of k_max indices into the n − 1 other values, is shared by many locations; location i
//! reads the first kᵢ columns, and an index p names the value at p if p < i, at p + 1
//! otherwise (the others, with i taken out). esda shares one matrix among all locations;
//! here each fixed chunk of `CHUNK` (512) consecutive locations draws its own from a stream of the
//! seed numbered by the chunk, so results depend only on the seed, never on how many threads
//! ran, and far-apart locations do not share draws.
//!
//! Sharing draws within a chunk also makes the work cheap. For a chunk starting at s, the
//! value a draw names is `x[p]` for p < s and `x[p + 1]` for p ≥ s: the same for every location
//! in the chunk except where s ≤ p < i, a fraction CHUNK/n of the draws, kept as a short list
//! of corrections. So with equal weights (binary or row-standardised) each location's
//! simulated lags are one precomputed prefix sum over the chunk's columns plus its
//! corrections: O(permutations) per location instead of O(permutations · k).

use crate::rng::Rng;
use crate::weights::{Weights, thread_count};

/// Locations sharing one matrix of draws.
pub(crate) const CHUNK: usize = 512;

/// The most permutations a test draws (99,999, as GeoDa allows).
pub const MAX_PERMUTATIONS: u32 = 99_999;

/// What the permutations of one location found about its neighbour lag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Counts {
    /// Draws whose lag was at least the observed lag.
    pub(crate) at_least: u32,
    /// Draws whose lag was at most the observed lag.
    pub(crate) at_most: u32,
    /// (observed − mean of the draws) / their standard deviation (divisor R), None when the
    /// draws do not vary.
    pub(crate) z: Option<f64>,
}

/// esda's "directed" pseudo p-value from a count M of draws at least as extreme in the
/// observed direction: the smaller tail, (min(M, R − M) + 1) / (R + 1).
pub(crate) fn folded_p(at_least: u32, permutations: u32) -> f64 {
    let m = at_least.min(permutations - at_least);
    f64::from(m + 1) / f64::from(permutations + 1)
}

/// A chunk's number and its locations' result slots.
type ChunkSlots<'a> = (usize, &'a mut [Option<Counts>]);

/// The counts for every location (None for islands, which have no neighbours to draw).
pub(crate) fn conditional_permutation(
    values: &[f64],
    weights: &Weights,
    permutations: u32,
    seed: u64,
    threads: usize,
) -> Vec<Option<Counts>> {
    let n = values.len();
    debug_assert_eq!(n, weights.len());
    let mut out = vec![None; n];
    if n < 2 || permutations == 0 {
        return out;
    }
    let chunks: Vec<ChunkSlots<'_>> = out.chunks_mut(CHUNK).enumerate().collect();
    let threads = thread_count(threads).min(chunks.len()).max(1);
    let mut per_thread: Vec<Vec<ChunkSlots<'_>>> = (0..threads).map(|_| Vec::new()).collect();
    for (k, chunk) in chunks.into_iter().enumerate() {
        per_thread[k % threads].push(chunk);
    }
    std::thread::scope(|scope| {
        for work in per_thread {
            scope.spawn(move || {
                let mut scratch = Scratch::default();
                for (chunk, slots) in work {
                    run_chunk(
                        chunk,
                        values,
                        weights,
                        permutations,
                        seed,
                        &mut scratch,
                        slots,
                    );
                }
            });
        }
    });
    out
}

#[derive(Default)]
struct Scratch {
    /// Draws, column-major: draws[c · R + r] is column c of row r.
    draws: Vec<u32>,
    /// The value each draw names for this chunk (before corrections), column-major.
    seen: Vec<f64>,
    /// Prefix sums over columns of `seen`: prefix[c · R + r] = Σ_{c' ≤ c} seen[c' · R + r].
    prefix: Vec<f64>,
    /// The simulated lags of the location at hand.
    lags: Vec<f64>,
    /// For the draws s ≤ p < chunk end: (p, column, row, x[p] − x[p + 1]), sorted by p.
    corrections: Vec<(u32, u32, u32, f64)>,
    /// 0..n − 1, for partial Fisher–Yates when k_max is large; restored after each row.
    pool: Vec<u32>,
    row: Vec<u32>,
    swaps: Vec<u32>,
}

fn run_chunk(
    chunk: usize,
    values: &[f64],
    weights: &Weights,
    permutations: u32,
    seed: u64,
    s: &mut Scratch,
    slots: &mut [Option<Counts>],
) {
    let n = values.len();
    let r_count = permutations as usize;
    let start = chunk * CHUNK;
    let end = start + slots.len();
    let k_max = (start..end)
        .map(|i| weights.cardinality(i))
        .max()
        .unwrap_or(0);
    if k_max == 0 {
        return;
    }
    let others = (n - 1) as u64;
    let mut rng = Rng::new(seed, chunk as u64);
    s.draws.clear();
    s.draws.resize(k_max * r_count, 0);
    for r in 0..r_count {
        draw_row(&mut rng, others, k_max, s);
        for c in 0..k_max {
            s.draws[c * r_count + r] = s.row[c];
        }
    }
    s.seen.clear();
    s.seen.extend(s.draws.iter().map(|&p| {
        let p = p as usize;
        if p < start { values[p] } else { values[p + 1] }
    }));
    s.prefix.clear();
    s.prefix.extend_from_slice(&s.seen[..r_count]);
    for c in 1..k_max {
        for r in 0..r_count {
            let v = s.prefix[(c - 1) * r_count + r] + s.seen[c * r_count + r];
            s.prefix.push(v);
        }
    }
    s.corrections.clear();
    for (at, &p) in s.draws.iter().enumerate() {
        let p = p as usize;
        if (start..end).contains(&p) {
            let (c, r) = (at / r_count, at % r_count);
            s.corrections
                .push((p as u32, c as u32, r as u32, values[p] - values[p + 1]));
        }
    }
    s.corrections
        .sort_unstable_by_key(|&(p, c, r, _)| (p, c, r));

    s.lags.resize(r_count, 0.0);
    for (slot, i) in slots.iter_mut().zip(start..end) {
        let k = weights.cardinality(i);
        if k == 0 {
            continue;
        }
        let w = weights.neighbour_weights(i);
        let js = weights.neighbour_indices(i);
        // Draws naming s ≤ p < i must read x[p], not x[p + 1].
        let own = s.corrections.partition_point(|&(p, ..)| (p as usize) < i);
        let observed;
        if w.iter().all(|&x| x == w[0]) {
            // Equal weights: compare unweighted sums (the ordering is the same).
            observed = js.iter().map(|&j| values[j as usize]).sum::<f64>();
            s.lags
                .copy_from_slice(&s.prefix[(k - 1) * r_count..k * r_count]);
            for &(_, c, r, delta) in &s.corrections[..own] {
                if (c as usize) < k {
                    s.lags[r as usize] += delta;
                }
            }
        } else {
            observed = js
                .iter()
                .zip(w)
                .map(|(&j, &wj)| wj * values[j as usize])
                .sum::<f64>();
            s.lags.fill(0.0);
            for (c, &wc) in w.iter().enumerate() {
                let column = &s.seen[c * r_count..(c + 1) * r_count];
                for (lag, &v) in s.lags.iter_mut().zip(column) {
                    *lag += wc * v;
                }
            }
            for &(_, c, r, delta) in &s.corrections[..own] {
                if (c as usize) < k {
                    s.lags[r as usize] += w[c as usize] * delta;
                }
            }
        }
        let (mut at_least, mut at_most, mut sum) = (0u32, 0u32, 0.0);
        for &lag in &s.lags {
            at_least += u32::from(lag >= observed);
            at_most += u32::from(lag <= observed);
            sum += lag;
        }
        let mean = sum / r_count as f64;
        let variance =
            s.lags.iter().map(|&l| (l - mean) * (l - mean)).sum::<f64>() / r_count as f64;
        // Below this the spread is rounding noise in sums of equal values.
        let z = (variance > 1e-24 * mean.abs().max(1.0).powi(2))
            .then(|| (observed - mean) / variance.sqrt());
        *slot = Some(Counts {
            at_least,
            at_most,
            z,
        });
    }
}

/// Fills `s.row` with `k` distinct indices drawn uniformly, in order, from `0..others`.
fn draw_row(rng: &mut Rng, others: u64, k: usize, s: &mut Scratch) {
    s.row.clear();
    if k <= 32 {
        // Few columns: redraw on a repeat, checking the few already drawn.
        while s.row.len() < k {
            let x = rng.below(others) as u32;
            if !s.row.contains(&x) {
                s.row.push(x);
            }
        }
        return;
    }
    // Many columns: partial Fisher–Yates over 0..others, undone afterwards.
    if s.pool.len() != others as usize {
        s.pool = (0..others as u32).collect();
    }
    s.swaps.clear();
    for c in 0..k {
        let j = c + rng.below(others - c as u64) as usize;
        s.pool.swap(c, j);
        s.row.push(s.pool[c]);
        s.swaps.push(j as u32);
    }
    for c in (0..k).rev() {
        s.pool.swap(c, s.swaps[c] as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same test without any of the chunk tricks: for each location and draw, the
    /// neighbour values are drawn afresh from the others. Its counts are not the engine's
    /// (different draws), but both estimate the same tail probability.
    fn naive_tail(values: &[f64], weights: &Weights, i: usize, draws: u32, seed: u64) -> f64 {
        let mut rng = Rng::new(seed, 1_000_000 + i as u64);
        let others: Vec<f64> = (0..values.len())
            .filter(|&j| j != i)
            .map(|j| values[j])
            .collect();
        let w = weights.neighbour_weights(i);
        let observed: f64 = weights.neighbours(i).map(|(j, wj)| wj * values[j]).sum();
        let mut at_least = 0;
        for _ in 0..draws {
            let mut picked: Vec<usize> = Vec::new();
            while picked.len() < w.len() {
                let x = rng.below(others.len() as u64) as usize;
                if !picked.contains(&x) {
                    picked.push(x);
                }
            }
            let lag: f64 = picked.iter().zip(w).map(|(&p, &wj)| wj * others[p]).sum();
            at_least += u32::from(lag >= observed);
        }
        f64::from(at_least) / f64::from(draws)
    }

    fn ring_weights(n: usize, k: usize, weighted: bool) -> Weights {
        Weights::from_neighbours(
            (0..n)
                .map(|i| {
                    (1..=k)
                        .map(|d| ((i + d) % n, if weighted { 1.0 / d as f64 } else { 1.0 }))
                        .collect()
                })
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn tail_frequencies_agree_with_a_naive_permutation() {
        // 1,300 locations (three chunks, the last partial), values with a trend along the
        // ring so that some locations sit in the tails.
        let n = 1_300;
        let values: Vec<f64> = (0..n)
            .map(|i| ((i * 37) % 101) as f64 + (i / 50) as f64)
            .collect();
        for weighted in [false, true] {
            let w = ring_weights(n, 6, weighted);
            let counts = conditional_permutation(&values, &w, 4_000, 9, 2);
            for i in [0, 5, 511, 512, 700, 1_299] {
                let c = counts[i].unwrap();
                let engine = f64::from(c.at_least) / 4_000.0;
                let naive = naive_tail(&values, &w, i, 4_000, 9);
                // Two independent estimates of one probability from 4,000 draws each: their
                // difference has sd ≤ √(2 · 0.25 / 4000) ≈ 0.011.
                assert!(
                    (engine - naive).abs() < 0.05,
                    "{weighted} {i}: {engine} vs {naive}"
                );
            }
        }
    }

    #[test]
    fn the_value_left_out_is_the_locations_own() {
        // All values 0 but location i's, which is 1; i's neighbours are 0, so its observed
        // lag is 0. If a draw for i could name i's own value (an off-by-one in the shift),
        // some lag would be 1 and `at_most` would fall short of R. Locations before, at and
        // after chunk boundaries, with 5,000 draws of 3 columns from 1,099 others: a leak of
        // one index would show about 14 times.
        let n = 1_100;
        let w = ring_weights(n, 3, false);
        for i in [0, 1, 100, 511, 512, 513, 1_023, 1_024, 1_099] {
            let mut values = vec![0.0; n];
            values[i] = 1.0;
            let counts = conditional_permutation(&values, &w, 5_000, 3, 2);
            let own = counts[i].unwrap();
            assert_eq!((own.at_least, own.at_most), (5_000, 5_000), "location {i}");
            // Another location far from i does draw i's value now and then.
            let other = counts[(i + 550) % n].unwrap();
            assert!(other.at_most < 5_000, "location {i}'s value is never drawn");
        }
    }

    #[test]
    fn seeded_results_do_not_depend_on_threads() {
        let n = 3_000;
        let values: Vec<f64> = (0..n).map(|i| ((i * 7919) % 257) as f64).collect();
        let w = ring_weights(n, 40, false);
        let one = conditional_permutation(&values, &w, 199, 42, 1);
        let three = conditional_permutation(&values, &w, 199, 42, 3);
        assert_eq!(one, three);
        let other_seed = conditional_permutation(&values, &w, 199, 43, 3);
        assert_ne!(one, other_seed);
    }

    #[test]
    fn folded_p_takes_the_smaller_tail() {
        assert_eq!(folded_p(0, 999), 0.001);
        assert_eq!(folded_p(999, 999), 0.001);
        assert_eq!(folded_p(499, 999), 0.5);
        assert_eq!(folded_p(600, 999), 0.4);
    }
}
