//! The Mann-Kendall trend test (Mann 1945; Kendall 1975; as given by Gilbert 1987,
//! "Statistical Methods for Environmental Pollution Monitoring", §16.4, and Hirsch, Slack &
//! Smith 1982): whether a series rises or falls over time more steadily than chance.
//!
//! For a series x₁ … xₙ in time order:
//! * S = Σ_{k<j} sgn(xⱼ − x_k), the number of rising pairs less the falling ones;
//! * Var(S) = [n(n − 1)(2n + 5) − Σ_p t_p(t_p − 1)(2t_p + 5)] / 18, t_p the size of the p-th
//!   group of tied values (equal `f64`s);
//! * z = (S − 1)/√Var(S) if S > 0, (S + 1)/√Var(S) if S < 0, 0 if S = 0 (continuity
//!   correction);
//! * p two-sided from the normal distribution; τ = S / (n(n − 1)/2) (Kendall's τ-a, as
//!   pymannkendall's `Tau`).
//!
//! The normal approximation is what ArcGIS's Emerging Hot Spot Analysis and esda's
//! `EmergingHotSpot` use; for n < 10 exact tables are more accurate.

use crate::normal::two_sided_p;

/// The level [`MannKendall::trend`] is judged at.
pub const TREND_ALPHA: f64 = 0.05;

/// Which way a series trends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trend {
    Increasing,
    Decreasing,
    None,
}

/// The test's result for one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// Rising pairs less falling pairs.
    pub s: i64,
    /// Var(S), corrected for ties.
    pub variance: f64,
    /// Continuity-corrected z.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Kendall's τ-a, −1 to 1.
    pub tau: f64,
    /// The trend at [`TREND_ALPHA`].
    pub trend: Trend,
}

impl MannKendall {
    /// The trend at level `alpha`: increasing or decreasing if p ≤ alpha.
    pub fn trend_at(&self, alpha: f64) -> Trend {
        if self.p <= alpha && self.s > 0 {
            Trend::Increasing
        } else if self.p <= alpha && self.s < 0 {
            Trend::Decreasing
        } else {
            Trend::None
        }
    }
}

/// Why a series could not be tested. The texts reach API clients as they are.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum MannKendallError {
    #[error("a trend needs at least 3 time steps, got {0}")]
    TooShort(usize),
    #[error("value {value} at step {index} is not a finite number")]
    NotFinite { index: usize, value: f64 },
}

