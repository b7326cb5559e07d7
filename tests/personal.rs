//! Personal data: sealed at rest (no plaintext ID number or phone in a database dump), masked
//! in answers except for roles that need it, and every read audited.

use crate::common;

use axum::http::StatusCode;
use serde_json::Value;
use wangge::AppState;
use wangge::auth::Role;
use wangge::auth::users::AreaCode;
use wangge::config::{Config, DatabaseConfig};

use common::{TestDb, get_as_bearer, test_key};

async fn state(db: &TestDb) -> AppState {
    let config = Config {
        data_key: test_key(),
        ..Config::for_database(DatabaseConfig::External { url: db.url() })
    };
    db.state(config).await
}

/// A household inside the first grid cell (by code), and one outside it in the same village.
async fn households(db: &TestDb) -> (String, i64, i64) {
    sqlx::query_as(
        "WITH c AS (SELECT g.id, g.code, g.geom, g.village_id FROM grid_cell g ORDER BY g.code LIMIT 1)
         SELECT c.code,
                (SELECT h.id FROM household h WHERE ST_Intersects(c.geom, h.geom) ORDER BY h.id LIMIT 1),
                (SELECT h.id FROM household h WHERE h.village_id = c.village_id
                   AND NOT ST_Intersects(c.geom, h.geom) ORDER BY h.id LIMIT 1)
         FROM c",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap()
}

fn is_id_number(s: &str) -> bool {
    s.len() == 18
        && s[..17].bytes().all(|b| b.is_ascii_digit())
        && wangge::personal::id_check_digit(&s[..17]) == s.chars().last().unwrap()
}

#[tokio::test]
async fn residents_are_masked_unless_a_role_that_needs_them_asks_and_every_read_is_audited() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let (cell, inside, outside) = households(&db).await;
    let operator = db.city_operator().await;
    let dispatcher = db
        .user_token("zhou", Role::Dispatcher, AreaCode::Unit("530400".into()))
        .await;
    let worker = db
        .user_token("wu", Role::Worker, AreaCode::GridCell(cell))
        .await;
    let audit_before = db.count("audit_log").await;

    let (status, masked) =
        get_as_bearer(&state, &operator, &format!("/api/v1/households/{inside}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(masked["revealed"], false);
    let resident = &masked["residents"][0];
    let id_number = resident["id_number"].as_str().unwrap();
    assert!(
        id_number.len() == 18 && &id_number[4..14] == "**********",
        "{id_number}"
    );
    let phone = resident["phone"].as_str().unwrap();
    assert_eq!(&phone[3..7], "****", "{phone}");
    assert!(resident["name"].as_str().unwrap().contains('*'));

    let (status, _) = get_as_bearer(
        &state,
        &operator,
        &format!("/api/v1/households/{inside}?reveal=true"),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "operators do not need the plaintext"
    );

    let (status, revealed) = get_as_bearer(
        &state,
        &dispatcher,
        &format!("/api/v1/households/{inside}?reveal=true"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let full = &revealed["residents"][0];
    let full_id = full["id_number"].as_str().unwrap();
    assert!(is_id_number(full_id), "{full_id}");
    assert_eq!(&full_id[..4], &id_number[..4]);
    assert_eq!(&full_id[14..], &id_number[14..]);
    let full_phone = full["phone"].as_str().unwrap();
    assert!(full_phone.len() == 11 && full_phone.starts_with('1'));

    // A grid worker sees the households of their own cell, and no others.
    let (status, own) = get_as_bearer(
        &state,
        &worker,
        &format!("/api/v1/households/{inside}?reveal=true"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(own["residents"][0]["id_number"], full_id);
    let (status, _) =
        get_as_bearer(&state, &worker, &format!("/api/v1/households/{outside}")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "outside the area answers as if absent"
    );
    let (status, _) = get_as_bearer(&state, &worker, "/api/v1/households/999999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let reads: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT username, action, object_id FROM audit_log WHERE id > $1 AND action IN ('read_residents', 'reveal_residents') ORDER BY id",
    )
    .bind(audit_before)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let inside = inside.to_string();
    assert_eq!(
        reads,
        vec![
            ("operator".into(), "read_residents".into(), inside.clone()),
            ("zhou".into(), "reveal_residents".into(), inside.clone()),
            ("wu".into(), "reveal_residents".into(), inside.clone()),
        ],
        "one row per successful read; refused ones read nothing"
    );
}

/// Splits a text into runs of letters and digits.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
}

#[tokio::test]
async fn a_database_dump_holds_no_plaintext_id_number_or_phone() {
    let db = TestDb::small_demo().await;
    let state = state(&db).await;
    let dispatcher = db
        .user_token("zheng", Role::Dispatcher, AreaCode::Unit("530400".into()))
        .await;
    let (_, inside, _) = households(&db).await;
    let (_, revealed) = get_as_bearer(
        &state,
        &dispatcher,
        &format!("/api/v1/households/{inside}?reveal=true"),
    )
    .await;
    let known_id = revealed["residents"][0]["id_number"]
        .as_str()
        .unwrap()
        .to_owned();
    let known_phone = revealed["residents"][0]["phone"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        db.count("resident").await > 100_000,
        "the demo has residents to leak"
    );

    let dump = std::process::Command::new("pg_dump")
        .arg("--dbname")
        .arg(db.libpq_url())
        .output()
        .expect("pg_dump runs (Debian's postgresql-client)");
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let text = String::from_utf8_lossy(&dump.stdout);
    assert!(text.len() > 10_000_000, "a real dump: {} bytes", text.len());
    assert!(
        !text.contains(&known_id),
        "a revealed ID number is in the dump"
    );
    assert!(
        !text.contains(&known_phone),
        "a revealed phone is in the dump"
    );
    let ids = words(&text).filter(|w| is_id_number(w)).count();
    let phones = words(&text)
        .filter(|w| w.len() == 11 && w.starts_with('1') && w.bytes().all(|b| b.is_ascii_digit()))
        .count();
    assert_eq!(
        (ids, phones),
        (0, 0),
        "18-digit ID numbers or 11-digit phones in the dump"
    );
}

/// One HTTP/1.1 exchange over a fresh connection: (status line, head, body).
async fn http(addr: &str, request: String) -> (String, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    (
        head.lines().next().unwrap().to_owned(),
        head.to_owned(),
        body.to_owned(),
    )
}

/// Starts `wangge serve` on a free port against the test database, logging at debug level;
/// returns the process, its address, and everything it writes to stdout and stderr, read
/// as it comes (a pipe left unread would block the server once full) and handed over when
/// the process ends.
async fn spawn_server(
    db: &TestDb,
) -> (
    tokio::process::Child,
    String,
    tokio::task::JoinHandle<String>,
) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_wangge"))
        .args([
            "--database-url",
            &db.url(),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("WANGGE_DATA_KEY", "5a".repeat(32))
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = String::new();
    loop {
        let line = stdout
            .next_line()
            .await
            .unwrap()
            .expect("wangge prints where it serves");
        log.push_str(&line);
        log.push('\n');
        if let Some(addr) = line.strip_prefix("wangge is serving http://") {
            let addr = addr.to_owned();
            let logs = tokio::spawn(async move {
                while let Ok(Some(line)) = stdout.next_line().await {
                    log.push_str(&line);
                    log.push('\n');
                }
                log.push_str(&stderr.await.unwrap_or_default());
                log
            });
            return (child, addr, logs);
        }
    }
}

#[tokio::test]
async fn personal_data_and_secrets_never_reach_the_logs() {
    let db = TestDb::small_demo().await;
    db.user_token("zhou", Role::Dispatcher, AreaCode::Unit("530400".into()))
        .await;
    let (_, inside, _) = households(&db).await;
    let (mut child, addr, logs) = spawn_server(&db).await;
    let body = format!(r#"{{"username":"zhou","password":"{}"}}"#, common::PASSWORD);
    let (status, head, _) = http(&addr, format!(
        "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
    .await;
    assert!(status.contains("200"), "{status}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let token = cookie.trim_start_matches("wangge_session=").to_owned();
    let (status, _, body) = http(&addr, format!(
        "GET /api/v1/households/{inside}?reveal=true HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    ))
    .await;
    assert!(status.contains("200"), "{status}");
    let revealed: Value = serde_json::from_str(&body).unwrap();
    let id_number = revealed["residents"][0]["id_number"]
        .as_str()
        .unwrap()
        .to_owned();
    let phone = revealed["residents"][0]["phone"]
        .as_str()
        .unwrap()
        .to_owned();
    let name = revealed["residents"][0]["name"]
        .as_str()
        .unwrap()
        .to_owned();

    child.start_kill().unwrap();
    let log = logs.await.unwrap();
    assert!(
        log.contains("DEBUG"),
        "the server logged at debug level: {log}"
    );
    for secret in [common::PASSWORD, &token, &id_number, &phone, &name] {
        assert!(
            !log.contains(secret),
            "`{secret}` appears in the server's log"
        );
    }
}

/// Clients that give up at any moment, a thousand times: afterwards no session of wangge's
/// is left idle in a transaction, every finished read left its audit row, and the server
/// still answers.
#[tokio::test]
async fn aborted_requests_leave_no_transaction_open() {
    use tokio::io::AsyncWriteExt;
    let db = TestDb::small_demo().await;
    let token = db
        .user_token("qin", Role::Dispatcher, AreaCode::Unit("530400".into()))
        .await;
    let (_, inside, _) = households(&db).await;
    let (mut child, addr, _logs) = spawn_server(&db).await;
    let request = format!(
        "GET /api/v1/households/{inside}?reveal=true HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    // A fixed sequence of "random" cut points: mid-header, after the request, a little later.
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..1000 {
        let cut = (next() % (request.len() as u64 + 40)) as usize;
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        if cut < request.len() {
            stream.write_all(&request.as_bytes()[..cut]).await.unwrap();
        } else {
            stream.write_all(request.as_bytes()).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_micros(
                (cut - request.len()) as u64 * 50,
            ))
            .await;
        }
        drop(stream);
    }
    // Let work that outlived its client finish, then look.
    let idle_in_transaction = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity
             WHERE application_name = 'wangge' AND datname = current_database()
               AND state LIKE 'idle in transaction%'",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    let mut open = idle_in_transaction().await;
    for _ in 0..50 {
        if open == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        open = idle_in_transaction().await;
    }
    assert_eq!(open, 0, "sessions left idle in a transaction");
    let (status, _, body) = http(
        &addr,
        request.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(
        status.contains("200"),
        "the server still answers: {status} {body}"
    );
    let reads: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'reveal_residents'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(reads >= 1, "completed reads are audited");
    child.start_kill().unwrap();
}
