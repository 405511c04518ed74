//! Background jobs: the [`Job`] trait that ties each payload to its queue, the payloads, and
//! what a change enqueues ([`Effects`]). A job is written in the caller's transaction, so a
//! committed change never loses its jobs and a rolled-back one never runs them.

use apalis_core::task::builder::TaskBuilder;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use uuid::Uuid;

pub use crate::domain::Channel;
use crate::{
    db::{Conn, Tx},
    domain::{NoticeKind, Status, ticket::TicketState},
    error::DomainError,
};

/// A background job: a payload (ids only; its handler re-reads the database) tied to the queue
/// it runs on. The worker gives each job its handler; its failures are transient (tried again
/// after [`Job::backoff`], up to [`Job::MAX_ATTEMPTS`] tries) or permanent (kept as failed at
/// once).
pub trait Job: Serialize + DeserializeOwned + Send + Sync + Unpin + 'static {
    /// The queue's name; every queue of ours starts with `cgs.`.
    const QUEUE: &'static str;
    /// Tries before the job is kept as failed.
    const MAX_ATTEMPTS: usize = 10;

    /// The wait after failed try `attempt` (1 for the first): 1 s doubling up to 5 minutes.
    fn backoff(attempt: usize) -> std::time::Duration {
        doubling(1, 300, attempt)
    }

    /// Writes the job in the caller's transaction, due at once.
    fn enqueue(&self, tx: &mut Tx) -> impl Future<Output = Result<(), DomainError>> + Send {
        push(tx, std::slice::from_ref(self), Utc::now())
    }

    /// Writes the job in the caller's transaction, due at `at` (not before).
    fn enqueue_at(
        &self,
        tx: &mut Tx,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), DomainError>> + Send {
        push(tx, std::slice::from_ref(self), at)
    }
}

/// A wait of `first` seconds after the first failed try, doubling with each try up to `max`.
pub fn doubling(first: u64, max: u64, attempt: usize) -> std::time::Duration {
    let doublings = attempt.saturating_sub(1).min(20) as u32;
    std::time::Duration::from_secs(first.saturating_mul(1 << doublings).min(max))
}

/// Writes many jobs of one queue in the caller's transaction, due at once, in one statement.
pub async fn enqueue_all<J: Job>(tx: &mut Tx, jobs: &[J]) -> Result<(), DomainError> {
    push(tx, jobs, Utc::now()).await
}

/// Resume a ticket whose pending interval is over, if that pending still runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpirePending {
    pub ticket_id: Uuid,
    pub evidence_id: Uuid,
}

impl Job for ExpirePending {
    const QUEUE: &'static str = "cgs.expire_pending";
}

/// Write the ticket's current document to Firestore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncTicket {
    pub ticket_id: Uuid,
}

impl Job for SyncTicket {
    const QUEUE: &'static str = "cgs.sync_ticket";
}

/// Write the current documents of many tickets to Firestore: what a sweep, the reconciler or a
/// resync enqueues for many tickets at once, one job per up to [`SYNC_BATCH`] tickets instead of
/// a job each. A ticket whose write fails is handed to a [`SyncTicket`] of its own, with its
/// own retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncTickets {
    pub ticket_ids: Vec<Uuid>,
}

impl Job for SyncTickets {
    const QUEUE: &'static str = "cgs.sync_tickets";
}

/// Tickets per [`SyncTickets`] job.
pub const SYNC_BATCH: usize = 500;

/// Write a user's `access/{uid}` document to Firestore (active, role, region), which the
/// rules check on every read: a deactivated or changed user's old Firebase token stops working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncAccess {
    pub user_id: Uuid,
}

impl Job for SyncAccess {
    const QUEUE: &'static str = "cgs.sync_access";
}

/// Announce a ticket that became `Open` to the field technicians of its region: one
/// [`Deliver`] per recipient and channel, so a failed delivery is retried alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastOpenTicket {
    pub ticket_id: Uuid,
}

impl Job for BroadcastOpenTicket {
    const QUEUE: &'static str = "cgs.broadcast_open_ticket";
}

/// Tell one user about an open ticket on one channel. Dropped when the ticket is no longer
/// `Open` by the time it runs (someone took it) or the user is gone. A channel that refuses or
/// is down gets the delivery again later: 5 s doubling up to an hour, 15 tries (about five
/// hours), so an outage of a mail server or of Telegram delays messages without losing them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deliver {
    pub ticket_id: Uuid,
    pub user_id: Uuid,
    pub channel: Channel,
}

