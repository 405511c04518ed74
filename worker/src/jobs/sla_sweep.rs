//! `SlaSweep` (cron): marks set-wise the open tickets whose SLA ran out or is about to, warns
//! about each once, and syncs the ones whose `slaType` changed. It also prunes the live feed's
//! changes older than its retention.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use chrono::Duration;
use common::db::{self, feed, tickets};

use crate::Context;

pub async fn run(_tick: Tick, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let now = db::now();
    let warn_until = now + Duration::minutes(ctx.settings.sla_warning_minutes);
    let mut tx = ctx.db.begin_write().await?;
    let sweep = tickets::sweep_sla(&mut tx, now, warn_until).await?;
    let effects = ctx.settings.effects();
    for id in sweep.breached.iter().map(|(id, _)| id).chain(&sweep.cleared) {
        effects.ticket_changed(&mut tx, *id, None, now).await?;
    }
    let pruned = feed::prune(&mut tx, now - Duration::hours(ctx.settings.feed_retention_hours)).await?;
    tx.commit().await?;
    if pruned > 0 {
        tracing::info!(count = pruned, "pruned old live-feed changes");
    }
    for (id, number) in &sweep.warned {
        tracing::warn!(ticket.id = %id, ticket.number = %number, minutes = ctx.settings.sla_warning_minutes, "SLA runs out soon");
    }
    for (id, number) in &sweep.breached {
        tracing::warn!(ticket.id = %id, ticket.number = %number, "SLA breached");
    }
    Ok(())
}
