//! Emerging hot spots, as ArcGIS Pro's Emerging Hot Spot Analysis defines them ("How
//! Emerging Hot Spot Analysis works",
//! <https://pro.arcgis.com/en/pro-app/latest/tool-reference/space-time-pattern-mining/learnmoreemerging.htm>):
//! Gi* for every bin of a space-time cube, the Mann-Kendall trend of each location's
//! z-scores, and a category from both.
//!
//! Steps, with the choices this implementation makes where the page leaves them open:
//! 1. Space-time Gi* ([`crate::gi_star`], analytic): bin (i, t)'s neighbours are i's
//!    spatial neighbours at step t and, for the `time_window` previous steps s (ArcGIS's
//!    "Neighborhood Time Step", default 1; 0 for space only), i itself and its spatial
//!    neighbours at s, each with its spatial weight (1 for i itself). The cube is one set of
//!    n·T bins: the mean and spread Gi* compares with are the whole cube's.
//! 2. Bins per step: `Gi_Bin` from the analytic p-values ([`crate::confidence_bins`]), with
//!    the FDR correction (on by default, as the page says the tool applies it) over each time
//!    step's locations separately. A bin is a significant hot (cold) spot when its bin is at
//!    least (at most minus) the level `alpha` names: 1 for 0.10, 2 for 0.05, 3 for 0.01.
//! 3. Mann-Kendall ([`crate::mann_kendall`]) on each location's z-scores over time, the trend
//!    significant at `trend_alpha`.
//! 4. The category ([`classify`]), hot side shown (cold is the mirror image, with "trend
//!    increasing" read as the z-scores falling), first match in this order:
//!    * new: hot at the final step and never before;
//!    * consecutive: one uninterrupted run of at least two hot steps ending at the final
//!      step, never hot before the run, and less than 90% of steps hot;
//!    * intensifying / persistent / diminishing: hot in at least 90% of the steps including
//!      the final one, with the z-scores rising significantly / no significant trend /
//!      falling significantly (the page does not say persistent needs the final step hot;
//!      a location hot for 90% of the steps but not the last is historical here);
//!    * sporadic: hot at the final step, less than 90% of steps hot, never a cold spot;
//!    * oscillating: hot at the final step, less than 90% of steps hot, a cold spot at some
//!      earlier step;
//!    * historical: not hot at the final step, but hot in at least 90% of the steps;
//!    * no pattern: none of these, hot or cold.
//!
//!    The side tried first is the final step's (a location cold now is classed among the
//!    cold categories even if it was once mostly hot); with the final step not significant,
//!    only historical hot or cold remains.
//!
//! ArcGIS recommends at least ten time steps; at least three are needed for the trend.

use crate::confidence_bins::confidence_bins;
use crate::gi_star::{GiStarError, GiStarOptions, gi_star};
use crate::mann_kendall::{MannKendall, Trend, mann_kendall};
use crate::weights::{MAX_LOCATIONS, Weights};

/// The longest time window.
pub const MAX_TIME_WINDOW: usize = 10;

/// A pattern's kind, without its side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmergingCategory {
    NoPattern,
    New,
    Consecutive,
    Intensifying,
    Persistent,
    Diminishing,
    Sporadic,
    Oscillating,
    Historical,
}

/// A location's pattern: a category and whether it is a hot (true) or cold spot pattern
/// (`hot` is false for [`EmergingCategory::NoPattern`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Emerging {
    pub category: EmergingCategory,
    pub hot: bool,
}

impl Emerging {
    pub const NO_PATTERN: Emerging = Emerging {
        category: EmergingCategory::NoPattern,
        hot: false,
    };

