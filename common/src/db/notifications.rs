//! Who was told what about a ticket (each notification is claimed once per user and channel
//! before its delivery is enqueued, so a retried change never tells anybody twice), and what
//! each user chose to be told.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Tx;
use crate::{
    db_run,
    domain::preferences::{Preferences, QuietHours},
    error::DomainError,
    jobs::{Channel, Notify, NotifyKind},
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

/// Records what became of a notification (`Sent`, `Dropped`, `Failed`); until then it waits.
pub async fn settle(tx: &mut Tx, n: &Notify, state: &str) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query(
            "UPDATE notifications SET state = $6 \
             WHERE ticket_id = $1 AND kind = $2 AND occurrence = $3 AND user_id = $4 AND channel = $5",
        )
        .bind(n.ticket_id)
        .bind(n.kind.as_str())
        .bind(&n.occurrence)
        .bind(n.user_id)
        .bind(n.channel.as_str())
        .bind(state)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Notifications by kind and state, for the metrics.
pub async fn counts(tx: &mut Tx) -> Result<Vec<(String, String, i64)>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, (String, String, i64)>(
            "SELECT kind, state, COUNT(*) FROM notifications GROUP BY kind, state ORDER BY kind, state",
        )
        .fetch_all(&mut *c)
        .await?
    }))
}

/// What `user` chose to be told ([`Preferences::default`] when never chosen).
pub async fn preferences(tx: &mut Tx, user: Uuid) -> Result<Preferences, DomainError> {
    let row = db_run!(tx, |c| {
        sqlx::query_as::<_, (String, String, Option<String>, Option<String>)>(
            "SELECT kinds, channels, quiet_from, quiet_to FROM notification_settings WHERE user_id = $1",
        )
        .bind(user)
        .fetch_optional(&mut *c)
        .await?
    });
    let Some((kinds, channels, from, to)) = row else { return Ok(Preferences::default()) };
    let stored = |e: serde_json::Error| DomainError::Internal(format!("stored notification settings: {e}"));
    Ok(Preferences {
        kinds: serde_json::from_str(&kinds).map_err(stored)?,
        channels: serde_json::from_str(&channels).map_err(stored)?,
        quiet: match (from, to) {
            (Some(from), Some(to)) => Some(QuietHours::parse(&from, &to)?),
            _ => None,
        },
    })
}

/// Keeps `p` as what `user` chooses to be told.
pub async fn set_preferences(
    tx: &mut Tx,
    user: Uuid,
    p: &Preferences,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let encoded = |e: serde_json::Error| DomainError::Internal(format!("notification settings: {e}"));
    let kinds = serde_json::to_string(&p.kinds).map_err(encoded)?;
    let channels = serde_json::to_string(&p.channels).map_err(encoded)?;
    let from = p.quiet.map(|q| q.from.format("%H:%M").to_string());
    let to = p.quiet.map(|q| q.to.format("%H:%M").to_string());
    db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO notification_settings (user_id, kinds, channels, quiet_from, quiet_to, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id) DO UPDATE SET kinds = excluded.kinds, channels = excluded.channels, \
             quiet_from = excluded.quiet_from, quiet_to = excluded.quiet_to, updated_at = excluded.updated_at",
        )
        .bind(user)
        .bind(&kinds)
        .bind(&channels)
        .bind(&from)
        .bind(&to)
        .bind(now)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}
