//! Who was told what about a ticket: each notification is claimed once per user and channel
//! before its delivery is enqueued, so a retried change never tells anybody twice.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Tx;
use crate::{
    db_run,
    error::DomainError,
    jobs::{Channel, NotifyKind},
};

/// Claims the notification `(ticket, kind, occurrence)` for `user` on `channel`: `true` the
/// first time, `false` when it was claimed before.
pub async fn claim(
    tx: &mut Tx,
    ticket: Uuid,
    kind: NotifyKind,
    occurrence: &str,
    user: Uuid,
    channel: Channel,
    now: DateTime<Utc>,
) -> Result<bool, DomainError> {
    let done = db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO notifications (ticket_id, kind, occurrence, user_id, channel, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(ticket)
        .bind(kind.as_str())
        .bind(occurrence)
        .bind(user)
        .bind(channel.as_str())
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    Ok(done == 1)
}