    /// The pattern's name: `no-pattern`, or e.g. `new-hot-spot`, `intensifying-cold-spot`.
    pub fn name(&self) -> &'static str {
        use EmergingCategory::*;
        match (self.category, self.hot) {
            (NoPattern, _) => "no-pattern",
            (New, true) => "new-hot-spot",
            (New, false) => "new-cold-spot",
            (Consecutive, true) => "consecutive-hot-spot",
            (Consecutive, false) => "consecutive-cold-spot",
            (Intensifying, true) => "intensifying-hot-spot",
            (Intensifying, false) => "intensifying-cold-spot",
            (Persistent, true) => "persistent-hot-spot",
            (Persistent, false) => "persistent-cold-spot",
            (Diminishing, true) => "diminishing-hot-spot",
            (Diminishing, false) => "diminishing-cold-spot",
            (Sporadic, true) => "sporadic-hot-spot",
            (Sporadic, false) => "sporadic-cold-spot",
            (Oscillating, true) => "oscillating-hot-spot",
            (Oscillating, false) => "oscillating-cold-spot",
            (Historical, true) => "historical-hot-spot",
            (Historical, false) => "historical-cold-spot",
        }
    }
}

/// How the analysis runs. The default: a time window of 1, bins significant at 0.05 with
/// FDR, trends at 0.05, all threads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmergingOptions {
    /// Previous time steps in each bin's neighbourhood (0 to [`MAX_TIME_WINDOW`]).
    pub time_window: usize,
    /// The significance of a hot or cold bin: 0.10, 0.05 or 0.01.
    pub alpha: f64,
    /// Benjamini–Hochberg per time step before binning.
    pub fdr: bool,
    /// The significance of a Mann-Kendall trend.
    pub trend_alpha: f64,
}

impl Default for EmergingOptions {
    fn default() -> Self {
        Self {
            time_window: 1,
            alpha: 0.05,
            fdr: true,
            trend_alpha: 0.05,
        }
    }
}

/// One location's result.
#[derive(Debug, Clone, PartialEq)]
pub struct EmergingLocation {
    pub pattern: Emerging,
    /// Gi* z-score per time step.
    pub z: Vec<f64>,
    /// Two-sided p-value per time step.
    pub p: Vec<f64>,
    /// `Gi_Bin` per time step, −3 to 3.
    pub bins: Vec<i8>,
    /// The trend of `z`.
    pub trend: MannKendall,
}

/// Why the analysis could not run. The texts reach API clients as they are.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmergingError {
    #[error("{values} values are not {locations} locations × {steps} time steps")]
    Shape {
        values: usize,
        locations: usize,
        steps: usize,
    },
    #[error("emerging hot spots need at least 3 time steps, got {0}")]
    TooFewSteps(usize),
    #[error(
        "a time window of {window} needs at most {MAX_TIME_WINDOW} and fewer than the {steps} time steps"
    )]
    TimeWindow { window: usize, steps: usize },
    #[error("alpha {0} must be 0.10, 0.05 or 0.01")]
    Alpha(f64),
    #[error("the trend level {0} must be strictly between 0 and 1")]
    TrendAlpha(f64),
    #[error("{0} bins is more than the {MAX_LOCATIONS} a cube may have")]
    TooManyBins(usize),
    #[error(transparent)]
    GiStar(#[from] GiStarError),
}

/// The smallest |bin| that counts as significant at `alpha`.
fn min_bin(alpha: f64) -> Option<i8> {
    [(0.10, 1), (0.05, 2), (0.01, 3)]
        .into_iter()
        .find(|&(a, _)| (alpha - a).abs() < 1e-12)
        .map(|(_, b)| b)
}

