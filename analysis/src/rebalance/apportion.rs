//! Sharing N cells among villages by load, so that the village whose cells end up furthest
//! from the equal load is as close as it can be.
//!
//! For a largest relative deviation δ, village i may take any count in
//! `[⌈Lᵢ / (T(1+δ))⌉, ⌊Lᵢ / (T(1−δ))⌋]` (at least 1, at most its units), T = ΣL / N; the
//! smallest δ for which those ranges can add up to N is found by bisection, then the
//! cells left above the lower ends go, one at a time, to the village whose cells are then
//! heaviest (D'Hondt) within its range. A divisor method alone does not minimise the
//! largest deviation: it only balances the heaviest side.

/// Why cells could not be shared out.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApportionError {
    #[error("{cells} cells cannot give each of {villages} villages one")]
    TooFewCells { cells: usize, villages: usize },
    #[error("{cells} cells is more than the {units} units there are to make them of")]
    TooFewUnits { cells: usize, units: usize },
    #[error("village loads must be finite and not negative")]
    BadLoad,
}

fn ranges(loads: &[f64], caps: &[usize], target: f64, delta: f64) -> Vec<(usize, usize)> {
    loads
        .iter()
        .zip(caps)
        .map(|(&l, &cap)| {
            if l <= 0.0 {
                return (1, 1);
            }
            let lo = ((l / (target * (1.0 + delta))) * (1.0 - 1e-12))
                .ceil()
                .max(1.0);
            let hi = if delta >= 1.0 {
                f64::INFINITY
            } else {
                ((l / (target * (1.0 - delta))) * (1.0 + 1e-12)).floor()
            };
            let lo = (lo as usize).min(cap.max(1));
            (lo, (hi.min(cap as f64) as usize).max(lo))
        })
        .collect()
}

fn feasible(r: &[(usize, usize)], n: usize) -> bool {
    r.iter().map(|x| x.0).sum::<usize>() <= n && r.iter().map(|x| x.1).sum::<usize>() >= n
}

/// How many of `cells` each village gets, given each village's load (≥ 0, any unit) and
/// its number of units (a cap: a cell needs a unit). Every village gets at least one (one
/// with no load exactly one), and the largest |load per cell / (total / cells) − 1| over
/// villages with load is the smallest possible (to 1e-9).
///
/// ```
/// use wangge_analysis::rebalance::apportion;
/// // 100 and 50 into 3 cells: 2 and 1 are all at the equal load of 50.
/// assert_eq!(apportion(&[100.0, 50.0], &[10, 10], 3)?, vec![2, 1]);
/// # Ok::<(), wangge_analysis::rebalance::ApportionError>(())
/// ```
pub fn apportion(
    loads: &[f64],
    units: &[usize],
    cells: usize,
) -> Result<Vec<usize>, ApportionError> {
    if loads.iter().any(|l| !l.is_finite() || *l < 0.0) {
        return Err(ApportionError::BadLoad);
    }
    if cells < loads.len() {
        return Err(ApportionError::TooFewCells {
            cells,
            villages: loads.len(),
        });
    }
    let total_units: usize = units.iter().sum();
    if cells > total_units {
        return Err(ApportionError::TooFewUnits {
            cells,
            units: total_units,
        });
    }
    let total: f64 = loads.iter().sum();
    if loads.is_empty() {
        return Ok(Vec::new());
    }
    let target = if total > 0.0 {
        total / cells as f64
    } else {
        1.0
    };
    let mut hi = 1.0;
    while !feasible(&ranges(loads, units, target, hi), cells) {
        hi *= 2.0;
        if hi > 1e12 {
            // Caps alone decide: fill villages up to their units, heaviest per cell first.
            break;
        }
    }
    let mut lo = 0.0;
    if feasible(&ranges(loads, units, target, 0.0), cells) {
        hi = 0.0;
    }
    while hi - lo > 1e-10 {
        let mid = (lo + hi) / 2.0;
        if feasible(&ranges(loads, units, target, mid), cells) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let r = ranges(loads, units, target, hi);
    let mut counts: Vec<usize> = r.iter().map(|x| x.0).collect();
    let mut left = cells.saturating_sub(counts.iter().sum());
    while left > 0 {
        let next = (0..loads.len())
            .filter(|&i| loads[i] > 0.0 && counts[i] < r[i].1.min(units[i]))
            .max_by(|&a, &b| {
                let (la, lb) = (loads[a] / counts[a] as f64, loads[b] / counts[b] as f64);
                la.total_cmp(&lb).then(b.cmp(&a))
            });
        // Past every range only when units cap it: then any village with units to spare.
        let spare = || (0..loads.len()).find(|&i| loads[i] > 0.0 && counts[i] < units[i]);
        let Some(i) = next.or_else(spare) else {
            break;
        };
        counts[i] += 1;
        left -= 1;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worst(loads: &[f64], counts: &[usize]) -> f64 {
        let t = loads.iter().sum::<f64>() / counts.iter().sum::<usize>() as f64;
        loads
            .iter()
            .zip(counts)
            .map(|(l, &k)| (l / k as f64 / t - 1.0).abs())
            .fold(0.0, f64::max)
    }

    #[test]
    fn the_largest_deviation_is_the_smallest_any_split_gives() {
        let loads = [930.0, 410.0, 77.0, 1200.0, 260.0, 505.0];
        let units = [1000; 6];
        let n = 13;
        let got = apportion(&loads, &units, n).unwrap();
        assert_eq!(got.iter().sum::<usize>(), n);
        // Every split of 13 into six counts ≥ 1, by brute force.
        let mut best = f64::INFINITY;
        let mut c = [1usize; 6];
        fn rec(i: usize, left: usize, c: &mut [usize; 6], loads: &[f64], best: &mut f64) {
            if i == 5 {
                if left >= 1 {
                    c[5] = left;
                    *best = best.min(worst(loads, c));
                }
                return;
            }
            for k in 1..left {
                c[i] = k;
                rec(i + 1, left - k, c, loads, best);
            }
        }
        rec(0, n, &mut c, &loads, &mut best);
        assert!(
            (worst(&loads, &got) - best).abs() < 1e-9,
            "{got:?}: {} vs {best}",
            worst(&loads, &got)
        );
    }

    #[test]
    fn fewer_cells_than_villages_is_refused_and_caps_hold() {
        assert_eq!(
            apportion(&[1.0, 2.0, 3.0], &[5, 5, 5], 2),
            Err(ApportionError::TooFewCells {
                cells: 2,
                villages: 3
            })
        );
        assert_eq!(apportion(&[1.0, 100.0], &[5, 2], 7).unwrap(), vec![5, 2]);
        assert!(matches!(
            apportion(&[1.0, 1.0], &[1, 1], 3),
            Err(ApportionError::TooFewUnits { .. })
        ));
        assert_eq!(apportion(&[0.0, 10.0], &[5, 5], 3).unwrap(), vec![1, 2]);
    }
}
