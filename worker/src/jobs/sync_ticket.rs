//! `SyncTicket` and `SyncTickets`: render a ticket from the database's current state and write
//! it to Firestore. Idempotent and convergent: it always writes the latest state, so duplicates
//! and reordering are harmless; a copy overtaken while it was written is synced again.

use apalis::prelude::{BoxDynError, Data};
use chrono::Datelike;
use common::{
    db::{self, tickets},
    document,
    jobs::{SYNC_TICKET_QUEUE, SyncTicket, SyncTickets, enqueue, enqueue_many},
};
use futures_util::StreamExt;
use uuid::Uuid;

use crate::{Context, clients::firestore::TicketCount};

/// How long one Firestore write may take before it counts as failed.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Writes of a [`SyncTickets`] job in flight at once.
const BATCH_CONCURRENCY: usize = 8;

#[tracing::instrument(skip_all, fields(ticket.id = %job.ticket_id))]
pub async fn run(job: SyncTicket, ctx: Data<Context>) -> Result<(), BoxDynError> {
    sync(&ctx, job.ticket_id).await.map_err(|e| {
        tracing::warn!(error = %e, "Firestore write failed; the job retries");
        e
    })
}

/// Syncs each ticket of the batch; those that fail go on as jobs of their own (their retries
/// and, past them, the failed-jobs list), so one ticket's failure never writes the others again.
#[tracing::instrument(skip_all, fields(tickets = job.ticket_ids.len()))]
pub async fn run_many(job: SyncTickets, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let ctx = &*ctx;
    let failed: Vec<(Uuid, String)> = futures_util::stream::iter(job.ticket_ids)
        .map(|id| async move { sync(ctx, id).await.err().map(|e| (id, e.to_string())) })
        .buffer_unordered(BATCH_CONCURRENCY)
        .filter_map(std::future::ready)
        .collect()
        .await;
    if let Some((_, error)) = failed.first() {
        tracing::warn!(
            count = failed.len(),
            error,
            "Firestore writes failed; each retries as a job of its own"
        );
        let retries: Vec<SyncTicket> =
            failed.iter().map(|(ticket_id, _)| SyncTicket { ticket_id: *ticket_id }).collect();
        let mut tx = ctx.db.begin_write().await?;
        enqueue_many(&mut tx, SYNC_TICKET_QUEUE, &retries, db::now()).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Writes one ticket's current document; a change that overtook the write enqueues it again.
async fn sync(ctx: &Context, ticket_id: Uuid) -> Result<(), BoxDynError> {
    let Some(store) = &ctx.firestore else { return Ok(()) };
    let now = db::now();
    let mut tx = ctx.db.begin().await?;
    let Some(doc) = document::load(&mut tx, ticket_id, now).await? else { return Ok(()) };
    let month_id = doc.created_at.format("%Y-%m").to_string();
    let count = TicketCount {
        count: tickets::month_count(&mut tx, &month_id).await?,
        month: doc.created_at.format("%B").to_string(),
        year: i64::from(doc.created_at.year()),
    };
    tx.commit().await?;
    tokio::time::timeout(WRITE_TIMEOUT, store.put(&doc, &month_id, &count))
        .await
        .unwrap_or_else(|_| Err(anyhow::anyhow!("no answer within {} s", WRITE_TIMEOUT.as_secs())))?;
    let mut tx = ctx.db.begin_write().await?;
    if let Some(current) = tickets::mark_synced(&mut tx, ticket_id, doc.version).await?
        && current > doc.version
    {
        enqueue(&mut tx, SYNC_TICKET_QUEUE, &SyncTicket { ticket_id }, now).await?;
    }
    tx.commit().await?;
    tracing::debug!(ticket.id = %ticket_id, version = doc.version, "ticket synced to Firestore");
    Ok(())
}
