//! The false discovery rate procedure of Benjamini & Hochberg (1995, "Controlling the false
//! discovery rate: a practical and powerful approach to multiple testing", J. R. Statist.
//! Soc. B 57(1), 289–300): with the m p-values ordered p₍₁₎ ≤ … ≤ p₍ₘ₎, reject the hypotheses
//! of p₍₁₎ … p₍ₖ₎ for the largest k with p₍ₖ₎ ≤ k·q/m. The adjusted p-values (q-values) are
//! min over j ≥ i of m·p₍ⱼ₎/j, capped at 1: a hypothesis is rejected at level q exactly when
//! its q-value is at most q.

/// Why p-values could not be adjusted. The texts reach API clients as they are.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum FdrError {
    #[error("p-value {value} at position {index} is not between 0 and 1")]
    NotAProbability { index: usize, value: f64 },
    #[error("the level {0} must be strictly between 0 and 1")]
    BadLevel(f64),
}

fn check(p: &[f64]) -> Result<(), FdrError> {
    match p
        .iter()
        .enumerate()
        .find(|(_, v)| !(0.0..=1.0).contains(*v))
    {
        Some((index, &value)) => Err(FdrError::NotAProbability { index, value }),
        None => Ok(()),
    }
}

/// The largest p-value rejected at false discovery rate `level`, if any: reject every
/// hypothesis whose p-value is at most it.
///
/// ```
/// use wangge_analysis::fdr::bh_threshold;
/// // m = 4, q = 0.05: 0.03 > 3·0.05/4 = 0.0375? No, 0.03 ≤ 0.0375, so three are rejected.
/// assert_eq!(bh_threshold(&[0.01, 0.02, 0.03, 0.5], 0.05)?, Some(0.03));
/// assert_eq!(bh_threshold(&[0.2, 0.5], 0.05)?, None);
/// # Ok::<(), wangge_analysis::fdr::FdrError>(())
/// ```
pub fn bh_threshold(p: &[f64], level: f64) -> Result<Option<f64>, FdrError> {
    if !(level > 0.0 && level < 1.0) {
        return Err(FdrError::BadLevel(level));
    }
    check(p)?;
    let mut sorted = p.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let m = sorted.len() as f64;
    Ok(sorted
        .iter()
        .enumerate()
        .rev()
        .find(|&(k, &pk)| pk <= (k + 1) as f64 * level / m)
        .map(|(_, &pk)| pk))
}

/// Benjamini–Hochberg adjusted p-values, in the order given.
///
/// ```
/// use wangge_analysis::fdr::bh_adjust;
/// // m = 3: 0.03·3/3 = 0.03; 0.02·3/2 = 0.03; 0.001·3/1 = 0.003.
/// let q = bh_adjust(&[0.02, 0.001, 0.03])?;
/// assert!((q[0] - 0.03).abs() < 1e-15 && (q[1] - 0.003).abs() < 1e-15 && (q[2] - 0.03).abs() < 1e-15);
/// # Ok::<(), wangge_analysis::fdr::FdrError>(())
/// ```
pub fn bh_adjust(p: &[f64]) -> Result<Vec<f64>, FdrError> {
    check(p)?;
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_unstable_by(|&a, &b| p[a].total_cmp(&p[b]).then(a.cmp(&b)));
    let mut q = vec![0.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m as f64 / (rank + 1) as f64);
        q[i] = running;
    }
    Ok(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The 15 p-values of Benjamini & Hochberg's (1995) worked example (section 4, from a
    /// study of myocardial infarction treatment), in increasing order.
    const BH_EXAMPLE: [f64; 15] = [
        0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262,
        0.5719, 0.6528, 0.7590, 1.0000,
    ];

    #[test]
    fn the_papers_example_rejects_four_at_five_percent() {
        // The paper: at q* = 0.05 the procedure rejects the four smallest (0.0095 ≤ 4·0.05/15
        // = 0.0133, while p₍ₖ₎ > k·0.05/15 for every k from 5 to 15), where Bonferroni
        // (0.05/15 = 0.0033) rejects three.
        assert_eq!(bh_threshold(&BH_EXAMPLE, 0.05).unwrap(), Some(0.0095));
        // Shuffled input gives the same threshold.
        let mut shuffled = BH_EXAMPLE;
        shuffled.reverse();
        shuffled.swap(0, 7);
        assert_eq!(bh_threshold(&shuffled, 0.05).unwrap(), Some(0.0095));
        let q = bh_adjust(&shuffled).unwrap();
        let rejected = q.iter().filter(|&&q| q <= 0.05).count();
        assert_eq!(rejected, 4);
    }

    #[test]
    fn adjusted_values_by_hand() {
        let q = bh_adjust(&BH_EXAMPLE).unwrap();
        // From the top: q₍₁₅₎ = 1; q₍₁₄₎ = min(1, 0.7590·15/14 = 0.81321…);
        // q₍₁₀₎ = min(…, 0.3240·15/10 = 0.486); q₍₉₎ = 0.0459·15/9 = 0.0765;
        // q₍₈₎ = 0.0344·15/8 = 0.0645; q₍₅₎ = min(0.0201·3 = 0.0603, q₍₆₎ = 0.0278·2.5 = 0.0695,
        // …) = 0.0603; q₍₄₎ = 0.0095·15/4 = 0.035625; q₍₁₎ = min(0.0015, 0.003, …) = 0.0015.
        let expected = [
            (0, 0.0015),
            (1, 0.003),
            (3, 0.035_625),
            (4, 0.0603),
            (7, 0.0645),
            (8, 0.0765),
            (9, 0.486),
            (13, 0.7590 * 15.0 / 14.0),
            (14, 1.0),
        ];
        for (i, e) in expected {
            assert!((q[i] - e).abs() < 1e-12, "q[{i}] = {} vs {e}", q[i]);
        }
    }

    #[test]
    fn bad_input_is_refused() {
        assert_eq!(
            bh_threshold(&[0.1, 1.5], 0.05),
            Err(FdrError::NotAProbability {
                index: 1,
                value: 1.5
            })
        );
        assert_eq!(bh_threshold(&[0.1], 1.0), Err(FdrError::BadLevel(1.0)));
        assert!(bh_adjust(&[f64::NAN]).is_err());
        assert_eq!(bh_threshold(&[], 0.05).unwrap(), None);
    }
}
