//! Queries on `mail_intake` (the mails that became tickets, by Message-ID) and
//! `intake_senders` (reports per sender and hour).

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

/// What a sender's next report may do (see [`count_report`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Within the limit: the report becomes a draft.
    Take,
    /// The first report over the limit in this window: no draft; tell the sender.
    TellOnce,
    /// Over the limit and already told: no draft, no answer.
    Quiet,
}

/// Counts a report of `sender` in its hour window (a new window starts when the last one is
/// over) and says what it may do; pruning the windows that ended goes with it.
pub async fn count_report(
    tx: &mut Tx,
    sender: &str,
    now: DateTime<Utc>,
    max_per_hour: i64,
) -> Result<Admission, DomainError> {
    let window_start = now - chrono::Duration::hours(1);
    let (reports, told) = db_run!(tx, |c| {
        sqlx::query("DELETE FROM intake_senders WHERE window_start <= $1")
            .bind(window_start)
            .execute(&mut *c)
            .await?;
        sqlx::query_as::<_, (i64, bool)>(
            "INSERT INTO intake_senders (sender, reports, window_start) VALUES ($1, 1, $2) \
             ON CONFLICT (sender) DO UPDATE SET \
             reports = CASE WHEN intake_senders.reports > $3 THEN intake_senders.reports \
                            ELSE intake_senders.reports + 1 END \
             RETURNING reports, told",
        )
        .bind(sender)
        .bind(now)
        .bind(max_per_hour)
        .fetch_one(&mut *c)
        .await?
    });
    if reports <= max_per_hour {
        return Ok(Admission::Take);
    }
    if told {
        return Ok(Admission::Quiet);
    }
    db_run!(tx, |c| {
        sqlx::query("UPDATE intake_senders SET told = TRUE WHERE sender = $1")
            .bind(sender)
            .execute(&mut *c)
            .await?;
    });
    Ok(Admission::TellOnce)
}
