//! `SlaSweep` (cron): marks set-wise the open tickets whose SLA ran out or is about to, warns
//! about each once, and syncs the ones whose `slaType` changed. A sweep looks at what came
//! within reach since the process's previous one; the first one of a process, and one every
//! `CGS_SLA_FULL_SWEEP_MINUTES`, look at every open ticket. It also prunes the live feed's
//! changes older than its retention.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use chrono::{DateTime, Duration, Utc};
use common::{
    db::{
        self, feed,
        tickets::{self, SlaCursor},
    },
    service::{self, sla::SLA_SWEEP},
};
use uuid::Uuid;

use crate::Context;

/// Tickets the sweep names one by one in the log, per kind.
const LOGGED: usize = 50;

/// Where this process's previous sweep left off.
#[derive(Debug, Clone, Copy)]
pub struct LeftOff {
    now: DateTime<Utc>,
    warn_until: DateTime<Utc>,
    full_at: std::time::Instant,
}

pub async fn run(_tick: Tick, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let now = db::now();
    let warn_until = now + Duration::minutes(ctx.settings.sla_warning_minutes);
    let effects = ctx.settings.effects();
    let full_every = std::time::Duration::from_secs(ctx.settings.sla_full_sweep_minutes * 60);
    let mut left_off = ctx.sla_sweep.lock().await;
    let (cursor, full_at) = match *left_off {
        Some(l) if l.full_at.elapsed() < full_every => (SlaCursor::since(l.now, l.warn_until), l.full_at),
        _ => (SlaCursor::full(), std::time::Instant::now()),
    };
    let sweep = service::sla::sweep_sla(&ctx.db, effects, now, warn_until, cursor, SLA_SWEEP, LOGGED).await?;
    *left_off = Some(LeftOff { now, warn_until, full_at });
    drop(left_off);
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
