//! Open311 GeoReport v2 at `/open311/v2`, so citizen-reporting apps and integrations written
//! for the standard work unchanged: discovery, services (our incident categories), service
//! definitions, requests (post, list, one) and tokens, each in `.json` or `.xml`.
//!
//! The spec fixes this interface's shapes, errors included: an error here is the spec's list
//! of `{code, description}` (JSON or XML), not problem+json, because that is what GeoReport
//! clients parse. Statuses map to the spec's two: open (reported, assigned, accepted, in
//! progress) and closed (everything else). With `extensions=true`, requests also carry
//! `extended_attributes`: our status, tier, assignee, grid cell and leader.
//!
//! Services and discovery are public; requests need an `api_key` (a bearer token issued by
//! `wangge user token`, or a session) and are scoped to its user's area like everything else.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value, json};
use sqlx::PgConnection;

use crate::error::ApiError;
use crate::extract::{Meta, token_in_headers};
use crate::respond::{run_to_completion, stored_response};
use crate::state::AppState;
use wangge_analysis::sphere::LonLat;
use wangge_domain::auth::Caller;
use wangge_domain::incidents::IncidentError;
use wangge_domain::incidents::idempotency::{self, Claim, Stored};
use wangge_domain::incidents::intake::{self, Channel, Report};
use wangge_domain::incidents::open311::{self, RequestFilter as Filter};
use wangge_domain::incidents::read::intake_report;
use wangge_domain::incidents::rules;
use wangge_domain::model::{IncidentSeverity, IncidentStatus, LocationMethod};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{file}", get(get_resource).post(post_resource))
        .route("/open311/v2/{resource}/{file}", get(get_item))
}

/// The jurisdiction this server answers for (Yuxi's division code); `jurisdiction_id` may be
/// omitted, as the spec allows for single-jurisdiction servers.
pub const JURISDICTION_ID: &str = "530400";
/// A list without dates covers this many days back (the spec's default).
const DEFAULT_DAYS: i64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// `services.json` → (`services`, Json).
fn split(file: &str) -> Result<(&str, Format), Open311Error> {
    let (stem, ext) = file
        .rsplit_once('.')
        .ok_or(Open311Error::not_found(Format::Xml))?;
    let format = match ext {
        "json" => Format::Json,
        "xml" => Format::Xml,
        _ => return Err(Open311Error::not_found(Format::Xml)),
    };
    Ok((stem, format))
}

/// An error in the spec's shape.
#[derive(Debug)]
struct Open311Error {
    format: Format,
    error: ApiError,
}

impl Open311Error {
    fn not_found(format: Format) -> Self {
        Self {
            format,
            error: ApiError::NotFound,
        }
    }

    fn bad(format: Format, message: impl Into<String>) -> Self {
        Self {
            format,
            error: ApiError::InvalidParameter(message.into()),
        }
    }
}

trait InFormat<T> {
    fn in_format(self, format: Format) -> Result<T, Open311Error>;
}

impl<T, E: Into<ApiError>> InFormat<T> for Result<T, E> {
    fn in_format(self, format: Format) -> Result<T, Open311Error> {
        self.map_err(|e| Open311Error {
            format,
            error: e.into(),
        })
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        // The spec knows 400 for every refused request; 422 is ours.
        let status = match self.error.status() {
            StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
            other => other,
        };
        let description = if status.is_server_error() {
            // Like problem+json answers: internals go to the log under an id.
            let id = uuid::Uuid::new_v4().to_string();
            tracing::error!(error = ?self.error, error_id = %id, "open311 request failed");
            format!("internal error (error id {id})")
        } else {
            self.error.to_string()
        };
        let error = obj([
            ("code", json!(status.as_u16())),
            ("description", json!(description)),
        ]);
        let mut response = render(self.format, "errors", "error", vec![error]);
        *response.status_mut() = status;
        response
    }
}

