//! Households and their residents (`household`, `resident`): personal data, shown masked
//! unless the reader's role needs the plaintext and asks for it. Every read is audited in
//! the transaction that reads.

use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;

use crate::audit::{self, RequestMeta};
use crate::auth::Caller;
use crate::personal::{Cipher, mask_id_number, mask_name, mask_phone};

#[derive(Debug, Serialize)]
pub struct Resident {
    pub id: i64,
    pub name: String,
    pub id_number: Option<String>,
    pub phone: Option<String>,
}

/// A resident row as stored: ID number and phone sealed.
#[derive(sqlx::FromRow)]
struct SealedResident {
    id: i64,
    name: String,
    id_number_enc: Option<Vec<u8>>,
    phone_enc: Option<Vec<u8>>,
}

#[derive(Debug, Serialize)]
pub struct Household {
    pub id: i64,
    pub address: String,
    pub size: i16,
    pub village_code: String,
    pub location: Value,
    pub residents: Vec<Resident>,
    /// True when the residents' data is shown in full.
    pub revealed: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum HouseholdError {
    /// No such household in the caller's area.
    #[error("no such household")]
    NotFound,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// Sealed data that does not open, or a location that is not JSON: logged, never shown.
    #[error("{0}")]
    Internal(String),
}

/// Household `id` as `caller` may see it, with its residents: in full with `reveal` (the
/// caller checks first that the role handles personal data), masked otherwise. The read is
/// audited on `conn`: call this inside the transaction that answers, and commit it.
pub async fn read(
    conn: &mut PgConnection,
    cipher: &Cipher,
    caller: &Caller,
    meta: &RequestMeta,
    id: i64,
    reveal: bool,
) -> Result<Household, HouseholdError> {
    // Outside the caller's area is the same as not there: 404.
    let found: Option<(String, i16, String, String)> = sqlx::query_as(
        "SELECT h.address, h.size, v.code, ST_AsGeoJSON(h.geom, 7)
             FROM household h JOIN admin_unit v ON v.id = h.village_id
             WHERE h.id = $1 AND v.code LIKE $2 || '%'
               AND ($3::int8 IS NULL OR EXISTS (
                   SELECT 1 FROM grid_cell g WHERE g.id = $3 AND ST_Intersects(g.geom, h.geom)))",
    )
    .bind(id)
    .bind(&caller.area.prefix)
    .bind(caller.area.grid_cell_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (address, size, village_code, location) = found.ok_or(HouseholdError::NotFound)?;
    let rows: Vec<SealedResident> = sqlx::query_as(
        "SELECT id, name, id_number_enc, phone_enc FROM resident WHERE household_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let open = |sealed: Option<Vec<u8>>| -> Result<Option<String>, HouseholdError> {
        sealed
            .map(|s| {
                cipher
                    .open(&s)
                    .map_err(|e| HouseholdError::Internal(e.to_string()))
            })
            .transpose()
    };
    let mut residents = Vec::with_capacity(rows.len());
    for SealedResident {
        id: resident_id,
        name,
        id_number_enc,
        phone_enc,
    } in rows
    {
        let (id_number, phone) = (open(id_number_enc)?, open(phone_enc)?);
        residents.push(if reveal {
            Resident {
                id: resident_id,
                name,
                id_number,
                phone,
            }
        } else {
            Resident {
                id: resident_id,
                name: mask_name(&name),
                id_number: id_number.as_deref().map(mask_id_number),
                phone: phone.as_deref().map(mask_phone),
            }
        });
    }
    let action = if reveal {
        "reveal_residents"
    } else {
        "read_residents"
    };
    let mut entry = caller.entry(action, "household", id.to_string(), meta);
    entry.area_code = &village_code;
    audit::record(conn, &entry).await?;
    Ok(Household {
        id,
        address,
        size,
        location: serde_json::from_str(&location)
            .map_err(|e| HouseholdError::Internal(e.to_string()))?,
        village_code,
        residents,
        revealed: reveal,
    })
}
