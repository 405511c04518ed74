//! `SyncTicket`: renders the ticket from the database's current state and writes it to
//! Firestore. Idempotent and convergent: it always writes the latest state, so duplicates and
//! reordering are harmless; a copy overtaken while it was written is synced again.

use apalis::prelude::{BoxDynError, Data};
use chrono::Datelike;
use common::{
    db::{self, tickets},
    document,
    jobs::{SYNC_TICKET_QUEUE, SyncTicket, enqueue},
};

use crate::{Context, clients::firestore::TicketCount};

/// How long one Firestore write may take before it counts as failed.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[tracing::instrument(skip_all, fields(ticket.id = %job.ticket_id))]
pub async fn run(job: SyncTicket, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let Some(store) = &ctx.firestore else { return Ok(()) };
    let now = db::now();
    let mut tx = ctx.db.begin().await?;
    let Some(doc) = document::load(&mut tx, job.ticket_id, now).await? else { return Ok(()) };
    let month_id = doc.created_at.format("%Y-%m").to_string();
    let count = TicketCount {
        count: tickets::month_count(&mut tx, &month_id).await?,
        month: doc.created_at.format("%B").to_string(),
        year: i64::from(doc.created_at.year()),
    };
    tx.commit().await?;
    let written = tokio::time::timeout(WRITE_TIMEOUT, store.put(&doc, &month_id, &count))
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {} s", WRITE_TIMEOUT.as_secs())));
    written.map_err(|e| {
        tracing::warn!(error = %e, "Firestore write failed; the job retries");
        e
    })?;
    let mut tx = ctx.db.begin_write().await?;
    if let Some(current) = tickets::mark_synced(&mut tx, job.ticket_id, doc.version).await?
        && current > doc.version
    {
        enqueue(&mut tx, SYNC_TICKET_QUEUE, &job, now).await?;
    }
    tx.commit().await?;
    tracing::debug!(version = doc.version, "ticket synced to Firestore");
    Ok(())
}