fn obj<const N: usize>(fields: [(&str, Value); N]) -> Map<String, Value> {
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A list of objects as the spec writes it: a JSON array, or an XML root of item elements
/// (nested arrays become a plural element holding singular ones: `values` → `value`).
fn render(format: Format, root: &str, item: &str, items: Vec<Map<String, Value>>) -> Response {
    let (content_type, body) = rendered(format, root, item, items);
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// [`render`]'s content type and body, for answers that are also stored.
fn rendered(
    format: Format,
    root: &str,
    item: &str,
    items: Vec<Map<String, Value>>,
) -> (&'static str, String) {
    match format {
        Format::Json => (
            "application/json; charset=utf-8",
            Value::Array(items.into_iter().map(Value::Object).collect()).to_string(),
        ),
        Format::Xml => {
            let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            xml.push_str(&format!("<{root}>"));
            for fields in &items {
                write_xml_object(&mut xml, item, fields);
            }
            xml.push_str(&format!("</{root}>"));
            ("text/xml; charset=utf-8", xml)
        }
    }
}

fn write_xml_object(xml: &mut String, tag: &str, fields: &Map<String, Value>) {
    xml.push_str(&format!("<{tag}>"));
    for (key, value) in fields {
        write_xml_value(xml, key, value);
    }
    xml.push_str(&format!("</{tag}>"));
}

fn write_xml_value(xml: &mut String, key: &str, value: &Value) {
    match value {
        Value::Null => xml.push_str(&format!("<{key}/>")),
        Value::Object(fields) => write_xml_object(xml, key, fields),
        Value::Array(values) => {
            let singular = key.strip_suffix('s').unwrap_or(key);
            xml.push_str(&format!("<{key}>"));
            for v in values {
                write_xml_value(xml, singular, v);
            }
            xml.push_str(&format!("</{key}>"));
        }
        Value::String(s) => xml.push_str(&format!("<{key}>{}</{key}>", escape_xml(s))),
        other => xml.push_str(&format!("<{key}>{other}</{key}>")),
    }
}

fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// W3C date-time in China Standard Time (the spec requires an offset).
fn w3c(at: DateTime<Utc>) -> String {
    let cst = FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    at.with_timezone(&cst)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// The caller behind `api_key`, or behind the usual bearer token or session.
async fn open311_caller(
    state: &AppState,
    headers: &HeaderMap,
    api_key: Option<&str>,
) -> Result<Caller, ApiError> {
    let token = api_key
        .map(str::to_owned)
        .or_else(|| token_in_headers(headers))
        .ok_or(ApiError::Unauthenticated)?;
    Caller::from_token(&state.auth, &token)
        .await?
        .ok_or(ApiError::Unauthenticated)
}

/// PostgreSQL text cannot hold a NUL: refused here in the spec's error shape.
fn refuse_nul(query: &BTreeMap<String, String>, format: Format) -> Result<(), Open311Error> {
    if query
        .iter()
        .any(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        return Err(Open311Error::bad(
            format,
            "parameters may not contain NUL characters",
        ));
    }
    Ok(())
}

async fn get_resource(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Open311Error> {
    let (stem, format) = split(&file)?;
    refuse_nul(&query, format)?;
    match stem {
        "discovery" => Ok(discovery(format)),
        "services" => services(&state, format).await,
        "requests" => {
            let caller = open311_caller(&state, &headers, query.get("api_key").map(String::as_str))
                .await
                .in_format(format)?;
            list_requests(&state, &caller, format, &query).await
        }
        _ => Err(Open311Error::not_found(format)),
    }
}

async fn get_item(
    State(state): State<AppState>,
    Path((resource, file)): Path<(String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
    headers: HeaderMap,
) -> Result<Response, Open311Error> {
    let (id, format) = split(&file)?;
    refuse_nul(&query, format)?;
    match resource.as_str() {
        "services" => service_definition(&state, format, id).await,
        "requests" | "tokens" => {
            let caller = open311_caller(&state, &headers, query.get("api_key").map(String::as_str))
                .await
                .in_format(format)?;
            if resource == "requests" {
                let id: i64 = id.parse().map_err(|_| Open311Error::not_found(format))?;
                let mut conn = state.pool.acquire().await.in_format(format)?;
                let found = requests(
                    &mut conn,
                    &caller,
                    &Filter::ids(vec![id]),
                    extensions(&query),
                )
                .await
                .in_format(format)?;
                if found.is_empty() {
                    return Err(Open311Error::not_found(format));
                }
                Ok(render(format, "service_requests", "request", found))
            } else {
                let token: uuid::Uuid = id.parse().map_err(|_| Open311Error::not_found(format))?;
                let found = open311::id_by_token(&state.pool, &caller.area, token)
                    .await
                    .in_format(format)?;
                let id = found.ok_or(Open311Error::not_found(format))?;
                Ok(render(
                    format,
                    "service_requests",
                    "request",
                    vec![obj([
                        ("service_request_id", json!(id.to_string())),
                        ("token", json!(token.to_string())),
                    ])],
                ))
            }
        }
        _ => Err(Open311Error::not_found(format)),
    }
}

fn extensions(query: &BTreeMap<String, String>) -> bool {
    query.get("extensions").is_some_and(|v| v == "true")
}

fn discovery(format: Format) -> Response {
    let endpoint = obj([
        (
            "specification",
            json!("http://wiki.open311.org/GeoReport_v2"),
        ),
        ("url", json!("/open311/v2")),
        ("changeset", json!("2026-11-26T00:00:00+08:00")),
        ("type", json!("production")),
        ("formats", json!(["text/xml", "application/json"])),
    ]);
    let document = obj([
        ("changeset", json!("2026-11-26T00:00:00+08:00")),
        ("contact", json!("玉溪市网格化服务管理中心")),
        (
            "key_service",
            json!("api_key: a bearer token from `wangge user token`"),
        ),
        ("endpoints", Value::Array(vec![Value::Object(endpoint)])),
    ]);
    match format {
        Format::Json => axum::Json(Value::Object(document)).into_response(),
        Format::Xml => {
            let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            write_xml_object(&mut xml, "discovery", &document);
            ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], xml).into_response()
        }
    }
}

async fn services(state: &AppState, format: Format) -> Result<Response, Open311Error> {
    let rows = rules::categories(&state.pool).await.in_format(format)?;
    let items = rows
        .into_iter()
        .map(
            |rules::Category {
                 code,
                 name_zh,
                 name_en,
                 ..
             }| {
                obj([
                    ("service_code", json!(code)),
                    ("service_name", json!(name_zh)),
                    ("description", json!(format!("{name_zh}（{name_en}）"))),
                    // Every service takes the severity attribute (see its definition).
                    ("metadata", json!(true)),
                    ("type", json!("realtime")),
                    ("keywords", json!(format!("矛盾纠纷,{name_zh},{name_en}"))),
                    ("group", json!("矛盾纠纷")),
                ])
            },
        )
        .collect();
    Ok(render(format, "services", "service", items))
}

const SEVERITY_NAMES: [(IncidentSeverity, &str); 4] = [
    (IncidentSeverity::Minor, "一般"),
    (IncidentSeverity::Moderate, "较大"),
    (IncidentSeverity::Major, "重大"),
    (IncidentSeverity::Critical, "特别重大"),
];

async fn service_definition(
    state: &AppState,
    format: Format,
    code: &str,
) -> Result<Response, Open311Error> {
    let exists = rules::category_exists(&state.pool, code)
        .await
        .in_format(format)?;
    if !exists {
        return Err(Open311Error::not_found(format));
    }
    let values: Vec<Value> = SEVERITY_NAMES
        .iter()
        .map(|(key, name)| json!({"key": key.as_str(), "name": name}))
        .collect();
    let attribute = obj([
        ("variable", json!(true)),
        ("code", json!("severity")),
        ("datatype", json!("singlevaluelist")),
        ("required", json!(false)),
        ("datatype_description", json!("默认为“较大”（moderate）")),
        ("order", json!(1)),
        ("description", json!("严重程度")),
        ("values", Value::Array(values)),
    ]);
    let definition = obj([
        ("service_code", json!(code)),
        ("attributes", Value::Array(vec![Value::Object(attribute)])),
    ]);
    Ok(match format {
        Format::Json => axum::Json(Value::Object(definition)).into_response(),
        Format::Xml => {
            let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            write_xml_object(&mut xml, "service_definition", &definition);
            ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], xml).into_response()
        }
    })
}

/// The list filters of a query, as the spec names them.
fn parse_filter(query: &BTreeMap<String, String>) -> Result<Filter, String> {
    let list = |key: &str| {
        query.get(key).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
    };
    // With ids, the spec ignores every other filter.
    if let Some(ids) = list("service_request_id") {
        let ids = ids
            .iter()
            .map(|id| {
                id.parse()
                    .map_err(|_| format!("service_request_id `{id}` is not a request id"))
            })
            .collect::<Result<Vec<i64>, _>>()?;
        return Ok(Filter::ids(ids));
    }
    let date = |key: &str| -> Result<Option<DateTime<Utc>>, String> {
        query
            .get(key)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map_err(|_| format!("{key} `{v}` is not a W3C date-time with an offset"))
                    .and_then(|d| crate::params::instant_in_range(d.with_timezone(&Utc)))
            })
            .transpose()
    };
    let (start, end) = (date("start_date")?, date("end_date")?);
    if let (Some(s), Some(e)) = (start, end)
        && e < s
    {
        return Err("end_date is before start_date".into());
    }
    let open = match list("status").as_deref() {
        None | Some([]) => None,
        Some(statuses) => {
            let (mut open, mut closed) = (false, false);
            for s in statuses {
                match s.as_str() {
                    "open" => open = true,
                    "closed" => closed = true,
                    other => return Err(format!("status `{other}`: expected open or closed")),
                }
            }
            if open && closed { None } else { Some(open) }
        }
    };
    let (start, end) = match (start, end) {
        (None, None) => (
            Some(Utc::now() - chrono::Duration::days(DEFAULT_DAYS)),
            None,
        ),
        other => other,
    };
    Ok(Filter {
        ids: None,
        codes: list("service_code"),
        start,
        end,
        open,
    })
}

