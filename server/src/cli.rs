//! The command line: `wangge serve | demo | migrate | import | db`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Parser, Subcommand, ValueEnum};
use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;
use tokio::net::TcpListener;

use crate::demo::{self, Scale};
use crate::embedded::{EmbeddedError, EmbeddedPostgres};
use wangge_analysis::weights::WeightsSpec;
use wangge_domain::audit::{AuditError, RequestMeta};
use wangge_domain::auth::users::{self, AreaCode, UserError};
use wangge_domain::auth::{Role, password};
use wangge_domain::config::{AuthConfig, Basemap, Config, DatabaseConfig, SecureCookie};
use wangge_domain::db;
use wangge_domain::db::Privilege;
use wangge_domain::import::{self, Datum, ImportError};
use wangge_domain::model::AdminLevel;
use wangge_domain::net::TrustedProxies;
use wangge_domain::personal::{Cipher, DataKey, PersonalDataError};

#[derive(Debug, Parser)]
#[command(
    name = "wangge",
    version,
    about = "Grid management and situational awareness (网格)"
)]
pub struct Cli {
    /// Use this PostgreSQL + PostGIS server instead of the embedded one.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,
    /// Folder of the embedded database (created on first run).
    #[arg(
        long,
        env = "WANGGE_DATA_DIR",
        default_value = ".wangge/data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// File holding the key that seals personal data (64 hex digits). Default: beside the
    /// embedded database's folder (`<data-dir>.key`, created on first run); required with
    /// DATABASE_URL unless WANGGE_DATA_KEY gives the key itself.
    #[arg(long, env = "WANGGE_DATA_KEY_FILE", global = true)]
    pub data_key_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the map client.
    Serve(ServeArgs),
    /// Load the Yuxi demo into an empty database (first run), then serve.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        /// `full`: the whole city; `small`: one county (红塔区), for quick runs and tests.
        #[arg(long, value_enum, default_value_t = ScaleArg::Full)]
        scale: ScaleArg,
        /// Seed of the deterministic generator.
        #[arg(long, default_value_t = demo::DEFAULT_SEED)]
        seed: u64,
        /// Load (if needed) and exit without serving.
        #[arg(long)]
        load_only: bool,
        /// Serve the data as loaded, with no simulated activity.
        #[arg(long)]
        no_simulator: bool,
        /// New reports per simulated day (default: a busy day).
        #[arg(long, default_value_t = demo::simulator::BUSY_DAY_REPORTS)]
        reports_per_day: f64,
        /// Simulated seconds per real second.
        #[arg(long, default_value_t = 60.0)]
        sim_speed: f64,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Load administrative units, grid cells or households from files.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Manage the embedded database on its own (for scripts and tools).
    #[command(subcommand)]
    Db(DbCommand),
    /// Manage users. New passwords come from WANGGE_PASSWORD, or are generated and printed.
    #[command(subcommand)]
    User(UserCommand),
    /// Check the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Spatial statistics on a file of your own; needs no database.
    #[command(subcommand)]
    Analyse(AnalyseCommand),
    /// Grid plans, as a planner would handle them in the map client (same rules, same audit).
    #[command(subcommand)]
    Plan(PlanCommand),
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// The plans the planner sees, newest first.
    List {
        /// The planner acting (their area and role apply).
        #[arg(long = "as")]
        user: String,
    },
    /// A new draft copied from the published plan (or from `--from VERSION`).
    New {
        #[arg(long = "as")]
        user: String,
        name: String,
        #[arg(long)]
        from: Option<i32>,
    },
    /// Publish a draft: households, workers and open cases move to its cells at once.
    Publish {
        #[arg(long = "as")]
        user: String,
        version: i32,
    },
    /// Set a draft aside (kept, read-only).
    Archive {
        #[arg(long = "as")]
        user: String,
        version: i32,
    },
}

