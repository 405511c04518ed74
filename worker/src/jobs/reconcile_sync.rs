//! `ReconcileSync` (cron): re-enqueues the sync of tickets whose Firestore copy lags, so that
//! documents converge after an outage longer than a job's retries.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use common::{db::tickets, jobs::enqueue_syncs};

use crate::Context;

pub async fn run(_tick: Tick, ctx: Data<Context>) -> Result<(), BoxDynError> {
    if ctx.firestore.is_none() {
        return Ok(());
    }
    let mut tx = ctx.db.begin_write().await?;
    let lagging = tickets::unsynced(&mut tx, 1000).await?;
    enqueue_syncs(&mut tx, &lagging).await?;
    tx.commit().await?;
    if !lagging.is_empty() {
        tracing::info!(count = lagging.len(), "re-enqueued the sync of lagging tickets");
    }
    Ok(())
}
