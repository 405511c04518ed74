//! The SLA sweep: marks set-wise the open tickets whose SLA ran out or is about to, in batches,
//! with the live-feed rows and Firestore syncs of the tickets whose `slaType` changed, and the
//! follow-ups that tell the people concerned.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{Db, tickets},
    domain::webhook::WebhookEvent,
    error::DomainError,
    jobs::{Effects, Escalate, FollowUp, SYNC_BATCH, enqueue_all},
};

/// What an SLA sweep did over all its batches: counts, and the first few tickets of each kind
/// (for the log).
#[derive(Debug, Clone, Default)]
pub struct SlaSweepReport {
    pub breached: usize,
    pub warned: usize,
    pub cleared: usize,
    pub batches: usize,
    pub first_breached: Vec<Uuid>,
    pub first_warned: Vec<Uuid>,
}

/// Tickets per kind an SLA sweep marks in one transaction: a mass breach (the worker was away)
/// commits in steps and never holds a million tickets at once.
pub const SLA_SWEEP_BATCH: i64 = 10_000;

/// Marks the open tickets whose SLA ran out or is about to (see [`tickets::sweep_sla`]; `cursor`
/// says whether every open ticket is looked at or what came within reach since a sweep), in
/// transactions of up to `batch` tickets per kind, each with the live-feed rows and Firestore
/// syncs of the tickets whose `slaType` changed (breached, warned after a breach, cleared).
pub async fn sweep_sla(
    db: &Db,
    effects: Effects,
    now: DateTime<Utc>,
    warn_until: DateTime<Utc>,
    mut cursor: tickets::SlaCursor,
    batch: i64,
    keep: usize,
) -> Result<SlaSweepReport, DomainError> {
    let mut report = SlaSweepReport::default();
    loop {
        let mut tx = db.begin_write().await?;
        let sweep = tickets::sweep_sla(&mut tx, now, warn_until, &mut cursor, batch).await?;
        let changed: Vec<Uuid> =
            sweep.breached.iter().chain(&sweep.warned).chain(&sweep.cleared).copied().collect();
        effects.tickets_touched(&mut tx, &changed, now).await?;
        // The people concerned, and the webhooks, are told by jobs committed with the marks: a
        // sweep that fails before its commit tells nobody, and the next one finds the tickets
        // again.
        super::webhooks::emit(
            &mut tx,
            &sweep.warned,
            WebhookEvent::TicketSlaWarning,
            Default::default(),
            now,
        )
        .await?;
        super::webhooks::emit(
            &mut tx,
            &sweep.breached,
            WebhookEvent::TicketSlaBreached,
            Default::default(),
            now,
        )
        .await?;
        let told =
            if effects.broadcast() { [&sweep.warned[..], &sweep.breached[..]] } else { [&[][..], &[][..]] };
        for (ids, follow_up) in told.into_iter().zip([FollowUp::SlaWarning, FollowUp::SlaBreached]) {
            let jobs: Vec<Escalate> = ids
                .chunks(SYNC_BATCH)
                .map(|chunk| Escalate { ticket_ids: chunk.to_vec(), follow_up: follow_up.clone() })
                .collect();
            enqueue_all(&mut tx, &jobs).await?;
        }
        tx.commit().await?;
        report.batches += 1;
        report.breached += sweep.breached.len();
        report.warned += sweep.warned.len();
        report.cleared += sweep.cleared.len();
        for (kept, more) in
            [(&mut report.first_breached, &sweep.breached), (&mut report.first_warned, &sweep.warned)]
        {
            kept.extend(more.iter().take(keep.saturating_sub(kept.len())));
        }
        if !sweep.full {
            return Ok(report);
        }
    }
}
