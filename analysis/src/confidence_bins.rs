//! Confidence bins as ArcGIS's Hot Spot Analysis reports them in its `Gi_Bin` field: ±3 for
//! a hot (+) or cold (−) spot at 99% confidence (p ≤ 0.01), ±2 at 95% (p ≤ 0.05), ±1 at 90%
//! (p ≤ 0.10), 0 for not significant; the sign is the z-score's.
//!
//! With the false discovery rate correction (ArcGIS's "Apply False Discovery Rate (FDR)
//! Correction"), each confidence level's cut-off is the Benjamini–Hochberg threshold at that
//! level over all the p-values given ([`crate::fdr::bh_threshold`]) instead of the level
//! itself, so fewer locations pass when many are tested.

use crate::fdr::bh_threshold;

/// A location's confidence bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConfidenceBin {
    Cold99,
    Cold95,
    Cold90,
    NotSignificant,
    Hot90,
    Hot95,
    Hot99,
}

impl ConfidenceBin {
    /// ArcGIS's `Gi_Bin` number, −3 to 3.
    pub fn as_i8(self) -> i8 {
        self as i8 - 3
    }

    /// The bin of a `Gi_Bin` number, if it is one.
    pub fn from_i8(bin: i8) -> Option<Self> {
        use ConfidenceBin::*;
        [Cold99, Cold95, Cold90, NotSignificant, Hot90, Hot95, Hot99]
            .get(usize::try_from(bin + 3).ok()?)
            .copied()
    }
}

/// The levels tested, from the strictest: the bin's size for each.
const LEVELS: [(f64, i8); 3] = [(0.01, 3), (0.05, 2), (0.10, 1)];

/// `Gi_Bin` for each (z, p) pair. p-values that are not probabilities (NaN, out of range)
/// are not significant.
///
/// # Panics
///
/// If `z` and `p` differ in length.
///
/// ```
/// use wangge_analysis::confidence_bins::confidence_bins;
/// let z = [3.1, 2.0, -1.7, 0.4];
/// let p = [0.0019, 0.0455, 0.0891, 0.6892];
/// assert_eq!(confidence_bins(&z, &p, false), vec![3, 2, -1, 0]);
/// // With FDR over these four, the 95% cut-off is the largest p₍ₖ₎ ≤ k·0.05/4: 0.0019 only
/// // (0.0455 > 2·0.05/4 = 0.025), so location 1 drops to the 90% bin (0.0455 ≤ 2·0.10/4).
/// assert_eq!(confidence_bins(&z, &p, true), vec![3, 1, 0, 0]);
/// ```
pub fn confidence_bins(z: &[f64], p: &[f64], fdr: bool) -> Vec<i8> {
    assert_eq!(z.len(), p.len(), "one p-value per z-score");
    let cutoffs: Vec<Option<f64>> = LEVELS
        .iter()
        .map(|&(level, _)| {
            if fdr {
                let valid: Vec<f64> = p
                    .iter()
                    .copied()
                    .filter(|v| (0.0..=1.0).contains(v))
                    .collect();
                bh_threshold(&valid, level).expect("levels are in (0, 1) and p-values checked")
            } else {
                Some(level)
            }
        })
        .collect();
    z.iter()
        .zip(p)
        .map(|(&z, &p)| {
            let size = LEVELS
                .iter()
                .zip(&cutoffs)
                .find(|(_, cut)| cut.is_some_and(|cut| p <= cut))
                .map_or(0, |(&(_, size), _)| size);
            if z > 0.0 {
                size
            } else if z < 0.0 {
                -size
            } else {
                0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_bins_follow_the_levels() {
        let z = [4.0, -4.0, 2.2, -2.2, 1.7, -1.7, 1.0, 0.0];
        let p = [0.0001, 0.0001, 0.03, 0.03, 0.09, 0.09, 0.3, 1.0];
        assert_eq!(
            confidence_bins(&z, &p, false),
            vec![3, -3, 2, -2, 1, -1, 0, 0]
        );
        // Edges are inclusive, and junk p-values are not significant.
        assert_eq!(
            confidence_bins(
                &[1.0, 1.0, 1.0, 1.0, 1.0],
                &[0.01, 0.05, 0.10, f64::NAN, 1.5],
                false
            ),
            vec![3, 2, 1, 0, 0]
        );
    }

    #[test]
    fn fdr_bins_use_each_levels_bh_threshold() {
        // Benjamini & Hochberg's 15 p-values, all on hot z-scores. Thresholds by hand:
        // 1%: largest p₍ₖ₎ ≤ k·0.01/15: p₍₃₎ = 0.0019 ≤ 0.002 (p₍₄₎ = 0.0095 > 0.00267) → 0.0019;
        // 5%: 0.0095 (the paper's four); 10%: p₍₉₎ = 0.0459 ≤ 9·0.1/15 = 0.06 (p₍₁₀₎ = 0.324
        // > 0.0667) → 0.0459.
        let p = [
            0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262,
            0.5719, 0.6528, 0.7590, 1.0000,
        ];
        let z = [1.0; 15];
        let bins = confidence_bins(&z, &p, true);
        assert_eq!(bins, vec![3, 3, 3, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn numbers_and_bins_round_trip() {
        for b in -3..=3 {
            assert_eq!(ConfidenceBin::from_i8(b).unwrap().as_i8(), b);
        }
        assert_eq!(ConfidenceBin::from_i8(4), None);
        assert_eq!(ConfidenceBin::Hot99.as_i8(), 3);
        assert_eq!(ConfidenceBin::Cold90.as_i8(), -1);
    }
}
