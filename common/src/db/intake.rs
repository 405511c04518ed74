//! Queries on `mail_intake`: the mails that became tickets, by Message-ID.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Tx;
use crate::{db_run, error::DomainError};

/// Records that the mail `message_id` became `ticket_id`: `false` when it had already become a
/// ticket (the caller rolls its own back).
pub async fn record_mail(
    tx: &mut Tx,
    message_id: &str,
    ticket_id: Uuid,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO mail_intake (message_id, ticket_id, received_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(message_id)
        .bind(ticket_id)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()
            == 1
    }))
}

/// The ticket number a mail became, if it became one.
pub async fn mail_ticket(tx: &mut Tx, message_id: &str) -> Result<Option<String>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, String>(
            "SELECT t.ticket_id FROM mail_intake m JOIN tickets t ON t.id = m.ticket_id WHERE m.message_id = $1",
        )
        .bind(message_id)
        .fetch_optional(&mut *c)
        .await?
    }))
}
