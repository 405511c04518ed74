//! Queries on `idempotency_keys`: a retried POST with the same key replays the first answer.

use chrono::{DateTime, Utc};
use sqlx::error::ErrorKind;
use uuid::Uuid;

use super::Tx;
use crate::{db_run, error::DomainError};

/// A key's first request and, once it finished, its answer.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredAnswer {
    pub fingerprint: String,
    pub status_code: i64,
    pub response: String,
}

pub async fn find(tx: &mut Tx, user: Uuid, key: &str) -> Result<Option<StoredAnswer>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, StoredAnswer>(
            "SELECT fingerprint, status_code, response FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user)
        .bind(key)
        .fetch_optional(&mut *c)
        .await?
    }))
}

/// Claims a key before the work starts. `false` when another request holds it; on PostgreSQL
/// the caller's transaction is then aborted and must be rolled back.
pub async fn claim(
    tx: &mut Tx,
    user: Uuid,
    key: &str,
    fingerprint: &str,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let result = db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, fingerprint, status_code, response, created_at) \
             VALUES ($1, $2, $3, 0, '', $4)",
        )
        .bind(user)
        .bind(key)
        .bind(fingerprint)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|_| ())
    });
    match result {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(e)) if e.kind() == ErrorKind::UniqueViolation => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Records the answer of a claimed key, in the transaction of the work it answers for.
pub async fn complete(
    tx: &mut Tx,
    user: Uuid,
    key: &str,
    status: u16,
    response: &str,
) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query(
            "UPDATE idempotency_keys SET status_code = $3, response = $4 WHERE user_id = $1 AND key = $2",
        )
        .bind(user)
        .bind(key)
        .bind(i64::from(status))
        .bind(response)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}
