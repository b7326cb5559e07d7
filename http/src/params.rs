//! Query parameters parsed into validated types at the boundary.

use std::fmt;
use std::str::FromStr;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// Like axum's `Query`, but a bad query string is a problem+json 400 naming the problem.
#[derive(Debug, Clone, Copy, Default)]
pub struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // PostgreSQL text cannot hold a NUL character: refused here, not as a database error.
        if parts.uri.query().is_some_and(has_encoded_nul) {
            return Err(ApiError::InvalidParameter(NUL_REFUSED.into()));
        }
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(value)) => Ok(Params(value)),
            Err(rejection) => Err(ApiError::InvalidParameter(rejection.body_text())),
        }
    }
}

/// Like axum's `Json`, but a body that is not the expected JSON (wrong content type, syntax,
/// a missing field, or a field the caller may not set) is a problem+json 422 and nothing runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<serde_json::Value>::from_request(request, state).await {
            Ok(axum::Json(value)) => from_json_value(value).map(JsonBody),
            Err(rejection) => Err(ApiError::MalformedBody(rejection.body_text())),
        }
    }
}

const NUL_REFUSED: &str = "text may not contain NUL characters (U+0000)";

/// True when a query string holds `%00`, a NUL once decoded.
pub fn has_encoded_nul(query: &str) -> bool {
    query
        .as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

/// Reads a body's JSON into `T`, refusing a NUL in any string first: JSON may carry one
/// (`\u0000`), PostgreSQL text may not, and the write would fail in the database.
fn from_json_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    fn holds_nul(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(holds_nul),
            serde_json::Value::Object(map) => {
                map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v))
            }
            _ => false,
        }
    }
    if holds_nul(&value) {
        return Err(ApiError::MalformedBody(NUL_REFUSED.into()));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiError::MalformedBody(format!("bad JSON body: {e}")))
}

/// The years a time filter may name. PostgreSQL holds far more, but no record of ours lies
/// outside them, and a year such as -200000 would only reach the database to fail there.
pub const FILTER_YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

/// An instant for a filter, inside [`FILTER_YEARS`].
pub fn instant_in_range(at: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if FILTER_YEARS.contains(&at.year()) {
        Ok(at)
    } else {
        Err(format!(
            "{at} is outside the years {}–{}",
            FILTER_YEARS.start(),
            FILTER_YEARS.end()
        ))
    }
}

/// `#[serde(default, deserialize_with = "optional_instant")]` for an RFC 3339 time filter.
pub fn optional_instant<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<DateTime<Utc>>::deserialize(deserializer)?
        .map(instant_in_range)
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// `#[serde(default, deserialize_with = "optional_day")]` for a `YYYY-MM-DD` day filter.
pub fn optional_day<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<NaiveDate>, D::Error> {
    Option::<NaiveDate>::deserialize(deserializer)?
        .map(|day| {
            if FILTER_YEARS.contains(&day.year()) {
                Ok(day)
            } else {
                Err(format!(
                    "{day} is outside the years {}–{}",
                    FILTER_YEARS.start(),
                    FILTER_YEARS.end()
                ))
            }
        })
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// Parses a JSON request body held as bytes (for handlers that also need the raw bytes, as
/// idempotent writes do), with [`JsonBody`]'s rules: a JSON content type, then the body.
pub fn json_from_bytes<T: DeserializeOwned>(
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<T, ApiError> {
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
    if !json {
        return Err(ApiError::MalformedBody(
            "expected a body with content type application/json".into(),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::MalformedBody(format!("bad JSON body: {e}")))?;
    from_json_value(value)
}

/// How many features one GeoJSON answer may hold: `limit`, 1 to [`Limit::MAX`], default the
/// maximum. An area with more is answered truncated (`"truncated": true`); the client narrows
/// its bbox or reads vector tiles instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit(i64);

impl Limit {
    pub const MAX: i64 = 10_000;

    pub fn get(self) -> i64 {
        self.0
    }
}

impl Default for Limit {
    fn default() -> Self {
        Limit(Self::MAX)
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = i64::deserialize(deserializer)?;
        if (1..=Self::MAX).contains(&value) {
            Ok(Limit(value))
        } else {
            Err(serde::de::Error::custom(format!(
                "limit {value} is outside 1..={}",
                Self::MAX
            )))
        }
    }
}

/// A longitude/latitude box `minLon,minLat,maxLon,maxLat` (WGS-84 degrees).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl Bbox {
    /// The corners as the domain takes them: `[min_lon, min_lat, max_lon, max_lat]`.
    pub fn corners(self) -> [f64; 4] {
        [self.min_lon, self.min_lat, self.max_lon, self.max_lat]
    }

    /// The widest box, in degrees of longitude or latitude, a query may ask for: a whole
    /// prefecture-level city (Yuxi spans about 2°) with room to spare, but not a country.
    pub const MAX_SPAN_DEGREES: f64 = 5.0;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BboxError(String);

impl fmt::Display for BboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bbox {}", self.0)
    }
}

impl std::error::Error for BboxError {}

impl FromStr for Bbox {
    type Err = BboxError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split(',').collect();
        let [a, b, c, d] = parts.as_slice() else {
            return Err(BboxError(
                "must be four numbers: minLon,minLat,maxLon,maxLat".into(),
            ));
        };
        let number = |text: &str| -> Result<f64, BboxError> {
            text.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| BboxError(format!("has `{text}`, which is not a finite number")))
        };
        let bbox = Bbox {
            min_lon: number(a)?,
            min_lat: number(b)?,
            max_lon: number(c)?,
            max_lat: number(d)?,
        };
        for lon in [bbox.min_lon, bbox.max_lon] {
            if !(-180.0..=180.0).contains(&lon) {
                return Err(BboxError(format!("longitude {lon} is outside -180..180")));
            }
        }
        for lat in [bbox.min_lat, bbox.max_lat] {
            if !(-90.0..=90.0).contains(&lat) {
                return Err(BboxError(format!("latitude {lat} is outside -90..90")));
            }
        }
        if bbox.min_lon > bbox.max_lon || bbox.min_lat > bbox.max_lat {
            return Err(BboxError("minimum exceeds maximum".into()));
        }
        if bbox.max_lon - bbox.min_lon > Bbox::MAX_SPAN_DEGREES
            || bbox.max_lat - bbox.min_lat > Bbox::MAX_SPAN_DEGREES
        {
            return Err(BboxError(format!(
                "spans more than {} degrees; a city fits in far less",
                Bbox::MAX_SPAN_DEGREES
            )));
        }
        Ok(bbox)
    }
}

impl<'de> Deserialize<'de> for Bbox {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bbox_parses_and_validates() {
        let b: Bbox = "102.1,24.0,102.9,24.8".parse().unwrap();
        assert_eq!(b.min_lon, 102.1);
        assert_eq!(b.max_lat, 24.8);
        let widest: Bbox = "100,20,105,25".parse().unwrap();
        assert_eq!(widest.max_lon - widest.min_lon, Bbox::MAX_SPAN_DEGREES);
        for bad in [
            "",
            "1,2,3",
            "1,2,3,4,5",
            "a,2,3,4",
            "NaN,2,3,4",
            "181,0,182,1",
            "0,-91,1,0",
            "24.0,102.1,24.8,102.9", // latitude first: 102.1 is no latitude
            "3,0,1,1",
            "100,20,106,24", // wider than a city
        ] {
            assert!(bad.parse::<Bbox>().is_err(), "{bad:?} should be refused");
        }
    }
}