async fn list_requests(
    state: &AppState,
    caller: &Caller,
    format: Format,
    query: &BTreeMap<String, String>,
) -> Result<Response, Open311Error> {
    let filter = parse_filter(query).map_err(|m| Open311Error::bad(format, m))?;
    let mut conn = state.pool.acquire().await.in_format(format)?;
    let items = requests(&mut conn, caller, &filter, extensions(query))
        .await
        .in_format(format)?;
    Ok(render(format, "service_requests", "request", items))
}

/// Requests matching `filter` in the caller's area, newest first, as the spec writes them.
async fn requests(
    conn: &mut PgConnection,
    caller: &Caller,
    filter: &Filter,
    extended: bool,
) -> Result<Vec<Map<String, Value>>, ApiError> {
    let rows = open311::requests(conn, &caller.area, filter).await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let open = r
                .status
                .parse::<IncidentStatus>()
                .is_ok_and(IncidentStatus::is_open);
            let mut fields = obj([
                ("service_request_id", json!(r.id.to_string())),
                ("status", json!(if open { "open" } else { "closed" })),
                ("status_notes", json!(r.status_notes)),
                ("service_name", json!(r.category_name)),
                ("service_code", json!(r.category)),
                ("description", json!(r.description)),
                ("agency_responsible", json!(r.agency)),
                ("service_notice", json!(notice(&r.location_method))),
                ("requested_datetime", json!(w3c(r.reported_at))),
                ("updated_datetime", json!(w3c(r.updated_at))),
                (
                    "expected_datetime",
                    json!(r.due_at.filter(|_| open).map(w3c)),
                ),
                ("address", json!(r.address)),
                ("address_id", Value::Null),
                ("zipcode", Value::Null),
                ("lat", json!(r.lat)),
                ("long", json!(r.lon)),
                ("media_url", json!(r.media_url)),
            ]);
            if extended {
                fields.insert(
                    "extended_attributes".into(),
                    json!({
                        "status": r.status,
                        "tier": r.tier,
                        "assignee_id": r.assignee_id,
                        "assignee_name": r.assignee_name,
                        "grid_cell_code": r.grid_cell_code,
                        "leader": r.leader,
                        "location_method": r.location_method,
                    }),
                );
            }
            fields
        })
        .collect())
}