/// The Mann-Kendall test of `series` (in time order). O(n²) in the series' length, which
/// for time steps (tens to hundreds) is nothing.
///
/// ```
/// use wangge_analysis::mann_kendall::{Trend, mann_kendall};
/// let mk = mann_kendall(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])?;
/// // S = 45 (every pair rises), Var = 10·9·25/18 = 125, z = 44/√125 ≈ 3.94.
/// assert_eq!(mk.s, 45);
/// assert!((mk.z - 44.0 / 125f64.sqrt()).abs() < 1e-12);
/// assert_eq!(mk.trend, Trend::Increasing);
/// # Ok::<(), wangge_analysis::mann_kendall::MannKendallError>(())
/// ```
pub fn mann_kendall(series: &[f64]) -> Result<MannKendall, MannKendallError> {
    let n = series.len();
    if n < 3 {
        return Err(MannKendallError::TooShort(n));
    }
    if let Some((index, &value)) = series.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(MannKendallError::NotFinite { index, value });
    }
    let mut s = 0i64;
    for k in 0..n {
        for j in k + 1..n {
            s += match series[j].partial_cmp(&series[k]) {
                Some(std::cmp::Ordering::Greater) => 1,
                Some(std::cmp::Ordering::Less) => -1,
                _ => 0,
            };
        }
    }
    let mut sorted = series.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut start = 0;
    while start < n {
        let end = start + sorted[start..].partition_point(|&x| x == sorted[start]);
        let t = (end - start) as f64;
        ties += t * (t - 1.0) * (2.0 * t + 5.0);
        start = end;
    }
    let nf = n as f64;
    let variance = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let z = if variance <= 0.0 || s == 0 {
        0.0
    } else if s > 0 {
        (s - 1) as f64 / variance.sqrt()
    } else {
        (s + 1) as f64 / variance.sqrt()
    };
    let mut result = MannKendall {
        s,
        variance,
        z,
        p: two_sided_p(z),
        tau: s as f64 / (nf * (nf - 1.0) / 2.0),
        trend: Trend::None,
    };
    result.trend = result.trend_at(TREND_ALPHA);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_series_without_ties_by_hand() {
        // 1, 3, 2, 5, 4: signs from each value to the later ones:
        // 1 → (+ + + +) = 4; 3 → (− + +) = 1; 2 → (+ +) = 2; 5 → (−) = −1. S = 6.
        // Var = 5·4·15/18 = 16.667; z = (6 − 1)/√16.667 = 1.2247; τ = 6/10.
        // p = 2(1 − Φ(1.2247)); from a normal table Φ(1.22) = 0.88877, Φ(1.23) = 0.89065,
        // interpolated Φ(1.2247) = 0.88966, p = 0.2207.
        let mk = mann_kendall(&[1.0, 3.0, 2.0, 5.0, 4.0]).unwrap();
        assert_eq!(mk.s, 6);
        assert!((mk.variance - 300.0 / 18.0).abs() < 1e-12);
        assert!((mk.z - 5.0 / (300.0f64 / 18.0).sqrt()).abs() < 1e-12);
        assert!((mk.p - 0.2207).abs() < 2e-4, "{}", mk.p);
        assert!((mk.tau - 0.6).abs() < 1e-15);
        assert_eq!(mk.trend, Trend::None);
    }

    #[test]
    fn ties_reduce_the_variance() {
        // 2, 2, 3, 1, 3, 4: 2 → (0 + − + +) = 2; 2 → (+ − + +) = 2; 3 → (− 0 +) = 0;
        // 1 → (+ +) = 2; 3 → (+) = 1. S = 7. Two tie groups of 2 (the 2s, the 3s), each
        // 2·1·9 = 18: Var = (6·5·17 − 36)/18 = 474/18 = 26.333; z = 6/√26.333 = 1.1692;
        // Φ(1.16) = 0.87698, Φ(1.17) = 0.87900 → Φ(1.1692) = 0.87884, p = 0.2423; τ = 7/15.
        let mk = mann_kendall(&[2.0, 2.0, 3.0, 1.0, 3.0, 4.0]).unwrap();
        assert_eq!(mk.s, 7);
        assert!((mk.variance - 474.0 / 18.0).abs() < 1e-12);
        assert!((mk.z - 6.0 / (474.0f64 / 18.0).sqrt()).abs() < 1e-12);
        assert!((mk.p - 0.2423).abs() < 2e-4, "{}", mk.p);
        assert!((mk.tau - 7.0 / 15.0).abs() < 1e-15);
    }

    #[test]
    fn steady_series_trend_and_flat_ones_do_not() {
        let rising: Vec<f64> = (1..=10).map(f64::from).collect();
        let falling: Vec<f64> = rising.iter().rev().copied().collect();
        let up = mann_kendall(&rising).unwrap();
        let down = mann_kendall(&falling).unwrap();
        assert_eq!((up.s, down.s), (45, -45));
        assert_eq!(
            (up.trend, down.trend),
            (Trend::Increasing, Trend::Decreasing)
        );
        assert_eq!(down.z, -up.z);
        assert_eq!(up.tau, 1.0);
        // z = 3.9355: p well under 0.001 (Φ(3.9) = 0.999952).
        assert!(up.p < 1e-4 && up.p > 5e-5, "{}", up.p);
        assert_eq!(up.trend_at(1e-5), Trend::None);
        let flat = mann_kendall(&[3.0; 6]).unwrap();
        assert_eq!((flat.s, flat.variance, flat.z, flat.p), (0, 0.0, 0.0, 1.0));
        assert_eq!(flat.trend, Trend::None);
    }

    #[test]
    fn bad_series_are_refused() {
        assert_eq!(
            mann_kendall(&[1.0, 2.0]),
            Err(MannKendallError::TooShort(2))
        );
        assert_eq!(
            mann_kendall(&[1.0, f64::INFINITY, 2.0])
                .unwrap_err()
                .to_string(),
            "value inf at step 1 is not a finite number"
        );
    }
}
