//! What every handler shares.

use std::sync::{Arc, atomic::AtomicBool};

use tokio::sync::watch;

use crate::observe::RequestMetrics;
use common::{
    auth::{FirebaseSigner, TokenKeys},
    config::Settings,
    db::{Db, session_cache::SessionCache},
};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub keys: TokenKeys,
    pub settings: Arc<Settings>,
    /// Signs Firebase custom tokens when a service account is configured.
    pub firebase: Option<FirebaseSigner>,
    /// Request counts and latencies of this process, for `/metrics`.
    pub requests: Arc<RequestMetrics>,
    /// The live feed's head, published by its hub.
    pub feed: watch::Receiver<i64>,
    /// Shutting down: not ready, connections are closed after each response.
    pub draining: Arc<AtomicBool>,
    /// The database's part of `/metrics` and when it was counted (see
    /// `CGS_METRICS_INTERVAL_SECONDS`); one scrape counts while the others wait for it.
    pub gauges: Arc<tokio::sync::Mutex<Option<(std::time::Instant, String)>>>,
    /// The live-feed streams open in this process, by session.
    pub streams: Arc<crate::feed::Streams>,
    /// Login attempts per client address.
    pub throttle: Arc<crate::throttle::LoginThrottle>,
    /// The session check's answers (`CGS_SESSION_CACHE_SECONDS`).
    pub sessions: Arc<SessionCache>,
    /// Where uploaded photos are kept.
    pub media: crate::media_store::MediaStore,
}
