//! Configuration: one typed struct, filled from the command line and the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::net::TrustedProxies;
use crate::personal::DataKey;

/// Where the database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// A private cluster that wangge creates and runs in this folder.
    Embedded { data_dir: PathBuf },
    /// An existing server (`DATABASE_URL`).
    External { url: String },
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseConfig,
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// The built map client (`map-client/dist`), served at `/`.
    pub client_dir: PathBuf,
    /// Upper bound on pooled database connections.
    pub max_connections: u32,
    pub auth: AuthConfig,
    /// The key personal data is sealed with; kept outside the database.
    pub data_key: DataKey,
    /// A worker's position older than this is stale: shown and ranked as such.
    pub worker_stale_after: Duration,
    /// Days of worker position history kept (older days are dropped whole).
    pub position_keep_days: u32,
    /// Memory for cached vector tiles.
    pub tile_cache_bytes: usize,
    /// A basemap beneath our layers, when the command centre has one (none by default: many
    /// have no internet).
    pub basemap: Option<Basemap>,
    /// How often the server's sweeps run: overdue cases escalated, expired idempotency keys
    /// forgotten, untouched cases dispatched automatically where a rule says so. `None`
    /// leaves it to another server (and keeps tests' data still unless they ask).
    pub escalation_every: Option<Duration>,
    /// How often the grid cells' emerging hot spot patterns are scanned for alerts
    /// ([`crate::hotspots::alerts`]); `None` leaves it to another server.
    pub hotspot_scan_every: Option<Duration>,
    /// Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed
    /// (`WANGGE_TRUSTED_PROXIES`); none by default.
    pub trusted_proxies: TrustedProxies,
}

/// A basemap for the map client: raster tiles (e.g. a Tianditu WMTS URL template) or a
/// MapLibre vector style.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Basemap {
    Raster {
        tiles: Vec<String>,
        tile_size: u32,
        attribution: String,
    },
    Vector {
        style: String,
        attribution: String,
    },
}

/// Sessions, tokens and sign-in limits.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// A browser session unused this long ends.
    pub idle_timeout: Duration,
    /// A browser session ends this long after sign-in, however busy.
    pub session_lifetime: Duration,
    /// A bearer token ends this long after it was issued.
    pub token_lifetime: Duration,
    /// Failed sign-ins in a row for one username from one client address that are free;
    /// each one past them doubles that pair's cool-down, from `first_delay` ...
    pub free_failures: u32,
    pub first_delay: Duration,
    /// ... up to this. Never a lock of the account: see `auth::limiter`.
    pub max_delay: Duration,
    /// Sign-in attempts one client address may make per `address_window`.
    pub address_limit: usize,
    pub address_window: Duration,
    /// When the session cookie is marked `Secure` (`WANGGE_SECURE_COOKIE`).
    pub secure_cookie: SecureCookie,
}

/// When the session cookie carries `Secure`. A browser drops a `Secure` cookie set over
/// plain http, except from a loopback address (http://127.0.0.1, localhost), which it treats
/// as a secure origin; wangge serves no TLS itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SecureCookie {
    /// Secure when a trusted proxy says the client came over HTTPS, or the client is on
    /// loopback (or unknown: in-process); not over plain http from any other address.
    #[default]
    Auto,
    Always,
    Never,
}

impl SecureCookie {
    /// Whether a cookie set in answer to a request from `client` (`None`: in-process), that
    /// came over HTTPS according to a trusted proxy or not, is marked `Secure`.
    pub fn secure_for(self, client: Option<std::net::IpAddr>, https: bool) -> bool {
        match self {
            Self::Always => true,
            Self::Never => false,
            Self::Auto => {
                https || client.is_none_or(|ip| ip.is_loopback() || is_mapped_loopback(ip))
            }
        }
    }
}

fn is_mapped_loopback(ip: std::net::IpAddr) -> bool {
    matches!(ip, std::net::IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
            token_lifetime: Duration::from_secs(30 * 24 * 3600),
            free_failures: 5,
            first_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            address_limit: 30,
            address_window: Duration::from_secs(5 * 60),
            secure_cookie: SecureCookie::Auto,
        }
    }
}

impl Config {
    /// A configuration for tests and tools that serve nothing.
    pub fn for_database(database: DatabaseConfig) -> Self {
        Self {
            database,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            client_dir: PathBuf::from("map-client/dist"),
            max_connections: 16,
            auth: AuthConfig::default(),
            data_key: DataKey::generate(),
            worker_stale_after: Duration::from_secs(10 * 60),
            position_keep_days: 30,
            tile_cache_bytes: 256 * 1024 * 1024,
            basemap: None,
            escalation_every: None,
            hotspot_scan_every: None,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}
