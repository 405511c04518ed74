//! The session check's answers kept in memory, so that a request costs no round trip for it,
//! without a dead session ever living on.
//!
//! A change that ends a session or alters its user (logout, deactivation, a password, role or
//! region change) is recorded in its transaction ([`changed`]). At commit this process's caches
//! forget it; on PostgreSQL the transaction also sends a `NOTIFY` that every other process's
//! listener applies. A cache answers only while its listener is known to be current: it sends
//! itself a heartbeat through PostgreSQL every [`BEAT`], and as notifications arrive in commit
//! order, the return of a beat sent at `t` proves every change committed before `t` was
//! applied. With no beat back for [`FRESH`] (a lost or lagging connection) the cache empties
//! and every check reads the database until the listener is current again. Each answer is also
//! read anew after `CGS_SESSION_CACHE_SECONDS`, the bound for a change made behind the app's back.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Conn, Db, Tx, sessions::LiveSession};
use crate::error::DomainError;

/// The channel the changes are sent on.
const CHANNEL: &str = "cgs_sessions";

/// The `application_name` of the listening connection.
pub const LISTENER_NAME: &str = "cgs-session-listener";

/// How often the listener sends itself a heartbeat.
pub const BEAT: Duration = Duration::from_millis(200);

/// How recent the newest heartbeat back must be for the cache to answer: a change reaches
/// every process within this, well inside the second the product allows.
pub const FRESH: Duration = Duration::from_millis(700);

/// At most this many sessions are kept; past it the oldest answers go.
const MAX_ENTRIES: usize = 50_000;

/// What a transaction changed about sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// One session ended (logout).
    Session(Uuid),
    /// A user's sessions ended, or its role, region, name or active flag changed.
    User(Uuid),
}

impl Change {
    fn payload(self) -> String {
        match self {
            Change::Session(id) => format!("s:{id}"),
            Change::User(id) => format!("u:{id}"),
        }
    }

    fn parse(payload: &str) -> Option<Self> {
        let (kind, id) = payload.split_once(':')?;
        let id = id.parse().ok()?;
        match kind {
            "s" => Some(Change::Session(id)),
            "u" => Some(Change::User(id)),
            _ => None,
        }
    }
}

/// Records `change` in `tx`: forgotten by this process's caches when `tx` commits, and on
/// PostgreSQL announced to the other processes by the same commit.
pub async fn changed(tx: &mut Tx, change: Change) -> Result<(), DomainError> {
    if let Conn::Postgres(t) = tx.conn().await? {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(change.payload())
            .execute(&mut **t)
            .await?;
    }
    tx.sessions_changed.push(change);
    Ok(())
}

/// The caches of this process, which a commit tells of its changes.
static CACHES: Mutex<Vec<Weak<SessionCache>>> = Mutex::new(Vec::new());

/// Applies a committed transaction's changes to every cache of this process.
pub(crate) fn forget_here(changes: &[Change]) {
    if changes.is_empty() {
        return;
    }
    let caches: Vec<Arc<SessionCache>> =
        CACHES.lock().unwrap_or_else(|e| e.into_inner()).iter().filter_map(Weak::upgrade).collect();
    for cache in caches {
        for change in changes {
            cache.forget(*change);
        }
    }
}

struct Entry {
    live: LiveSession,
    read_at: Instant,
}

#[derive(Default)]
struct Entries {
    by_session: HashMap<Uuid, Entry>,
    /// Moves on with every change applied: an answer read from the database before a change
    /// is not stored after it.
    epoch: u64,
}

/// The answers of the session check, by session.
pub struct SessionCache {
    entries: Mutex<Entries>,
    max_age: Duration,
    started: Instant,
    /// PostgreSQL: when (milliseconds after `started`) the newest heartbeat that came back was
    /// sent; 0 before the first. `None` on SQLite, where every change is made in this process.
    beat_back: Option<AtomicU64>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Taken before reading a session from the database, given back with the answer.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl SessionCache {
    /// A cache for `db` keeping answers up to `max_age` (zero: none), with its listener on
    /// PostgreSQL.
    pub fn start(db: &Db, max_age: Duration) -> Arc<Self> {
        let postgres = matches!(db, Db::Postgres(..)) && !max_age.is_zero();
        let cache = Arc::new(SessionCache {
            entries: Mutex::default(),
            max_age,
            started: Instant::now(),
            beat_back: postgres.then(|| AtomicU64::new(0)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        });
        {
            let mut caches = CACHES.lock().unwrap_or_else(|e| e.into_inner());
            caches.retain(|c| c.strong_count() > 0);
            caches.push(Arc::downgrade(&cache));
        }
        if let (true, Db::Postgres(pool, ..)) = (postgres, db) {
            tokio::spawn(listen(Arc::downgrade(&cache), (*pool.connect_options()).clone()));
        }
        cache
    }

    /// The live session `session` of `user` as last read, when it is still good at `now` and
    /// the cache is current.
    pub fn get(&self, session: Uuid, user: Uuid, now: DateTime<Utc>) -> Option<LiveSession> {
        let answer = self.current().then(|| {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let e = entries.by_session.get(&session)?;
            let good = e.live.actor.id == user
                && e.read_at.elapsed() < self.max_age
                && e.live.expires_at > now
                && e.live.idle_until.is_none_or(|idle| idle > now);
            good.then(|| e.live.clone())
        });
        let answer = answer.flatten();
        let counter = if answer.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        answer
    }

    /// To take before reading a session from the database.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.entries.lock().unwrap_or_else(|e| e.into_inner()).epoch)
    }

    /// Keeps what the database answered for `session`, unless a change was applied since
    /// `ticket` was taken (the answer may predate it) or the cache is not current.
    pub fn put(&self, ticket: Ticket, session: Uuid, live: &LiveSession) {
        if self.max_age.is_zero() || !self.current() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.epoch != ticket.0 {
            return;
        }
        if entries.by_session.len() >= MAX_ENTRIES {
            let max_age = self.max_age;
            entries.by_session.retain(|_, e| e.read_at.elapsed() < max_age / 2);
            if entries.by_session.len() >= MAX_ENTRIES {
                entries.by_session.clear();
            }
        }
        entries.by_session.insert(session, Entry { live: live.clone(), read_at: Instant::now() });
    }

    /// The session's idle end moved to `idle_until` (this process wrote it).
    pub fn touched(&self, session: Uuid, idle_until: DateTime<Utc>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(e) = entries.by_session.get_mut(&session) {
            e.live.idle_until = Some(idle_until);
        }
    }

    /// Forgets what `change` touched.
    pub fn forget(&self, change: Change) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.epoch += 1;
        match change {
            Change::Session(id) => {
                entries.by_session.remove(&id);
            }
            Change::User(id) => entries.by_session.retain(|_, e| e.live.actor.id != id),
        }
    }

