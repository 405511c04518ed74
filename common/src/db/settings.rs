//! Queries on `app_settings`: values the system generates once and keeps.

use super::Tx;
use crate::{db_run, error::DomainError};

/// The stored value of `key`, storing `candidate` first when there is none. Racing callers all
/// get the one value that won.
pub async fn get_or_insert(tx: &mut Tx, key: &str, candidate: &str) -> Result<String, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query("INSERT INTO app_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(candidate)
            .execute(&mut *c)
            .await?;
        sqlx::query_scalar::<_, String>("SELECT value FROM app_settings WHERE key = $1")
            .bind(key)
            .fetch_one(&mut *c)
            .await?
    }))
}
