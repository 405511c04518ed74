//! `SlaSweep` (cron): marks set-wise the open tickets whose SLA ran out or is about to, warns
//! about each once, and syncs the ones whose `slaType` changed. It also prunes the live feed's
//! changes older than its retention.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use chrono::Duration;
use common::db::{self, feed, tickets};

use crate::Context;

/// Tickets the sweep names one by one in the log, per kind.
const LOGGED: usize = 50;

pub async fn run(_tick: Tick, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let now = db::now();
    let warn_until = now + Duration::minutes(ctx.settings.sla_warning_minutes);
    let mut tx = ctx.db.begin_write().await?;
    let sweep = tickets::sweep_sla(&mut tx, now, warn_until).await?;
    let changed: Vec<_> =
        sweep.breached.iter().map(|(id, _)| *id).chain(sweep.cleared.iter().copied()).collect();
    ctx.settings.effects().tickets_touched(&mut tx, &changed, now).await?;
    let pruned = feed::prune(&mut tx, now - Duration::hours(ctx.settings.feed_retention_hours)).await?;
    tx.commit().await?;
    if pruned > 0 {
        tracing::info!(count = pruned, "pruned old live-feed changes");
    }
    // A line per ticket, up to a bound; a mass breach (the worker was away) is one summary.
    for (id, number) in sweep.warned.iter().take(LOGGED) {
        tracing::warn!(ticket.id = %id, ticket.number = %number, minutes = ctx.settings.sla_warning_minutes, "SLA runs out soon");
    }
    for (id, number) in sweep.breached.iter().take(LOGGED) {
        tracing::warn!(ticket.id = %id, ticket.number = %number, "SLA breached");
    }
    if sweep.warned.len() > LOGGED || sweep.breached.len() > LOGGED {
        tracing::warn!(
            warned = sweep.warned.len(),
            breached = sweep.breached.len(),
            "SLA sweep: more tickets than listed"
        );
    }
    Ok(())
}
