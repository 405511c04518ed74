//! `SlaSweep` (cron): marks set-wise the open tickets whose SLA ran out or is about to, warns
//! about each once, and syncs the ones whose `slaType` changed. It also prunes the live feed's
//! changes older than its retention.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use chrono::Duration;
use common::{
    db::{self, feed, tickets},
    service::{self, SLA_SWEEP_BATCH},
};
use uuid::Uuid;

use crate::Context;

/// Tickets the sweep names one by one in the log, per kind.
const LOGGED: usize = 50;

pub async fn run(_tick: Tick, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let now = db::now();
    let warn_until = now + Duration::minutes(ctx.settings.sla_warning_minutes);
    let effects = ctx.settings.effects();
    let sweep = service::sweep_sla(&ctx.db, effects, now, warn_until, SLA_SWEEP_BATCH, LOGGED).await?;
    let mut tx = ctx.db.begin_write().await?;
    let pruned = feed::prune(&mut tx, now - Duration::hours(ctx.settings.feed_retention_hours)).await?;
    tx.commit().await?;
    if pruned > 0 {
        tracing::info!(count = pruned, "pruned old live-feed changes");
    }
    // A line per ticket, up to a bound; a mass breach (the worker was away) is one summary.
    let minutes = ctx.settings.sla_warning_minutes;
    for (id, number) in numbers(&ctx, &sweep.first_warned).await? {
        tracing::warn!(ticket.id = %id, ticket.number = %number, minutes, "SLA runs out soon");
    }
    for (id, number) in numbers(&ctx, &sweep.first_breached).await? {
        tracing::warn!(ticket.id = %id, ticket.number = %number, "SLA breached");
    }
    if sweep.warned > LOGGED || sweep.breached > LOGGED {
        tracing::warn!(
            warned = sweep.warned,
            breached = sweep.breached,
            batches = sweep.batches,
            "SLA sweep: more tickets than listed"
        );
    }
    Ok(())
}

/// The numbers of the tickets to name in the log.
async fn numbers(ctx: &Context, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>, BoxDynError> {
    let mut tx = ctx.db.begin().await?;
    let mut named = Vec::with_capacity(ids.len());
    for &id in ids {
        if let Some(t) = tickets::get(&mut tx, id).await? {
            named.push((id, t.ticket_id));
        }
    }
    tx.commit().await?;
    Ok(named)
}
