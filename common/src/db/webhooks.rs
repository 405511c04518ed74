//! Webhooks and their deliveries: each event for a webhook is a row holding the body as it was
//! when the event happened, delivered in order per (webhook, ticket) by whoever holds the
//! claim (`lease_until`) on the oldest waiting one.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Tx;
use crate::{db_read, db_run, domain::webhook::WebhookEvent, error::DomainError};

/// A registered webhook.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: Uuid,
    pub url: String,
    /// JSON array of event names.
    pub events: String,
    pub secret: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

impl WebhookRow {
    /// The events it follows.
    pub fn events(&self) -> Vec<WebhookEvent> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }
}

/// One event for one webhook.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub seq: i64,
    pub id: Uuid,
    pub webhook_id: Uuid,
    pub ticket_id: Uuid,
    pub event: String,
    pub body: String,
    /// `Waiting`, `Delivered` or `Failed` (given up).
    pub state: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

const WEBHOOK: &str = "id, url, events, secret, created_by, created_at";
const DELIVERY: &str = "seq, id, webhook_id, ticket_id, event, body, state, attempts, last_status, last_error, \
                        last_attempt_at, delivered_at, created_at";

pub async fn insert(
    tx: &mut Tx,
    url: &str,
    events: &[WebhookEvent],
    secret: &str,
    by: Uuid,
    now: DateTime<Utc>,
) -> Result<WebhookRow, DomainError> {
    let row = WebhookRow {
        id: Uuid::now_v7(),
        url: url.to_owned(),
        events: serde_json::to_string(events).map_err(|e| DomainError::Internal(e.to_string()))?,
        secret: secret.to_owned(),
        created_by: by,
        created_at: now,
    };
    tx.webhooks = None;
    db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO webhooks (id, url, events, secret, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(row.id)
        .bind(&row.url)
        .bind(&row.events)
        .bind(&row.secret)
        .bind(row.created_by)
        .bind(row.created_at)
        .execute(&mut *c)
        .await?;
    });
    Ok(row)
}

/// The webhooks not deleted, oldest first.
pub async fn list(tx: &mut Tx) -> Result<Vec<WebhookRow>, DomainError> {
    let sql = format!("SELECT {WEBHOOK} FROM webhooks WHERE deleted_at IS NULL ORDER BY created_at, id");
    Ok(db_run!(tx, |c| sqlx::query_as::<_, WebhookRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .fetch_all(&mut *c)
        .await?))
}

