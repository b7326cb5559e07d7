//! `GET /api/v1/households/{id}`: a household and its residents, masked unless the caller's
//! role needs the plaintext and asks for it (`?reveal=true`). Every read is audited, in the
//! transaction that reads.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::extract::{Meta, SignedIn};
use crate::params::Params;
use crate::respond::run_to_completion;
use crate::state::AppState;
use wangge_domain::audit;
use wangge_domain::personal::{mask_id_number, mask_name, mask_phone};

pub fn router() -> Router<AppState> {
    Router::new().route("/households/{id}", get(one))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneParams {
    #[serde(default)]
    reveal: bool,
}

#[derive(Debug, Serialize)]
struct Resident {
    id: i64,
    name: String,
    id_number: Option<String>,
    phone: Option<String>,
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
struct Household {
    id: i64,
    address: String,
    size: i16,
    village_code: String,
    location: Value,
    residents: Vec<Resident>,
    /// True when the residents' data is shown in full.
    revealed: bool,
}

async fn one(
    State(state): State<AppState>,
    SignedIn(caller): SignedIn,
    Meta(meta): Meta,
    Path(id): Path<String>,
    Params(params): Params<OneParams>,
) -> Result<Json<Household>, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound)?;
    if params.reveal && !caller.role.handles_personal_data() {
        return Err(ApiError::Forbidden);
    }
    let household = run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
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
        .fetch_optional(&mut *tx)
        .await?;
        let (address, size, village_code, location) = found.ok_or(ApiError::NotFound)?;
        let rows: Vec<SealedResident> = sqlx::query_as(
            "SELECT id, name, id_number_enc, phone_enc FROM resident WHERE household_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&mut *tx)
        .await?;
        let open = |sealed: Option<Vec<u8>>| -> Result<Option<String>, ApiError> {
            sealed
                .map(|s| state.cipher.open(&s).map_err(ApiError::internal))
                .transpose()
        };
        let mut residents = Vec::with_capacity(rows.len());
        for SealedResident { id: resident_id, name, id_number_enc, phone_enc } in rows {
            let (id_number, phone) = (open(id_number_enc)?, open(phone_enc)?);
            residents.push(if params.reveal {
                Resident { id: resident_id, name, id_number, phone }
            } else {
                Resident {
                    id: resident_id,
                    name: mask_name(&name),
                    id_number: id_number.as_deref().map(mask_id_number),
                    phone: phone.as_deref().map(mask_phone),
                }
            });
        }
        let action = if params.reveal { "reveal_residents" } else { "read_residents" };
        let mut entry = caller.entry(action, "household", id.to_string(), &meta);
        entry.area_code = &village_code;
        audit::record(&mut tx, &entry).await?;
        tx.commit().await?;
        Ok(Household {
            id,
            address,
            size,
            location: serde_json::from_str(&location).map_err(ApiError::internal)?,
            village_code,
            residents,
            revealed: params.reveal,
        })
    })
    .await?;
    Ok(Json(household))
}
