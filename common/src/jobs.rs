//! Background jobs: payloads (ids only; the handler re-reads the database) and `enqueue`,
//! which writes the job in the caller's transaction, so a committed change never loses its
//! jobs and a rolled-back one never runs them.

use apalis_core::task::builder::TaskBuilder;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    db::Tx,
    domain::{Status, ticket::TicketState},
    error::DomainError,
};

/// Queue of [`ExpirePending`].
pub const EXPIRE_PENDING_QUEUE: &str = "cgs.expire_pending";

/// Queue of [`SyncTicket`].
pub const SYNC_TICKET_QUEUE: &str = "cgs.sync_ticket";

/// Queue of [`SyncTickets`].
pub const SYNC_TICKETS_QUEUE: &str = "cgs.sync_tickets";

/// Queue of [`SyncAccess`].
pub const SYNC_ACCESS_QUEUE: &str = "cgs.sync_access";

/// Write a user's `access/{uid}` document to Firestore (active, role, region), which the
/// rules check on every read: a deactivated or changed user's old Firebase token stops working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncAccess {
    pub user_id: Uuid,
}

/// Queue of [`BroadcastOpenTicket`].
pub const BROADCAST_QUEUE: &str = "cgs.broadcast_open_ticket";

/// Queue of [`Deliver`].
pub const DELIVER_QUEUE: &str = "cgs.deliver";

/// Announce a ticket that became `Open` to the field technicians of its region: one
/// [`Deliver`] per recipient and channel, so a failed delivery is retried alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastOpenTicket {
    pub ticket_id: Uuid,
}

/// Where an announcement goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Channel {
    /// The user's email address.
    Mail,
    /// The user's linked Telegram chat, with an Accept button.
    Telegram,
}

/// Tell one user about an open ticket on one channel. Dropped when the ticket is no longer
/// `Open` by the time it runs (someone took it) or the user is gone. A channel that refuses or
/// is down gets the delivery again later ([`delivery_backoff`]), `attempt` counting the tries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deliver {
    pub ticket_id: Uuid,
    pub user_id: Uuid,
    pub channel: Channel,
    #[serde(default)]
    pub attempt: u32,
}

/// Deliveries to a channel that is down are tried this many times, then kept as failed jobs.
pub const DELIVERY_ATTEMPTS: u32 = 15;

/// The wait before try `attempt + 1` of a delivery: 5 s doubling up to an hour (about five
/// hours of tries in all), so an outage of a mail server or of Telegram delays messages
/// without losing them.
pub fn delivery_backoff(attempt: u32) -> chrono::Duration {
    chrono::Duration::seconds((5_i64 << attempt.min(10)).min(3600))
}

/// Write the ticket's current document to Firestore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncTicket {
    pub ticket_id: Uuid,
}

/// Write the current documents of many tickets to Firestore: what a sweep, the reconciler or a
/// resync enqueues for many tickets at once, one job per up to [`SYNC_BATCH`] tickets instead of
/// a job each. A ticket whose write fails is handed to a [`SyncTicket`] of its own, with its
/// own retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncTickets {
    pub ticket_ids: Vec<Uuid>,
}

/// Tickets per [`SyncTickets`] job.
pub const SYNC_BATCH: usize = 500;

/// Enqueues the Firestore sync of `ids` in the caller's transaction, [`SYNC_BATCH`] tickets a job.
pub async fn enqueue_syncs(tx: &mut Tx, ids: &[Uuid], now: DateTime<Utc>) -> Result<(), DomainError> {
    if ids.is_empty() {
        return Ok(());
    }
    let jobs: Vec<SyncTickets> =
        ids.chunks(SYNC_BATCH).map(|chunk| SyncTickets { ticket_ids: chunk.to_vec() }).collect();
    enqueue_many(tx, SYNC_TICKETS_QUEUE, &jobs, now).await
}

/// What a change triggers besides itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effects {
    /// Firestore is configured: every change enqueues a [`SyncTicket`].
    pub sync_firestore: bool,
    /// A channel is configured: a ticket that becomes `Open` enqueues a [`BroadcastOpenTicket`].
    pub broadcast: bool,
}

