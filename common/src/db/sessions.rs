//! Queries on `sessions` (stateful logins) and `login_throttle` (failed logins).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{
    Db, Tx,
    session_cache::{self, Change},
};
use crate::{
    db_pool, db_run,
    domain::access::Actor,
    domain::{Region, Role},
    error::DomainError,
};

/// Opens a session for a user; returns its id.
pub async fn create(
    tx: &mut Tx,
    user_id: Uuid,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    idle_until: Option<DateTime<Utc>>,
) -> Result<Uuid, DomainError> {
    let id = Uuid::now_v7();
    db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, expires_at, idle_until) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .bind(idle_until)
        .execute(&mut *c)
        .await?;
    });
    Ok(id)
}

/// Moves the idle end of a session to `idle_until` (a use), in one statement on the pool.
pub async fn touch(db: &Db, session_id: Uuid, idle_until: DateTime<Utc>) -> Result<(), DomainError> {
    const SQL: &str = "UPDATE sessions SET idle_until = $2 WHERE id = $1 AND revoked_at IS NULL";
    db_pool!(db, |c| {
        sqlx::query(SQL).bind(session_id).bind(idle_until).execute(c).await?;
    });
    Ok(())
}

/// The session check of an authenticated request the session cache does not answer (`$1`
/// session, `$2` user, `$3` now).
const LIVE_ACTOR: &str = "SELECT u.id, u.role, u.region, u.name, s.expires_at, s.idle_until FROM sessions s \
     JOIN users u ON u.id = s.user_id \
     WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 \
     AND (s.idle_until IS NULL OR s.idle_until > $3) AND u.active";

/// The row [`LIVE_ACTOR`] answers.
type LiveRow = (Uuid, Role, Region, String, DateTime<Utc>, Option<DateTime<Utc>>);

/// A live session: its user as an actor, and when it ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    pub actor: Actor,
    pub expires_at: DateTime<Utc>,
    /// The idle end; `None`: no idle limit yet.
    pub idle_until: Option<DateTime<Utc>>,
}

impl From<LiveRow> for LiveSession {
    fn from((id, role, region, name, expires_at, idle_until): LiveRow) -> Self {
        LiveSession { actor: Actor { id, role, region, name }, expires_at, idle_until }
    }
}

/// The actor behind a live session: not revoked, not expired, user still active.
pub async fn actor(
    tx: &mut Tx,
    session_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Actor>, DomainError> {
    let row = db_run!(tx, |c| {
        sqlx::query_as::<_, LiveRow>(LIVE_ACTOR)
            .bind(session_id)
            .bind(user_id)
            .bind(now)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row.map(|row| LiveSession::from(row).actor))
}

/// [`actor`] in one statement on the pool, without a transaction around it: every request
/// not answered by the session cache asks it, and BEGIN and COMMIT would double its round
/// trips.
pub async fn live_actor(
    db: &Db,
    session_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<LiveSession>, DomainError> {
    let row = db_pool!(db, |c| sqlx::query_as::<_, LiveRow>(LIVE_ACTOR)
        .bind(session_id)
        .bind(user_id)
        .bind(now)
        .fetch_optional(c)
        .await?);
    Ok(row.map(LiveSession::from))
}

/// Which of `sessions` are still live (as [`LIVE_ACTOR`] decides), in one query per 500 ids on
/// the pool: the live feed asks it for every session that has a stream open.
pub async fn live_among(
    db: &Db,
    sessions: &[Uuid],
    now: DateTime<Utc>,
) -> Result<std::collections::HashSet<Uuid>, DomainError> {
    let mut live = std::collections::HashSet::new();
    for chunk in sessions.chunks(500) {
        let rows = db_pool!(db, |c, Backend| {
            let mut q = sqlx::QueryBuilder::<Backend>::new(
                "SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.revoked_at IS NULL AND u.active AND s.expires_at > ",
            );
            q.push_bind(now).push(" AND (s.idle_until IS NULL OR s.idle_until > ");
            q.push_bind(now).push(") AND s.id IN (");
            let mut ids = q.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            q.push(")");
            q.build_query_scalar::<Uuid>().fetch_all(c).await?
        });
        live.extend(rows);
    }
    Ok(live)
}

/// Moves the idle end of every one of `sessions` to `idle_until` (their live-feed streams use
/// them), in one statement per 500 ids.
pub async fn touch_all(db: &Db, sessions: &[Uuid], idle_until: DateTime<Utc>) -> Result<(), DomainError> {
    for chunk in sessions.chunks(500) {
        db_pool!(db, |c, Backend| {
            let mut q = sqlx::QueryBuilder::<Backend>::new("UPDATE sessions SET idle_until = ");
            q.push_bind(idle_until).push(" WHERE revoked_at IS NULL AND id IN (");
            let mut ids = q.separated(", ");
            for id in chunk {
                ids.push_bind(*id);
            }
            q.push(")");
            q.build().execute(c).await?;
        });
    }
    Ok(())
}

/// Ends one session, on every replica at its commit.
pub async fn revoke(tx: &mut Tx, session_id: Uuid, now: DateTime<Utc>) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(session_id)
            .bind(now)
            .execute(&mut *c)
            .await?;
    });
    session_cache::changed(tx, Change::Session(session_id)).await
}

