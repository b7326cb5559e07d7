//! The embedded database: a private PostgreSQL + PostGIS cluster in a folder wangge owns.
//!
//! With no `DATABASE_URL`, wangge creates the cluster on first run (`initdb`), starts it on a
//! Unix socket inside its folder (no TCP port, so nothing else on the machine can reach it
//! and two instances never collide), and stops it when wangge exits. PostgreSQL refuses to
//! run as root, so when wangge runs as root the server's programs run as the `postgres`
//! system user, which owns the folder.
//!
//! Layout of the folder: `pg/` the cluster, `.s.PGSQL.5432` its socket, `postgres.log`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::process::Command;

/// The socket's port number. Only names the socket file inside the private folder.
const SOCKET_PORT: u16 = 5432;
/// The role initdb creates; trusted on the private socket only.
const SUPERUSER: &str = "wangge";
/// The database wangge's data lives in.
pub const DATABASE: &str = "wangge";
/// The system user the server runs as when wangge runs as root.
const SYSTEM_USER: &str = "postgres";
/// Unix socket paths longer than this are refused by the kernel (sun_path is 108 bytes).
const MAX_SOCKET_PATH: usize = 100;
/// How long a start waits for a dead server's leftover processes to let go of its memory.
const STALE_SERVER_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server programs (initdb, pg_ctl) were not found; install them with \
         `scripts/install-deps.sh` (Debian packages postgresql-15 and postgresql-15-postgis-3), \
         or set WANGGE_PG_BIN to their folder"
    )]
    ProgramsNotFound,
    #[error("cannot use data folder {path}: {reason}")]
    Folder { path: PathBuf, reason: String },
    #[error("`{command}` failed: {output}")]
    Command { command: String, output: String },
    #[error("could not run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("connecting to the embedded database failed: {0}")]
    Connect(#[from] sqlx::Error),
}

/// A running embedded cluster. Stopped by [`EmbeddedPostgres::stop`] or on drop, but only if
/// this process started it: a command run beside a serving instance (`wangge audit verify`,
/// `wangge user …`) must not stop that instance's database when it exits.
#[derive(Debug)]
pub struct EmbeddedPostgres {
    folder: PathBuf,
    bin_dir: PathBuf,
    run_as_postgres: bool,
    started_here: bool,
    created: bool,
    stopped: bool,
}

impl EmbeddedPostgres {
    /// Opens the cluster in `folder`: creates it when the folder is new or empty, starts it
    /// unless it is already running, and makes sure the `wangge` database exists.
    pub async fn start(folder: &Path) -> Result<Self, EmbeddedError> {
        let bin_dir = find_bin_dir().ok_or(EmbeddedError::ProgramsNotFound)?;
        std::fs::create_dir_all(folder).map_err(|e| folder_error(folder, e.to_string()))?;
        let folder = folder
            .canonicalize()
            .map_err(|e| folder_error(folder, e.to_string()))?;
        let socket_path = folder.join(format!(".s.PGSQL.{SOCKET_PORT}"));
        if socket_path.as_os_str().len() > MAX_SOCKET_PATH {
            return Err(folder_error(
                &folder,
                format!(
                    "its path is too long for a Unix socket (at most {MAX_SOCKET_PATH} bytes with the socket name); choose a shorter path"
                ),
            ));
        }
        let run_as_postgres = running_as_root();
        let mut cluster = Self {
            folder,
            bin_dir,
            run_as_postgres,
            started_here: false,
            created: false,
            stopped: false,
        };
        if run_as_postgres {
            cluster.hand_folder_to_postgres().await?;
        }
        if !cluster.pgdata().join("PG_VERSION").exists() {
            cluster.initdb().await?;
            cluster.created = true;
        }
        if !cluster.is_running().await {
            cluster.pg_ctl_start().await?;
            cluster.started_here = true;
        }
        cluster.ensure_database().await?;
        Ok(cluster)
    }

