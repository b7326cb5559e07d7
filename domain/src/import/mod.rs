//! `wangge import`: administrative units and grid cells from GeoJSON, households from CSV.
//!
//! Every feature (or row) is checked before anything is written: geometry type, closed rings,
//! finite coordinates in longitude/latitude order and range, the datum converted to WGS-84,
//! validity by PostGIS's own rules, its parent found, its code well-formed and new. A file
//! with any bad feature gets one error per bad feature (its index and what is wrong) and
//! writes nothing: checks and inserts run in one transaction that commits only when all pass.

mod datum;
mod features;

use std::fmt;

use sqlx::{PgPool, Postgres, Transaction};

pub use datum::{Datum, gcj02_to_wgs84, wgs84_to_gcj02};
pub use features::{
    MAX_FEATURES, MAX_NAME_CHARS, MAX_VERTICES_PER_FEATURE, MIN_PART_AREA_M2, MIN_PART_WIDTH_M,
    ParsedFeature, parse_feature_collection,
};

/// The largest file an import reads (bytes): far above a city's grid (Yuxi's 5,162 cells are
/// a few MB), below what would exhaust the machine's memory once parsed.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Where an import has got to, on the log (the command line shows it), with the time taken.
struct Progress(std::time::Instant);

impl Progress {
    fn start() -> Self {
        Self(std::time::Instant::now())
    }

    fn step(&self, what: &str) {
        tracing::info!(
            seconds = format!("{:.1}", self.0.elapsed().as_secs_f64()),
            "import: {what}"
        );
    }
}

/// An import is one transaction, a bulk write ([`crate::db::bulk_write`]) announced as
/// `event` when it commits.
async fn begin_import(
    pool: &PgPool,
    event: &str,
) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    crate::db::bulk_write(&mut tx, event).await?;
    Ok(tx)
}

use crate::audit::{self, Entry, RequestMeta};
use crate::db::geometry::Ewkb;
use crate::model::AdminLevel;

/// Most problems listed in one error (the rest are counted).
const MAX_LISTED_PROBLEMS: usize = 200;

/// What is wrong with one feature or row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Index of the feature in the collection (0-based), or the CSV line number (1-based,
    /// header is line 1).
    pub index: usize,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is not a GeoJSON FeatureCollection: {0}")]
    NotFeatureCollection(String),
    #[error("the file is not valid CSV: {0}")]
    Csv(String),
    #[error("{}", describe(.what, .problems))]
    Invalid {
        what: &'static str,
        problems: Vec<Problem>,
    },
    #[error("grid plan version {0} already exists")]
    PlanExists(i32),
    #[error("the import failed in the database: {0}")]
    Database(#[from] sqlx::Error),
}

fn describe(what: &str, problems: &[Problem]) -> String {
    let bad: std::collections::BTreeSet<usize> = problems.iter().map(|p| p.index).collect();
    let plural = if bad.len() == 1 { "" } else { "s" };
    let mut text = format!("{} bad {what}{plural}; nothing was imported:", bad.len());
    for p in problems.iter().take(MAX_LISTED_PROBLEMS) {
        text.push_str(&format!("\n  {what} {}: {}", p.index, p.message));
    }
    if problems.len() > MAX_LISTED_PROBLEMS {
        text.push_str(&format!(
            "\n  … and {} more",
            problems.len() - MAX_LISTED_PROBLEMS
        ));
    }
    text
}

/// What an import wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportReport {
    pub what: &'static str,
    pub rows: usize,
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "imported {} {}", self.rows, self.what)
    }
}

