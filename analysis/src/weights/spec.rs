//! The text form of a weights choice, as a request or a command line gives it:
//! `queen`, `rook`, `knn:K`, `distance:M` (binary, metres), `distance:M:inverse` (1/d),
//! `distance:M:inverseP` (1/dᴾ, 0 < P ≤ 4, e.g. `inverse2`) and `ring:K` (H3 grid distance).
//! Bounds: K from 1 to 100 for knn ([`super::MAX_K`]), 1 to 10 for rings
//! ([`super::MAX_RING`]); M positive and at most 1,000,000 m
//! ([`super::MAX_DISTANCE_M`]). [`std::fmt::Display`] gives the text back, and
//! parsing it again gives the same spec.

use std::fmt;
use std::str::FromStr;

use super::DistanceWeight;
use super::distance::{MAX_DISTANCE_M, MAX_K};
use super::h3_ring::MAX_RING;

/// A weights choice, checked against its bounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WeightsSpec {
    Queen,
    Rook,
    Knn {
        k: usize,
    },
    DistanceBand {
        threshold_m: f64,
        weight: DistanceWeight,
    },
    Ring {
        k: u32,
    },
}

/// Why a text is not a weights choice. The texts reach API clients as they are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeightsSpecError {
    #[error(
        "unknown weights {0:?}: expected queen, rook, knn:K, distance:M, distance:M:inverse or ring:K"
    )]
    Unknown(String),
    #[error("knn:K needs a whole number K from 1 to {MAX_K}, got {0:?}")]
    Knn(String),
    #[error("distance:M needs M in metres, more than 0 and at most {MAX_DISTANCE_M}, got {0:?}")]
    Distance(String),
    #[error("distance weighting must be inverse or inverseP with 0 < P <= 4, got {0:?}")]
    DistanceWeight(String),
    #[error("ring:K needs a whole number K from 1 to {MAX_RING}, got {0:?}")]
    Ring(String),
}

impl FromStr for WeightsSpec {
    type Err = WeightsSpecError;

    /// ```
    /// use wangge_analysis::weights::{DistanceWeight, WeightsSpec};
    /// let spec: WeightsSpec = "distance:800:inverse2".parse()?;
    /// assert_eq!(spec, WeightsSpec::DistanceBand {
    ///     threshold_m: 800.0,
    ///     weight: DistanceWeight::Inverse { power: 2.0 },
    /// });
    /// assert_eq!(spec.to_string(), "distance:800:inverse2");
    /// assert!("knn:0".parse::<WeightsSpec>().is_err());
    /// # Ok::<(), wangge_analysis::weights::WeightsSpecError>(())
    /// ```
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let mut parts = text.split(':');
        let kind = parts.next().unwrap_or_default();
        let rest: Vec<&str> = parts.collect();
        match (kind, rest.as_slice()) {
            ("queen", []) => Ok(Self::Queen),
            ("rook", []) => Ok(Self::Rook),
            ("knn", [k]) => match k.parse::<usize>() {
                Ok(k) if (1..=MAX_K).contains(&k) => Ok(Self::Knn { k }),
                _ => Err(WeightsSpecError::Knn((*k).to_owned())),
            },
            ("ring", [k]) => match k.parse::<u32>() {
                Ok(k) if (1..=MAX_RING).contains(&k) => Ok(Self::Ring { k }),
                _ => Err(WeightsSpecError::Ring((*k).to_owned())),
            },
            ("distance", [m, weighting @ ..]) if weighting.len() <= 1 => {
                let threshold_m = match m.parse::<f64>() {
                    Ok(m) if m.is_finite() && m > 0.0 && m <= MAX_DISTANCE_M => m,
                    _ => return Err(WeightsSpecError::Distance((*m).to_owned())),
                };
                let weight = match weighting.first() {
                    None => DistanceWeight::Binary,
                    Some(w) => parse_inverse(w)?,
                };
                Ok(Self::DistanceBand {
                    threshold_m,
                    weight,
                })
            }
            _ => Err(WeightsSpecError::Unknown(text.to_owned())),
        }
    }
}

fn parse_inverse(text: &str) -> Result<DistanceWeight, WeightsSpecError> {
    let bad = || WeightsSpecError::DistanceWeight(text.to_owned());
    let power = match text.strip_prefix("inverse") {
        Some("") => 1.0,
        Some(p) => p.parse::<f64>().map_err(|_| bad())?,
        None => return Err(bad()),
    };
    if !(power.is_finite() && power > 0.0 && power <= 4.0) {
        return Err(bad());
    }
    Ok(DistanceWeight::Inverse { power })
}

impl fmt::Display for WeightsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Queen => write!(f, "queen"),
            Self::Rook => write!(f, "rook"),
            Self::Knn { k } => write!(f, "knn:{k}"),
            Self::Ring { k } => write!(f, "ring:{k}"),
            Self::DistanceBand {
                threshold_m,
                weight,
            } => {
                write!(f, "distance:{threshold_m}")?;
                match weight {
                    DistanceWeight::Binary => Ok(()),
                    DistanceWeight::Inverse { power: 1.0 } => write!(f, ":inverse"),
                    DistanceWeight::Inverse { power } => write!(f, ":inverse{power}"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_parses_and_prints_back() {
        for (text, spec) in [
            ("queen", WeightsSpec::Queen),
            ("rook", WeightsSpec::Rook),
            ("knn:8", WeightsSpec::Knn { k: 8 }),
            ("ring:1", WeightsSpec::Ring { k: 1 }),
            (
                "distance:1500",
                WeightsSpec::DistanceBand {
                    threshold_m: 1500.0,
                    weight: DistanceWeight::Binary,
                },
            ),
            (
                "distance:250.5:inverse",
                WeightsSpec::DistanceBand {
                    threshold_m: 250.5,
                    weight: DistanceWeight::Inverse { power: 1.0 },
                },
            ),
            (
                "distance:1000000:inverse1.5",
                WeightsSpec::DistanceBand {
                    threshold_m: 1_000_000.0,
                    weight: DistanceWeight::Inverse { power: 1.5 },
                },
            ),
        ] {
            assert_eq!(text.parse::<WeightsSpec>(), Ok(spec), "{text}");
            assert_eq!(spec.to_string(), text);
        }
        assert_eq!(
            " knn:3 ".parse::<WeightsSpec>(),
            Ok(WeightsSpec::Knn { k: 3 })
        );
    }

    #[test]
    fn out_of_bounds_and_unknown_forms_say_why() {
        for (text, message) in [
            (
                "knn:0",
                "knn:K needs a whole number K from 1 to 100, got \"0\"",
            ),
            ("knn:101", "from 1 to 100, got \"101\""),
            ("knn:2.5", "got \"2.5\""),
            ("distance:-5", "more than 0 and at most 1000000, got \"-5\""),
            ("distance:1000001", "got \"1000001\""),
            ("distance:NaN", "got \"NaN\""),
            ("distance:500:square", "inverse or inverseP"),
            ("distance:500:inverse9", "got \"inverse9\""),
            (
                "ring:99",
                "ring:K needs a whole number K from 1 to 10, got \"99\"",
            ),
            ("ring:0", "got \"0\""),
            ("queen:1", "unknown weights \"queen:1\""),
            ("Queen", "unknown weights"),
            ("", "unknown weights \"\""),
            ("distance:500:inverse:2", "unknown weights"),
        ] {
            let error = text.parse::<WeightsSpec>().unwrap_err().to_string();
            assert!(error.contains(message), "{text}: {error}");
        }
    }
}
