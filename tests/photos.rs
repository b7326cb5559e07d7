//! Photos of a case (随手拍): what is kept of them (no location unless asked), their limits
//! (size, kind, count), who may add and read them (the case's area), and the audit trail.

use crate::common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::Value;
use wangge::auth::Role;
use wangge::auth::users::AreaCode;
use wangge::config::{Config, DatabaseConfig};

use common::{Reply, TestDb, get_as_bearer};

/// A 64×32 JPEG as a phone takes it: an Exif segment with a GPS position marker after JFIF.
fn phone_jpeg(shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(64, 32, |x, _| image::Rgb([x as u8 * 3, shade, 40]));
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 90)
        .encode_image(&img)
        .unwrap();
    let payload = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0\0\0\0\0GPS 24.3497N 102.4705E";
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    app1.extend_from_slice(payload);
    let app0_end = 4 + usize::from(u16::from_be_bytes([plain[4], plain[5]]));
    let mut out = plain[..app0_end].to_vec();
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[app0_end..]);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

async fn upload(
    state: &wangge::AppState,
    token: &str,
    case: i64,
    query: &str,
    bytes: Vec<u8>,
) -> Reply {
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/incidents/{case}/photos{query}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "image/jpeg")
        .body(Body::from(bytes))
        .unwrap();
    common::send(state, request).await
}

async fn fetch(state: &wangge::AppState, token: &str, uri: &str) -> Reply {
    let request = Request::get(uri)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    common::send(state, request).await
}

