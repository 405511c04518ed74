//! Queries on `sessions` (stateful logins) and `login_failures` (throttling).

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{Db, Tx};
use crate::{
    db_run,
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
) -> Result<Uuid, DomainError> {
    let id = Uuid::now_v7();
    db_run!(tx, |c| {
        sqlx::query("INSERT INTO sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *c)
            .await?;
    });
    Ok(id)
}

/// The session check every authenticated request makes (`$1` session, `$2` user, `$3` now); the
/// load benchmark's replay of a transition runs it too.
pub const LIVE_ACTOR: &str = "SELECT u.id, u.role, u.region, u.name FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.id = $1 AND s.user_id = $2 AND s.revoked_at IS NULL AND s.expires_at > $3 AND u.active";

/// The actor behind a live session: not revoked, not expired, user still active.
pub async fn actor(
    tx: &mut Tx,
    session_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Actor>, DomainError> {
    let row = db_run!(tx, |c| {
        sqlx::query_as::<_, (Uuid, Role, Region, String)>(LIVE_ACTOR)
            .bind(session_id)
            .bind(user_id)
            .bind(now)
            .fetch_optional(&mut *c)
            .await?
    });
    Ok(row.map(|(id, role, region, name)| Actor { id, role, region, name }))
}

/// [`actor`] in one statement on the pool, without a transaction around it: every request
/// asks it, and BEGIN and COMMIT would double its round trips.
pub async fn live_actor(
    db: &Db,
    session_id: Uuid,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Option<Actor>, DomainError> {
    macro_rules! on {
        ($pool:expr) => {
            sqlx::query_as::<_, (Uuid, Role, Region, String)>(LIVE_ACTOR)
                .bind(session_id)
                .bind(user_id)
                .bind(now)
                .fetch_optional($pool)
                .await?
        };
    }
    let row = match db {
        Db::Sqlite(pool) => on!(pool),
        Db::Postgres(pool) => on!(pool),
    };
    Ok(row.map(|(id, role, region, name)| Actor { id, role, region, name }))
}

/// Ends one session.
pub async fn revoke(tx: &mut Tx, session_id: Uuid, now: DateTime<Utc>) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(session_id)
            .bind(now)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Ends every session of a user (deactivation, password change).
pub async fn revoke_all(tx: &mut Tx, user_id: Uuid, now: DateTime<Utc>) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
            .bind(now)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Failed logins for an email within the lockout window, and when the last one was.
pub async fn recent_failures(
    tx: &mut Tx,
    email: &str,
    window_start: DateTime<Utc>,
) -> Result<Option<(i64, DateTime<Utc>)>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, (i64, DateTime<Utc>)>(
            "SELECT failures, last_failure FROM login_failures WHERE email = $1 AND last_failure > $2",
        )
        .bind(email)
        .bind(window_start)
        .fetch_optional(&mut *c)
        .await?
    }))
}

/// Counts one more failed login; a count older than the window starts again at one.
pub async fn record_failure(
    tx: &mut Tx,
    email: &str,
    now: DateTime<Utc>,
    window: Duration,
) -> Result<(), DomainError> {
    let window_start = now - window;
    db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO login_failures (email, failures, last_failure) VALUES ($1, 1, $2) \
             ON CONFLICT (email) DO UPDATE SET \
             failures = CASE WHEN login_failures.last_failure > $3 THEN login_failures.failures + 1 ELSE 1 END, \
             last_failure = $2",
        )
        .bind(email)
        .bind(now)
        .bind(window_start)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Forgets the failures of an email after a good login.
pub async fn clear_failures(tx: &mut Tx, email: &str) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query("DELETE FROM login_failures WHERE email = $1").bind(email).execute(&mut *c).await?;
    });
    Ok(())
}
