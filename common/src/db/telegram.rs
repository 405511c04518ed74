//! Queries on the Telegram link of users: `users.telegram_chat_id`, the one-time link codes,
//! and the updates already handled.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Tx;
use crate::{
    db_run,
    domain::{Region, Role, access::Actor},
    error::DomainError,
};

/// A new link code for a user; earlier codes of that user stop working.
pub async fn create_code(
    tx: &mut Tx,
    user_id: Uuid,
    code: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query("DELETE FROM telegram_link_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *c)
            .await?;
        sqlx::query("INSERT INTO telegram_link_codes (code, user_id, expires_at) VALUES ($1, $2, $3)")
            .bind(code)
            .bind(user_id)
            .bind(expires_at)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Spends `code` (once) and links `chat_id` to its user, unlinking that chat from anyone else;
/// the user, or `None` when the code is unknown, used or expired.
pub async fn redeem(
    tx: &mut Tx,
    code: &str,
    chat_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<Actor>, DomainError> {
    let user = db_run!(tx, |c| {
        let user: Option<Uuid> = sqlx::query_scalar(
            "DELETE FROM telegram_link_codes WHERE code = $1 AND expires_at > $2 RETURNING user_id",
        )
        .bind(code)
        .bind(now)
        .fetch_optional(&mut *c)
        .await?;
        match user {
            Some(id) => {
                sqlx::query(
                    "UPDATE users SET telegram_chat_id = NULL WHERE telegram_chat_id = $1 AND id <> $2",
                )
                .bind(chat_id)
                .bind(id)
                .execute(&mut *c)
                .await?;
                sqlx::query_as::<_, (Uuid, Role, Region, String)>(
                    "UPDATE users SET telegram_chat_id = $1 WHERE id = $2 AND active RETURNING id, role, region, name",
                )
                .bind(chat_id)
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
            }
            None => None,
        }
    });
    Ok(user.map(|(id, role, region, name)| Actor { id, role, region, name }))
}

/// The active user linked to a chat.
pub async fn actor_of_chat(tx: &mut Tx, chat_id: i64) -> Result<Option<Actor>, DomainError> {
    let row = db_run!(tx, |c| {
        sqlx::query_as::<_, (Uuid, Role, Region, String)>(
            "SELECT id, role, region, name FROM users WHERE telegram_chat_id = $1 AND active",
        )
        .bind(chat_id)
        .fetch_optional(&mut *c)
        .await?
    });
    Ok(row.map(|(id, role, region, name)| Actor { id, role, region, name }))
}

/// The chat linked to a user, if any.
pub async fn chat_of(tx: &mut Tx, user_id: Uuid) -> Result<Option<i64>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, Option<i64>>("SELECT telegram_chat_id FROM users WHERE id = $1 AND active")
            .bind(user_id)
            .fetch_optional(&mut *c)
            .await?
            .flatten()
    }))
}

/// Records an update as handled: `false` when it was handled before (a redelivery).
pub async fn first_delivery(tx: &mut Tx, update_id: i64, now: DateTime<Utc>) -> Result<bool, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO telegram_updates (update_id, handled_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .bind(update_id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()
            == 1
    }))
}

/// The highest update handled: where polling resumes after a restart.
pub async fn last_update(tx: &mut Tx) -> Result<Option<i64>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(update_id) FROM telegram_updates")
            .fetch_one(&mut *c)
            .await?
    }))
}
