//! Crash drills on the embedded database, run against the real `wangge` binary: a command run
//! beside a serving instance leaves its database alone; a postmaster killed under load comes
//! back by itself with nothing acknowledged lost and nothing written twice; and after both
//! wangge and PostgreSQL were killed, `wangge db start` brings the cluster back.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BIN: &str = env!("CARGO_BIN_EXE_wangge");
const PASSWORD: &str = "crash-drill-password-2026";
/// Keyed reports sent in the drill.
const REPORTS: usize = 400;
/// Clients sending them at once.
const CLIENTS: usize = 8;

/// A data folder in the system's temporary folder (reachable by the `postgres` user when the
/// tests run as root), its cluster stopped and the folder removed at the end.
struct Folder(PathBuf);

impl Folder {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!("wangge-crash-{}", uuid::Uuid::new_v4().simple())))
    }

    fn data_dir(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// The postmaster's pid, from its pid file.
    fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.0.join("pg/postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    async fn connect(&self) -> PgConnection {
        let options = PgConnectOptions::new()
            .socket(&self.0)
            .port(5432)
            .username("wangge")
            .database("wangge");
        PgConnection::connect_with(&options).await.unwrap()
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = Command::new(BIN)
            .args(["--data-dir", self.data_dir(), "db", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(self.0.with_extension("key"));
    }
}

fn wangge(folder: &Folder, args: &[&str]) -> Output {
    let output = Command::new(BIN)
        .args(["--data-dir", folder.data_dir()])
        .args(args)
        .env("WANGGE_PASSWORD", PASSWORD)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "wangge {args:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn kill9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -9 {pid}");
}

/// A city and one county, imported through the command line, and an operator for the city.
fn set_up(folder: &Folder) {
    let files = folder.0.with_extension("files");
    std::fs::create_dir_all(&files).unwrap();
    let square = |code: &str, name: &str, ring: &str| {
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature",
            "properties":{{"code":"{code}","name":"{name}"}},
            "geometry":{{"type":"Polygon","coordinates":[{ring}]}}}}]}}"#
        )
    };
    let city = files.join("city.geojson");
    std::fs::write(
        &city,
        square(
            "530400",
            "玉溪市",
            "[[101,23],[104,23],[104,26],[101,26],[101,23]]",
        ),
    )
    .unwrap();
    let county = files.join("county.geojson");
    std::fs::write(
        &county,
        square(
            "530402",
            "红塔区",
            "[[102,24],[102.5,24],[102.5,24.5],[102,24.5],[102,24]]",
        ),
    )
    .unwrap();
    for (file, level) in [(&city, "city"), (&county, "county")] {
        wangge(
            folder,
            &[
                "import",
                "admin-units",
                file.to_str().unwrap(),
                "--level",
                level,
                "--datum",
                "wgs84",
            ],
        );
    }
    wangge(
        folder,
        &[
            "user", "add", "op", "--role", "operator", "--area", "530400",
        ],
    );
    std::fs::remove_dir_all(&files).unwrap();
}

/// `wangge serve` on a free port; its address once it serves.
fn serve(folder: &Folder) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "--data-dir",
            folder.data_dir(),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--client-dir",
            "no-client",
        ])
        .env_remove("DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(address) = line.strip_prefix("wangge is serving http://") {
                let _ = tx.send(address.to_owned());
            }
        }
    });
    let address = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("wangge serves");
    (child, address)
}