/// The pattern of one location from its bins over time (oldest first), the smallest |bin|
/// that is significant, and the trend of its z-scores. Pure: the rules of the module
/// documentation and nothing else.
///
/// ```
/// use wangge_analysis::emerging::classify;
/// use wangge_analysis::mann_kendall::Trend;
/// assert_eq!(classify(&[0, 0, 0, 0, 2], 2, Trend::None).name(), "new-hot-spot");
/// assert_eq!(classify(&[-3, -2, -3, -3, -3, -3, -2, -3, -3, -3], 2, Trend::Decreasing).name(), "intensifying-cold-spot");
/// ```
pub fn classify(bins: &[i8], min_bin: i8, trend: Trend) -> Emerging {
    let Some(&last) = bins.last() else {
        return Emerging::NO_PATTERN;
    };
    let n = bins.len();
    let side = |hot: bool| {
        let sig = |b: i8| if hot { b >= min_bin } else { b <= -min_bin };
        let opposite = |b: i8| if hot { b <= -min_bin } else { b >= min_bin };
        let count = bins.iter().filter(|&&b| sig(b)).count();
        let ninety = 10 * count >= 9 * n;
        let towards = if hot {
            Trend::Increasing
        } else {
            Trend::Decreasing
        };
        let away = if hot {
            Trend::Decreasing
        } else {
            Trend::Increasing
        };
        let category = if sig(last) {
            let first = bins.iter().position(|&b| sig(b)).expect("the last is");
            let one_run = bins[first..].iter().all(|&b| sig(b));
            if count == 1 {
                Some(EmergingCategory::New)
            } else if one_run && !ninety {
                Some(EmergingCategory::Consecutive)
            } else if ninety && trend == towards {
                Some(EmergingCategory::Intensifying)
            } else if ninety && trend == away {
                Some(EmergingCategory::Diminishing)
            } else if ninety {
                Some(EmergingCategory::Persistent)
            } else if !bins.iter().any(|&b| opposite(b)) {
                Some(EmergingCategory::Sporadic)
            } else {
                Some(EmergingCategory::Oscillating)
            }
        } else if ninety {
            Some(EmergingCategory::Historical)
        } else {
            None
        };
        category.map(|category| Emerging { category, hot })
    };
    let hot_now = last >= min_bin;
    let cold_now = last <= -min_bin;
    match (hot_now, cold_now) {
        (true, _) => side(true),
        (_, true) => side(false),
        _ => side(true).or_else(|| side(false)),
    }
    .unwrap_or(Emerging::NO_PATTERN)
}