    /// True when this call to [`EmbeddedPostgres::start`] created the cluster.
    pub fn was_created(&self) -> bool {
        self.created
    }

    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// Connection options for the `wangge` database over the private socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        self.options_for(DATABASE)
    }

    /// A `postgres://` URL for the `wangge` database, for tools such as `psql`.
    pub fn url(&self) -> String {
        self.url_for(DATABASE)
    }

    /// A URL for another database of this cluster (tests create one per test).
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}@localhost/{database}?host={}&port={SOCKET_PORT}",
            self.folder.display()
        )
    }

    fn options_for(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.folder)
            .port(SOCKET_PORT)
            .username(SUPERUSER)
            .database(database)
    }

    /// Stops the cluster if this process started it (fast shutdown: open sessions are ended,
    /// committed data is safe); a cluster found running is left to whoever started it.
    pub async fn stop(mut self) -> Result<(), EmbeddedError> {
        self.stopped = true;
        if !self.started_here {
            return Ok(());
        }
        self.pg_ctl(&["stop", "-m", "fast", "-w"]).await.map(|_| ())
    }

    /// Stops the cluster in `folder` whoever started it (`wangge db stop`); nothing to do when
    /// it is not running or was never created.
    pub async fn stop_folder(folder: &Path) -> Result<(), EmbeddedError> {
        let Ok(folder) = folder.canonicalize() else {
            return Ok(());
        };
        let cluster = Self {
            folder,
            bin_dir: find_bin_dir().ok_or(EmbeddedError::ProgramsNotFound)?,
            run_as_postgres: running_as_root(),
            started_here: false,
            created: false,
            stopped: true,
        };
        if !cluster.pgdata().join("PG_VERSION").exists() || !cluster.is_running().await {
            return Ok(());
        }
        cluster
            .pg_ctl(&["stop", "-m", "fast", "-w"])
            .await
            .map(|_| ())
    }

    /// True while the postmaster named in the cluster's pid file is alive. Reads two small
    /// files and spawns nothing, so a watchdog may ask every second.
    pub fn postmaster_alive(&self) -> bool {
        let Ok(pid_file) = std::fs::read_to_string(self.pgdata().join("postmaster.pid")) else {
            return false;
        };
        let Some(pid) = pid_file
            .lines()
            .next()
            .and_then(|l| l.trim().parse::<u32>().ok())
        else {
            return false;
        };
        // A pid reused by another program after a crash must not pass for the postmaster.
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|cmdline| cmdline.windows(8).any(|w| w == b"postgres"))
            .unwrap_or(false)
    }

    /// Watches the cluster while wangge serves: a postmaster that died is started again within
    /// `every`. Abort the task before stopping the cluster on purpose.
    pub fn spawn_watchdog(&self, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let cluster = Self {
            folder: self.folder.clone(),
            bin_dir: self.bin_dir.clone(),
            run_as_postgres: self.run_as_postgres,
            // This copy only watches: dropping it stops nothing.
            started_here: false,
            created: false,
            stopped: true,
        };
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = cluster.restart_if_dead().await {
                    tracing::error!(error = %e, "the embedded PostgreSQL server could not be started again");
                }
            }
        })
    }

    /// Starts the cluster again after its postmaster died (killed, or the machine's OOM
    /// killer). Committed data comes back through PostgreSQL's own crash recovery.
    pub async fn restart_if_dead(&self) -> Result<bool, EmbeddedError> {
        if self.postmaster_alive() || self.is_running().await {
            return Ok(false);
        }
        tracing::warn!(folder = %self.folder.display(), "the embedded PostgreSQL server is not running; starting it again");
        self.pg_ctl_start().await?;
        tracing::info!(folder = %self.folder.display(), "the embedded PostgreSQL server is back");
        Ok(true)
    }

    /// Leaves the cluster running after this value is dropped (`wangge db start`).
    pub fn detach(mut self) {
        self.stopped = true;
    }

    fn pgdata(&self) -> PathBuf {
        self.folder.join("pg")
    }

    fn log_file(&self) -> PathBuf {
        self.folder.join("postgres.log")
    }

    async fn hand_folder_to_postgres(&self) -> Result<(), EmbeddedError> {
        run(self
            .command("chown", false)
            .args(["-R", SYSTEM_USER])
            .arg(&self.folder))
        .await?;
        run(self.command("chmod", false).arg("700").arg(&self.folder)).await?;
        // The postgres user must be able to reach the folder through every parent.
        let reachable = self
            .command("test", true)
            .arg("-w")
            .arg(&self.folder)
            .status()
            .await
            .map(|s| s.success())
            .unwrap_or(false);
        if !reachable {
            return Err(folder_error(
                &self.folder,
                format!(
                    "the `{SYSTEM_USER}` system user, which runs the database when wangge runs as root, \
                     cannot reach it (a parent folder is closed to other users, as /root is); \
                     choose a data folder elsewhere"
                ),
            ));
        }
        Ok(())
    }

    async fn initdb(&self) -> Result<(), EmbeddedError> {
        tracing::info!(folder = %self.folder.display(), "creating the embedded PostgreSQL cluster");
        let mut cmd = self.command(&self.program("initdb"), true);
        cmd.arg("-D").arg(self.pgdata()).args([
            "-A",
            "trust",
            "-U",
            SUPERUSER,
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ]);
        run(&mut cmd).await.map(|_| ())
    }

    async fn is_running(&self) -> bool {
        let mut cmd = self.command(&self.program("pg_ctl"), true);
        cmd.arg("status").arg("-D").arg(self.pgdata());
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        cmd.status().await.map(|s| s.success()).unwrap_or(false)
    }

    async fn pg_ctl_start(&self) -> Result<(), EmbeddedError> {
        // After a crash, backends of the dead postmaster may hold its shared memory for a
        // moment ("pre-existing shared memory block is still in use"); they exit as soon as
        // they notice their parent is gone, so a refused start is tried again for a while.
        let deadline = std::time::Instant::now() + STALE_SERVER_WAIT;
        loop {
            match self.pg_ctl_start_once().await {
                Err(EmbeddedError::Command { output, .. })
                    if output.contains("still in use") && std::time::Instant::now() < deadline =>
                {
                    tracing::info!("an old server's processes still hold shared memory; waiting");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                other => return other,
            }
        }
    }

    async fn pg_ctl_start_once(&self) -> Result<(), EmbeddedError> {
        tracing::info!(folder = %self.folder.display(), "starting the embedded PostgreSQL server");
        // Socket only (no TCP), private to the folder. The WAL and checkpoint settings let the
        // demo's bulk load run without checkpoint storms; fsync stays on so acknowledged writes
        // survive a crash.
        let server_options = format!(
            "-p {SOCKET_PORT} -k {} -c listen_addresses='' -c unix_socket_permissions=0700 \
             -c max_wal_size=4GB -c checkpoint_timeout=15min -c maintenance_work_mem=512MB \
             -c shared_buffers=256MB -c max_connections=200 \
             -c shared_preload_libraries=pg_stat_statements",
            self.folder.display()
        );
        // Only what this start adds to the server's log explains its failure, not older lines.
        let log_from = std::fs::metadata(self.log_file()).map_or(0, |m| m.len());
        // pg_ctl's own messages go to a file, not a pipe: the server it forks inherits them, and
        // a pipe whose reader is gone makes pg_ctl's first warning (a stale postmaster.pid
        // after a crash) fail with EPIPE, so the start never happens.
        let out_path = self.folder.join("pg_ctl.out");
        let out = std::fs::File::create(&out_path)
            .map_err(|e| folder_error(&self.folder, format!("cannot write pg_ctl.out: {e}")))?;
        let err = out
            .try_clone()
            .map_err(|e| folder_error(&self.folder, e.to_string()))?;
        let mut cmd = self.command(&self.program("pg_ctl"), true);
        cmd.arg("start")
            .arg("-D")
            .arg(self.pgdata())
            .arg("-l")
            .arg(self.log_file())
            .args(["-w", "-t", "120", "-o"])
            .arg(server_options);
        cmd.stdout(Stdio::from(out)).stderr(Stdio::from(err));
        let status = cmd.status().await.map_err(|source| EmbeddedError::Spawn {
            command: "pg_ctl start".into(),
            source,
        })?;
        if status.success() {
            return Ok(());
        }
        let said = std::fs::read_to_string(&out_path).unwrap_or_default();
        let log = std::fs::read(self.log_file()).unwrap_or_default();
        let new_log = String::from_utf8_lossy(log.get(log_from as usize..).unwrap_or_default());
        let tail: Vec<&str> = new_log.lines().rev().take(10).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(EmbeddedError::Command {
            command: "pg_ctl start".into(),
            output: format!("{}\n{}", said.trim_end(), tail.join("\n"))
                .trim()
                .to_owned(),
        })
    }

    async fn ensure_database(&self) -> Result<(), EmbeddedError> {
        let mut conn = PgConnection::connect_with(&self.options_for("postgres")).await?;
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                .bind(DATABASE)
                .fetch_one(&mut conn)
                .await?;
        if !exists {
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {DATABASE}")))
                .execute(&mut conn)
                .await?;
        }
        conn.close().await?;
        Ok(())
    }

    async fn pg_ctl(&self, args: &[&str]) -> Result<String, EmbeddedError> {
        let mut cmd = self.command(&self.program("pg_ctl"), true);
        cmd.args(args).arg("-D").arg(self.pgdata());
        run(&mut cmd).await
    }

    fn program(&self, name: &str) -> String {
        self.bin_dir.join(name).display().to_string()
    }

    /// A command that runs as the postgres system user when wangge is root and `as_server`.
    fn command(&self, program: &str, as_server: bool) -> Command {
        let mut cmd = if self.run_as_postgres && as_server {
            let mut c = Command::new("runuser");
            c.args(["-u", SYSTEM_USER, "--", program]);
            c
        } else {
            Command::new(program)
        };
        cmd.kill_on_drop(false).stdin(Stdio::null());
        cmd
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if self.stopped || !self.started_here {
            return;
        }
        // Last resort when `stop` was not awaited (e.g. a panic unwound past it).
        let pg_ctl = self.program("pg_ctl");
        let pgdata = self.pgdata();
        let mut cmd = if self.run_as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", SYSTEM_USER, "--", &pg_ctl]);
            c
        } else {
            std::process::Command::new(&pg_ctl)
        };
        let _ = cmd
            .args(["stop", "-m", "fast", "-w", "-D"])
            .arg(pgdata)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

async fn run(cmd: &mut Command) -> Result<String, EmbeddedError> {
    let command = format!("{:?}", cmd.as_std());
    let output = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(|source| EmbeddedError::Spawn {
            command: command.clone(),
            source,
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(text)
    } else {
        Err(EmbeddedError::Command {
            command,
            output: text,
        })
    }
}

fn folder_error(path: &Path, reason: String) -> EmbeddedError {
    EmbeddedError::Folder {
        path: path.to_path_buf(),
        reason,
    }
}

fn running_as_root() -> bool {
    // The effective uid without libc: /proc/self/status's "Uid:" line (real, effective, ...).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

/// The folder of PostgreSQL's server programs: `WANGGE_PG_BIN`, else the newest
/// `/usr/lib/postgresql/<version>/bin` (Debian's layout) that has `initdb`.
fn find_bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("WANGGE_PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").exists().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}
