//! `SlaSweep` (cron): marks set-wise the open tickets whose SLA ran out or is about to, warns
//! about each once, and syncs the ones whose `slaType` changed.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use chrono::Duration;
use common::db::{self, tickets};

use crate::Context;

pub async fn run(_tick: Tick, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let now = db::now();
    let warn_until = now + Duration::minutes(ctx.settings.sla_warning_minutes);
    let mut tx = ctx.db.begin_write().await?;
    let sweep = tickets::sweep_sla(&mut tx, now, warn_until).await?;
    let effects = ctx.settings.effects();
    for id in sweep.breached.iter().map(|(id, _)| id).chain(&sweep.cleared) {
        effects.ticket_changed(&mut tx, *id, now).await?;
    }
    tx.commit().await?;
    for (id, number) in &sweep.warned {
        tracing::warn!(ticket.id = %id, ticket.number = %number, minutes = ctx.settings.sla_warning_minutes, "SLA runs out soon");
    }
    for (id, number) in &sweep.breached {
        tracing::warn!(ticket.id = %id, ticket.number = %number, "SLA breached");
    }
    Ok(())
}
