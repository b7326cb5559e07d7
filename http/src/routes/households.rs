//! `GET /api/v1/households/{id}`: a household and its residents, masked unless the caller's
//! role needs the plaintext and asks for it (`?reveal=true`). Every read is audited, in the
//! transaction that reads.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{Meta, SignedIn};
use crate::params::Params;
use crate::respond::run_to_completion;
use crate::state::AppState;
use wangge_domain::households::{self, Household};

pub fn router() -> Router<AppState> {
    Router::new().route("/households/{id}", get(one))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneParams {
    #[serde(default)]
    reveal: bool,
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
        let household =
            households::read(&mut tx, &state.cipher, &caller, &meta, id, params.reveal).await?;
        tx.commit().await?;
        Ok(household)
    })
    .await?;
    Ok(Json(household))
}
