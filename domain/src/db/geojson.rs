//! GeoJSON assembled by PostGIS: the SQL that gathers a query's features into one
//! FeatureCollection, which the HTTP layer sends as the database wrote it.

/// SQL answering one row, one column: the text of a GeoJSON FeatureCollection of the
/// `feature` column of the given query, in the order of its `sort_key` column.
macro_rules! feature_collection_sql {
    // `$limit` names the bind parameter holding the cap (the HTTP layer's `Limit`); one row
    // past it is read so that the answer can say it was truncated.
    ($features:literal, $limit:literal) => {
        concat!(
            "SELECT json_build_object(
                 'type', 'FeatureCollection',
                 'features', COALESCE(
                     json_agg(f.feature ORDER BY f.sort_key) FILTER (WHERE f.n <= ",
            $limit,
            "),
                     '[]'::json),
                 'numberReturned', LEAST(count(*), ",
            $limit,
            "),
                 'truncated', count(*) > ",
            $limit,
            "
             )::text
             FROM (SELECT i.*, row_number() OVER (ORDER BY i.sort_key) AS n
                   FROM (",
            $features,
            ") i ORDER BY i.sort_key LIMIT ",
            $limit,
            " + 1) f"
        )
    };
}
pub(crate) use feature_collection_sql;

/// Binds an optional lon/lat box (`[min_lon, min_lat, max_lon, max_lat]`) as four nullable
/// floats (SQL: `$n::float8 IS NULL OR geom && ST_MakeEnvelope($n, $n+1, $n+2, $n+3, 4326)`).
pub fn bbox_binds(bbox: Option<[f64; 4]>) -> [Option<f64>; 4] {
    match bbox {
        Some(corners) => corners.map(Some),
        None => [None; 4],
    }
}