/// Administrative units of one level. Each feature needs `code` (or `adcode`) and `name`.
pub async fn import_admin_units(
    pool: &PgPool,
    text: &str,
    level: AdminLevel,
    datum: Datum,
) -> Result<ImportReport, ImportError> {
    let progress = Progress::start();
    let (features, mut problems) = parse_feature_collection(text, datum, &["code", "adcode"])?;
    progress.step(&format!(
        "{} features read and checked",
        features.len() + problems.len()
    ));
    let mut seen = std::collections::HashSet::new();
    for f in &features {
        if !level.is_valid_code(&f.code) {
            problems.push(problem(
                f.index,
                format!(
                    "code `{}` is not a {}-digit {} code",
                    f.code,
                    level.code_len(),
                    level.as_str()
                ),
            ));
        }
        if !seen.insert(f.code.clone()) {
            problems.push(problem(
                f.index,
                format!("code `{}` appears more than once in the file", f.code),
            ));
        }
    }

    let mut tx = begin_import(pool, "all").await?;
    let parent_ids = match level.parent() {
        None => vec![None; features.len()],
        Some(parent_level) => {
            let wanted: Vec<String> = features
                .iter()
                .map(|f| level.parent_code(&f.code).unwrap_or_default())
                .collect();
            let found = ids_by_code(&mut tx, parent_level, &wanted).await?;
            features
                .iter()
                .zip(&wanted)
                .zip(found)
                .map(|((f, code), id)| {
                    if id.is_none() {
                        problems.push(problem(f.index, format!(
                            "its parent {} `{code}` is not in the database (import the {} level first)",
                            parent_level.as_str(),
                            parent_level.as_str()
                        )));
                    }
                    id
                })
                .collect()
        }
    };
    let codes: Vec<String> = features.iter().map(|f| f.code.clone()).collect();
    for (f, existing) in features
        .iter()
        .zip(ids_by_code(&mut tx, level, &codes).await?)
    {
        if existing.is_some() {
            problems.push(problem(
                f.index,
                format!("{} `{}` already exists", level.as_str(), f.code),
            ));
        }
    }
    problems.extend(postgis_problems(&mut tx, &features).await?);
    progress.step("checked against the database");
    if !problems.is_empty() {
        return Err(invalid("feature", problems));
    }

    sqlx::query(
        "INSERT INTO admin_unit (level, code, name, parent_id, geom)
         SELECT $1, code, name, parent_id, ST_Multi(geom::geometry)
         FROM unnest($2::text[], $3::text[], $4::int8[], $5::text[]) AS t(code, name, parent_id, geom)",
    )
    .bind(level)
    .bind(&codes)
    .bind(features.iter().map(|f| f.name.clone()).collect::<Vec<_>>())
    .bind(&parent_ids)
    .bind(features.iter().map(|f| f.ewkb.as_str().to_owned()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    let what = format!("{} {}", features.len(), level.as_str());
    audit::record(
        &mut tx,
        &Entry::system("import", "admin_unit", what, &RequestMeta::cli()),
    )
    .await?;
    tx.commit().await?;
    progress.step("written");
    Ok(ImportReport {
        what: "administrative units",
        rows: features.len(),
    })
}

/// Grid cells into a new draft plan `plan_version`. Each feature needs `code`, `name` and
/// `village_code`; cells must lie within their village and not overlap one another.
pub async fn import_grid_cells(
    pool: &PgPool,
    text: &str,
    plan_version: i32,
    datum: Datum,
) -> Result<ImportReport, ImportError> {
    let progress = Progress::start();
    let (features, mut problems) = parse_feature_collection(text, datum, &["code"])?;
    progress.step(&format!(
        "{} features read and checked",
        features.len() + problems.len()
    ));
    let village_codes: Vec<String> = features
        .iter()
        .map(|f| {
            f.properties
                .get("village_code")
                .map(property_text)
                .unwrap_or_default()
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    for f in &features {
        if !seen.insert(f.code.clone()) {
            problems.push(problem(
                f.index,
                format!("code `{}` appears more than once in the file", f.code),
            ));
        }
        if f.code.is_empty()
            || f.code.len() > 40
            || !f
                .code
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            problems.push(problem(
                f.index,
                format!("code `{}` must be 1 to 40 letters, digits or '-'", f.code),
            ));
        }
    }

    let mut tx = begin_import(pool, "grid_plan").await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM grid_plan WHERE version = $1)")
            .bind(plan_version)
            .fetch_one(&mut *tx)
            .await?;
    if exists {
        return Err(ImportError::PlanExists(plan_version));
    }
    let village_ids = ids_by_code(&mut tx, AdminLevel::Village, &village_codes).await?;
    for ((f, code), id) in features.iter().zip(&village_codes).zip(&village_ids) {
        if id.is_none() {
            problems.push(problem(
                f.index,
                format!("its village `{code}` is not in the database"),
            ));
        }
    }
    problems.extend(postgis_problems(&mut tx, &features).await?);
    progress.step("geometry checked by PostGIS");
    if problems.is_empty() {
        problems.extend(grid_topology_problems(&mut tx, &features, &village_ids).await?);
        progress.step("nesting in villages and overlaps checked");
    }
    if !problems.is_empty() {
        return Err(invalid("feature", problems));
    }

    let plan_id: i64 = sqlx::query_scalar(
        "INSERT INTO grid_plan (version, name, status) VALUES ($1, $2, 'draft') RETURNING id",
    )
    .bind(plan_version)
    .bind(format!("导入的网格方案 v{plan_version}"))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO grid_cell (plan_id, village_id, code, name, geom)
         SELECT $1, village_id, code, name, ST_Multi(geom::geometry)
         FROM unnest($2::int8[], $3::text[], $4::text[], $5::text[]) AS t(village_id, code, name, geom)",
    )
    .bind(plan_id)
    .bind(&village_ids)
    .bind(features.iter().map(|f| f.code.clone()).collect::<Vec<_>>())
    .bind(features.iter().map(|f| f.name.clone()).collect::<Vec<_>>())
    .bind(features.iter().map(|f| f.ewkb.as_str().to_owned()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    crate::plans::cells_written_in_bulk(&mut tx).await?;
    let what = format!("plan {plan_version}: {} cells", features.len());
    audit::record(
        &mut tx,
        &Entry::system("import", "grid_cell", what, &RequestMeta::cli()),
    )
    .await?;
    tx.commit().await?;
    progress.step("written");
    Ok(ImportReport {
        what: "grid cells",
        rows: features.len(),
    })
}

/// Households from CSV with the header `address,size,village_code,lon,lat`. Each point must
/// lie within its village.
pub async fn import_households(
    pool: &PgPool,
    text: &str,
    datum: Datum,
) -> Result<ImportReport, ImportError> {
    const HEADER: [&str; 5] = ["address", "size", "village_code", "lon", "lat"];
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| ImportError::Csv(e.to_string()))?
        .clone();
    if header.iter().collect::<Vec<_>>() != HEADER {
        return Err(ImportError::Csv(format!(
            "the header must be `{}`, found `{}`",
            HEADER.join(","),
            header.iter().collect::<Vec<_>>().join(",")
        )));
    }
    let mut problems = Vec::new();
    let mut rows: Vec<(usize, String, i16, String, Ewkb)> = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems.push(problem(line, e.to_string()));
                continue;
            }
        };
        let address = record[0].to_owned();
        if address.is_empty() {
            problems.push(problem(line, "the address is empty".into()));
        }
        let size = match record[1].parse::<i16>() {
            Ok(s) if (1..=60).contains(&s) => s,
            _ => {
                problems.push(problem(
                    line,
                    format!("size `{}` is not a whole number from 1 to 60", &record[1]),
                ));
                continue;
            }
        };
        let (lon, lat) = match (record[3].parse::<f64>(), record[4].parse::<f64>()) {
            (Ok(lon), Ok(lat)) => (lon, lat),
            _ => {
                problems.push(problem(
                    line,
                    format!("lon/lat `{}`,`{}` are not numbers", &record[3], &record[4]),
                ));
                continue;
            }
        };
        if let Err(message) = features::check_lonlat(lon, lat) {
            problems.push(problem(line, message));
            continue;
        }
        let (lon, lat) = datum.to_wgs84(lon, lat);
        rows.push((
            line,
            address,
            size,
            record[2].to_owned(),
            Ewkb::point(geo::Point::new(lon, lat)),
        ));
    }

    let mut tx = begin_import(pool, "all").await?;
    let codes: Vec<String> = rows.iter().map(|r| r.3.clone()).collect();
    let village_ids = ids_by_code(&mut tx, AdminLevel::Village, &codes).await?;
    for (row, id) in rows.iter().zip(&village_ids) {
        if id.is_none() {
            problems.push(problem(
                row.0,
                format!("its village `{}` is not in the database", row.3),
            ));
        }
    }
    if problems.is_empty() {
        let outside: Vec<i32> = sqlx::query_scalar(
            "SELECT t.ord::int4
             FROM unnest($1::int8[], $2::text[]) WITH ORDINALITY AS t(village_id, geom, ord)
             JOIN admin_unit v ON v.id = t.village_id
             WHERE NOT ST_Intersects(v.geom, t.geom::geometry)
             ORDER BY t.ord",
        )
        .bind(&village_ids)
        .bind(
            rows.iter()
                .map(|r| r.4.as_str().to_owned())
                .collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx)
        .await?;
        for ord in outside {
            let row = &rows[ord as usize - 1];
            problems.push(problem(
                row.0,
                format!("the point lies outside its village `{}`", row.3),
            ));
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.index);
        return Err(invalid("line", problems));
    }
    sqlx::query(
        // A bulk write: the trigger that finds a household's cell is off, so it is found here.
        "INSERT INTO household (address, size, village_id, geom, grid_cell_code)
         SELECT address, size, village_id, geom::geometry,
                wangge_household_cell(village_id, geom::geometry)
         FROM unnest($1::text[], $2::int2[], $3::int8[], $4::text[]) AS t(address, size, village_id, geom)",
    )
    .bind(rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.2).collect::<Vec<_>>())
    .bind(&village_ids)
    .bind(rows.iter().map(|r| r.4.as_str().to_owned()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    // The geocoder finds the new addresses from now on.
    let mut touched: Vec<i64> = village_ids.iter().flatten().copied().collect();
    touched.sort_unstable();
    touched.dedup();
    crate::geocode::rebuild_register(&mut tx, Some(&touched)).await?;
    let what = format!("{} households", rows.len());
    audit::record(
        &mut tx,
        &Entry::system("import", "household", what, &RequestMeta::cli()),
    )
    .await?;
    tx.commit().await?;
    Ok(ImportReport {
        what: "households",
        rows: rows.len(),
    })
}

fn problem(index: usize, message: String) -> Problem {
    Problem { index, message }
}

fn invalid(what: &'static str, mut problems: Vec<Problem>) -> ImportError {
    problems.sort_by_key(|p| p.index);
    ImportError::Invalid { what, problems }
}

fn property_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.trim().to_owned(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

/// Ids of the units with these codes at `level`, in order (`None` where there is none).
async fn ids_by_code(
    tx: &mut Transaction<'static, Postgres>,
    level: AdminLevel,
    codes: &[String],
) -> Result<Vec<Option<i64>>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT u.id
         FROM unnest($2::text[]) WITH ORDINALITY AS t(code, ord)
         LEFT JOIN admin_unit u ON u.level = $1 AND u.code = t.code
         ORDER BY t.ord",
    )
    .bind(level)
    .bind(codes)
    .fetch_all(&mut **tx)
    .await
}

