//! Local Moran's I (Anselin 1995, "Local indicators of spatial association — LISA",
//! Geographical Analysis 27(2)): for each location, whether it resembles its neighbours
//! (high among high, low among low) or stands apart from them (high among low and the
//! reverse) more than chance would have it.
//!
//! As esda's `Moran_Local` (esda/moran.py): the values are standardised,
//! zᵢ = (xᵢ − x̄)/s with s the standard deviation with divisor n; weights are row-standardised
//! by default ([`Transform::Row`]); the lag is Lᵢ = Σⱼ wᵢⱼ zⱼ (j ≠ i) and
//! Iᵢ = (n − 1) · zᵢ · Lᵢ / Σₖ zₖ², which is (n − 1)/n · zᵢ Lᵢ (Anselin's Iᵢ = zᵢ Lᵢ / m₂ with
//! m₂ = Σz²/n = 1, times esda's (n − 1)/n). Quadrants are esda's: HH (1) for zᵢ > 0 and
//! Lᵢ > 0, LH (2) for zᵢ ≤ 0 < Lᵢ, LL (3) for both ≤ 0, HL (4) for zᵢ > 0 ≥ Lᵢ.
//!
//! The analytic z uses the moments under total randomisation of Sokal, Oden & Thomson
//! (1998, "Local spatial autocorrelation in a biological model", Geographical Analysis
//! 30(4), eqs. A3–A4) for Anselin's Iᵢ: E = −wᵢ/(n − 1) and
//! Var = wᵢ₍₂₎(n − b₂)/(n − 1) + (wᵢ² − wᵢ₍₂₎)(2b₂ − n)/((n − 1)(n − 2)) − wᵢ²/(n − 1)²,
//! with wᵢ = Σⱼ wᵢⱼ, wᵢ₍₂₎ = Σⱼ wᵢⱼ², and b₂ = m₄/m₂² the kurtosis (m₄ = Σz⁴/n). esda's
//! `__moments` writes m₄ = z**4/n without the sum, making b₂ a per-location number; this
//! follows the paper, so its `VI` differs from esda's.
//!
//! The pseudo p-value is conditional permutation, as for Gi*
//! ([`crate::conditional_permutation`]) with esda's "directed" rule; a location whose zᵢ is 0
//! (Iᵢ = 0 whatever its neighbours) or an island gets p_sim = 1.

use crate::conditional_permutation::{MAX_PERMUTATIONS, conditional_permutation, folded_p};
use crate::normal::two_sided_p;
use crate::weights::{Transform, Weights};

/// The quadrant of the Moran scatter plot a location falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Quadrant {
    /// High value, high neighbours.
    HH,
    /// Low value, high neighbours.
    LH,
    /// Low value, low neighbours.
    LL,
    /// High value, low neighbours.
    HL,
}

impl Quadrant {
    /// esda's `q` code: 1 HH, 2 LH, 3 LL, 4 HL.
    pub fn code(self) -> u8 {
        match self {
            Self::HH => 1,
            Self::LH => 2,
            Self::LL => 3,
            Self::HL => 4,
        }
    }
}

/// How local Moran's I is computed. The default: 999 permutations, seed 0, all threads,
/// row-standardised weights (esda's default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalMoranOptions {
    pub permutations: u32,
    pub seed: u64,
    /// 0 means all the machine offers.
    pub threads: usize,
    pub transform: Transform,
}

impl Default for LocalMoranOptions {
    fn default() -> Self {
        Self {
            permutations: 999,
            seed: 0,
            threads: 0,
            transform: Transform::Row,
        }
    }
}

/// Local Moran's I at one location.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalMoran {
    /// (n − 1) · zᵢ · Lᵢ / Σz², as esda's `Is`.
    pub i: f64,
    pub quadrant: Quadrant,
    /// Standardised I under total randomisation (Sokal et al. 1998).
    pub z: f64,
    /// Two-sided normal p-value of `z`.
    pub p: f64,
    /// Pseudo p-value from conditional permutation, if drawn.
    pub p_sim: Option<f64>,
    /// (I − mean of permuted I) / their standard deviation, if drawn and varied.
    pub z_sim: Option<f64>,
}