impl Effects {
    /// Records a change of a ticket for the live feed and, when Firestore is on, enqueues its
    /// sync. `before` is the state before the change, `None` when region, status and technician
    /// stay as they are (or the ticket is new).
    pub async fn ticket_changed(
        self,
        tx: &mut Tx,
        ticket_id: Uuid,
        before: Option<&TicketState>,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        crate::db::feed::record(tx, ticket_id, before, now).await?;
        if self.sync_firestore {
            enqueue(tx, SYNC_TICKET_QUEUE, &SyncTicket { ticket_id }, now).await?;
        }
        Ok(())
    }

    /// A user was created, changed or deactivated: when Firestore is on, its access document is
    /// written anew.
    pub async fn user_changed(
        self,
        tx: &mut Tx,
        user_ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if !self.sync_firestore || user_ids.is_empty() {
            return Ok(());
        }
        let jobs: Vec<SyncAccess> = user_ids.iter().map(|&user_id| SyncAccess { user_id }).collect();
        enqueue_many(tx, SYNC_ACCESS_QUEUE, &jobs, now).await
    }

    /// [`Effects::ticket_changed`] for many tickets whose region, status and technician stay
    /// (the SLA sweep's): feed rows and batched syncs written set-wise.
    pub async fn tickets_touched(
        self,
        tx: &mut Tx,
        ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        crate::db::feed::record_unchanged(tx, ids, now).await?;
        if self.sync_firestore {
            enqueue_syncs(tx, ids, now).await?;
        }
        Ok(())
    }

    /// A ticket whose status went from `before` (`None`: new) to `after`: one that became
    /// `Open` needs a technician, and is announced to those of its region.
    pub async fn status_entered(
        self,
        tx: &mut Tx,
        ticket_id: Uuid,
        before: Option<Status>,
        after: Status,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if self.broadcast && after == Status::Open && before != Some(Status::Open) {
            enqueue(tx, BROADCAST_QUEUE, &BroadcastOpenTicket { ticket_id }, now).await?;
        }
        Ok(())
    }
}

/// Attempts before a job is kept as failed.
pub const MAX_ATTEMPTS: usize = 10;

/// Resume a ticket whose pending interval is over, if that pending still runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpirePending {
    pub ticket_id: Uuid,
    pub evidence_id: Uuid,
}

/// Writes a job to `queue`, to run at `run_at` (at the earliest), in the caller's transaction.
pub async fn enqueue<J: Serialize>(
    tx: &mut Tx,
    queue: &str,
    job: &J,
    run_at: DateTime<Utc>,
) -> Result<(), DomainError> {
    enqueue_many(tx, queue, std::slice::from_ref(job), run_at).await
}

/// [`enqueue`] for many jobs of one queue, in one statement.
pub async fn enqueue_many<J: Serialize>(
    tx: &mut Tx,
    queue: &str,
    jobs: &[J],
    run_at: DateTime<Utc>,
) -> Result<(), DomainError> {
    // The queue counts whole seconds: a job for later is rounded up so it never runs early; a
    // job for now is due at once.
    let later = run_at > Utc::now();
    let at = run_at.timestamp() + i64::from(later && run_at.timestamp_subsec_nanos() > 0);
    let mut tasks = Vec::with_capacity(jobs.len());
    for job in jobs {
        let args =
            serde_json::to_vec(job).map_err(|e| DomainError::Internal(format!("encoding a job: {e}")))?;
        tasks.push(
            TaskBuilder::new(args).run_at_timestamp(at.max(0) as u64).max_attempts(MAX_ATTEMPTS).build(),
        );
    }
    let failed = |e: String| DomainError::Internal(format!("enqueueing a job on {queue}: {e}"));
    match tx {
        Tx::Sqlite(t) => apalis_sqlite::queries::push_tasks(&mut **t, queue, &tasks)
            .await
            .map_err(|e| failed(e.to_string())),
        Tx::Postgres(t) => apalis_postgres::queries::push_tasks(&mut **t, queue, tasks)
            .await
            .map_err(|e| failed(e.to_string())),
    }
}
