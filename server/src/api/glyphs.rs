//! `GET /glyphs/{fontstack}/{range}.pbf`: MapLibre's glyph ranges, served locally.
//!
//! Command centres often have no internet, so nothing may come from a font CDN. The map draws
//! Chinese with the browser's own CJK fonts (`localIdeographFontFamily`), and its labels are
//! Chinese names, so every range is answered with an empty glyph set: a valid, empty protobuf.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::api::AppState;
use crate::error::ApiError;

pub fn router() -> Router<AppState> {
    Router::new().route("/glyphs/{fontstack}/{range}", get(glyph_range))
}

async fn glyph_range(
    Path((_fontstack, range)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let valid = range
        .strip_suffix(".pbf")
        .and_then(|r| r.split_once('-'))
        .and_then(|(start, end)| Some((start.parse::<u32>().ok()?, end.parse::<u32>().ok()?)))
        .is_some_and(|(start, end)| start % 256 == 0 && end == start + 255 && end <= 65535);
    if !valid {
        return Err(ApiError::InvalidParameter(format!(
            "glyph range `{range}` is not of the form N-(N+255).pbf"
        )));
    }
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-protobuf"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        Vec::<u8>::new(),
    ))
}