/// PostGIS's verdict on each geometry: the same rules the table's CHECK applies, with the
/// reason and location it gives; and, for valid ones, each part at least
/// [`MIN_PART_AREA_M2`] large and [`MIN_PART_WIDTH_M`] wide on the sphere (twice the area
/// over the perimeter, which for a thin strip is its width), so no sliver comes in.
async fn postgis_problems(
    tx: &mut Transaction<'static, Postgres>,
    features: &[ParsedFeature],
) -> Result<Vec<Problem>, sqlx::Error> {
    // The feature's position; PostGIS's reason, or the sliver part, its area and mean width.
    type Found = (i32, Option<String>, Option<i32>, Option<f64>, Option<f64>);
    let found: Vec<Found> = sqlx::query_as(
        "WITH t AS (
             SELECT ord::int4, geom::geometry AS geom, ST_IsValid(geom::geometry) AS valid
             FROM unnest($1::text[]) WITH ORDINALITY AS u(geom, ord)
         ), parts AS (
             SELECT t.ord, d.path[1] AS part, ST_Area(d.geom::geography) AS area,
                    ST_Perimeter(d.geom::geography) AS perimeter
             FROM t, ST_Dump(t.geom) d
             WHERE t.valid
         )
         SELECT ord, ST_IsValidReason(geom), NULL::int4, NULL::float8, NULL::float8
         FROM t WHERE NOT valid
         UNION ALL
         SELECT ord, NULL, part - 1, area, 2 * area / NULLIF(perimeter, 0)
         FROM parts WHERE area < $2 OR 2 * area / NULLIF(perimeter, 0) < $3
         ORDER BY 1, 3",
    )
    .bind(
        features
            .iter()
            .map(|f| f.ewkb.as_str().to_owned())
            .collect::<Vec<_>>(),
    )
    .bind(MIN_PART_AREA_M2)
    .bind(MIN_PART_WIDTH_M)
    .fetch_all(&mut **tx)
    .await?;
    Ok(found
        .into_iter()
        .map(|(ord, reason, part, area, width)| {
            let message = match (reason, part, area, width) {
                (Some(reason), ..) => format!("invalid geometry: {reason}"),
                (None, Some(part), Some(area), _) if area < MIN_PART_AREA_M2 => format!(
                    "polygon {part} is a sliver: {area:.2} m², less than {MIN_PART_AREA_M2} m²"
                ),
                (None, part, _, width) => format!(
                    "polygon {} is a sliver: {:.3} m wide on average (twice its area over its \
                     perimeter), less than {MIN_PART_WIDTH_M} m",
                    part.unwrap_or_default(),
                    width.unwrap_or_default()
                ),
            };
            problem(features[ord as usize - 1].index, message)
        })
        .collect())
}