/// One HTTP/1.1 request on a connection of its own: the status and the body.
async fn http(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(address).await?;
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {answer:?}")))?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

async fn token(address: &str) -> String {
    let body = serde_json::json!({"username": "op", "password": PASSWORD, "label": "drill"});
    let (status, body) = http(address, "POST", "/api/v1/tokens", &[], &body.to_string())
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// Files report `n` with its own Idempotency-Key until it is acknowledged (201, or the first
/// answer replayed); the case's id.
async fn file_until_acknowledged(address: &str, bearer: &str, n: usize, deadline: Instant) -> i64 {
    let key = format!("crash-drill-{n}");
    let body = serde_json::json!({
        "category": "neighbour",
        "severity": "minor",
        "description": format!("crash drill report {n}"),
        "location": {"lon": 102.1 + (n % 40) as f64 * 0.005, "lat": 24.1 + (n / 40) as f64 * 0.005},
    })
    .to_string();
    loop {
        assert!(
            Instant::now() < deadline,
            "report {n} was not acknowledged in time"
        );
        let answer = http(
            address,
            "POST",
            "/api/v1/incidents",
            &[("Authorization", bearer), ("Idempotency-Key", &key)],
            &body,
        )
        .await;
        match answer {
            Ok((201, body)) => {
                let case: serde_json::Value = serde_json::from_str(&body).unwrap();
                return case["id"].as_i64().unwrap();
            }
            // 503 while the database is down; a broken connection when it died mid-request.
            Ok((503, _)) | Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            Ok((status, body)) => panic!("report {n}: unexpected {status}: {body}"),
        }
    }
}

#[tokio::test]
async fn the_embedded_database_survives_a_neighbouring_command_and_comes_back_after_a_crash() {
    let folder = Folder::new();
    set_up(&folder);
    let (mut server, address) = serve(&folder);
    let bearer = format!("Bearer {}", token(&address).await);

    // A command run on the folder of a serving instance leaves its database running.
    let verify = wangge(&folder, &["audit", "verify"]);
    assert!(String::from_utf8_lossy(&verify.stdout).contains("intact"));
    let (status, _) = http(&address, "GET", "/readyz", &[], "").await.unwrap();
    assert_eq!(status, 200, "the server's database still answers");
    let (status, body) = http(
        &address,
        "GET",
        "/api/v1/session",
        &[("Authorization", &bearer)],
        "",
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");

    // Keyed reports from several clients; the postmaster is killed once some are in.
    let deadline = Instant::now() + Duration::from_secs(240);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let acknowledged = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (address, bearer) = (address.clone(), bearer.clone());
        let (next, acknowledged) = (Arc::clone(&next), Arc::clone(&acknowledged));
        clients.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= REPORTS {
                    return ids;
                }
                ids.push((
                    n,
                    file_until_acknowledged(&address, &bearer, n, deadline).await,
                ));
                acknowledged.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    while acknowledged.load(std::sync::atomic::Ordering::Relaxed) < REPORTS / 4 {
        assert!(
            Instant::now() < deadline,
            "the first reports did not arrive"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let killed = folder.postmaster_pid().unwrap();
    kill9(killed);
    let mut ids = Vec::new();
    for client in clients {
        ids.extend(client.await.unwrap());
    }
    let restarted = folder.postmaster_pid().expect("the cluster runs again");
    assert_ne!(restarted, killed, "a new postmaster serves");

    // Every acknowledged report is there, once: the retries after the crash found their key.
    ids.sort();
    assert_eq!(ids.len(), REPORTS);
    let mut conn = folder.connect().await;
    let stored: Vec<(i64,)> = sqlx::query_as("SELECT id FROM incident ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    let mut acknowledged_ids: Vec<i64> = ids.iter().map(|(_, id)| *id).collect();
    acknowledged_ids.sort();
    acknowledged_ids.dedup();
    assert_eq!(acknowledged_ids.len(), REPORTS, "one case per key");
    assert_eq!(
        stored.into_iter().map(|(id,)| id).collect::<Vec<_>>(),
        acknowledged_ids,
        "nothing acknowledged lost, nothing stored twice"
    );
    conn.close().await.unwrap();

    // Both killed at once: a leftover pid file does not keep the cluster from starting again.
    server.kill().unwrap();
    server.wait().unwrap();
    kill9(folder.postmaster_pid().unwrap());
    wait_until_gone(restarted);
    let url = wangge(&folder, &["db", "start"]);
    assert!(
        String::from_utf8_lossy(&url.stdout).contains("postgres://"),
        "db start prints the URL"
    );
    let mut conn = folder.connect().await;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM incident")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, REPORTS as i64);
    conn.close().await.unwrap();
}

fn wait_until_gone(pid: u32) {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let until = Instant::now() + Duration::from_secs(10);
    while Path::new(&proc).exists() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
}
