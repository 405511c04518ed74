//! Ticket operations every entry point shares (HTTP API, worker jobs, chat): each loads what the
//! state machine needs, asks it, and persists the change in the caller's transaction.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::{
        Db, Tx,
        tickets::{self, LogActor, NewTicket, TicketRow},
    },
    domain::{
        Status,
        access::Actor,
        sla,
        ticket::{Change, Command, NewLog, TicketState, decide},
    },
    error::DomainError,
    jobs::{self, Effects, Job},
};

/// Runs `cmd` by `actor` on ticket `id` and returns the ticket as it is afterwards. The write
/// is guarded by the ticket's version: of two racing commands one wins, the other gets 409.
pub async fn execute(
    tx: &mut Tx,
    effects: Effects,
    actor: &Actor,
    who: &LogActor,
    id: Uuid,
    cmd: &Command,
    now: DateTime<Utc>,
) -> Result<(TicketRow, Change), DomainError> {
    let row = tickets::get(tx, id).await?.ok_or(DomainError::NotFound("ticket"))?;
    let change = match decide(&row.state, actor, cmd, now) {
        Ok(change) => change,
        Err(DomainError::Conflict { .. }) if matches!(cmd, Command::Validate { evidence_id, .. } if !tickets::has_evidence(tx, id, *evidence_id).await?) =>
        {
            return Err(DomainError::NotFound("evidence"));
        }
        Err(e) => return Err(e),
    };
    let due = sla::due_at(&change.next, row.sla_hours);
    let Some(after) = tickets::save_state(tx, &change.next, row.version, due, now).await? else {
        return Err(DomainError::conflict(
            "concurrent_change",
            "the ticket changed meanwhile; reload it and try again",
        ));
    };
    if due != row.sla_due_at {
        tickets::clear_sla_mark(tx, id).await?;
    }
    tickets::append_logs(tx, id, &change.logs, who).await?;
    tickets::update_logs(tx, id, &change.updates).await?;
    schedule_expiry(tx, &row.state, &change.next).await?;
    effects.ticket_changed(tx, id, Some(&row.state), now).await?;
    effects.status_entered(tx, id, Some(row.state.status), after.state.status).await?;
    tracing::info!(ticket.id = %id, command = cmd.name(), status = %after.state.status, "ticket changed");
    Ok((after, change))
}

/// A pending that starts with this change gets its expiry job, in the same transaction.
async fn schedule_expiry(tx: &mut Tx, before: &TicketState, after: &TicketState) -> Result<(), DomainError> {
    if let (Some(evidence_id), Some(due)) = (after.pending_evidence, after.pending_due())
        && before.pending_evidence != after.pending_evidence
    {
        let job = jobs::ExpirePending { ticket_id: after.id, evidence_id };
        job.enqueue_at(tx, due).await?;
    }
    Ok(())
}

/// The human-readable number of the next ticket of `now`'s month, e.g. `CGS-202611-0001`.
pub async fn next_ticket_id(tx: &mut Tx, prefix: &str, now: DateTime<Utc>) -> Result<String, DomainError> {
    let month = now.format("%Y-%m").to_string();
    let n = tickets::next_number(tx, &month).await?;
    Ok(format!("{prefix}-{}-{n:04}", now.format("%Y%m")))
}

/// Inserts a new ticket with its first log entry; `t.status` is `Draft` or `Open`.
pub async fn create(
    tx: &mut Tx,
    effects: Effects,
    t: &NewTicket,
    who: &LogActor,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    let mut state = TicketState::new(t.id, t.region, t.status);
    state.published_at = t.published_at;
    let due = sla::due_at(&state, t.sla_hours);
    tickets::insert(tx, t, due, now).await?;
    let (title, description) = match t.status {
        Status::Draft => ("Ticket drafted", format!("{} drafted the ticket", who.name)),
        _ => ("Ticket opened", format!("{} opened the ticket", who.name)),
    };
    let first = NewLog::simple(t.status, title, description, now);
    tickets::append_logs(tx, t.id, &[first], who).await?;
    effects.ticket_changed(tx, t.id, None, now).await?;
    effects.status_entered(tx, t.id, None, t.status).await?;
    tickets::get(tx, t.id).await?.ok_or(DomainError::NotFound("ticket"))
}

/// Rewrites a draft's descriptive fields (and its schedule) with `t`, which keeps the draft's
/// id, number and NOC. Of two racing edits one wins, the other gets 409; a ticket no longer a
/// draft is 409 too.
pub async fn edit_draft(
    tx: &mut Tx,
    effects: Effects,
    before: &TicketRow,
    t: &NewTicket,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    let mut state = before.state.clone();
    state.region = t.region;
    state.published_at = t.published_at;
    let due = sla::due_at(&state, t.sla_hours);
    let Some(after) = tickets::update_draft(tx, t, before.version, due, now).await? else {
        return Err(DomainError::conflict(
            "concurrent_change",
            "the ticket changed meanwhile or is no longer a draft; reload it",
        ));
    };
    effects.ticket_changed(tx, t.id, Some(&before.state), now).await?;
    tracing::info!(ticket.id = %t.id, "draft edited");
    Ok(after)
}

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