/// Why local Moran's I could not be computed. The texts reach API clients as they are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LocalMoranError {
    #[error("{values} values but weights for {weights} locations")]
    LengthMismatch { values: usize, weights: usize },
    #[error("local Moran's I needs at least 3 locations, got {0}")]
    TooFew(usize),
    #[error("value {value} at location {index} is not a finite number")]
    NotFinite { index: usize, value: f64 },
    #[error("every value is the same, so local Moran's I is undefined")]
    Constant,
    #[error("{0} permutations is more than the {MAX_PERMUTATIONS} allowed")]
    TooManyPermutations(u32),
}

/// Local Moran's I at every location, in the order of `values`.
///
/// ```
/// use wangge_analysis::local_moran::{LocalMoranOptions, Quadrant, local_moran};
/// use wangge_analysis::weights::Weights;
/// // A path of six: two highs together at one end.
/// let w = Weights::from_neighbours((0..6usize).map(|i| {
///     [i.wrapping_sub(1), i + 1].into_iter().filter(|&j| j < 6).map(|j| (j, 1.0)).collect()
/// }).collect())?;
/// let m = local_moran(&[9.0, 8.0, 1.0, 2.0, 1.0, 2.0], &w, &LocalMoranOptions::default())?;
/// assert_eq!(m[0].quadrant, Quadrant::HH);
/// assert!(m[0].i > 0.0 && m[2].quadrant == Quadrant::LH);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn local_moran(
    values: &[f64],
    weights: &Weights,
    options: &LocalMoranOptions,
) -> Result<Vec<LocalMoran>, LocalMoranError> {
    let n = values.len();
    if weights.len() != n {
        return Err(LocalMoranError::LengthMismatch {
            values: n,
            weights: weights.len(),
        });
    }
    if n < 3 {
        return Err(LocalMoranError::TooFew(n));
    }
    if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(LocalMoranError::NotFinite { index, value });
    }
    if values.iter().all(|&x| x == values[0]) {
        return Err(LocalMoranError::Constant);
    }
    if options.permutations > MAX_PERMUTATIONS {
        return Err(LocalMoranError::TooManyPermutations(options.permutations));
    }
    let nf = n as f64;
    let mean = values.iter().sum::<f64>() / nf;
    let sd = (values.iter().map(|&x| (x - mean) * (x - mean)).sum::<f64>() / nf).sqrt();
    let z: Vec<f64> = values.iter().map(|&x| (x - mean) / sd).collect();
    let sum_z2: f64 = z.iter().map(|z| z * z).sum();
    let m2 = sum_z2 / nf;
    let b2 = z.iter().map(|z| z.powi(4)).sum::<f64>() / nf / (m2 * m2);
    let mut out: Vec<LocalMoran> = (0..n)
        .map(|i| {
            let (mut lag, mut wi, mut wi2) = (0.0, 0.0, 0.0);
            for (j, w) in weights.neighbours(i) {
                lag += w * z[j];
                wi += w;
                wi2 += w * w;
            }
            if options.transform == Transform::Row && wi > 0.0 {
                lag /= wi;
                wi2 /= wi * wi;
                wi = 1.0;
            }
            let anselin = z[i] * lag / m2;
            let expectation = -wi / (nf - 1.0);
            let variance = wi2 * (nf - b2) / (nf - 1.0)
                + (wi * wi - wi2) * (2.0 * b2 - nf) / ((nf - 1.0) * (nf - 2.0))
                - expectation * expectation;
            let score = if variance > 0.0 {
                (anselin - expectation) / variance.sqrt()
            } else {
                0.0
            };
            let quadrant = match (z[i] > 0.0, lag > 0.0) {
                (true, true) => Quadrant::HH,
                (false, true) => Quadrant::LH,
                (false, false) => Quadrant::LL,
                (true, false) => Quadrant::HL,
            };
            LocalMoran {
                i: (nf - 1.0) * z[i] * lag / sum_z2,
                quadrant,
                z: score,
                p: two_sided_p(score),
                p_sim: None,
                z_sim: None,
            }
        })
        .collect();
    if options.permutations > 0 {
        let counts = conditional_permutation(
            &z,
            weights,
            options.permutations,
            options.seed,
            options.threads,
        );
        for ((m, c), &zi) in out.iter_mut().zip(counts).zip(&z) {
            // Iᵢ is zᵢ times the lag: its upper tail is the lag's upper tail when zᵢ > 0, the
            // lag's lower tail when zᵢ < 0.
            match c {
                Some(c) if zi != 0.0 => {
                    let at_least = if zi > 0.0 { c.at_least } else { c.at_most };
                    m.p_sim = Some(folded_p(at_least, options.permutations));
                    m.z_sim = c.z.map(|z| z * zi.signum());
                }
                _ => m.p_sim = Some(1.0),
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
// The checks transcribe the papers' sums as plain index loops on purpose.
#[allow(clippy::needless_range_loop)]
mod tests {
    use super::*;

    /// A 4 × 4 lattice with rook neighbours and a few weighted links, values with a high
    /// corner and a low one.
    fn lattice() -> (Vec<f64>, Weights, Vec<Vec<f64>>) {
        let values = vec![
            9.0, 8.0, 4.0, 2.0, //
            7.0, 6.0, 3.0, 1.0, //
            5.0, 2.0, 1.0, 0.0, //
            3.0, 1.0, 0.5, 0.0,
        ];
        let mut dense = vec![vec![0.0; 16]; 16];
        let mut lists = vec![Vec::new(); 16];
        for i in 0..16 {
            let (r, c): (usize, usize) = (i / 4, i % 4);
            for j in 0..16 {
                let (r2, c2) = (j / 4, j % 4);
                if r.abs_diff(r2) + c.abs_diff(c2) == 1 {
                    // Unequal weights so row-standardising matters.
                    let w = 1.0 + ((i + j) % 3) as f64;
                    dense[i][j] = w;
                    lists[i].push((j, w));
                }
            }
        }
        (values, Weights::from_neighbours(lists).unwrap(), dense)
    }

    #[test]
    fn statistic_quadrants_and_moments_from_the_formulas() {
        let (values, w, dense) = lattice();
        let n = values.len();
        let nf = n as f64;
        // Standardise with divisor n, row-standardise the dense matrix, then Anselin's
        // Iᵢ = zᵢ Σⱼ wᵢⱼ zⱼ / m₂ and esda's (n − 1)/n scaling; Sokal et al.'s moments with
        // Σ_{k≠h} wᵢₖ wᵢₕ summed pair by pair.
        let mean = values.iter().sum::<f64>() / nf;
        let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / nf;
        let z: Vec<f64> = values.iter().map(|x| (x - mean) / var.sqrt()).collect();
        let m2 = z.iter().map(|v| v * v).sum::<f64>() / nf;
        let m4 = z.iter().map(|v| v.powi(4)).sum::<f64>() / nf;
        let b2 = m4 / (m2 * m2);
        let m = local_moran(
            &values,
            &w,
            &LocalMoranOptions {
                permutations: 0,
                ..Default::default()
            },
        )
        .unwrap();
        for i in 0..n {
            let row_sum: f64 = dense[i].iter().sum();
            let row: Vec<f64> = dense[i].iter().map(|w| w / row_sum).collect();
            let lag: f64 = (0..n).map(|j| row[j] * z[j]).sum();
            let anselin = z[i] * lag / m2;
            assert!((m[i].i - anselin * (nf - 1.0) / nf).abs() < 1e-12, "{i}");
            let wi: f64 = row.iter().sum();
            let wi2: f64 = row.iter().map(|w| w * w).sum();
            let mut wikh = 0.0;
            for k in 0..n {
                for h in 0..n {
                    if k != h {
                        wikh += row[k] * row[h];
                    }
                }
            }
            let e = -wi / (nf - 1.0);
            let v = wi2 * (nf - b2) / (nf - 1.0)
                + wikh * (2.0 * b2 - nf) / ((nf - 1.0) * (nf - 2.0))
                - wi * wi / (nf - 1.0).powi(2);
            assert!((m[i].z - (anselin - e) / v.sqrt()).abs() < 1e-10, "{i}");
            let expected = match (z[i] > 0.0, lag > 0.0) {
                (true, true) => 1,
                (false, true) => 2,
                (false, false) => 3,
                (true, false) => 4,
            };
            assert_eq!(m[i].quadrant.code(), expected, "{i}");
        }
        // The high corner is HH, the low corner LL.
        assert_eq!(
            (m[0].quadrant, m[15].quadrant),
            (Quadrant::HH, Quadrant::LL)
        );
    }

    #[test]
    fn binary_weights_skip_the_row_transform() {
        let (values, w, dense) = lattice();
        let options = LocalMoranOptions {
            permutations: 0,
            transform: Transform::AsGiven,
            ..Default::default()
        };
        let m = local_moran(&values, &w, &options).unwrap();
        let nf = 16.0;
        let mean = values.iter().sum::<f64>() / nf;
        let sd = (values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / nf).sqrt();
        for i in 0..16 {
            let lag: f64 = (0..16).map(|j| dense[i][j] * (values[j] - mean) / sd).sum();
            assert!((m[i].i - (nf - 1.0) / nf * (values[i] - mean) / sd * lag).abs() < 1e-12);
        }
    }

    #[test]
    fn pseudo_p_matches_the_exact_permutation_distribution() {
        // Location 0 of a ring of 8 with two neighbours (binary, row-standardised: a mean):
        // its I is z₀ times the mean of its neighbours' z, z₀ > 0, so its upper tail is
        // the pairs of others whose sum is at least the observed 8.5 + 7 = 15.5: 2 of 42.
        let values = [9.0, 8.5, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0];
        let lists = (0..8)
            .map(|i| vec![((i + 1) % 8, 1.0), ((i + 7) % 8, 1.0)])
            .collect();
        let w = Weights::from_neighbours(lists).unwrap();
        let exact = 2.0 / 42.0;
        let options = LocalMoranOptions {
            permutations: 99_999,
            seed: 5,
            threads: 3,
            ..Default::default()
        };
        let m = local_moran(&values, &w, &options).unwrap();
        assert!((m[0].p_sim.unwrap() - exact).abs() < 0.003, "{:?}", m[0]);
        // Location 2 (z < 0, neighbours 8.5 and 2): its I's upper tail is the lag's lower
        // tail, pairs with sum ≤ 10.5 among {9, 8.5, 3, 4, 5, 7}... counted exactly:
        let others = [9.0, 8.5, 3.0, 4.0, 5.0, 7.0, 2.0];
        let observed = 8.5 + 2.0;
        let (mut below, mut total) = (0, 0);
        for a in 0..7 {
            for b in 0..7 {
                if a != b {
                    total += 1;
                    below += usize::from(others[a] + others[b] <= observed);
                }
            }
        }
        let tail = below as f64 / total as f64;
        assert!(
            (m[2].p_sim.unwrap() - tail.min(1.0 - tail)).abs() < 0.004,
            "{:?} vs {tail}",
            m[2]
        );
        let again = local_moran(
            &values,
            &w,
            &LocalMoranOptions {
                threads: 1,
                ..options
            },
        )
        .unwrap();
        assert_eq!(m, again);
    }

    #[test]
    fn islands_and_bad_input() {
        let w = Weights::from_neighbours(vec![vec![(1, 1.0)], vec![(0, 1.0)], vec![]]).unwrap();
        let m = local_moran(&[1.0, 2.0, 6.0], &w, &LocalMoranOptions::default()).unwrap();
        assert_eq!(
            (m[2].i, m[2].z, m[2].p, m[2].p_sim),
            (0.0, 0.0, 1.0, Some(1.0))
        );
        assert_eq!(m[2].quadrant, Quadrant::HL);
        let options = LocalMoranOptions::default();
        assert_eq!(
            local_moran(&[2.0; 3], &w, &options),
            Err(LocalMoranError::Constant)
        );
        assert_eq!(
            local_moran(&[1.0, 2.0], &w, &options),
            Err(LocalMoranError::LengthMismatch {
                values: 2,
                weights: 3
            })
        );
    }
}