impl Job for Deliver {
    const QUEUE: &'static str = "cgs.deliver";
    const MAX_ATTEMPTS: usize = 15;

    fn backoff(attempt: usize) -> std::time::Duration {
        doubling(5, 3600, attempt)
    }
}

/// What a notification tells a person about a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotifyKind {
    /// The NOC's verdict on the technician's request (approved or rejected, with its remark).
    Verdict,
    /// The ticket was assigned to the user.
    Assigned,
    /// The ticket the user held was given to another technician.
    Reassigned,
    /// An `Open` ticket nobody accepted in time (to the region's supervisors and the ticket's
    /// NOC, later to the region's NOCs).
    Unaccepted,
    /// The ticket's SLA runs out soon.
    SlaWarning,
    /// The ticket's SLA ran out.
    SlaBreached,
    /// A technician's request has waited long for the NOC's verdict (to the region's NOCs).
    ValidationWaiting,
}

impl NotifyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Verdict => "verdict",
            NotifyKind::Assigned => "assigned",
            NotifyKind::Reassigned => "reassigned",
            NotifyKind::Unaccepted => "unaccepted",
            NotifyKind::SlaWarning => "sla_warning",
            NotifyKind::SlaBreached => "sla_breached",
            NotifyKind::ValidationWaiting => "validation_waiting",
        }
    }

    /// Which of the kinds a user chooses among this is.
    pub fn notice(self) -> NoticeKind {
        match self {
            NotifyKind::Verdict => NoticeKind::Verdict,
            NotifyKind::Assigned | NotifyKind::Reassigned => NoticeKind::Assignment,
            NotifyKind::Unaccepted => NoticeKind::Unaccepted,
            NotifyKind::SlaWarning => NoticeKind::SlaWarning,
            NotifyKind::SlaBreached => NoticeKind::SlaBreached,
            NotifyKind::ValidationWaiting => NoticeKind::ValidationWaiting,
        }
    }
}

/// What an [`Escalate`] follows up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FollowUp {
    /// The ticket has been `Open` since `since` and nobody accepted it: at level 1 it is
    /// announced again and the region's supervisors and the ticket's NOC are told, at level 2
    /// the region's NOCs.
    Unaccepted { level: u8, since: DateTime<Utc> },
    /// The SLA sweep found the ticket's SLA about to run out: its technician, the region's
    /// supervisors and the ticket's NOC are told.
    SlaWarning,
    /// The SLA sweep found the ticket's SLA run out: told as for [`FollowUp::SlaWarning`].
    SlaBreached,
    /// The request of `evidence_id` still waits for the NOC: the region's NOCs are reminded.
    ValidationWaiting { evidence_id: Uuid },
}

/// Follow up tickets that nobody may forget: re-checks that it still applies when it runs (a
/// ticket accepted meanwhile is not escalated), then tells the people concerned (one
/// [`Notify`] per user and channel, each claimed once) and the webhooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Escalate {
    pub ticket_ids: Vec<Uuid>,
    pub follow_up: FollowUp,
}

impl Job for Escalate {
    const QUEUE: &'static str = "cgs.escalate";
}

/// Tell one user on one channel what happened to a ticket (`kind`; `evidence_id` names the
/// request of a verdict). Dropped when the user or the ticket is gone, or the channel is off or
/// unlinked; a channel that is down gets it again later, as [`Deliver`] does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notify {
    pub ticket_id: Uuid,
    pub user_id: Uuid,
    pub channel: Channel,
    pub kind: NotifyKind,
    pub evidence_id: Option<Uuid>,
    /// What makes this notification one of its own (see [`Effects::notify`]).
    #[serde(default)]
    pub occurrence: String,
}

impl Job for Notify {
    const QUEUE: &'static str = "cgs.notify";
    const MAX_ATTEMPTS: usize = 15;

    fn backoff(attempt: usize) -> std::time::Duration {
        Deliver::backoff(attempt)
    }
}

/// Deliver what waits for one webhook about one ticket, oldest first (see
/// `db::webhooks::claim_next`): a failed try is due again by the delivery's own schedule (2 s
/// doubling up to 15 minutes, 15 tries, then given up and the next one delivered), so one
/// endpoint that fails never holds up another, nor the change itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliverWebhook {
    pub webhook_id: Uuid,
    pub ticket_id: Uuid,
}

