//! The PostgreSQL connections requests and jobs take, handed back for reuse without a round trip.
//!
//! sqlx's pool checks every connection it gets back with a round trip (a `Sync` and its
//! `ReadyForQuery`), from a task of its own, before another caller may have it: a third of the
//! round trips of a ticket command that is one read and one write. A transaction that ended as
//! it should (committed, or its reads done) leaves its connection idle and in no transaction,
//! so [`Conns`] keeps it aside for the next caller, for at most [`KEEP`]. Any other connection
//! (a transaction dropped on an error or a cancelled request, a statement cut off mid-way) goes
//! back through sqlx's check, after its open transaction's `ROLLBACK` is queued.
//!
//! A kept connection still holds its place in the pool; so that the pool's own callers (the job
//! queue's statements) always find a connection, `Conns` hands out at most one fewer than the
//! pool holds. A connection kept longer than [`KEEP`], or going from request to request for
//! [`BACK_TO_POOL_AFTER`], goes back to the pool, whose checks (its ping when it hands out a
//! connection idle for a second or more, its connections' lifetime) apply again.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use sqlx::{PgConnection, PgPool, Postgres, pool::PoolConnection, postgres::PgTransactionManager};
use sqlx_core::transaction::TransactionManager;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a connection handed back is kept for reuse without a check; the pool's own check
/// ([`super::RECHECK_IDLE`]) takes over after it.
pub const KEEP: Duration = super::RECHECK_IDLE;

/// How long a connection may go from request to request before it goes back through the
/// pool once, which closes it there when it is past the pool's lifetime.
pub const BACK_TO_POOL_AFTER: Duration = Duration::from_secs(60);

/// The connections handed back for reuse, and the places of the pool requests may take.
#[derive(Debug)]
pub struct Conns {
    pool: PgPool,
    kept: Mutex<Kept>,
    places: Arc<Semaphore>,
    acquire_timeout: Duration,
    /// [`BACK_TO_POOL_AFTER`], or shorter in a test.
    back_after: Duration,
}

impl Conns {
    /// Hands out connections of `pool`, at most one fewer than its `max_connections` (all of one);
    /// a task sends connections kept longer than [`KEEP`] back to it, and one going from
    /// request to request goes back after `back_after` ([`BACK_TO_POOL_AFTER`]).
    pub fn new(
        pool: PgPool,
        max_connections: u32,
        acquire_timeout: Duration,
        back_after: Duration,
    ) -> Arc<Self> {
        let places = max_connections.saturating_sub(1).max(1) as usize;
        let conns = Arc::new(Conns {
            pool,
            kept: Mutex::new(Kept::default()),
            places: Arc::new(Semaphore::new(places)),
            acquire_timeout,
            back_after,
        });
        let weak = Arc::downgrade(&conns);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEEP);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(conns) => drop(conns.take_stale(KEEP)),
                    None => break,
                }
            }
        });
        conns
    }

    /// A connection: one kept if any is, else one of the pool. Waits for a place as long as the
    /// pool waits for a connection, then answers [`sqlx::Error::PoolTimedOut`].
    pub async fn acquire(self: &Arc<Self>) -> Result<Conn, sqlx::Error> {
        let place = tokio::time::timeout(self.acquire_timeout, self.places.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let kept = self.kept.lock().expect("kept connections").conns.pop();
        let (conn, since) = match kept {
            Some(k) if k.at.elapsed() < KEEP => (k.conn, k.since),
            stale => {
                drop(stale);
                (self.pool.acquire().await?, Instant::now())
            }
        };
        Ok(Conn { conn: Some(conn), since, owner: self.clone(), ended: false, _place: place })
    }

    /// Removes the connections kept for `age` or longer (dropping them sends them back to the
    /// pool).
    fn take_stale(&self, age: Duration) -> Vec<PoolConnection<Postgres>> {
        let mut kept = self.kept.lock().expect("kept connections");
        let stale = kept.conns.iter().take_while(|k| k.at.elapsed() >= age).count();
        kept.conns.drain(..stale).map(|k| k.conn).collect()
    }

    /// Sends every kept connection back to the pool, and those handed back from now on: before
    /// the pool closes, which waits for them.
    pub fn close(&self) {
        let all = {
            let mut kept = self.kept.lock().expect("kept connections");
            kept.closed = true;
            std::mem::take(&mut kept.conns)
        };
        drop(all);
    }

    /// Keeps `conn`, taken from the pool at `since`, for reuse, unless the pool is closing.
    fn keep(&self, conn: PoolConnection<Postgres>, since: Instant) {
        let mut kept = self.kept.lock().expect("kept connections");
        if kept.closed {
            drop(kept);
            drop(conn);
            return;
        }
        kept.conns.push(KeptConn { conn, at: Instant::now(), since });
    }
}

/// The connections kept, newest last; none once the pool closes.
#[derive(Debug, Default)]
struct Kept {
    conns: Vec<KeptConn>,
    closed: bool,
}

#[derive(Debug)]
struct KeptConn {
    conn: PoolConnection<Postgres>,
    /// When it was kept.
    at: Instant,
    /// When it was taken from the pool.
    since: Instant,
}

/// A connection handed out by [`Conns`]: kept for reuse when it is dropped after
/// [`Conn::ended`] (and within [`BACK_TO_POOL_AFTER`] of leaving the pool), else sent back
/// through the pool's check.
#[derive(Debug)]
pub struct Conn {
    conn: Option<PoolConnection<Postgres>>,
    /// When it was taken from the pool.
    since: Instant,
    owner: Arc<Conns>,
    ended: bool,
    // Dropped after the connection is kept: the caller waiting for the place finds it.
    _place: OwnedSemaphorePermit,
}

impl Conn {
    /// Marks that the connection's last statement was answered in full and no transaction is
    /// open: it may be reused without a check.
    pub fn ended(&mut self) {
        self.ended = true;
    }

    /// Sends `BEGIN`.
    pub async fn begin(&mut self) -> Result<(), sqlx::Error> {
        PgTransactionManager::begin(&mut **self, None).await
    }

    /// Sends `COMMIT`; the connection may then be reused.
    pub async fn commit(&mut self) -> Result<(), sqlx::Error> {
        PgTransactionManager::commit(&mut **self).await?;
        self.ended();
        Ok(())
    }
}

impl std::ops::Deref for Conn {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn.as_ref().expect("a connection until dropped")
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a connection until dropped")
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(mut conn) = self.conn.take() else { return };
        let open = PgTransactionManager::get_transaction_depth(&*conn) > 0;
        if self.ended && !open && self.since.elapsed() < self.owner.back_after {
            self.owner.keep(conn, self.since);
        } else {
            // Queued, sent by the pool's check as the connection comes back.
            PgTransactionManager::start_rollback(&mut *conn);
        }
    }
}
