//! `SyncTicket` and `SyncTickets`: render a ticket from the database's current state and write
//! it to Firestore. Idempotent and convergent: it always writes the latest state, so duplicates
//! and reordering are harmless; a copy overtaken while it was written is synced again.

use chrono::Datelike;
use common::{
    db::{self, tickets},
    document,
    jobs::{Job, SyncTicket, SyncTickets, enqueue_all},
};
use futures_util::StreamExt;
use uuid::Uuid;

use super::{JobError, Run};
use crate::{Context, clients::firestore::TicketCount};

/// How long one Firestore write may take before it counts as failed.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Writes of a [`SyncTickets`] job in flight at once.
const BATCH_CONCURRENCY: usize = 8;

impl Run for SyncTicket {
    #[tracing::instrument(skip_all, fields(ticket.id = %self.ticket_id))]
    async fn run(self, ctx: &Context) -> Result<(), JobError> {
        Ok(sync(ctx, self.ticket_id).await?)
    }
}

impl Run for SyncTickets {
    /// Syncs each ticket of the batch; those that fail go on as jobs of their own (their retries
    /// and, past them, the failed-jobs list), so one ticket's failure never writes the others
    /// again.
    #[tracing::instrument(skip_all, fields(tickets = self.ticket_ids.len()))]
    async fn run(self, ctx: &Context) -> Result<(), JobError> {
        sync_many(self, ctx).await
    }
}

async fn sync_many(job: SyncTickets, ctx: &Context) -> Result<(), JobError> {
    let failed: Vec<(Uuid, String)> = futures_util::stream::iter(job.ticket_ids)
        .map(|id| async move { sync(ctx, id).await.err().map(|e| (id, format!("{e:#}"))) })
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
        enqueue_all(&mut tx, &retries).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Writes one ticket's current document; a change that overtook the write enqueues it again.
async fn sync(ctx: &Context, ticket_id: Uuid) -> anyhow::Result<()> {
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
        SyncTicket { ticket_id }.enqueue(&mut tx).await?;
    }
    tx.commit().await?;
    tracing::debug!(ticket.id = %ticket_id, version = doc.version, "ticket synced to Firestore");
    Ok(())
}