#[derive(Debug, Subcommand)]
pub enum AnalyseCommand {
    /// Getis-Ord Gi* on a GeoJSON FeatureCollection of polygons or points with a numeric
    /// field: each feature's Gi, z, p, p_sim and confidence bin (−3…3), in input order, on
    /// standard output.
    Gistar {
        /// The FeatureCollection (`-` for standard input).
        file: PathBuf,
        /// The numeric property analysed.
        #[arg(long)]
        value: String,
        /// queen, rook, knn:K, distance:M (metres) or distance:M:inverse.
        #[arg(long, value_parser = parse_weights)]
        weights: WeightsSpec,
        /// Conditional permutations for pseudo p-values (0: analytic only).
        #[arg(long, default_value_t = 999)]
        permutations: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Bins without the false-discovery-rate correction.
        #[arg(long)]
        no_fdr: bool,
        #[arg(long, value_enum, default_value_t = AnalyseFormat::Geojson)]
        format: AnalyseFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AnalyseFormat {
    /// The collection with `gi`, `gi_z`, `gi_p`, `gi_p_sim` and `gi_bin` added to each feature.
    Geojson,
    /// `index,id,gi,z,p,p_sim,bin`, one row per feature.
    Csv,
}

fn parse_weights(text: &str) -> Result<WeightsSpec, String> {
    text.parse()
        .map_err(|e: wangge_analysis::weights::WeightsSpecError| e.to_string())
}

/// Runs `wangge analyse gistar`: reads the file, computes, and returns the text to print.
pub fn analyse_gistar(command: &AnalyseCommand) -> Result<String, CliError> {
    let AnalyseCommand::Gistar {
        file,
        value,
        weights,
        permutations,
        seed,
        no_fdr,
        format,
    } = command;
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?
    };
    let collection: geojson::FeatureCollection = text.parse().map_err(|e| {
        CliError::Usage(format!(
            "{} is not a GeoJSON FeatureCollection: {e}",
            file.display()
        ))
    })?;
    let options = wangge_analysis::gi_star::GiStarOptions {
        permutations: *permutations,
        seed: *seed,
        ..Default::default()
    };
    let results = wangge_analysis::feature_gistar::gistar_features(
        &collection,
        value,
        weights,
        &options,
        !no_fdr,
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    match format {
        AnalyseFormat::Csv => wangge_analysis::feature_gistar::gistar_csv(&collection, &results)
            .map_err(|e| CliError::Usage(e.to_string())),
        AnalyseFormat::Geojson => {
            let out =
                wangge_analysis::feature_gistar::with_gistar_properties(&collection, &results)
                    .map_err(|e| CliError::Usage(e.to_string()))?;
            Ok(format!("{out}\n"))
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the hash chain: finds altered, deleted or inserted rows (exit status 1 if so).
    Verify,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user bound to an area: an administrative unit's code, or a grid cell's.
    Add {
        username: String,
        #[arg(long, value_enum)]
        role: Role,
        /// The official code of the city, county, township or village the user works in.
        #[arg(
            long,
            conflicts_with = "grid_cell",
            required_unless_present = "grid_cell"
        )]
        area: Option<String>,
        /// The code of the grid cell the user works in (grid workers).
        #[arg(long)]
        grid_cell: Option<String>,
    },
    /// List users, their roles and areas.
    List,
    /// Disable a user and end their sessions.
    Disable { username: String },
    /// Set a new password and end the user's sessions.
    ResetPassword { username: String },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WANGGE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The built map client.
    #[arg(long, env = "WANGGE_CLIENT_DIR", default_value = "map-client/dist")]
    pub client_dir: PathBuf,
    /// Seconds after which a worker's last position is stale.
    #[arg(long, env = "WANGGE_WORKER_STALE_SECS", default_value_t = 600)]
    pub worker_stale_secs: u64,
    /// Seconds between scans for grid cells becoming hot spots (alerts come at most this
    /// long after the cases that raise them; the first scan runs at start).
    #[arg(long, env = "WANGGE_HOTSPOT_SCAN_SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub hotspot_scan_secs: u64,
    /// Days of worker position history kept for replay and audit.
    #[arg(long, env = "WANGGE_POSITION_KEEP_DAYS", default_value_t = 30,
          value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub position_keep_days: u32,
    /// A raster basemap URL template beneath the map (e.g. a Tianditu WMTS tile URL with
    /// {z}/{x}/{y}); none by default, since many command centres have no internet.
    #[arg(long, env = "WANGGE_BASEMAP_TILES", conflicts_with = "basemap_style")]
    pub basemap_tiles: Option<String>,
    /// A MapLibre vector style URL for the basemap instead.
    #[arg(long, env = "WANGGE_BASEMAP_STYLE")]
    pub basemap_style: Option<String>,
    /// The basemap's attribution.
    #[arg(long, env = "WANGGE_BASEMAP_ATTRIBUTION", default_value = "")]
    pub basemap_attribution: String,
    /// Reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: addresses
    /// and CIDR blocks, comma-separated. None by default (the socket's peer is the client).
    #[arg(long, env = "WANGGE_TRUSTED_PROXIES", default_value = "",
          value_parser = TrustedProxies::parse)]
    pub trusted_proxies: TrustedProxies,
    /// When the session cookie is marked Secure: `auto` (over HTTPS through a trusted proxy,
    /// or to a loopback client; not over plain http to another address), `always`, `never`.
    #[arg(long, env = "WANGGE_SECURE_COOKIE", value_enum, default_value_t = SecureCookie::Auto)]
    pub secure_cookie: SecureCookie,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScaleArg {
    Full,
    Small,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// A GeoJSON FeatureCollection of units of one level; each feature has `code` (or
    /// `adcode`) and `name` properties. Parents must already exist.
    AdminUnits {
        file: PathBuf,
        #[arg(long)]
        level: AdminLevel,
        /// The datum of the file's coordinates: WGS-84, or GCJ-02 (converted to WGS-84).
        #[arg(long, value_enum)]
        datum: Datum,
    },
    /// A GeoJSON FeatureCollection of grid cells (`code`, `name`, `village_code`) into a new
    /// draft plan of the given version.
    GridCells {
        file: PathBuf,
        #[arg(long)]
        plan: i32,
        #[arg(long, value_enum)]
        datum: Datum,
    },
    /// A CSV of households: `address,size,village_code,lon,lat`.
    Households {
        file: PathBuf,
        #[arg(long, value_enum)]
        datum: Datum,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Start the embedded database and leave it running; prints its URL.
    Start,
    /// Stop the embedded database.
    Stop,
}

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error(transparent)]
    Demo(#[from] demo::DemoError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    PersonalData(#[from] PersonalDataError),
    #[error(transparent)]
    Plan(#[from] wangge_domain::plans::PlanError),
    #[error("{0}")]
    Usage(String),
    #[error("serving failed: {0}")]
    Serve(#[from] std::io::Error),
}

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .init();
}

/// An open database: the pool, and the embedded cluster behind it when there is one.
#[derive(Debug)]
pub struct Database {
    /// Connected as the login role, which owns the schema.
    pub pool: PgPool,
    options: PgConnectOptions,
    embedded: Option<EmbeddedPostgres>,
    watchdog: Option<tokio::task::JoinHandle<()>>,
}

/// How often a serving wangge checks that its embedded database is still running.
const WATCHDOG_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Database {
    pub async fn open(config: &DatabaseConfig, max_connections: u32) -> Result<Self, CliError> {
        let (options, embedded) = match config {
            DatabaseConfig::External { url } => {
                let options: PgConnectOptions = url.parse().map_err(|e| {
                    CliError::Usage(format!("DATABASE_URL is not a valid URL: {e}"))
                })?;
                (options, None)
            }
            DatabaseConfig::Embedded { data_dir } => {
                let cluster = EmbeddedPostgres::start(data_dir).await?;
                (cluster.connect_options(), Some(cluster))
            }
        };
        let pool = db::connect(options.clone(), max_connections, Privilege::Owner).await?;
        db::migrate(&pool).await?;
        Ok(Self {
            pool,
            options,
            embedded,
            watchdog: None,
        })
    }

    /// While serving, an embedded database that dies (killed, out of memory) is started again;
    /// the pools reconnect by themselves and PostgreSQL's recovery keeps every commit.
    pub fn watch(&mut self) {
        if let Some(cluster) = &self.embedded {
            self.watchdog = Some(cluster.spawn_watchdog(WATCHDOG_EVERY));
        }
    }

    /// Swaps the owner's pool for one connected as the application role, for serving.
    pub async fn application_pool(&self, max_connections: u32) -> Result<PgPool, CliError> {
        let pool = db::connect(
            self.options.clone(),
            max_connections,
            Privilege::Application,
        )
        .await?;
        self.pool.close().await;
        Ok(pool)
    }

    /// Closes the pool, then stops the embedded cluster if this process started it.
    pub async fn close(self) -> Result<(), CliError> {
        if let Some(watchdog) = self.watchdog {
            watchdog.abort();
        }
        self.pool.close().await;
        if let Some(cluster) = self.embedded {
            cluster.stop().await?;
        }
        Ok(())
    }
}

/// The key that seals personal data: WANGGE_DATA_KEY, else the key file.
fn data_key(cli: &Cli) -> Result<DataKey, CliError> {
    if let Ok(hex) = std::env::var("WANGGE_DATA_KEY") {
        return Ok(DataKey::from_hex(&hex)?);
    }
    let path = match (&cli.data_key_file, &cli.database_url) {
        (Some(path), _) => path.clone(),
        (None, None) => {
            let mut name = cli.data_dir.clone().into_os_string();
            name.push(".key");
            PathBuf::from(name)
        }
        (None, Some(_)) => {
            return Err(CliError::Usage(
                "with DATABASE_URL, give the personal-data key: WANGGE_DATA_KEY (64 hex digits) \
                 or --data-key-file"
                    .into(),
            ));
        }
    };
    Ok(DataKey::load_or_create(&path)?)
}

fn database_config(cli: &Cli) -> DatabaseConfig {
    match &cli.database_url {
        Some(url) => DatabaseConfig::External { url: url.clone() },
        None => DatabaseConfig::Embedded {
            data_dir: cli.data_dir.clone(),
        },
    }
}

pub async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::Analyse(command) = &cli.command {
        print!("{}", analyse_gistar(command)?);
        return Ok(());
    }
    let database = database_config(&cli);
    let key = || data_key(&cli);
    match cli.command {
        Command::Analyse(_) => unreachable!("answered above, without a database"),
        Command::Serve(ref args) => {
            let config = serve_config(database, args, key()?);
            let mut db = Database::open(&config.database, config.max_connections).await?;
            db.watch();
            let result = match db.application_pool(config.max_connections).await {
                Ok(pool) => serve(pool, config).await,
                Err(e) => Err(e),
            };
            db.close().await?;
            result
        }
        Command::Demo {
            serve: ref args,
            scale,
            seed,
            load_only,
            no_simulator,
            reports_per_day,
            sim_speed,
        } => {
            let config = serve_config(database, args, key()?);
            let mut db = Database::open(&config.database, config.max_connections).await?;
            let scale = match scale {
                ScaleArg::Full => Scale::Full,
                ScaleArg::Small => Scale::Small,
            };
            let cipher = Cipher::new(&config.data_key);
            let loaded = match load_demo_if_needed(&db.pool, scale, seed, &cipher).await {
                Ok(()) => set_up_demo_users(&db.pool).await,
                Err(e) => Err(e),
            };
            let result = match loaded {
                Err(e) => Err(e),
                Ok(()) if load_only => Ok(()),
                Ok(()) => match db.application_pool(config.max_connections).await {
                    Ok(pool) => {
                        db.watch();
                        if !no_simulator {
                            let _simulator = demo::simulator::start(
                                pool.clone(),
                                cipher.clone(),
                                demo::simulator::SimulatorConfig {
                                    reports_per_day,
                                    speed: sim_speed,
                                    seed,
                                    ..Default::default()
                                },
                            );
                        }
                        serve(pool, config).await
                    }
                    Err(e) => Err(e),
                },
            };
            db.close().await?;
            result
        }
        Command::Migrate => {
            let db = Database::open(&database, 2).await?;
            println!("migrations applied");
            db.close().await
        }
        Command::Import(what) => {
            let db = Database::open(&database, 2).await?;
            let result = run_import(&db.pool, what).await;
            db.close().await?;
            result
        }
        Command::Audit(AuditCommand::Verify) => {
            let db = Database::open(&database, 2).await?;
            let result = wangge_domain::audit::verify(&db.pool).await;
            db.close().await?;
            let rows = result?;
            println!("the audit trail is intact: {rows} rows, each chained to the one before");
            Ok(())
        }
        Command::Plan(command) => {
            let db = Database::open(&database, 2).await?;
            let result = run_plan_command(&db.pool, command).await;
            db.close().await?;
            result
        }
        Command::User(command) => {
            let db = Database::open(&database, 2).await?;
            let result = run_user_command(&db.pool, command).await;
            db.close().await?;
            result
        }
        Command::Db(DbCommand::Start) => {
            let DatabaseConfig::Embedded { data_dir } = database else {
                return Err(CliError::Usage(
                    "`db start` manages the embedded database; unset DATABASE_URL".into(),
                ));
            };
            let cluster = EmbeddedPostgres::start(&data_dir).await?;
            println!("{}", cluster.url());
            cluster.detach();
            Ok(())
        }
        Command::Db(DbCommand::Stop) => {
            let DatabaseConfig::Embedded { data_dir } = database else {
                return Err(CliError::Usage(
                    "`db stop` manages the embedded database; unset DATABASE_URL".into(),
                ));
            };
            EmbeddedPostgres::stop_folder(&data_dir).await?;
            Ok(())
        }
    }
}

async fn run_plan_command(pool: &PgPool, command: PlanCommand) -> Result<(), CliError> {
    use wangge_domain::plans;
    let meta = RequestMeta::cli();
    let line = |p: &plans::PlanSummary| {
        format!(
            "{:>4}  {:<9}  rev {:<4}  {:>5} cells  {}{}",
            p.version,
            format!("{:?}", p.status).to_lowercase(),
            p.revision,
            p.cells,
            p.name,
            p.based_on
                .map(|b| format!("  (from {b})"))
                .unwrap_or_default()
        )
    };
    match command {
        PlanCommand::List { user } => {
            let caller = users::caller(pool, &user).await?;
            for plan in plans::list(pool, &caller).await? {
                println!("{}", line(&plan));
            }
        }
        PlanCommand::New { user, name, from } => {
            let caller = users::caller(pool, &user).await?;
            let plan = plans::create(pool, &caller, &name, from, &meta).await?;
            println!("{}", line(&plan));
        }
        PlanCommand::Publish { user, version } => {
            let caller = users::caller(pool, &user).await?;
            let done = plans::publish::publish(pool, &caller, version, &meta).await?;
            println!(
                "plan {} published, {} archived: {} cells changed; {} worker links, {} grid \
                 worker areas and {} open cases moved to the new cells",
                done.version,
                done.archived_version,
                done.changed_cells,
                done.worker_links,
                done.user_areas,
                done.open_cases
            );
        }
        PlanCommand::Archive { user, version } => {
            let caller = users::caller(pool, &user).await?;
            let plan = plans::archive(pool, &caller, version, &meta).await?;
            println!("{}", line(&plan));
        }
    }
    Ok(())
}

/// How often a serving wangge escalates overdue cases: a case is late by at most this much.
const ESCALATION_EVERY_SECS: u64 = 30;

fn serve_config(database: DatabaseConfig, args: &ServeArgs, data_key: DataKey) -> Config {
    let basemap = match (&args.basemap_tiles, &args.basemap_style) {
        (Some(tiles), _) => Some(Basemap::Raster {
            tiles: vec![tiles.clone()],
            tile_size: 256,
            attribution: args.basemap_attribution.clone(),
        }),
        (None, Some(style)) => Some(Basemap::Vector {
            style: style.clone(),
            attribution: args.basemap_attribution.clone(),
        }),
        (None, None) => None,
    };
    Config {
        listen: args.listen,
        client_dir: args.client_dir.clone(),
        data_key,
        worker_stale_after: std::time::Duration::from_secs(args.worker_stale_secs),
        position_keep_days: args.position_keep_days,
        basemap,
        escalation_every: Some(std::time::Duration::from_secs(ESCALATION_EVERY_SECS)),
        hotspot_scan_every: Some(std::time::Duration::from_secs(args.hotspot_scan_secs)),
        trusted_proxies: args.trusted_proxies.clone(),
        auth: AuthConfig {
            secure_cookie: args.secure_cookie,
            ..AuthConfig::default()
        },
        ..Config::for_database(database)
    }
}

async fn load_demo_if_needed(
    pool: &PgPool,
    scale: Scale,
    seed: u64,
    cipher: &Cipher,
) -> Result<(), CliError> {
    if let Some(detail) = demo::loaded_demo(pool).await? {
        println!("demo already loaded ({detail}); serving it");
        return Ok(());
    }
    let started = Instant::now();
    let report = demo::generate_and_load(pool, scale, seed, cipher, &mut |step: &str| {
        println!("[{:>5.1} s] {step}", started.elapsed().as_secs_f64());
    })
    .await?;
    println!(
        "demo loaded in {:.1} s: {report}",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The demo's users, one per role, made once; WANGGE_DEMO_PASSWORD, when given, is (or
/// becomes) their password. A password is printed only when it was generated now: one
/// printed at an earlier start still holds.
async fn set_up_demo_users(pool: &PgPool) -> Result<(), CliError> {
    let wanted = std::env::var("WANGGE_DEMO_PASSWORD").ok();
    let done = users::ensure_demo_users(pool, wanted.as_deref(), &RequestMeta::cli()).await?;
    let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    let how = match (&done.generated, &wanted) {
        (Some(generated), _) => format!("password of {}: {generated}", done.created.join(", ")),
        (None, Some(_)) => "password: WANGGE_DEMO_PASSWORD".to_owned(),
        (None, None) => "passwords unchanged: as printed when they were made".to_owned(),
    };
    println!("demo users: {} ({how})", names.join(", "));
    if !done.password_set.is_empty() {
        println!(
            "new password set for {}; their sessions are ended",
            done.password_set.join(", ")
        );
    }
    Ok(())
}

fn new_password() -> (String, bool) {
    match std::env::var("WANGGE_PASSWORD") {
        Ok(given) => (given, false),
        Err(_) => (password::generate(), true),
    }
}

async fn run_user_command(pool: &PgPool, command: UserCommand) -> Result<(), CliError> {
    match command {
        UserCommand::Add {
            username,
            role,
            area,
            grid_cell,
        } => {
            let area = match (area, grid_cell) {
                (Some(code), _) => AreaCode::Unit(code),
                (None, Some(code)) => AreaCode::GridCell(code),
                (None, None) => return Err(CliError::Usage("give --area or --grid-cell".into())),
            };
            let (password, generated) = new_password();
            users::add(pool, &username, role, &area, &password, &RequestMeta::cli()).await?;
            println!("added {username} ({})", role.as_str());
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List => {
            for user in users::list(pool).await? {
                let state = if user.disabled { " [disabled]" } else { "" };
                println!(
                    "{}\t{}\t{}{state}",
                    user.username,
                    user.role.as_str(),
                    user.area
                );
            }
        }
        UserCommand::Disable { username } => {
            users::disable(pool, &username, &RequestMeta::cli()).await?;
            println!("disabled {username}; their sessions are ended");
        }
        UserCommand::ResetPassword { username } => {
            let (password, generated) = new_password();
            users::reset_password(pool, &username, &password, &RequestMeta::cli()).await?;
            println!("new password set for {username}; their sessions are ended");
            if generated {
                println!("password: {password}");
            }
        }
    }
    Ok(())
}

async fn run_import(pool: &PgPool, what: ImportCommand) -> Result<(), CliError> {
    let report = match what {
        ImportCommand::AdminUnits { file, level, datum } => {
            let text = read(&file)?;
            import::import_admin_units(pool, &text, level, datum).await?
        }
        ImportCommand::GridCells { file, plan, datum } => {
            let text = read(&file)?;
            import::import_grid_cells(pool, &text, plan, datum).await?
        }
        ImportCommand::Households { file, datum } => {
            let text = read(&file)?;
            import::import_households(pool, &text, datum).await?
        }
    };
    println!("{report}");
    Ok(())
}

fn read(file: &PathBuf) -> Result<String, CliError> {
    let size = std::fs::metadata(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))?
        .len();
    if size > import::MAX_FILE_BYTES {
        return Err(CliError::Usage(format!(
            "{} has {size} bytes; an import reads at most {} (split the file)",
            file.display(),
            import::MAX_FILE_BYTES
        )));
    }
    std::fs::read_to_string(file)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))
}

/// Serves until Ctrl-C or SIGTERM, then drains in-flight requests.
pub async fn serve(pool: PgPool, config: Config) -> Result<(), CliError> {
    if !config.client_dir.join("index.html").exists() {
        tracing::warn!(
            client_dir = %config.client_dir.display(),
            "the map client is not built (run `npm run build` in map-client); serving the API only"
        );
    }
    let listener = TcpListener::bind(config.listen).await?;
    let address = listener.local_addr()?;
    let state = wangge_http::AppState::new(pool, config);
    // A server that will show maps reads the layers it keeps in memory now rather than at
    // its first tiles.
    state.memory_tiles.read_all_now();
    let app = wangge_http::app(state);
    println!("wangge is serving http://{address}");
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    println!("wangge stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