async fn photo_count(db: &TestDb, case: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM incident_photo WHERE incident_id = $1")
        .bind(case)
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn photos_lose_their_location_keep_their_limits_and_stay_in_the_cases_area() {
    let db = TestDb::small_demo().await;
    let state = db
        .state(Config::for_database(DatabaseConfig::External {
            url: db.url(),
        }))
        .await;
    let (case, township): (i64, String) = sqlx::query_as(
        "SELECT i.id, t.code FROM incident i JOIN admin_unit t ON t.id = i.township_id
         WHERE i.status = 'reported' ORDER BY i.id LIMIT 1",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let operator = db.city_operator().await;
    let local = db
        .user_token("local", Role::Dispatcher, AreaCode::Unit(township.clone()))
        .await;

    // A phone's photo: kept without its position, with an upright thumbnail.
    let photo = phone_jpeg(10);
    let reply = upload(&state, &local, case, "?stage=report", photo.clone()).await;
    assert_eq!(
        reply.status,
        StatusCode::CREATED,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let kept: Value = reply.json();
    assert_eq!(kept["stage"], "report");
    assert_eq!(kept["content_type"], "image/jpeg");
    assert_eq!(
        (kept["width"].as_i64(), kept["height"].as_i64()),
        (Some(64), Some(32))
    );
    assert_eq!(kept["location_kept"], false);
    let url = kept["url"].as_str().unwrap().to_owned();
    assert_eq!(reply.headers[header::LOCATION], url.as_str());
    let served = fetch(&state, &operator, &url).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.headers[header::CONTENT_TYPE], "image/jpeg");
    assert_eq!(served.headers[header::CACHE_CONTROL], "private, no-cache");
    assert!(!contains(&served.body, b"GPS 24.3497N"));
    assert!(contains(&photo, b"GPS 24.3497N"));
    let decoded = image::load_from_memory(&served.body).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (64, 32));
    let thumb = fetch(&state, &operator, kept["thumbnail_url"].as_str().unwrap()).await;
    assert_eq!(thumb.status, StatusCode::OK);
    image::load_from_memory_with_format(&thumb.body, image::ImageFormat::Jpeg).unwrap();

    // Sent again (a retry): the same photo, not a second one.
    let again = upload(&state, &local, case, "?stage=report", photo.clone()).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["id"], kept["id"]);
    assert_eq!(photo_count(&db, case).await, 1);

    // Asked to, the position is kept; the case lists both, oldest first.
    let located = upload(
        &state,
        &local,
        case,
        "?stage=resolution&keep_location=true",
        phone_jpeg(20),
    )
    .await;
    assert_eq!(located.status, StatusCode::CREATED);
    let served = fetch(&state, &local, located.json()["url"].as_str().unwrap()).await;
    assert!(contains(&served.body, b"GPS 24.3497N"));
    let (_, details) = get_as_bearer(&state, &operator, &format!("/api/v1/incidents/{case}")).await;
    let stages: Vec<&str> = details["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["report", "resolution"]);

    // Refused, and nothing written: too large, not an image, a damaged one, a role that does
    // not report or work cases, a case outside the caller's area.
    let before = photo_count(&db, case).await;
    let mut huge = phone_jpeg(30);
    huge.resize(10 * 1024 * 1024 + 1, 0);
    let refused = upload(&state, &local, case, "", huge).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(refused.json()["type"], "/problems/too-large");
    let refused = upload(&state, &local, case, "", b"%PDF-1.7 not a photo".to_vec()).await;
    assert_eq!(refused.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(refused.json()["type"], "/problems/unsupported-media-type");
    let mut damaged = phone_jpeg(40);
    damaged.truncate(120);
    assert_eq!(
        upload(&state, &local, case, "", damaged).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let planner = db
        .user_token("planner1", Role::Planner, AreaCode::Unit("530400".into()))
        .await;
    assert_eq!(
        upload(&state, &planner, case, "", phone_jpeg(50))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let other: String = sqlx::query_scalar(
        "SELECT code FROM admin_unit WHERE level = 'township' AND code <> $1 ORDER BY code LIMIT 1",
    )
    .bind(&township)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let outsider = db
        .user_token("outsider", Role::Dispatcher, AreaCode::Unit(other))
        .await;
    assert_eq!(
        upload(&state, &outsider, case, "", phone_jpeg(60))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(photo_count(&db, case).await, before);
    // Nor may the outsider list or read them.
    assert_eq!(
        fetch(
            &state,
            &outsider,
            &format!("/api/v1/incidents/{case}/photos")
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fetch(&state, &outsider, &url).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fetch(&state, &outsider, &format!("{url}/thumbnail"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // At most nine a case.
    for shade in 0..7 {
        let reply = upload(&state, &local, case, "", phone_jpeg(100 + shade)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "photo {}", shade + 3);
    }
    let tenth = upload(&state, &local, case, "", phone_jpeg(200)).await;
    assert_eq!(tenth.status, StatusCode::CONFLICT);
    assert_eq!(photo_count(&db, case).await, 9);

    // Every upload and every reading is in the audit trail, in the case's area.
    let audited: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT action, username, area_code FROM audit_log
         WHERE object_type = 'incident_photo' ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let count = |action: &str| audited.iter().filter(|a| a.0 == action).count();
    assert_eq!(count("photo.upload"), 9);
    assert_eq!(count("photo.read"), 2);
    assert_eq!(count("photo.read_thumbnail"), 1);
    assert!(
        audited.iter().all(|a| a.2.starts_with(&township)),
        "{audited:?}"
    );

    // A finished case takes no more photos.
    sqlx::query("DELETE FROM incident_photo WHERE incident_id = $1 AND stage = 'resolution'")
        .bind(case)
        .execute(&db.pool)
        .await
        .unwrap();
    let rejected = common::call(
        &state,
        &local,
        Method::POST,
        &format!("/api/v1/incidents/{case}/actions"),
        Some(&serde_json::json!({"action": "reject", "note": "不属于网格事项"})),
    )
    .await;
    assert_eq!(rejected.status, StatusCode::OK);
    assert_eq!(
        upload(&state, &local, case, "", phone_jpeg(220))
            .await
            .status,
        StatusCode::CONFLICT
    );
}