impl Job for DeliverWebhook {
    const QUEUE: &'static str = "cgs.webhook";
}

impl DeliverWebhook {
    /// Tries of one delivery before it is given up.
    pub const TRIES: i32 = 15;

    /// The wait after failed try `attempt` of a delivery.
    pub fn retry_wait(attempt: i32) -> std::time::Duration {
        doubling(2, 900, attempt.max(1) as usize)
    }
}

/// Enqueues the Firestore sync of `ids` in the caller's transaction, [`SYNC_BATCH`] tickets a job.
pub async fn enqueue_syncs(tx: &mut Tx, ids: &[Uuid]) -> Result<(), DomainError> {
    if ids.is_empty() {
        return Ok(());
    }
    let jobs: Vec<SyncTickets> =
        ids.chunks(SYNC_BATCH).map(|chunk| SyncTickets { ticket_ids: chunk.to_vec() }).collect();
    enqueue_all(tx, &jobs).await
}

/// What a change triggers besides itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effects {
    /// Firestore is configured: every change enqueues a [`SyncTicket`].
    pub sync_firestore: bool,
    /// Mail is configured (`CGS_SMTP_URL`).
    pub mail: bool,
    /// The Telegram bot is configured.
    pub telegram: bool,
    /// Minutes an `Open` ticket waits for a technician before it is escalated
    /// (`CGS_ESCALATE_UNACCEPTED_MINUTES`); 0 turns escalation off.
    pub escalate_minutes: i64,
    /// Minutes a request waits for the NOC before the region's NOCs are reminded
    /// (`CGS_VALIDATION_REMIND_MINUTES`); 0 turns reminders off.
    pub remind_minutes: i64,
}

impl Effects {
    /// A channel is configured: a ticket that becomes `Open` enqueues a [`BroadcastOpenTicket`],
    /// and the people a change concerns are told ([`Notify`]).
    pub fn broadcast(self) -> bool {
        self.mail || self.telegram
    }

    /// The channels configured.
    fn channels(self) -> impl Iterator<Item = Channel> {
        Channel::ALL.iter().copied().filter(move |c| match c {
            Channel::Mail => self.mail,
            Channel::Telegram => self.telegram,
        })
    }

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
            SyncTicket { ticket_id }.enqueue(tx).await?;
        }
        Ok(())
    }

    /// A user was created, changed or deactivated: when Firestore is on, its access document is
    /// written anew.
    pub async fn user_changed(self, tx: &mut Tx, user_ids: &[Uuid]) -> Result<(), DomainError> {
        if !self.sync_firestore || user_ids.is_empty() {
            return Ok(());
        }
        let jobs: Vec<SyncAccess> = user_ids.iter().map(|&user_id| SyncAccess { user_id }).collect();
        enqueue_all(tx, &jobs).await
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
            enqueue_syncs(tx, ids).await?;
        }
        Ok(())
    }

    /// Tells `user` about ticket `ticket_id` what `kind` says, on every configured channel, once
    /// for each `occurrence` (the evidence of a verdict, the ticket's version after an
    /// assignment): a change retried, or replayed, tells nobody twice.
    #[allow(clippy::too_many_arguments)]
    pub async fn notify(
        self,
        tx: &mut Tx,
        ticket_id: Uuid,
        user_id: Uuid,
        kind: NotifyKind,
        evidence_id: Option<Uuid>,
        occurrence: &str,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        for channel in self.channels() {
            if crate::db::notifications::claim(tx, ticket_id, kind, occurrence, user_id, channel, now).await?
            {
                let occurrence = occurrence.to_owned();
                Notify { ticket_id, user_id, channel, kind, evidence_id, occurrence }.enqueue(tx).await?;
            }
        }
        Ok(())
    }

    /// A ticket whose status went from `before` (`None`: new) to `after`: one that became
    /// `Open` needs a technician, is announced to those of its region, and is escalated when
    /// nobody accepts it in time (when someone can be told: a channel is configured, or a
    /// webhook follows escalations).
    pub async fn status_entered(
        self,
        tx: &mut Tx,
        ticket_id: Uuid,
        before: Option<Status>,
        after: Status,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if after != Status::Open || before == Some(Status::Open) {
            return Ok(());
        }
        if self.broadcast() {
            BroadcastOpenTicket { ticket_id }.enqueue(tx).await?;
        }
        // Someone to tell: a channel, or a webhook that follows escalations.
        let escalate = self.escalate_minutes > 0
            && (self.broadcast()
                || !crate::db::webhooks::following(
                    tx,
                    crate::domain::webhook::WebhookEvent::TicketEscalated,
                )
                .await?
                .is_empty());
        if escalate {
            let job = Escalate {
                ticket_ids: vec![ticket_id],
                follow_up: FollowUp::Unaccepted { level: 1, since: now },
            };
            job.enqueue_at(tx, now + chrono::Duration::minutes(self.escalate_minutes)).await?;
        }
        Ok(())
    }

    /// A request that starts waiting for the NOC with this change (`evidence_id`) gets its
    /// reminder, due when it has waited `remind_minutes` (when a channel is configured).
    pub async fn request_waiting(
        self,
        tx: &mut Tx,
        ticket_id: Uuid,
        evidence_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        if self.broadcast() && self.remind_minutes > 0 {
            let job = Escalate {
                ticket_ids: vec![ticket_id],
                follow_up: FollowUp::ValidationWaiting { evidence_id },
            };
            job.enqueue_at(tx, now + chrono::Duration::minutes(self.remind_minutes)).await?;
        }
        Ok(())
    }
}

