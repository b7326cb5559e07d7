//! What every handler can reach: the database, the configuration and the long-lived parts
//! (caches, the live hub, the intake queue), built once at start-up.

use std::sync::Arc;

use axum::extract::FromRef;
use sqlx::PgPool;
use wangge_domain::auth::AuthState;
use wangge_domain::auth::cache::SessionCache;
use wangge_domain::auth::limiter::SignInGuard;
use wangge_domain::config::Config;
use wangge_domain::dispatch::Dispatch;
use wangge_domain::geocode::Geocoder;
use wangge_domain::incidents::queue::IntakeQueue;
use wangge_domain::live::LiveHub;
use wangge_domain::memory_tiles::MemoryTiles;
use wangge_domain::personal::Cipher;
use wangge_domain::plans::workload::WorkloadCache;
use wangge_domain::render_slots::RenderSlots;
use wangge_domain::stats::SummaryCache;
use wangge_domain::tile_cache::TileCache;

/// Largest request body accepted anywhere (bytes), and largest message on the live socket.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler can reach: one shared [`Shared`], so that the copies the router and
/// every extractor take cost one reference count, not one per part (a warm tile request
/// spent a fifth of its time copying and dropping twenty of them).
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
#[derive(Debug)]
pub struct Shared {
    pub pool: PgPool,
    /// Connections for rendering tiles, whose queries keep one generic plan each (see
    /// [`AppState::new`]).
    pub tile_pool: PgPool,
    pub config: Arc<Config>,
    /// Sign-in throttling per client address and per (username, address).
    pub sign_in_guard: Arc<SignInGuard>,
    /// Seals and opens personal data.
    pub cipher: Cipher,
    /// Vector tiles, kept until a change touches them.
    pub tile_cache: Arc<TileCache>,
    /// Committed changes: drops stale tiles, feeds live clients.
    pub live: Arc<LiveHub>,
    /// The live feed's newest messages, built once per scope.
    pub live_messages: Arc<crate::feed::SharedMessages>,
    /// Addresses to places, with the gazetteer of administrative units.
    pub geocoder: Arc<Geocoder>,
    /// Located reports, written in groups.
    pub intake_queue: Arc<IntakeQueue>,
    /// Grid workers in memory, for ranking candidates.
    pub dispatch: Arc<Dispatch>,
    /// Sessions looked up moments ago, dropped when the change feed says they ended.
    pub sessions: Arc<SessionCache>,
    /// The layers tiled from memory (the published grid's cells, the households).
    pub memory_tiles: Arc<MemoryTiles>,
    /// Tiles being rendered, per user.
    pub tile_renders: Arc<RenderSlots>,
    /// Grid plan cells' figures that only their outlines and the households change.
    pub workload: Arc<WorkloadCache>,
    /// The summary's counts that only imports change, by area.
    pub summary: Arc<SummaryCache>,
    /// What finding a request's caller needs (the pool, `sessions`, the session rules).
    pub auth: AuthState,
}

impl FromRef<AppState> for AuthState {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl AppState {
    /// The state, the change listener behind live tiles and the live feed, and the escalation
    /// of overdue cases (both spawned on the current Tokio runtime, so call this inside one).
    pub fn new(pool: PgPool, config: Config) -> Self {
        let sign_in_guard = Arc::new(SignInGuard::new(&config.auth));
        let cipher = Cipher::new(&config.data_key);
        let tile_cache = Arc::new(TileCache::new(config.tile_cache_bytes));
        let live = LiveHub::new(Arc::clone(&tile_cache), config.worker_stale_after);
        let sessions = Arc::new(SessionCache::default());
        let geocoder = Arc::new(Geocoder::default());
        let intake_queue = IntakeQueue::start(pool.clone(), cipher.clone());
        live.on_admin_units_changed(Arc::clone(&geocoder));
        let dispatch = Dispatch::new(config.worker_stale_after, config.position_keep_days);
        live.on_workers_changed(Arc::clone(&dispatch));
        let memory_tiles = Arc::new(MemoryTiles::default());
        live.on_static_layers_changed(Arc::clone(&memory_tiles));
        // After everything the listener tells is registered with it.
        live.start(pool.clone(), Arc::clone(&sessions));
        memory_tiles.start(pool.clone());
        let hub = Arc::clone(&live);
        dispatch.start(pool.clone(), move |pool| {
            let hub = Arc::clone(&hub);
            async move { hub.sync(&pool).await.map_err(|e| e.to_string()) }
        });
        if let Some(every) = config.escalation_every {
            wangge_domain::dispatch::auto::start(pool.clone(), Arc::clone(&dispatch), every);
        }
        if let Some(every) = config.escalation_every {
            wangge_domain::incidents::escalation::start(pool.clone(), every);
        }
        if let Some(every) = config.hotspot_scan_every {
            wangge_domain::hotspots::alerts::start(pool.clone(), every);
        }
        // A tile query is planned once per connection rather than for every tile: a tile's
        // own plan cost as much as the tile at the zooms with few features, and the spatial
        // index is the right way in whatever the tile. Other queries keep plans made for
        // their values (an area's prefix picks an index). Half the pool: two cores render
        // no faster with more, and a burst of tiles leaves the rest for everything else.
        let tile_pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections((config.max_connections / 2).max(2))
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_lazy_with(
                (*pool.connect_options())
                    .clone()
                    .options([("plan_cache_mode", "force_generic_plan")]),
            );
        let auth = AuthState {
            pool: pool.clone(),
            sessions: Arc::clone(&sessions),
            config: Arc::new(config.auth.clone()),
        };
        Self(Arc::new(Shared {
            pool,
            tile_pool,
            config: Arc::new(config),
            auth,
            sign_in_guard,
            cipher,
            tile_cache,
            live,
            live_messages: Arc::default(),
            geocoder,
            intake_queue,
            dispatch,
            sessions,
            memory_tiles,
            tile_renders: Arc::default(),
            workload: Arc::default(),
            summary: Arc::default(),
        }))
    }
}