/// Grid cells outside their village, or overlapping one another.
async fn grid_topology_problems(
    tx: &mut Transaction<'static, Postgres>,
    features: &[ParsedFeature],
    village_ids: &[Option<i64>],
) -> Result<Vec<Problem>, sqlx::Error> {
    let geoms: Vec<String> = features
        .iter()
        .map(|f| f.ewkb.as_str().to_owned())
        .collect();
    let outside: Vec<i32> = sqlx::query_scalar(
        "SELECT t.ord::int4
         FROM unnest($1::int8[], $2::text[]) WITH ORDINALITY AS t(village_id, geom, ord)
         JOIN admin_unit v ON v.id = t.village_id
         WHERE NOT ST_CoveredBy(t.geom::geometry, v.geom)
         ORDER BY t.ord",
    )
    .bind(village_ids)
    .bind(&geoms)
    .fetch_all(&mut **tx)
    .await?;
    tracing::info!("import: nesting in villages checked");
    // Indexed, so each cell meets only its neighbours: joined unindexed, a city's cells were
    // compared pairwise (10^10 pairs for 100,000 cells) and the import timed out.
    sqlx::query(
        "CREATE TEMP TABLE import_cell ON COMMIT DROP AS
         SELECT ord::int4, geom::geometry AS geom
         FROM unnest($1::text[]) WITH ORDINALITY AS u(geom, ord)",
    )
    .bind(&geoms)
    .execute(&mut **tx)
    .await?;
    sqlx::query("CREATE INDEX ON import_cell USING gist (geom)")
        .execute(&mut **tx)
        .await?;
    sqlx::query("ANALYZE import_cell")
        .execute(&mut **tx)
        .await?;
    let overlapping: Vec<(i32, i32)> = sqlx::query_as(
        // Interiors can meet only where the boxes overlap with some area; neighbours whose
        // boxes merely touch (a regular grid's) need no full relate.
        "SELECT a.ord, b.ord
         FROM import_cell a JOIN import_cell b ON a.ord < b.ord AND a.geom && b.geom
         WHERE greatest(ST_XMin(a.geom), ST_XMin(b.geom)) < least(ST_XMax(a.geom), ST_XMax(b.geom))
           AND greatest(ST_YMin(a.geom), ST_YMin(b.geom)) < least(ST_YMax(a.geom), ST_YMax(b.geom))
           AND ST_Relate(a.geom, b.geom, '2********')
         ORDER BY a.ord, b.ord",
    )
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query("DROP TABLE import_cell")
        .execute(&mut **tx)
        .await?;
    let mut problems: Vec<Problem> = outside
        .into_iter()
        .map(|ord| {
            problem(
                features[ord as usize - 1].index,
                "it is not within its village".into(),
            )
        })
        .collect();
    for (a, b) in overlapping {
        problems.push(problem(
            features[a as usize - 1].index,
            format!("it overlaps feature {}", features[b as usize - 1].index),
        ));
    }
    Ok(problems)
}
