//! The SLA sweep: marks set-wise the open tickets whose SLA ran out or is about to, in batches,
//! with the live-feed rows and Firestore syncs of the tickets whose `slaType` changed, and the
//! follow-ups that tell the people concerned.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{Backend, Db, tickets},
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

/// How an SLA sweep goes: up to `size` tickets per kind in one transaction, so a mass breach
/// (the worker was away) commits in steps and never holds a million tickets at once; and on
/// PostgreSQL, when the first batch was full, the rest walked as `walks` (1 or 2) halves of due
/// time at once, each on a connection of its own.
#[derive(Debug, Clone, Copy)]
pub struct Batches {
    pub size: i64,
    pub walks: usize,
}

/// The worker's sweep.
pub const SLA_SWEEP: Batches = Batches { size: 10_000, walks: 2 };

/// Marks the open tickets whose SLA ran out or is about to (see [`tickets::sweep_sla`]; `cursor`
/// says whether every open ticket is looked at or what came within reach since a sweep), in
/// transactions of up to `batches.size` tickets per kind, each with the live-feed rows and
/// Firestore syncs of the tickets whose `slaType` changed (breached, warned after a breach,
/// cleared). Keeps the first `keep` tickets of each kind for the report.
pub async fn sweep_sla(
    db: &Db,
    effects: Effects,
    now: DateTime<Utc>,
    warn_until: DateTime<Utc>,
    mut cursor: tickets::SlaCursor,
    batches: Batches,
    keep: usize,
) -> Result<SlaSweepReport, DomainError> {
    let sweep = Sweep { db, effects, now, warn_until, size: batches.size, keep };
    let mut report = SlaSweepReport::default();
    if !sweep.batch(&mut cursor, &mut report).await? {
        return Ok(report);
    }
    // A mass breach: its halves of due time mark disjoint tickets, on two connections.
    let first = match db.backend() {
        Backend::Postgres if batches.walks > 1 => cursor.split(now),
        _ => None,
    };
    match first {
        Some(first) => {
            let (a, b) = tokio::try_join!(sweep.walk(first), sweep.walk(cursor))?;
            report.absorb(a, keep);
            report.absorb(b, keep);
        }
        None => report.absorb(sweep.walk(cursor).await?, keep),
    }
    Ok(report)
}

impl SlaSweepReport {
    fn absorb(&mut self, other: SlaSweepReport, keep: usize) {
        self.batches += other.batches;
        self.breached += other.breached;
        self.warned += other.warned;
        self.cleared += other.cleared;
        self.keep(&other.first_breached, &other.first_warned, keep);
    }

    fn keep(&mut self, breached: &[Uuid], warned: &[Uuid], keep: usize) {
        for (kept, more) in [(&mut self.first_breached, breached), (&mut self.first_warned, warned)] {
            kept.extend(more.iter().take(keep.saturating_sub(kept.len())));
        }
    }
}

/// One sweep's settings, shared by its walks.
struct Sweep<'a> {
    db: &'a Db,
    effects: Effects,
    now: DateTime<Utc>,
    warn_until: DateTime<Utc>,
    size: i64,
    keep: usize,
}

impl Sweep<'_> {
    /// Batches from `cursor` on until one is not full.
    async fn walk(&self, mut cursor: tickets::SlaCursor) -> Result<SlaSweepReport, DomainError> {
        let mut report = SlaSweepReport::default();
        while self.batch(&mut cursor, &mut report).await? {}
        Ok(report)
    }

    /// One batch in one transaction, counted into `report`; whether more may be waiting.
    async fn batch(
        &self,
        cursor: &mut tickets::SlaCursor,
        report: &mut SlaSweepReport,
    ) -> Result<bool, DomainError> {
        let (effects, now) = (self.effects, self.now);
        let mut tx = self.db.begin_write().await?;
        let sweep = tickets::sweep_sla(&mut tx, now, self.warn_until, cursor, self.size).await?;
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
        report.keep(&sweep.breached, &sweep.warned, self.keep);
        Ok(sweep.full)
    }
}
