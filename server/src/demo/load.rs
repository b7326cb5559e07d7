//! Loading a generated demo with `COPY`, in one transaction: the database holds the whole
//! demo or none of it.

use chrono::{DateTime, Utc};
use geo::Point;
use sqlx::{PgPool, Postgres, Transaction};

use wangge_demo::{DemoData, Scale};
use wangge_domain::audit::{self, Entry, RequestMeta};
use wangge_domain::db::geometry::Ewkb;
use wangge_domain::personal::Cipher;

/// Rows per `COPY` chunk sent to the server.
const CHUNK_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "the database already holds administrative units; the demo loads only into an empty database"
    )]
    NotEmpty,
    #[error("loading the demo failed: {0}")]
    Database(#[from] sqlx::Error),
}

/// Loads `data`, reporting each step through `progress`.
/// Personal data (residents' ID numbers and phones, workers' phones) is sealed with `cipher`.
pub async fn load(
    pool: &PgPool,
    data: &DemoData,
    cipher: &Cipher,
    progress: &mut dyn FnMut(&str),
) -> Result<(), LoadError> {
    let mut tx = pool.begin().await?;
    let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM admin_unit")
        .fetch_one(&mut *tx)
        .await?;
    if existing > 0 {
        return Err(LoadError::NotEmpty);
    }
    wangge_domain::db::bulk_write(&mut tx, "all").await?;

    copy(
        &mut tx,
        "COPY admin_unit (id, level, code, name, parent_id, geom) FROM STDIN",
        data.units.iter().map(|u| {
            row(&[
                &u.id.to_string(),
                u.level.as_str(),
                &u.code,
                &u.name,
                &u.parent_id
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| NULL.into()),
                Ewkb::multi_polygon(&u.geom).as_str(),
            ])
        }),
    )
    .await?;
    progress(&format!("{} administrative units", data.units.len()));

    sqlx::query(
        "INSERT INTO grid_plan (id, version, name, status, created_at, published_at)
         OVERRIDING SYSTEM VALUE VALUES (1, 1, '玉溪市网格划分(演示)', 'published', $1, $1)",
    )
    .bind(data.reference)
    .execute(&mut *tx)
    .await?;
    copy(
        &mut tx,
        "COPY grid_cell (id, plan_id, village_id, code, name, geom) FROM STDIN",
        data.grid_cells.iter().map(|g| {
            row(&[
                &g.id.to_string(),
                "1",
                &g.village_id.to_string(),
                &g.code,
                &g.name,
                Ewkb::multi_polygon(&g.geom).as_str(),
            ])
        }),
    )
    .await?;
    progress(&format!("{} grid cells", data.grid_cells.len()));

    // Building the big tables' indexes once after the load is several times faster than
    // growing them row by row. They are rebuilt exactly as the migrations define them, inside
    // this transaction: nobody ever sees the tables without them.
    let rebuilt = rebuildable_indexes(&mut tx, &["household", "resident"]).await?;
    for (name, _) in &rebuilt {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(&mut *tx)
            .await?;
    }
    copy(
        &mut tx,
        "COPY household (id, address, size, village_id, geom, grid_cell_code) FROM STDIN",
        data.households.iter().map(|h| {
            row(&[
                &h.id.to_string(),
                &h.address,
                &h.size.to_string(),
                &h.village_id.to_string(),
                point(h.lonlat).as_str(),
                &h.grid_cell_code,
            ])
        }),
    )
    .await?;
    copy(
        &mut tx,
        "COPY resident (household_id, name, id_number_enc, phone_enc) FROM STDIN",
        data.households.iter().map(|h| {
            row(&[
                &h.id.to_string(),
                &h.head.name,
                &bytea(&cipher.seal(&h.head.id_number)),
                &bytea(&cipher.seal(&h.head.phone)),
            ])
        }),
    )
    .await?;
    for (_, definition) in &rebuilt {
        sqlx::query(sqlx::AssertSqlSafe(definition.clone()))
            .execute(&mut *tx)
            .await?;
    }
    // Each household was put in its cell, but the database's rule (the first cell by code
    // whose outline holds the point) is the one that counts: checked, and corrected where a
    // point sits on an edge, once the spatial index is back.
    sqlx::query("SELECT wangge_relink_households(NULL)")
        .execute(&mut *tx)
        .await?;
    progress(&format!(
        "{} households and their heads (ID numbers and phones sealed)",
        data.households.len()
    ));

    copy(
        &mut tx,
        "COPY facility (id, kind, name, address, admin_unit_id, geom) FROM STDIN",
        data.facilities.iter().map(|f| {
            row(&[
                &f.id.to_string(),
                f.kind.as_str(),
                &f.name,
                &f.address,
                &f.admin_unit_id.to_string(),
                point(f.lonlat).as_str(),
            ])
        }),
    )
    .await?;
    progress(&format!("{} facilities", data.facilities.len()));

    let addresses = wangge_domain::geocode::rebuild_register(&mut tx, None).await?;
    progress(&format!("{addresses} addresses in the register"));

    copy(
        &mut tx,
        "COPY grid_worker (id, name, phone_enc, status, last_position, last_seen_at) FROM STDIN",
        data.workers.iter().map(|w| {
            row(&[
                &w.id.to_string(),
                &w.name,
                &bytea(&cipher.seal(&w.phone)),
                w.status,
                point(w.lonlat).as_str(),
                &timestamp(w.last_seen_at),
            ])
        }),
    )
    .await?;
    copy(
        &mut tx,
        "COPY grid_worker_cell (worker_id, grid_cell_id) FROM STDIN",
        data.workers.iter().flat_map(|w| {
            w.grid_cell_ids
                .iter()
                .map(|c| row(&[&w.id.to_string(), &c.to_string()]))
        }),
    )
    .await?;
    progress(&format!("{} grid workers", data.workers.len()));

    let sealed_reporters: Vec<(String, String)> = data
        .incidents
        .iter()
        .map(|i| {
            (
                bytea(&cipher.seal(&i.reporter_name)),
                bytea(&cipher.seal(&i.reporter_phone)),
            )
        })
        .collect();
    copy(&mut tx, "COPY incident (id, category, severity, status, tier, resolved_tier, title, description, geom, \
         grid_cell_id, village_id, township_id, county_id, reported_at, updated_at, resolved_at, closed_at, \
         assignee_id, reporter_name_enc, reporter_phone_enc) FROM STDIN",
        data.incidents.iter().zip(&sealed_reporters).map(|(i, (name, phone))| {
            row(&[
                &i.id.to_string(),
                i.category,
                i.severity,
                i.status,
                i.tier,
                i.resolved_tier.unwrap_or(NULL),
                &i.title,
                &i.description,
                point(i.lonlat).as_str(),
                &i.grid_cell_id.to_string(),
                &i.village_id.to_string(),
                &i.township_id.to_string(),
                &i.county_id.to_string(),
                &timestamp(i.reported_at),
                &timestamp(i.updated_at),
                &i.resolved_at.map(timestamp).unwrap_or_else(|| NULL.into()),
                &i.closed_at.map(timestamp).unwrap_or_else(|| NULL.into()),
                &i.assignee_id.map(|w| w.to_string()).unwrap_or_else(|| NULL.into()),
                name,
                phone,
            ])
        }))
    .await?;
    // Each case's deadline: the hours its current tier has, from when it last changed hands.
    sqlx::query(
        "UPDATE incident SET due_at = updated_at + wangge_deadline(category, severity, tier),
                            channel = 'demo'",
    )
    .execute(&mut *tx)
    .await?;
    copy(
        &mut tx,
        "COPY incident_event (incident_id, at, kind, status, tier, actor, note) FROM STDIN",
        data.events.iter().map(|e| {
            row(&[
                &e.incident_id.to_string(),
                &timestamp(e.at),
                e.kind,
                e.status,
                e.tier,
                &e.actor,
                &e.note,
            ])
        }),
    )
    .await?;
    progress(&format!(
        "{} incidents, {} timeline events",
        data.incidents.len(),
        data.events.len()
    ));

    // Skills spread deterministically over the workers (mediation is common, the rest
    // rarer), and caseloads counted from the cases just loaded (the bulk load skips the
    // counting trigger).
    sqlx::query(
        "UPDATE grid_worker w SET skills = ARRAY(
             SELECT s FROM unnest(ARRAY['mediation', 'medical', 'elderly_care', 'legal',
                                        'labour', 'land', 'safety']) WITH ORDINALITY AS k (s, n)
             WHERE (w.id * 2654435761 + n * 40503) % 100
                   < CASE s WHEN 'mediation' THEN 60 ELSE 15 END
             ORDER BY n)",
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT wangge_recount_caseloads()")
        .execute(&mut *tx)
        .await?;

    // Identity columns continue after the ids the demo chose.
    for table in [
        "admin_unit",
        "grid_plan",
        "grid_cell",
        "household",
        "facility",
        "grid_worker",
        "incident",
        "incident_event",
    ] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), GREATEST((SELECT max(id) FROM {table}), 1))"
        )))
        .execute(&mut *tx)
        .await?;
    }
    let scale = match data.scale {
        Scale::Full => "full",
        Scale::Small => "small",
    };
    sqlx::query("INSERT INTO dataset_load (kind, detail) VALUES ('demo', $1)")
        .bind(serde_json::json!({
            "scale": scale,
            "seed": data.seed,
            "reference": data.reference,
        }))
        .execute(&mut *tx)
        .await?;
    let what = format!("{scale} demo, seed {}", data.seed);
    audit::record(
        &mut tx,
        &Entry::system("load_demo", "dataset", what, &RequestMeta::cli()),
    )
    .await?;
    tx.commit().await?;
    progress("committed");
    sqlx::query("ANALYZE").execute(pool).await?;
    progress("analyzed");
    Ok(())
}