    /// The listener lost its connection, or could not make one: changes may have been missed.
    /// Empty, and not current until a heartbeat comes back over a new connection.
    fn lost(&self) {
        if let Some(beat) = &self.beat_back {
            beat.store(0, Ordering::SeqCst);
        }
        self.clear();
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.epoch += 1;
        entries.by_session.clear();
    }

    /// Checks answered from memory and from the database, for `/metrics`.
    pub fn counts(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }

    fn millis(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Whether the cache may answer: on PostgreSQL, a heartbeat sent less than [`FRESH`] ago
    /// came back. Else it empties (once) and answers nothing.
    fn current(&self) -> bool {
        if self.max_age.is_zero() {
            return false;
        }
        let Some(beat) = &self.beat_back else { return true };
        let sent = beat.load(Ordering::SeqCst);
        let current = sent > 0 && self.millis().saturating_sub(sent) < FRESH.as_millis() as u64;
        if !current && sent > 0 && beat.compare_exchange(sent, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok()
        {
            tracing::warn!("the session listener is behind; checking sessions in the database");
            self.clear();
        }
        current
    }

    /// The heartbeat sent at `sent` (see [`millis`](Self::millis)) came back: every change
    /// committed before it has been applied.
    fn beat_came_back(&self, sent: u64) {
        if let Some(beat) = &self.beat_back {
            beat.fetch_max(sent, Ordering::SeqCst);
        }
    }
}

/// Listens for changes and heartbeats on a connection of its own (the app's pool stays whole)
/// until the cache is dropped; reconnects after a loss, emptying the cache each time.
async fn listen(cache: Weak<SessionCache>, options: sqlx::postgres::PgConnectOptions) {
    use sqlx::postgres::{PgListener, PgPoolOptions};
    let beat_channel = format!("cgs_beat_{}", Uuid::new_v4().simple());
    let options = options.application_name(LISTENER_NAME);
    loop {
        let connected = async {
            // One connection listens, the other sends the heartbeats.
            let pool = PgPoolOptions::new()
                .max_connections(2)
                .max_lifetime(None)
                .idle_timeout(None)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options.clone())
                .await?;
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen_all([CHANNEL, beat_channel.as_str()]).await?;
            Ok::<_, sqlx::Error>((pool, listener))
        };
        let (pool, mut listener) = match connected.await {
            Ok(c) => c,
            Err(e) => {
                let Some(c) = cache.upgrade() else { return };
                c.lost();
                tracing::warn!(error = %e, "the session listener cannot connect; checking sessions in the database");
                drop(c);
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let beats = tokio::spawn(send_beats(cache.clone(), pool.clone(), beat_channel.clone()));
        let lost = loop {
            let Some(c) = cache.upgrade() else {
                beats.abort();
                return;
            };
            match listener.try_recv().await {
                Ok(Some(n)) if n.channel() == CHANNEL => match Change::parse(n.payload()) {
                    Some(change) => c.forget(change),
                    None => c.clear(),
                },
                Ok(Some(n)) => {
                    if let Ok(sent) = n.payload().parse() {
                        c.beat_came_back(sent);
                    }
                }
                // Lost and connected again: whatever was sent meanwhile is unknown.
                Ok(None) => {
                    tracing::warn!("the session listener lost its connection");
                    c.lost();
                }
                Err(e) => break e,
            }
        };
        beats.abort();
        if let Some(c) = cache.upgrade() {
            c.lost();
        }
        tracing::warn!(error = %lost, "the session listener failed; connecting again");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Sends the listener its heartbeat every [`BEAT`], the send time as payload.
async fn send_beats(cache: Weak<SessionCache>, pool: sqlx::PgPool, channel: String) {
    let mut every = tokio::time::interval(BEAT);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(sent) = cache.upgrade().map(|c| c.millis()) else { return };
        let beat =
            sqlx::query("SELECT pg_notify($1, $2)").bind(&channel).bind(sent.to_string()).execute(&pool);
        // A beat that fails or is late is only missed: the cache stops answering by itself.
        match tokio::time::timeout(FRESH, beat).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "a session heartbeat was not sent"),
            Err(_) => tracing::debug!("a session heartbeat timed out"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_travel_as_short_payloads() {
        let id = Uuid::now_v7();
        for change in [Change::Session(id), Change::User(id)] {
            assert_eq!(Change::parse(&change.payload()), Some(change));
        }
        assert_eq!(Change::parse("x:1"), None);
        assert_eq!(Change::parse("u:not-an-id"), None);
    }
}