/// A webhook not deleted.
pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Option<WebhookRow>, DomainError> {
    let sql = format!("SELECT {WEBHOOK} FROM webhooks WHERE id = $1 AND deleted_at IS NULL");
    Ok(db_run!(tx, |c| sqlx::query_as::<_, WebhookRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// Deletes a webhook: it gets nothing more, and what still waits for it is given up.
pub async fn delete(tx: &mut Tx, id: Uuid, now: DateTime<Utc>) -> Result<bool, DomainError> {
    tx.webhooks = None;
    let done = db_run!(tx, |c| {
        let n = sqlx::query("UPDATE webhooks SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected();
        sqlx::query(
            "UPDATE webhook_deliveries SET state = 'Failed', last_error = 'webhook deleted' \
             WHERE webhook_id = $1 AND state = 'Waiting'",
        )
        .bind(id)
        .execute(&mut *c)
        .await?;
        n
    });
    Ok(done == 1)
}

/// The webhooks following `event`. The webhooks are read once per transaction (a creation asks
/// about two events), and again after the transaction adds or deletes one; a ticket command
/// that has written nothing yet reads them without `BEGIN`.
pub async fn following(tx: &mut Tx, event: WebhookEvent) -> Result<Vec<Uuid>, DomainError> {
    if tx.webhooks.is_none() {
        let rows = db_read!(tx, |c| {
            sqlx::query_as::<_, (Uuid, String)>("SELECT id, events FROM webhooks WHERE deleted_at IS NULL")
                .fetch_all(&mut *c)
                .await?
        });
        let read = rows
            .into_iter()
            .map(|(id, events)| (id, serde_json::from_str::<Vec<WebhookEvent>>(&events).unwrap_or_default()))
            .collect();
        tx.webhooks = Some(read);
    }
    let hooks = tx.webhooks.as_deref().unwrap_or_default();
    Ok(hooks.iter().filter(|(_, events)| events.contains(&event)).map(|(id, _)| *id).collect())
}

/// Records the event `body` for `webhook`, waiting for delivery.
pub async fn add_delivery(
    tx: &mut Tx,
    webhook: Uuid,
    ticket: Uuid,
    event: WebhookEvent,
    body: &str,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, ticket_id, event, body, state, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'Waiting', $6)",
        )
        .bind(Uuid::now_v7())
        .bind(webhook)
        .bind(ticket)
        .bind(event.as_str())
        .bind(body)
        .bind(now)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// Claims the oldest delivery waiting for (`webhook`, `ticket`) until `lease_until`, counting
/// the try; `None` when nothing waits or another holds the claim (it delivers the rest).
pub async fn claim_next(
    tx: &mut Tx,
    webhook: Uuid,
    ticket: Uuid,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<DeliveryRow>, DomainError> {
    let sql = format!(
        "UPDATE webhook_deliveries SET lease_until = $4, attempts = attempts + 1, last_attempt_at = $3 \
         WHERE seq = (SELECT seq FROM webhook_deliveries WHERE webhook_id = $1 AND ticket_id = $2 \
                      AND state = 'Waiting' ORDER BY seq LIMIT 1) \
           AND (lease_until IS NULL OR lease_until <= $3) \
         RETURNING {DELIVERY}"
    );
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, DeliveryRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(webhook)
            .bind(ticket)
            .bind(now)
            .bind(lease_until)
            .fetch_optional(&mut *c)
            .await?
    }))
}

/// What became of a try: delivered (`status` a 2xx), or failed (`status` the answer, if any;
/// `error`), then given up or claimed until `retry_at`, when the next try is due.
pub async fn record_try(
    tx: &mut Tx,
    seq: i64,
    status: Option<u16>,
    error: Option<&str>,
    outcome: TryOutcome,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let (state, lease, delivered_at) = match outcome {
        TryOutcome::Delivered => ("Delivered", None, Some(now)),
        TryOutcome::GivenUp => ("Failed", None, None),
        TryOutcome::RetryAt(at) => ("Waiting", Some(at), None),
    };
    let error = error.map(|e| e.chars().take(500).collect::<String>());
    db_run!(tx, |c| {
        sqlx::query(
            "UPDATE webhook_deliveries SET state = $2, lease_until = $3, last_status = $4, last_error = $5, \
             delivered_at = $6 WHERE seq = $1",
        )
        .bind(seq)
        .bind(state)
        .bind(lease)
        .bind(status.map(i32::from))
        .bind(&error)
        .bind(delivered_at)
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// The end of one try of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryOutcome {
    Delivered,
    GivenUp,
    /// Kept, claimed until then, when the next try is due.
    RetryAt(DateTime<Utc>),
}

/// The latest `limit` deliveries of a webhook, newest first.
pub async fn recent(tx: &mut Tx, webhook: Uuid, limit: i64) -> Result<Vec<DeliveryRow>, DomainError> {
    let sql =
        format!("SELECT {DELIVERY} FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY seq DESC LIMIT $2");
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, DeliveryRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(webhook)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?
    }))
}

/// Deliveries by event and state, for the metrics.
pub async fn counts(tx: &mut Tx) -> Result<Vec<(String, String, i64)>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, (String, String, i64)>(
            "SELECT event, state, COUNT(*) FROM webhook_deliveries GROUP BY event, state ORDER BY event, state",
        )
        .fetch_all(&mut *c)
        .await?
    }))
}