fn notice(location_method: &str) -> &'static str {
    if location_method == LocationMethod::Area.as_str() {
        "地址未能精确定位，调度员将在地图上标定位置。"
    } else {
        ""
    }
}

async fn post_resource(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Open311Error> {
    let (stem, format) = split(&file)?;
    if stem != "requests" {
        return Err(Open311Error {
            format,
            error: ApiError::MethodNotAllowed,
        });
    }
    let form: BTreeMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    refuse_nul(&form, format)?;
    let caller = open311_caller(&state, &headers, form.get("api_key").map(String::as_str))
        .await
        .in_format(format)?;
    if !intake::may_report(caller.role) {
        return Err(Open311Error {
            format,
            error: ApiError::Forbidden,
        });
    }
    // The key's fingerprint leaves out api_key: the same report retried with a refreshed
    // token is still the same report.
    let fingerprint: Vec<u8> = form
        .iter()
        .filter(|(k, _)| k.as_str() != "api_key")
        .flat_map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes(), b"&"].concat())
        .collect();
    let key = idempotency::Key::from_request(
        headers.get(idempotency::HEADER).map(|v| v.as_bytes()),
        "POST",
        "/open311/v2/requests",
        &fingerprint,
    )
    .map_err(ApiError::from)
    .in_format(format)?;
    let (report, address_id) =
        report_from_form(&form).map_err(|m| Open311Error { format, error: m })?;
    run_to_completion(async move {
        let mut tx = state.pool.begin().await?;
        if let Some(key) = &key
            && let Claim::Replay(answer) = idempotency::claim(&mut tx, caller.user_id, key).await?
        {
            return Ok(stored_response(answer));
        }
        let created = match address_id {
            Some(address_id) => {
                open311::intake_at_address(&mut tx, &state.cipher, &caller, &report, address_id)
                    .await?
            }
            None => {
                intake_report(&mut tx, &state.geocoder, &state.cipher, &caller, &report)
                    .await?
                    .0
            }
        };
        let item = obj([
            ("service_request_id", json!(created.id.to_string())),
            ("token", json!(created.open311_token.to_string())),
            ("service_notice", json!(notice(created.method.as_str()))),
            ("account_id", json!(form.get("account_id"))),
        ]);
        let (content_type, body) = rendered(format, "service_requests", "request", vec![item]);
        let answer = Stored {
            status: StatusCode::CREATED.as_u16(),
            replayed: false,
            content_type: content_type.to_owned(),
            body: body.into_bytes(),
            location: Some(format!(
                "/open311/v2/requests/{}.{}",
                created.id,
                match format {
                    Format::Json => "json",
                    Format::Xml => "xml",
                }
            )),
        };
        if let Some(key) = &key {
            idempotency::store(&mut tx, caller.user_id, key, &answer).await?;
        }
        intake::audit_created(&mut tx, &caller, &meta, &created).await?;
        tx.commit().await?;
        Ok(stored_response(answer))
    })
    .await
    .in_format(format)
}