/// Emerging hot spots over a space-time cube: `values[location * steps + step]`, steps in
/// time order, `weights` between the locations.
///
/// ```
/// use wangge_analysis::emerging::{EmergingOptions, emerging_hot_spots};
/// use wangge_analysis::weights::Weights;
/// // 30 locations on a path, 10 steps; locations 10–14 turn high at the last step.
/// let w = Weights::from_neighbours((0..30usize).map(|i| {
///     [i.wrapping_sub(1), i + 1].into_iter().filter(|&j| j < 30).map(|j| (j, 1.0)).collect()
/// }).collect())?;
/// let values: Vec<f64> = (0..30 * 10).map(|b| {
///     let (location, step) = (b / 10, b % 10);
///     if (10..15).contains(&location) && step == 9 { 40.0 } else { ((b * 7) % 5) as f64 }
/// }).collect();
/// let result = emerging_hot_spots(&values, 10, &w, &EmergingOptions::default())?;
/// assert_eq!(result[12].pattern.name(), "new-hot-spot");
/// assert_eq!(result[25].pattern.name(), "no-pattern");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn emerging_hot_spots(
    values: &[f64],
    steps: usize,
    weights: &Weights,
    options: &EmergingOptions,
) -> Result<Vec<EmergingLocation>, EmergingError> {
    let locations = weights.len();
    if steps == 0 || values.len() != locations * steps {
        return Err(EmergingError::Shape {
            values: values.len(),
            locations,
            steps,
        });
    }
    if steps < 3 {
        return Err(EmergingError::TooFewSteps(steps));
    }
    let window = options.time_window;
    if window > MAX_TIME_WINDOW || window >= steps {
        return Err(EmergingError::TimeWindow { window, steps });
    }
    let level = min_bin(options.alpha).ok_or(EmergingError::Alpha(options.alpha))?;
    if !(options.trend_alpha > 0.0 && options.trend_alpha < 1.0) {
        return Err(EmergingError::TrendAlpha(options.trend_alpha));
    }
    let bins_total = locations * steps;
    if bins_total > MAX_LOCATIONS {
        return Err(EmergingError::TooManyBins(bins_total));
    }
    // Bins are numbered step-major, b = t · n + i, so one step's bins are contiguous.
    let mut cube = vec![0.0; bins_total];
    for i in 0..locations {
        for t in 0..steps {
            cube[t * locations + i] = values[i * steps + t];
        }
    }
    let mut offsets = Vec::with_capacity(bins_total + 1);
    let mut neighbours = Vec::new();
    let mut weight_values = Vec::new();
    offsets.push(0);
    let mut row: Vec<(u32, f64)> = Vec::new();
    for t in 0..steps {
        for i in 0..locations {
            row.clear();
            for s in t.saturating_sub(window)..=t {
                let base = s * locations;
                if s < t {
                    row.push(((base + i) as u32, 1.0));
                }
                row.extend(weights.neighbours(i).map(|(j, w)| ((base + j) as u32, w)));
            }
            row.sort_unstable_by_key(|&(b, _)| b);
            for &(b, w) in &row {
                neighbours.push(b);
                weight_values.push(w);
            }
            offsets.push(neighbours.len());
        }
    }
    if neighbours.len() > crate::weights::MAX_PAIRS {
        return Err(EmergingError::TooManyBins(bins_total));
    }
    let space_time = Weights::from_checked_rows(offsets, neighbours, weight_values);
    let options_gi = GiStarOptions {
        permutations: 0,
        ..Default::default()
    };
    let g = gi_star(&cube, &space_time, &options_gi)?;
    let mut bins = vec![0i8; bins_total];
    for t in 0..steps {
        let step = &g[t * locations..(t + 1) * locations];
        let z: Vec<f64> = step.iter().map(|g| g.z).collect();
        let p: Vec<f64> = step.iter().map(|g| g.p).collect();
        bins[t * locations..(t + 1) * locations].copy_from_slice(&confidence_bins(
            &z,
            &p,
            options.fdr,
        ));
    }
    Ok((0..locations)
        .map(|i| {
            let z: Vec<f64> = (0..steps).map(|t| g[t * locations + i].z).collect();
            let p: Vec<f64> = (0..steps).map(|t| g[t * locations + i].p).collect();
            let series: Vec<i8> = (0..steps).map(|t| bins[t * locations + i]).collect();
            let trend = mann_kendall(&z).expect("at least 3 finite z-scores");
            let pattern = classify(&series, level, trend.trend_at(options.trend_alpha));
            EmergingLocation {
                pattern,
                z,
                p,
                bins: series,
                trend,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use EmergingCategory::*;

    fn name(bins: &[i8], trend: Trend) -> &'static str {
        classify(bins, 2, trend).name()
    }

    #[test]
    fn every_hot_category_from_its_definition() {
        use Trend::{Decreasing as Down, Increasing as Up, None as Flat};
        // Ten steps; "hot" is a bin of 2 or 3 (alpha 0.05), 90% is 9 of 10.
        let cases: [(&[i8], Trend, &str); 12] = [
            // Hot only at the last step.
            (&[0, 0, 1, 0, -2, 0, 0, 0, 0, 3], Flat, "new-hot-spot"),
            // A run of 3 at the end, nothing hot before (a 90% bin does not count).
            (&[0, 1, 0, 0, 0, 0, 0, 2, 3, 2], Up, "consecutive-hot-spot"),
            // 9 of 10 hot including the last, z rising / flat / falling.
            (&[0, 2, 2, 3, 3, 3, 3, 3, 3, 3], Up, "intensifying-hot-spot"),
            (&[2, 2, 3, 2, 0, 2, 3, 2, 2, 2], Flat, "persistent-hot-spot"),
            (
                &[3, 3, 3, 3, 3, 2, 2, 2, 1, 2],
                Down,
                "diminishing-hot-spot",
            ),
            // All 10 hot, falling trend: still diminishing (90% is "at least").
            (
                &[3, 3, 3, 3, 3, 3, 3, 2, 2, 2],
                Down,
                "diminishing-hot-spot",
            ),
            // Hot now, on and off before, never cold.
            (&[2, 0, 0, 3, 1, 0, 2, 0, 0, 2], Flat, "sporadic-hot-spot"),
            // A gap inside the final stretch makes it sporadic, not consecutive.
            (&[0, 0, 0, 0, 0, 2, 0, 2, 2, 2], Up, "sporadic-hot-spot"),
            // Hot now, cold once before.
            (&[0, -2, 0, 0, 2, 0, 0, 0, 2, 2], Up, "oscillating-hot-spot"),
            // 9 of 10 hot but not the last.
            (&[2, 2, 2, 3, 3, 3, 3, 2, 2, 0], Down, "historical-hot-spot"),
            // Nothing significant, or 90% bins only.
            (&[1, 1, 0, 1, 1, 1, 1, 0, 1, 1], Up, "no-pattern"),
            // Hot before, not now, and less than 90%.
            (&[2, 2, 2, 2, 2, 2, 2, 2, 0, 0], Down, "no-pattern"),
        ];
        for (bins, trend, expected) in cases {
            assert_eq!(name(bins, trend), expected, "{bins:?}");
            // The mirror image is the cold pattern.
            let mirrored: Vec<i8> = bins.iter().map(|b| -b).collect();
            let mirrored_trend = match trend {
                Up => Down,
                Down => Up,
                Flat => Flat,
            };
            let cold = expected.replace("hot", "cold");
            assert_eq!(name(&mirrored, mirrored_trend), cold, "{mirrored:?}");
        }
    }

    #[test]
    fn levels_and_the_side_tried_first() {
        // At alpha 0.10 a bin of 1 counts; at 0.01 only 3.
        assert_eq!(classify(&[0, 0, 0, 0, 1], 1, Trend::None).category, New);
        assert_eq!(
            classify(&[0, 0, 0, 0, 2], 3, Trend::None),
            Emerging::NO_PATTERN
        );
        // Mostly hot, cold now: a new cold spot, not a historical hot one.
        let now_cold = classify(&[2, 2, 2, 2, 2, 2, 2, 2, 2, -2], 2, Trend::Decreasing);
        assert_eq!((now_cold.category, now_cold.hot), (New, false));
        // Three steps: 90% of 3 is all 3.
        assert_eq!(classify(&[2, 0, 2], 2, Trend::None).category, Sporadic);
        assert_eq!(classify(&[2, 2, 2], 2, Trend::None).category, Persistent);
        assert_eq!(classify(&[], 2, Trend::None), Emerging::NO_PATTERN);
    }

    #[test]
    fn space_time_neighbours_and_z_by_hand() {
        // Three locations on a path (0 – 1 – 2), four steps, window 1. Bin (1, t = 2) has
        // neighbours (0, 2), (2, 2), and at step 1 itself and (0, 1), (2, 1): with itself,
        // W = V = 6. Its z by Ord & Getis over all 12 bins:
        let w = Weights::from_neighbours(vec![
            vec![(1, 1.0)],
            vec![(0, 1.0), (2, 1.0)],
            vec![(1, 1.0)],
        ])
        .unwrap();
        #[rustfmt::skip]
        let values = [
            1.0, 2.0, 3.0, 1.0, // location 0, steps 0..4
            2.0, 5.0, 9.0, 4.0, // location 1
            0.0, 4.0, 7.0, 3.0, // location 2
        ];
        let options = EmergingOptions {
            fdr: false,
            ..Default::default()
        };
        let result = emerging_hot_spots(&values, 4, &w, &options).unwrap();
        let n = 12.0;
        let mean = values.iter().sum::<f64>() / n;
        let s = (values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n).sqrt();
        let lag = 9.0 + 3.0 + 7.0 + 5.0 + 2.0 + 4.0;
        let z = (lag - mean * 6.0) / (s * ((n * 6.0 - 36.0) / (n - 1.0)).sqrt());
        assert!(
            (result[1].z[2] - z).abs() < 1e-12,
            "{} vs {z}",
            result[1].z[2]
        );
        // Bin (0, 0): step 0 has no earlier step, so only (1, 0) and itself: W = 2.
        let z00 = (1.0 + 2.0 - mean * 2.0) / (s * ((n * 2.0 - 4.0) / (n - 1.0)).sqrt());
        assert!((result[0].z[0] - z00).abs() < 1e-12);
        // Window 0: space only.
        let space = EmergingOptions {
            time_window: 0,
            fdr: false,
            ..Default::default()
        };
        let result = emerging_hot_spots(&values, 4, &w, &space).unwrap();
        let z12 = (9.0 + 3.0 + 7.0 - mean * 3.0) / (s * ((n * 3.0 - 9.0) / (n - 1.0)).sqrt());
        assert!((result[1].z[2] - z12).abs() < 1e-12);
    }

    #[test]
    fn a_cube_with_planted_patterns() {
        // A 9 × 9 lattice (queen neighbours), 12 steps. Background: small counts varying by
        // place and time. Planted, each a 3 × 3 block:
        // * rows 0–2, cols 0–2: high at every step, growing → intensifying hot spot;
        // * rows 0–2, cols 6–8: high only at the last step → new hot spot;
        // * rows 6–8, cols 0–2: high at every step but the last two → no longer hot.
        let side = 9;
        let steps = 12;
        let lists = (0..side * side)
            .map(|i| {
                let (r, c) = ((i / side) as i64, (i % side) as i64);
                (0..side * side)
                    .filter(|&j| {
                        let (r2, c2) = ((j / side) as i64, (j % side) as i64);
                        j != i && (r - r2).abs() <= 1 && (c - c2).abs() <= 1
                    })
                    .map(|j| (j, 1.0))
                    .collect()
            })
            .collect();
        let w = Weights::from_neighbours(lists).unwrap();
        let mut values = vec![0.0; side * side * steps];
        for i in 0..side * side {
            let (r, c) = (i / side, i % side);
            for t in 0..steps {
                let background = ((i * 7 + t * 3) % 4) as f64;
                let planted = if r < 3 && c < 3 {
                    12.0 + 2.0 * t as f64
                } else if r < 3 && c >= 6 && t == steps - 1 {
                    60.0
                } else if r >= 6 && c < 3 && t < steps - 2 {
                    20.0
                } else {
                    0.0
                };
                values[i * steps + t] = background + planted;
            }
        }
        let result = emerging_hot_spots(&values, steps, &w, &EmergingOptions::default()).unwrap();
        let at = |r: usize, c: usize| &result[r * side + c];
        assert_eq!(
            at(1, 1).pattern.name(),
            "intensifying-hot-spot",
            "{:?}",
            at(1, 1).bins
        );
        assert_eq!(
            at(1, 7).pattern.name(),
            "new-hot-spot",
            "{:?}",
            at(1, 7).bins
        );
        assert_eq!(
            at(4, 4).pattern,
            Emerging::NO_PATTERN,
            "{:?}",
            at(4, 4).bins
        );
        // The block that stopped: hot for 10 of 12 steps (83%), not now.
        let stopped = at(7, 1);
        assert!(
            stopped.bins[..10].iter().all(|&b| b >= 2),
            "{:?}",
            stopped.bins
        );
        assert_eq!(stopped.pattern, Emerging::NO_PATTERN);
        assert_eq!(at(1, 1).trend.trend, Trend::Increasing);
        assert_eq!(at(1, 1).z.len(), steps);
    }

    #[test]
    fn bad_cubes_are_refused() {
        let w = Weights::from_neighbours(vec![vec![(1, 1.0)], vec![(0, 1.0)], vec![]]).unwrap();
        let options = EmergingOptions::default();
        assert!(matches!(
            emerging_hot_spots(&[1.0; 10], 4, &w, &options),
            Err(EmergingError::Shape { .. })
        ));
        assert_eq!(
            emerging_hot_spots(&[1.0; 6], 2, &w, &options),
            Err(EmergingError::TooFewSteps(2))
        );
        let window = EmergingOptions {
            time_window: 4,
            ..options
        };
        assert_eq!(
            emerging_hot_spots(&[1.0; 12], 4, &w, &window),
            Err(EmergingError::TimeWindow {
                window: 4,
                steps: 4
            })
        );
        let alpha = EmergingOptions {
            alpha: 0.2,
            ..options
        };
        assert_eq!(
            emerging_hot_spots(&[1.0; 12], 4, &w, &alpha),
            Err(EmergingError::Alpha(0.2))
        );
        assert!(matches!(
            emerging_hot_spots(&[1.0; 12], 4, &w, &options),
            Err(EmergingError::GiStar(GiStarError::Constant))
        ));
    }
}
