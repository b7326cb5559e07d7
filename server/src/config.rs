//! Configuration: one typed struct, filled from the command line and the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

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
}

impl Config {
    /// A configuration for tests and tools that serve nothing.
    pub fn for_database(database: DatabaseConfig) -> Self {
        Self {
            database,
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            client_dir: PathBuf::from("map-client/dist"),
            max_connections: 16,
        }
    }
}