/// A report from the spec's form fields, and the register address it names, if any.
fn report_from_form(form: &BTreeMap<String, String>) -> Result<(Report, Option<i64>), ApiError> {
    let bad = |m: String| ApiError::InvalidParameter(m);
    if let Some(j) = form.get("jurisdiction_id")
        && j != JURISDICTION_ID
    {
        return Err(bad(format!(
            "unknown jurisdiction_id `{j}`; this server answers for {JURISDICTION_ID}"
        )));
    }
    let category = form
        .get("service_code")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| bad("service_code is required".into()))?
        .clone();
    let number = |key: &str| -> Result<Option<f64>, ApiError> {
        form.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.trim()
                    .parse::<f64>()
                    .map_err(|_| bad(format!("{key} `{v}` is not a number")))
            })
            .transpose()
    };
    let point = match (number("long")?, number("lat")?) {
        (Some(lon), Some(lat)) => Some(LonLat::new(lon, lat).map_err(|e| bad(e.to_string()))?),
        (None, None) => None,
        _ => return Err(bad("lat and long go together".into())),
    };
    let address_id = form
        .get("address_id")
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse::<i64>()
                .map_err(|_| bad(format!("address_id `{v}` is not an address id")))
        })
        .transpose()?;
    let address = form.get("address_string").cloned();
    if point.is_none()
        && address_id.is_none()
        && address.as_deref().is_none_or(|a| a.trim().is_empty())
    {
        return Err(bad(
            "a location is required: lat and long, address_string, or address_id".into(),
        ));
    }
    let mut severity = IncidentSeverity::Moderate;
    for (key, value) in form {
        if let Some(code) = key
            .strip_prefix("attribute[")
            .and_then(|k| k.strip_suffix(']'))
        {
            match code {
                "severity" => severity = value.parse().map_err(bad)?,
                other => {
                    return Err(bad(format!(
                        "unknown attribute `{other}`; the service definition lists them"
                    )));
                }
            }
        }
    }
    let name = format!(
        "{}{}",
        form.get("last_name").map(|s| s.trim()).unwrap_or_default(),
        form.get("first_name").map(|s| s.trim()).unwrap_or_default()
    );
    let description = form
        .get("description")
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "（市民通过 Open311 上报，未填写描述）".to_owned());
    let mut report = Report {
        category,
        severity,
        title: None,
        description,
        reporter_name: Some(name),
        reporter_phone: form.get("phone").cloned(),
        point,
        accuracy_m: None,
        // An address_id places the report; the address text is kept either way.
        // With an address_id the register's address replaces this at intake.
        address: address.or_else(|| address_id.map(|id| format!("address_id {id}"))),
        media_url: form.get("media_url").cloned(),
        channel: Channel::Open311,
    };
    report.validate().map_err(|e| match e {
        IncidentError::Invalid(m) => bad(m),
        other => other.into(),
    })?;
    Ok((report, address_id))
}