/// Writes `jobs` to their queue, due at `run_at` (at the earliest), in the caller's transaction:
/// on PostgreSQL with its next statement, as one of its deferred writes ([`JOBS_INSERT`]), so a
/// command that enqueues jobs is still one read and one write.
async fn push<J: Job>(tx: &mut Tx, jobs: &[J], run_at: DateTime<Utc>) -> Result<(), DomainError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let queue = J::QUEUE;
    // The queue counts whole seconds: a job for later is rounded up so it never runs early; a
    // job for now is due at once.
    let later = run_at > Utc::now();
    let at = (run_at.timestamp() + i64::from(later && run_at.timestamp_subsec_nanos() > 0)).max(0);
    let mut payloads = Vec::with_capacity(jobs.len());
    for job in jobs {
        payloads.push(
            serde_json::to_vec(job).map_err(|e| DomainError::Internal(format!("encoding a job: {e}")))?,
        );
    }
    let failed = |e: String| DomainError::Internal(format!("enqueueing a job on {queue}: {e}"));
    match tx.deferring() {
        Some(w) => {
            let ids: Vec<String> = payloads.iter().map(|_| ulid::Ulid::generate().to_string()).collect();
            w.push(JOBS_INSERT);
            w.chained().bind(ids).bind(queue).bind(payloads).bind(J::MAX_ATTEMPTS as i32).bind(at).done()
        }
        None => {
            let tasks: Vec<_> = payloads
                .into_iter()
                .map(|args| {
                    TaskBuilder::new(args).run_at_timestamp(at as u64).max_attempts(J::MAX_ATTEMPTS).build()
                })
                .collect();
            match tx.conn().await? {
                Conn::Sqlite(t) => apalis_sqlite::queries::push_tasks(&mut **t, queue, &tasks)
                    .await
                    .map_err(|e| failed(e.to_string())),
                Conn::Postgres(_) => unreachable!("a PostgreSQL transaction defers its writes"),
            }
        }
    }
}

/// The rows of new jobs in the PostgreSQL queue, as the queue's own batch insert writes them
/// (`apalis-postgres`' `queries/task/sink.sql`: a ULID for an id, pending, no tries yet,
/// default priority, no metadata): ids, queue, payloads, tries allowed, due time (Unix
/// seconds). Its insert trigger tells the workers of jobs due now.
const JOBS_INSERT: &str = "INSERT INTO apalis.jobs \
    (id, job_type, job, status, attempts, max_attempts, run_at, priority, metadata, idempotency_key) \
    SELECT id, $2::text, job, 'Pending', 0, $4::integer, to_timestamp($5::bigint), 0, ''::hstore, NULL \
    FROM unnest($1::text[], $3::bytea[]) AS j(id, job)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_the_first_up_to_the_bound() {
        let secs = |a| ExpirePending::backoff(a).as_secs();
        assert_eq!([secs(1), secs(2), secs(3), secs(9), secs(10), secs(100)], [1, 2, 4, 256, 300, 300]);
        let secs = |a| Deliver::backoff(a).as_secs();
        assert_eq!([secs(1), secs(2), secs(10), secs(11), secs(15)], [5, 10, 2560, 3600, 3600]);
    }
}