/// Ends every session of a user (deactivation, password change), on every replica at its
/// commit.
pub async fn revoke_all(tx: &mut Tx, user_id: Uuid, now: DateTime<Utc>) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
            .bind(now)
            .execute(&mut *c)
            .await?;
    });
    session_cache::changed(tx, Change::User(user_id)).await
}

/// One login attempt counted against a throttle key (see [`count_attempt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    /// Attempts in the current window, this one included; never more than the limit plus one.
    pub count: i64,
    /// When the window started; it ends `window` later.
    pub window_start: DateTime<Utc>,
}

/// Counts a login attempt against `key`, atomically in one statement on the pool (no
/// transaction held): within a window started less than `window` ago the count goes up (to
/// `limit + 1` at most, so attempts refused do not prolong the lock), else a new window starts
/// at one. The caller refuses the attempt when the count passes `limit`, and gives it back with
/// [`refund`] when the login succeeds.
pub async fn count_attempt(
    db: &Db,
    key: &str,
    now: DateTime<Utc>,
    window: Duration,
    limit: i64,
) -> Result<Attempts, DomainError> {
    const SQL: &str = "INSERT INTO login_throttle (key, failures, window_start) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET \
         failures = CASE WHEN login_throttle.window_start <= $3 THEN 1 \
                         WHEN login_throttle.failures > $4 THEN login_throttle.failures \
                         ELSE login_throttle.failures + 1 END, \
         window_start = CASE WHEN login_throttle.window_start <= $3 THEN $2 ELSE login_throttle.window_start END \
         RETURNING failures, window_start";
    let (count, window_start) = db_pool!(db, |c| sqlx::query_as::<_, (i64, DateTime<Utc>)>(SQL)
        .bind(key)
        .bind(now)
        .bind(now - window)
        .bind(limit)
        .fetch_one(c)
        .await?);
    Ok(Attempts { count, window_start })
}

/// Gives back an attempt counted by [`count_attempt`] (a good login, or a check that never ran).
pub async fn refund(tx: &mut Tx, key: &str) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query("UPDATE login_throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0")
            .bind(key)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Forgets a throttle key (a good login clears its (account, address) pair).
pub async fn forget(tx: &mut Tx, key: &str) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(&mut *c).await?;
    });
    Ok(())
}

/// Deletes the throttle rows whose window ended before `before`; answers how many.
pub async fn prune_throttle(tx: &mut Tx, before: DateTime<Utc>) -> Result<u64, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query("DELETE FROM login_throttle WHERE window_start <= $1")
            .bind(before)
            .execute(&mut *c)
            .await?
            .rows_affected()
    }))
}
