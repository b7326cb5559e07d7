//! The Getis-Ord Gi* statistic (Getis & Ord 1992, "The analysis of spatial association by
//! use of distance statistics"; Ord & Getis 1995, "Local spatial autocorrelation statistics:
//! distributional issues and an application"): for each location, whether the values at and
//! around it are higher (a hot spot) or lower (a cold spot) than chance would put together.
//!
//! The location itself is included with weight 1 (the "star"), as ArcGIS's Hot Spot
//! Analysis and esda's `G_Local(star=True)` do with binary weights. With xᵢ the values, n
//! their number, x̄ their mean and S = √(Σx²/n − x̄²) their standard deviation (divisor n),
//! Wᵢ = Σⱼ wᵢⱼ and Vᵢ = Σⱼ wᵢⱼ² over j including i:
//!
//! * Gi* = Σⱼ wᵢⱼ xⱼ / Σⱼ xⱼ (Getis & Ord 1992, eq. 1 with j = i included), dimensionless;
//! * z = (Σⱼ wᵢⱼ xⱼ − x̄ Wᵢ) / (S √((n Vᵢ − Wᵢ²) / (n − 1))) (Ord & Getis 1995, eq. 8 with
//!   the moments of the randomisation null; ArcGIS's Gi_ZScore), standard deviations;
//! * p = P(|Z| ≥ |z|), two-sided, from the normal distribution (ArcGIS's Gi_PValue).
//!
//! [`Transform::Row`] divides each row (self included) by Wᵢ first, as esda's default
//! `transform='R'`, and then uses esda's moments, which put Wᵢ where Ord & Getis have Vᵢ
//! (esda/getisord.py, `G_Local.calc`: `expected_variance = cardinality * (N - cardinality)
//! / (N - 1) / N**2 * empirical_variance / empirical_mean**2`, cardinality being the row
//! sum). For binary weights that is exact, and Ord & Getis's z is unchanged by scaling a
//! row, so [`Transform::AsGiven`] is the z to report; `Row` exists to reproduce esda's
//! `transform='R'` numbers, which then come out as (Σⱼ wᵢⱼ xⱼ / Wᵢ − x̄) / S. Both agree with
//! esda's `Zs` when the mean is positive (esda divides by x̄ and so flips the sign of every z
//! when the mean is negative; the formulas here do not).
//!
//! An island (no neighbours) is compared on its own value, z = (xᵢ − x̄)/S, as ArcGIS does
//! after warning. A location whose weights, self included, cover every location equally has
//! nothing to compare with (n Vᵢ = Wᵢ²): its z is 0 and p 1.
//!
//! With `permutations` > 0, each location's neighbours are also drawn by conditional
//! permutation ([`crate::conditional_permutation`], Anselin 1995's scheme as esda's
//! `crand`): p_sim = (M + 1)/(R + 1) with M the number of the R draws whose Gi* is at least
//! the observed one, or at most it if that tail is smaller: esda's default ("directed")
//! rule, one-sided in the direction the data lean. An island's p_sim is 1 (no draw can
//! differ from it; esda reports 1/(R + 1) there, an artefact of that rule on ties).

use crate::conditional_permutation::{MAX_PERMUTATIONS, conditional_permutation, folded_p};
use crate::normal::two_sided_p;
use crate::weights::{Transform, Weights};

/// How Gi* is computed. The default: 999 permutations, seed 0, all threads, weights as given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GiStarOptions {
    /// Conditional permutations for `p_sim`; 0 computes the analytic z and p only.
    pub permutations: u32,
    /// The seed of the permutations: the same seed gives the same `p_sim`, whatever
    /// `threads` is.
    pub seed: u64,
    /// Threads for the permutations; 0 means all the machine offers.
    pub threads: usize,
    pub transform: Transform,
}

impl Default for GiStarOptions {
    fn default() -> Self {
        Self {
            permutations: 999,
            seed: 0,
            threads: 0,
            transform: Transform::AsGiven,
        }
    }
}

/// Gi* at one location.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GiStar {
    /// Σⱼ wᵢⱼ xⱼ / Σⱼ xⱼ, self included.
    pub gi: f64,
    /// The standardised Gi* (positive: hot).
    pub z: f64,
    /// Two-sided normal p-value of `z`.
    pub p: f64,
    /// Pseudo p-value from conditional permutation, if permutations were drawn.
    pub p_sim: Option<f64>,
    /// (Gi* − mean of the permuted Gi*) / their standard deviation, if permutations were
    /// drawn and varied (as esda's `z_sim`).
    pub z_sim: Option<f64>,
}