/// The secondary indexes of `tables` (not those behind constraints), with the statements
/// that recreate them, read from the catalogue so they always match the migrations.
async fn rebuildable_indexes(
    tx: &mut Transaction<'static, Postgres>,
    tables: &[&str],
) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
         FROM pg_index i
         WHERE i.indrelid = ANY (SELECT t::regclass FROM unnest($1::text[]) t)
           AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
         ORDER BY 1",
    )
    .bind(tables)
    .fetch_all(&mut **tx)
    .await
}

const NULL: &str = "\\N";

fn point(lonlat: (f64, f64)) -> Ewkb {
    Ewkb::point(Point::new(lonlat.0, lonlat.1))
}

/// A bytea value in hex input form (a backslash, `x`, then hex); [`row`] escapes the backslash for COPY.
fn bytea(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(3 + bytes.len() * 2);
    text.push_str(r"\x");
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        text.push(HEX[usize::from(b >> 4)] as char);
        text.push(HEX[usize::from(b & 0x0F)] as char);
    }
    text
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string()
}

/// One line of COPY text format. Fields are escaped, except the NULL marker.
fn row(fields: &[&str]) -> String {
    let mut line = String::with_capacity(fields.iter().map(|f| f.len() + 1).sum());
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push('\t');
        }
        if *field == NULL {
            line.push_str(NULL);
            continue;
        }
        for ch in field.chars() {
            match ch {
                '\\' => line.push_str("\\\\"),
                '\t' => line.push_str("\\t"),
                '\n' => line.push_str("\\n"),
                '\r' => line.push_str("\\r"),
                c => line.push(c),
            }
        }
    }
    line.push('\n');
    line
}

async fn copy(
    tx: &mut Transaction<'static, Postgres>,
    statement: &'static str,
    rows: impl Iterator<Item = String>,
) -> Result<(), sqlx::Error> {
    let mut copy_in = tx.copy_in_raw(statement).await?;
    let mut buffer = String::with_capacity(CHUNK_BYTES + 4096);
    for line in rows {
        buffer.push_str(&line);
        if buffer.len() >= CHUNK_BYTES {
            copy_in
                .send(std::mem::take(&mut buffer).into_bytes())
                .await?;
            buffer.reserve(CHUNK_BYTES + 4096);
        }
    }
    if !buffer.is_empty() {
        copy_in.send(buffer.into_bytes()).await?;
    }
    copy_in.finish().await?;
    Ok(())
}
