//! The ticket state machine: `decide(ticket, actor, command, now, new_id)` answers the change a
//! command makes, or why it may not. Pure: no I/O, no clock, no randomness (the caller gives the
//! time and the ids of new evidence); the caller persists the change.
//!
//! Here: the state, the commands and the change they make; `decide.rs` the rule of each command;
//! `steps.rs` the moves that several commands share and the keys each log entry carries.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{CancelCategory, CardType, PendingCategory, Region, Role, Status};

mod decide;
mod steps;

pub use decide::decide;
pub use steps::{LogKeys, log_keys};

/// Longest pending a technician may ask for: one week, in minutes.
pub const MAX_PENDING_MINUTES: i64 = 7 * 24 * 60;

/// The task steps a technician reports freely once work is going on.
pub const TASKS: [Status; 4] = [Status::Checking, Status::PullingCable, Status::Jointing, Status::Tidying];

/// The part of a ticket the state machine reads and writes (its columns carry these names;
/// `db::tickets` reads it from them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketState {
    pub id: Uuid,
    pub region: Region,
    pub status: Status,
    /// The status to go back to when a request is rejected or a pending ends.
    pub status_before: Option<Status>,
    /// A request waits for the NOC: `status` is the requested status.
    pub need_validate: bool,
    /// The evidence of that request.
    pub awaiting_evidence: Option<Uuid>,
    pub foc_id: Option<Uuid>,
    /// The latest task status is an approved `LinkChecking`: finishing may be requested.
    pub link_check_approved: bool,
    /// Closed through a cancellation.
    pub canceled: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub departure_at: Option<DateTime<Utc>>,
    pub check_in_at: Option<DateTime<Utc>>,
    pub on_going_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// The running pending: its evidence, start, length (also set while a pending request
    /// waits) and the status work resumes in.
    pub pending_evidence: Option<Uuid>,
    pub pending_started_at: Option<DateTime<Utc>>,
    pub pending_minutes: Option<i64>,
    pub pending_category: Option<PendingCategory>,
    pub resume_status: Option<Status>,
    /// Pending seconds already over, in all and since work went on.
    pub total_pending_seconds: i64,
    pub work_pending_seconds: i64,
    /// The outage this report is linked to: the field works it through the outage.
    pub parent_id: Option<Uuid>,
    /// The ticket is an outage: it stands for the reports linked to it.
    pub is_outage: bool,
}

impl TicketState {
    /// A fresh ticket in `status`, with nothing happened yet.
    pub fn new(id: Uuid, region: Region, status: Status) -> Self {
        Self {
            id,
            region,
            status,
            status_before: None,
            need_validate: false,
            awaiting_evidence: None,
            foc_id: None,
            link_check_approved: false,
            canceled: false,
            published_at: None,
            accepted_at: None,
            departure_at: None,
            check_in_at: None,
            on_going_at: None,
            closed_at: None,
            pending_evidence: None,
            pending_started_at: None,
            pending_minutes: None,
            pending_category: None,
            resume_status: None,
            total_pending_seconds: 0,
            work_pending_seconds: 0,
            parent_id: None,
            is_outage: false,
        }
    }
}

impl TicketState {
    /// When the running pending's interval is over.
    pub fn pending_due(&self) -> Option<DateTime<Utc>> {
        self.pending_started_at.zip(self.pending_minutes).map(|(start, m)| start + Duration::minutes(m))
    }
}

/// Photo, GPS and words a technician sends with a step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    pub media_url: Option<String>,
    pub remark: Option<String>,
    pub location: Option<String>,
    /// What the checks found when it arrived (set by the caller after the state machine).
    pub check: Option<super::evidence::EvidenceCheck>,
}

/// The technician an assignment names, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignee {
    pub id: Uuid,
    pub role: Role,
    pub region: Region,
    pub name: String,
}

/// What a caller asks of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Publish,
    Accept,
    Assign(Assignee),
    OnTheWay,
    CheckIn(Evidence),
    Task(Status, Evidence),
    LinkChecking(Evidence),
    Finishing(Evidence),
    Pending {
        evidence: Evidence,
        category: PendingCategory,
        minutes: i64,
    },
    Cancel {
        evidence: Evidence,
        category: CancelCategory,
    },
    Resume,
    Validate {
        evidence_id: Uuid,
        approved: bool,
        remark: Option<String>,
    },
    /// The worker's: the running pending's interval is over.
    ExpirePending {
        evidence_id: Uuid,
    },
    /// Links an `Open` report to the outage `outage` (numbered `number`); `moving` a linked
    /// report over from an outage that merges into it.
    Link {
        outage: Uuid,
        number: String,
        moving: bool,
    },
    /// The outage merges into the outage numbered `number`, which takes its reports: it closes.
    MergeInto {
        number: String,
    },
    /// Gives a linked report back: `Open` on its own again.
    Unlink,
    /// The outage the report is linked to closed (numbered `number`, after `pending_seconds`
    /// on hold): the report closes with it.
    CloseWithOutage {
        number: String,
        pending_seconds: i64,
    },
}

impl Command {
    /// A short name for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Publish => "publish",
            Command::Accept => "accept",
            Command::Assign(_) => "assign",
            Command::OnTheWay => "onTheWay",
            Command::CheckIn(_) => "checkedIn",
            Command::Task(Status::Checking, _) => "checking",
            Command::Task(Status::PullingCable, _) => "pullingCable",
            Command::Task(Status::Jointing, _) => "jointing",
            Command::Task(_, _) => "tidying",
            Command::LinkChecking(_) => "linkChecking",
            Command::Finishing(_) => "finishing",
            Command::Pending { .. } => "pending",
            Command::Cancel { .. } => "cancel",
            Command::Resume => "resume",
            Command::Validate { .. } => "validate",
            Command::ExpirePending { .. } => "expirePending",
            Command::Link { .. } => "link",
            Command::Unlink => "unlink",
            Command::MergeInto { .. } => "mergeInto",
            Command::CloseWithOutage { .. } => "closeWithOutage",
        }
    }
}

/// A log entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLog {
    pub card_type: CardType,
    pub status_name: Status,
    pub title: String,
    pub description: String,
    pub evidence_id: Option<Uuid>,
    pub need_approval: bool,
    pub is_approved: Option<bool>,
    pub approval_remark: Option<String>,
    pub evidence: Evidence,
    pub pending_minutes: Option<i64>,
    pub pending_category: Option<PendingCategory>,
    pub cancel_category: Option<CancelCategory>,
    pub is_resumed: Option<bool>,
    pub foc_before: Option<Uuid>,
    pub at: DateTime<Utc>,
}

impl NewLog {
    /// A plain status card.
    pub fn simple(
        status: Status,
        title: impl Into<String>,
        description: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            card_type: CardType::SimpleStatus,
            status_name: status,
            title: title.into(),
            description: description.into(),
            evidence_id: None,
            need_approval: false,
            is_approved: None,
            approval_remark: None,
            evidence: Evidence::default(),
            pending_minutes: None,
            pending_category: None,
            cancel_category: None,
            is_resumed: None,
            foc_before: None,
            at,
        }
    }
}

/// A change to an existing log entry, found by its evidence id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogUpdate {
    /// The NOC's verdict on a request.
    Validated { evidence_id: Uuid, approved: bool, remark: Option<String> },
    /// A pending ended after `minutes`.
    Resumed { evidence_id: Uuid, minutes: i64 },
}

/// What a command does: the ticket's next state and its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub next: TicketState,
    pub logs: Vec<NewLog>,
    pub updates: Vec<LogUpdate>,
}

#[cfg(test)]
mod tests;