/// Why Gi* could not be computed. The texts reach API clients as they are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GiStarError {
    #[error("{values} values but weights for {weights} locations")]
    LengthMismatch { values: usize, weights: usize },
    #[error("Gi* needs at least 3 locations, got {0}")]
    TooFew(usize),
    #[error("value {value} at location {index} is not a finite number")]
    NotFinite { index: usize, value: f64 },
    #[error("every value is the same, so nothing stands out: Gi* is undefined")]
    Constant,
    #[error("the values sum to zero, so Gi* (a share of the total) is undefined")]
    ZeroSum,
    #[error("{0} permutations is more than the {MAX_PERMUTATIONS} allowed")]
    TooManyPermutations(u32),
}

/// Gi* at every location, in the order of `values`.
///
/// ```
/// use wangge_analysis::gi_star::{GiStarOptions, gi_star};
/// use wangge_analysis::weights::Weights;
/// // A path of five locations, high values at one end.
/// let w = Weights::from_neighbours((0..5usize).map(|i| {
///     [i.wrapping_sub(1), i + 1].into_iter().filter(|&j| j < 5).map(|j| (j, 1.0)).collect()
/// }).collect())?;
/// let options = GiStarOptions { permutations: 0, ..Default::default() };
/// let g = gi_star(&[9.0, 8.0, 2.0, 1.0, 1.0], &w, &options)?;
/// assert!(g[0].z > 1.0 && g[4].z < -1.0);
/// assert!(g[0].p < 0.2 && g[0].p_sim.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn gi_star(
    values: &[f64],
    weights: &Weights,
    options: &GiStarOptions,
) -> Result<Vec<GiStar>, GiStarError> {
    let n = values.len();
    if weights.len() != n {
        return Err(GiStarError::LengthMismatch {
            values: n,
            weights: weights.len(),
        });
    }
    if n < 3 {
        return Err(GiStarError::TooFew(n));
    }
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(GiStarError::NotFinite { index, value });
    }
    if options.permutations > MAX_PERMUTATIONS {
        return Err(GiStarError::TooManyPermutations(options.permutations));
    }
    let nf = n as f64;
    let sum: f64 = values.iter().sum();
    let mean = sum / nf;
    // Two passes: Σ(x − x̄)² keeps its digits where Σx² − n·x̄² would cancel them.
    let sd = (values.iter().map(|&x| (x - mean) * (x - mean)).sum::<f64>() / nf).sqrt();
    if values.iter().all(|&x| x == values[0]) {
        return Err(GiStarError::Constant);
    }
    if sum == 0.0 {
        return Err(GiStarError::ZeroSum);
    }
    let mut out: Vec<GiStar> = (0..n)
        .map(|i| {
            let (mut lag, mut w_sum, mut w_sq) = (values[i], 1.0, 1.0);
            for (j, w) in weights.neighbours(i) {
                lag += w * values[j];
                w_sum += w;
                w_sq += w * w;
            }
            let (gi, z) = match options.transform {
                Transform::AsGiven => {
                    let spread = (nf * w_sq - w_sum * w_sum) / (nf - 1.0);
                    let z = if spread > 1e-12 * w_sq {
                        (lag - mean * w_sum) / (sd * spread.sqrt())
                    } else {
                        0.0
                    };
                    (lag / sum, z)
                }
                Transform::Row => {
                    let row_lag = lag / w_sum;
                    // esda's moments with a row sum of 1: the variance term is (n − 1)/(n − 1).
                    let z = (row_lag - mean) / sd;
                    (row_lag / sum, z)
                }
            };
            GiStar {
                gi,
                z,
                p: two_sided_p(z),
                p_sim: None,
                z_sim: None,
            }
        })
        .collect();
    if options.permutations > 0 {
        let counts = conditional_permutation(
            values,
            weights,
            options.permutations,
            options.seed,
            options.threads,
        );
        for (g, c) in out.iter_mut().zip(counts) {
            // Tails are taken along the neighbour lag, the direction z grows in (for a
            // positive sum, the direction Gi* grows in too, as esda counts).
            match c {
                None => g.p_sim = Some(1.0),
                Some(c) => {
                    g.p_sim = Some(folded_p(c.at_least, options.permutations));
                    g.z_sim = c.z;
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// esda's docstring example (esda/getisord.py, `G_Local`): six points, a Euclidean
    /// distance band of 15 (inclusive), binary weights.
    fn esda_example() -> (Vec<f64>, Weights) {
        let points = [
            (10.0, 10.0),
            (20.0, 10.0),
            (40.0, 10.0),
            (15.0, 20.0),
            (30.0, 20.0),
            (30.0, 30.0),
        ];
        let lists = (0..6)
            .map(|i| {
                (0..6)
                    .filter(|&j| {
                        let (a, b): ((f64, f64), (f64, f64)) = (points[i], points[j]);
                        j != i && ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt() <= 15.0
                    })
                    .map(|j| (j, 1.0))
                    .collect()
            })
            .collect();
        (
            vec![2.0, 3.0, 3.2, 5.0, 8.0, 7.0],
            Weights::from_neighbours(lists).unwrap(),
        )
    }

    #[test]
    fn z_scores_are_esdas_for_both_transforms() {
        let (y, w) = esda_example();
        // The `lg_star.Zs` arrays printed in esda's docstring, star=True, transform B and R.
        let binary = [
            -1.397_276_26,
            -0.289_177_62,
            0.650_649_64,
            -0.289_177_62,
            1.234_520_88,
            2.024_243_31,
        ];
        let row = [
            -0.624_880_94,
            -0.091_445_99,
            0.411_506_96,
            -0.091_445_99,
            0.246_904_18,
            1.280_243_88,
        ];
        for (transform, expected) in [(Transform::AsGiven, binary), (Transform::Row, row)] {
            let options = GiStarOptions {
                permutations: 0,
                transform,
                ..Default::default()
            };
            let g = gi_star(&y, &w, &options).unwrap();
            for (got, want) in g.iter().zip(expected) {
                assert!(
                    (got.z - want).abs() < 1e-8,
                    "{transform:?}: {} vs {want}",
                    got.z
                );
                assert!((got.p - two_sided_p(want)).abs() < 1e-8);
            }
        }
        // By hand, location 5 (binary): neighbours {4} and itself, lag 7 + 8 = 15, W = V = 2;
        // x̄ = 28.2/6 = 4.7, S² = Σ(x − x̄)²/6 = 28.7/6; z = (15 − 9.4)/(S·√((12 − 4)/5)).
        let by_hand = 5.6 / ((28.7f64 / 6.0).sqrt() * 1.6f64.sqrt());
        let g = gi_star(
            &y,
            &w,
            &GiStarOptions {
                permutations: 0,
                ..Default::default()
            },
        )
        .unwrap();
        assert!((g[5].z - by_hand).abs() < 1e-12);
        assert!((g[5].gi - 15.0 / 28.2).abs() < 1e-15);
    }

    #[test]
    fn inverse_distance_weights_follow_ord_and_getis() {
        // Ord & Getis (1995) for general weights, written from the paper as G* and its
        // moments: E[G*ᵢ] = Wᵢ/n, Var[G*ᵢ] = (n Vᵢ − Wᵢ²)/(n − 1) · S² / (n x̄)², over a
        // dense matrix with plain loops.
        let n = 9;
        let coords: Vec<(f64, f64)> = (0..n)
            .map(|i| ((i % 3) as f64 * 1.3, (i / 3) as f64 + 0.2 * i as f64))
            .collect();
        let values = [3.0, 7.5, 1.0, 4.0, 9.0, 2.5, 6.0, 0.5, 5.0];
        let mut dense = vec![vec![0.0; n]; n];
        let mut lists = vec![Vec::new(); n];
        for i in 0..n {
            for j in 0..n {
                let d = ((coords[i].0 - coords[j].0).powi(2) + (coords[i].1 - coords[j].1).powi(2))
                    .sqrt();
                if i != j && d <= 2.0 {
                    dense[i][j] = 1.0 / d;
                    lists[i].push((j, 1.0 / d));
                }
            }
            dense[i][i] = 1.0;
        }
        let w = Weights::from_neighbours(lists).unwrap();
        let g = gi_star(
            &values,
            &w,
            &GiStarOptions {
                permutations: 0,
                ..Default::default()
            },
        )
        .unwrap();
        let nf = n as f64;
        let total: f64 = values.iter().sum();
        let mean = total / nf;
        let s2 = values.iter().map(|x| x * x).sum::<f64>() / nf - mean * mean;
        for i in 0..n {
            let mut num = 0.0;
            let (mut wi, mut vi) = (0.0, 0.0);
            for j in 0..n {
                num += dense[i][j] * values[j];
                wi += dense[i][j];
                vi += dense[i][j] * dense[i][j];
            }
            let gi = num / total;
            let expectation = wi / nf;
            let variance = (nf * vi - wi * wi) / (nf - 1.0) * s2 / (nf * mean).powi(2);
            let z = (gi - expectation) / variance.sqrt();
            assert!((g[i].gi - gi).abs() < 1e-14, "{i}");
            assert!((g[i].z - z).abs() < 1e-9, "{i}: {} vs {z}", g[i].z);
        }
    }

    #[test]
    fn pseudo_p_matches_the_exact_permutation_distribution() {
        // Eight locations on a ring, each with its two ring neighbours. For location 0 the
        // conditional permutation distribution is exact to enumerate: its two neighbours are
        // an ordered pair of distinct values from the other seven (42 pairs, all equally
        // likely). esda's rule: M = #draws with Gi* ≥ observed, p = (min(M, R − M) + 1)/(R + 1).
        let values = [9.0, 8.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0];
        let lists = (0..8)
            .map(|i| vec![((i + 1) % 8, 1.0), ((i + 7) % 8, 1.0)])
            .collect();
        let w = Weights::from_neighbours(lists).unwrap();
        let others = &values[1..];
        let observed = 8.5 + 7.0;
        let (mut at_least, mut total) = (0, 0);
        for a in 0..7 {
            for b in 0..7 {
                if a != b {
                    total += 1;
                    at_least += usize::from(others[a] + others[b] >= observed);
                }
            }
        }
        let tail = at_least as f64 / total as f64; // pairs {8.5, 7}: 2 of 42
        assert_eq!(at_least, 2);
        let exact = tail.min(1.0 - tail);
        let options = GiStarOptions {
            permutations: 99_999,
            seed: 7,
            threads: 2,
            ..Default::default()
        };
        let g = gi_star(&values, &w, &options).unwrap();
        let p = g[0].p_sim.unwrap();
        // R = 99,999 draws: the estimate's sd is √(p(1 − p)/R) ≈ 0.0006.
        assert!((p - exact).abs() < 0.003, "{p} vs {exact}");
    }

    #[test]
    fn permutations_repeat_under_a_seed_whatever_the_threads() {
        let n = 2_000;
        let values: Vec<f64> = (0..n)
            .map(|i| ((i * 31) % 17) as f64 + if i % 100 < 10 { 20.0 } else { 0.0 })
            .collect();
        let lists = (0..n)
            .map(|i| {
                vec![
                    ((i + 1) % n, 1.0),
                    ((i + n - 1) % n, 1.0),
                    ((i + 2) % n, 1.0),
                ]
            })
            .collect();
        let w = Weights::from_neighbours(lists).unwrap();
        let run = |seed, threads| {
            gi_star(
                &values,
                &w,
                &GiStarOptions {
                    permutations: 499,
                    seed,
                    threads,
                    ..Default::default()
                },
            )
            .unwrap()
        };
        let a = run(11, 1);
        assert_eq!(a, run(11, 2));
        assert_eq!(a, run(11, 5));
        assert_ne!(a, run(12, 2));
        // The planted clusters (i % 100 < 10) come out hot by both tests.
        assert!(a[5].z > 2.0 && a[5].p_sim.unwrap() < 0.01, "{:?}", a[5]);
        assert!(a.iter().all(|g| (0.0..=1.0).contains(&g.p_sim.unwrap())));
    }

    #[test]
    fn islands_constants_and_bad_input() {
        let w =
            Weights::from_neighbours(vec![vec![(1, 1.0)], vec![(0, 1.0)], vec![], vec![]]).unwrap();
        let values = [1.0, 2.0, 10.0, 3.0];
        let g = gi_star(&values, &w, &GiStarOptions::default()).unwrap();
        // Location 2 is an island: z is its own standardised value.
        let mean = 4.0;
        let sd = ((9.0 + 4.0 + 36.0 + 1.0) / 4.0f64).sqrt();
        assert!((g[2].z - (10.0 - mean) / sd).abs() < 1e-12);
        assert_eq!(g[2].p_sim, Some(1.0));
        assert_eq!(g[2].z_sim, None);

        let options = GiStarOptions::default();
        assert_eq!(
            gi_star(&[1.0, 1.0, 1.0, 1.0], &w, &options),
            Err(GiStarError::Constant)
        );
        assert_eq!(
            gi_star(&[1.0, -1.0, 2.0, -2.0], &w, &options),
            Err(GiStarError::ZeroSum)
        );
        assert_eq!(
            gi_star(&[1.0, f64::NAN, 2.0, 3.0], &w, &options)
                .unwrap_err()
                .to_string(),
            "value NaN at location 1 is not a finite number"
        );
        assert_eq!(
            gi_star(&[1.0, 2.0], &w, &options),
            Err(GiStarError::LengthMismatch {
                values: 2,
                weights: 4
            })
        );
        let too_many = GiStarOptions {
            permutations: 100_000,
            ..Default::default()
        };
        assert_eq!(
            gi_star(&values, &w, &too_many),
            Err(GiStarError::TooManyPermutations(100_000))
        );

        // Everyone neighbours everyone: nothing to compare with, z = 0.
        let all = Weights::from_neighbours(
            (0..3)
                .map(|i| (0..3).filter(|&j| j != i).map(|j| (j, 1.0)).collect())
                .collect(),
        )
        .unwrap();
        let g = gi_star(
            &[1.0, 5.0, 9.0],
            &all,
            &GiStarOptions {
                permutations: 0,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(g.iter().all(|g| g.z == 0.0 && g.p == 1.0));
    }
}
