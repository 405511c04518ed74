//! The ticket state machine: `decide(ticket, actor, command, now, new_id)` answers the change a
//! command makes, or why it may not. Pure: no I/O, no clock, no randomness (the caller gives the
//! time and the ids of new evidence); the caller persists the change.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::{CancelCategory, CardType, PendingCategory, Region, Role, Status, access::Actor};
use crate::error::DomainError;

/// Longest pending a technician may ask for: one week, in minutes.
pub const MAX_PENDING_MINUTES: i64 = 7 * 24 * 60;

/// The task steps a technician reports freely once work is going on.
pub const TASKS: [Status; 4] = [Status::Checking, Status::PullingCable, Status::Jointing, Status::Tidying];

/// The part of a ticket the state machine reads and writes (its columns carry these names).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
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

fn invalid_transition(cmd: &Command, status: Status) -> DomainError {
    DomainError::conflict("invalid_transition", format!("cannot {} a ticket that is {status}", cmd.name()))
}

fn forbidden(message: &str) -> DomainError {
    DomainError::Forbidden(message.to_owned())
}

/// Statuses from which a pending may start: accepted up to the task steps.
fn pendable(status: Status) -> bool {
    matches!(
        status,
        Status::Accepted
            | Status::OnTheWay
            | Status::OnGoing
            | Status::Checking
            | Status::PullingCable
            | Status::Jointing
            | Status::Tidying
            | Status::LinkChecking
    )
}

/// Statuses in which work is going on at the site.
fn working(status: Status) -> bool {
    status == Status::OnGoing || TASKS.contains(&status) || status == Status::LinkChecking
}

/// Decides what `cmd` by `actor` does to `t` at `now`.
///
/// The order of the checks sets the error: a ticket the actor may not see is 404 (except that a
/// technician of the region learns that an `Open` ticket was taken: 409); a command the role or
/// assignment does not allow is 403; a command the status does not allow is 409.
pub fn decide(
    t: &TicketState,
    actor: &Actor,
    cmd: &Command,
    now: DateTime<Utc>,
    new_id: &mut dyn FnMut() -> Uuid,
) -> Result<Change, DomainError> {
    let visible = actor.ticket_scope().sees(t.region, t.status, t.foc_id);
    let taken_here = matches!(cmd, Command::Accept) && actor.is_field() && actor.region == t.region;
    if !visible && !taken_here {
        return Err(DomainError::NotFound("ticket"));
    }
    let assigned = actor.is_field() && t.foc_id == Some(actor.id);
    let noc = actor.is_noc_of(t.region);
    let mut next = t.clone();
    let mut logs = Vec::new();
    let mut updates = Vec::new();
    let who = &actor.name;
    let ensure_free = || {
        if t.need_validate {
            Err(DomainError::conflict(
                "awaiting_validation",
                format!("a {} request waits for the NOC's validation", t.status),
            ))
        } else {
            Ok(())
        }
    };

    match cmd {
        Command::Publish => {
            if !noc {
                return Err(forbidden("only the NOC of the ticket's region publishes it"));
            }
            if t.status != Status::Draft {
                return Err(invalid_transition(cmd, t.status));
            }
            next.status = Status::Open;
            next.published_at = Some(now);
            logs.push(NewLog::simple(
                Status::Open,
                "Ticket published",
                format!("{who} opened the ticket"),
                now,
            ));
        }
        Command::Accept => {
            if !actor.is_field() {
                return Err(forbidden("only a technician or supervisor accepts a ticket"));
            }
            if t.status != Status::Open {
                return Err(DomainError::conflict(
                    "already_taken",
                    format!("the ticket is {}, not Open", t.status),
                ));
            }
            next.status = Status::Accepted;
            next.foc_id = Some(actor.id);
            next.accepted_at = Some(now);
            logs.push(NewLog::simple(
                Status::Accepted,
                "Ticket accepted",
                format!("{who} accepted the ticket"),
                now,
            ));
        }
        Command::Assign(foc) => {
            let may = noc || (actor.role == Role::FOCSupervisor && actor.region == t.region);
            if !may {
                return Err(forbidden("only the NOC or a supervisor of the region assigns a ticket"));
            }
            if foc.role != Role::FOC {
                return Err(DomainError::invalid("focId", "the user is not an FOC"));
            }
            if foc.region != t.region {
                return Err(DomainError::invalid(
                    "focId",
                    format!("the FOC works in {}, the ticket is in {}", foc.region, t.region),
                ));
            }
            match (t.status, t.foc_id) {
                (Status::Open, None) => {
                    next.status = Status::Accepted;
                    next.foc_id = Some(foc.id);
                    next.accepted_at = Some(now);
                    logs.push(NewLog::simple(
                        Status::Accepted,
                        "Ticket assigned",
                        format!("{who} assigned the ticket to {}", foc.name),
                        now,
                    ));
                }
                (status, Some(before)) if status != Status::Closed => {
                    if before == foc.id {
                        return Err(DomainError::conflict(
                            "already_assigned",
                            "the ticket is already assigned to this FOC",
                        ));
                    }
                    next.foc_id = Some(foc.id);
                    let mut log = NewLog::simple(
                        status,
                        "Ticket reassigned",
                        format!("{who} reassigned the ticket to {}", foc.name),
                        now,
                    );
                    log.card_type = CardType::ReassignAction;
                    log.evidence_id = Some(new_id());
                    log.foc_before = Some(before);
                    logs.push(log);
                }
                (status, _) => return Err(invalid_transition(cmd, status)),
            }
        }
        Command::OnTheWay => {
            if !assigned {
                return Err(forbidden("only the assigned technician reports progress"));
            }
            if t.status != Status::Accepted {
                return Err(invalid_transition(cmd, t.status));
            }
            next.status = Status::OnTheWay;
            next.departure_at = Some(now);
            logs.push(NewLog::simple(Status::OnTheWay, "On the way", format!("{who} is on the way"), now));
        }
        Command::CheckIn(ev) | Command::LinkChecking(ev) | Command::Finishing(ev) => {
            if !assigned {
                return Err(forbidden("only the assigned technician reports progress"));
            }
            let (requested, allowed) = match cmd {
                Command::CheckIn(_) => (Status::CheckedIn, t.status == Status::OnTheWay),
                Command::LinkChecking(_) => (
                    Status::LinkChecking,
                    (working(t.status) && t.status != Status::LinkChecking)
                        || (t.status == Status::LinkChecking && t.link_check_approved),
                ),
                _ => (Status::Finishing, t.status == Status::LinkChecking && t.link_check_approved),
            };
            ensure_free()?;
            if !allowed {
                return Err(invalid_transition(cmd, t.status));
            }
            if requested == Status::CheckedIn {
                next.check_in_at = Some(now);
            }
            logs.push(request(&mut next, requested, ev.clone(), who, now, new_id()));
        }
        Command::Task(task, ev) => {
            if !assigned {
                return Err(forbidden("only the assigned technician reports progress"));
            }
            ensure_free()?;
            if !working(t.status) || !TASKS.contains(task) {
                return Err(invalid_transition(cmd, t.status));
            }
            next.status = *task;
            next.link_check_approved = false;
            let mut log = NewLog::simple(*task, title_of(*task), format!("{who} reported {task}"), now);
            log.evidence_id = Some(new_id());
            log.evidence = ev.clone();
            logs.push(log);
        }
        Command::Pending { evidence, category, minutes } => {
            if !(noc || assigned) {
                return Err(forbidden(
                    "only the NOC of the region or the assigned technician puts a ticket on hold",
                ));
            }
            if noc {
                supersede(&mut next, &mut updates, "the NOC's pending");
            } else {
                ensure_free()?;
            }
            if !pendable(next.status) {
                return Err(invalid_transition(cmd, t.status));
            }
            if !(1..=MAX_PENDING_MINUTES).contains(minutes) {
                return Err(DomainError::invalid(
                    "pendingInterval",
                    format!("must be 1 to {MAX_PENDING_MINUTES} minutes"),
                ));
            }
            let mut log = request(&mut next, Status::Pending, evidence.clone(), who, now, new_id());
            next.pending_minutes = Some(*minutes);
            next.pending_category = Some(*category);
            log.pending_minutes = Some(*minutes);
            log.pending_category = Some(*category);
            log.is_resumed = Some(false);
            if noc {
                // The NOC's own pending needs nobody's approval: it starts now.
                let id = log.evidence_id.expect("requests carry evidence");
                log.is_approved = Some(true);
                log.card_type = CardType::RequestValidationDone;
                log.title = "Pending".into();
                log.description = format!("{who} put the ticket on hold");
                next.need_validate = false;
                next.awaiting_evidence = None;
                start_pending(&mut next, id, *minutes, now);
            }
            logs.push(log);
        }
        Command::Cancel { evidence, category } => {
            if !(noc || assigned) {
                return Err(forbidden(
                    "only the NOC of the region or the assigned technician cancels a ticket",
                ));
            }
            if noc {
                supersede(&mut next, &mut updates, "the NOC's cancel");
            } else {
                ensure_free()?;
            }
            if t.status == Status::Closed {
                return Err(invalid_transition(cmd, t.status));
            }
            let mut log = request(&mut next, Status::Canceled, evidence.clone(), who, now, new_id());
            log.cancel_category = Some(*category);
            if noc {
                log.is_approved = Some(true);
                log.card_type = CardType::RequestValidationDone;
                log.title = "Ticket canceled".into();
                log.description = format!("{who} canceled the ticket");
                next.need_validate = false;
                next.awaiting_evidence = None;
                close(&mut next, true, now);
            }
            logs.push(log);
        }
        Command::Resume => {
            if !(noc || assigned) {
                return Err(forbidden(
                    "only the NOC of the region or the assigned technician resumes a ticket",
                ));
            }
            if t.status != Status::Pending || t.need_validate || t.pending_evidence.is_none() {
                return Err(DomainError::conflict("no_running_pending", "the ticket has no running pending"));
            }
            let (evidence_id, minutes) = end_pending(&mut next, now);
            updates.push(LogUpdate::Resumed { evidence_id, minutes });
            let back = next.status;
            logs.push(NewLog::simple(back, "Work resumed", format!("{who} resumed the ticket"), now));
        }
        Command::ExpirePending { evidence_id } => {
            let running = t.status == Status::Pending && t.pending_evidence == Some(*evidence_id);
            if !running || t.pending_due().is_none_or(|d| d > now) {
                return Err(DomainError::conflict(
                    "no_running_pending",
                    "that pending is not running or not over",
                ));
            }
            let (evidence_id, minutes) = end_pending(&mut next, now);
            updates.push(LogUpdate::Resumed { evidence_id, minutes });
            logs.push(NewLog::simple(next.status, "Work resumed", "the pending interval is over", now));
        }
        Command::Validate { evidence_id, approved, remark } => {
            if !noc {
                return Err(forbidden("only the NOC of the ticket's region validates evidence"));
            }
            if !t.need_validate || t.awaiting_evidence != Some(*evidence_id) {
                return Err(DomainError::conflict(
                    "already_validated",
                    "this evidence does not wait for validation",
                ));
            }
            validate(&mut next, &mut logs, *evidence_id, *approved, remark.clone(), who, now);
            updates.push(LogUpdate::Validated {
                evidence_id: *evidence_id,
                approved: *approved,
                remark: remark.clone(),
            });
            // A rejected request (a cancel asked during a pending) returns to a pending whose
            // interval may have run out while it waited: that pending ends now, as its expiry
            // would have ended it.
            if next.status == Status::Pending && next.pending_due().is_some_and(|due| due <= now) {
                let (evidence_id, minutes) = end_pending(&mut next, now);
                updates.push(LogUpdate::Resumed { evidence_id, minutes });
                logs.push(NewLog::simple(
                    next.status,
                    "Work resumed",
                    "the pending interval ran out while a request waited",
                    now,
                ));
            }
        }
    }
    for log in &mut logs {
        conform(log, t, &next, new_id);
    }
    Ok(Change { next, logs, updates })
}

/// What the contract says a log entry of a status must carry besides the common fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogKeys {
    /// `evidenceId` is a UUID.
    pub evidence: bool,
    /// The value `needApproval` has.
    pub need_approval: bool,
    /// `pendingInterval`, `pendingCategory` and `isResumed` have values.
    pub pending: bool,
}

/// The keys an entry of `status` must carry (the contract's "TicketLogs" list).
pub fn log_keys(status: Status) -> LogKeys {
    use Status as S;
    match status {
        S::CheckedIn | S::Closed | S::Canceled | S::Finishing | S::LinkChecking => {
            LogKeys { evidence: true, need_approval: true, pending: false }
        }
        S::Checking | S::PullingCable | S::Jointing | S::Tidying => {
            LogKeys { evidence: true, need_approval: false, pending: false }
        }
        S::Pending => LogKeys { evidence: true, need_approval: true, pending: true },
        S::Draft | S::Open | S::Accepted | S::OnTheWay | S::OnGoing => {
            LogKeys { evidence: false, need_approval: false, pending: false }
        }
    }
}

/// Gives an entry the keys its status must carry, from the ticket before and after the change:
/// an entry that is no request of its own (a reassignment, "work resumed") but shows a status
/// that needs approval carries the verdict the ticket holds on it (`true` once the status
/// stands; while its request waits, `null` and that request's evidence id), and an entry shown
/// in `Pending` carries the pending's interval and category.
fn conform(log: &mut NewLog, before: &TicketState, after: &TicketState, new_id: &mut dyn FnMut() -> Uuid) {
    let keys = log_keys(log.status_name);
    let request = matches!(log.card_type, CardType::RequestValidationAction | CardType::FinishingAction);
    if keys.need_approval && !request && log.is_approved.is_none() {
        if after.need_validate && after.status == log.status_name {
            // The status's request still waits: the entry names that request's evidence, so
            // the NOC's verdict reaches it too and an app that looks for the waiting evidence
            // finds one id.
            log.evidence_id = after.awaiting_evidence.or(log.evidence_id);
        } else {
            log.is_approved = Some(true);
        }
    }
    if keys.evidence && log.evidence_id.is_none() {
        log.evidence_id = Some(new_id());
    }
    log.need_approval = keys.need_approval;
    if keys.pending {
        let (minutes, category) = match (after.pending_minutes, after.pending_category) {
            (Some(m), Some(c)) => (Some(m), Some(c)),
            _ => (before.pending_minutes, before.pending_category),
        };
        log.pending_minutes = log.pending_minutes.or(minutes);
        log.pending_category = log.pending_category.or(category);
        log.is_resumed = log.is_resumed.or(Some(false));
    }
}

fn title_of(status: Status) -> &'static str {
    match status {
        Status::Checking => "Checking",
        Status::PullingCable => "Pulling cable",
        Status::Jointing => "Jointing",
        Status::Tidying => "Tidying",
        Status::CheckedIn => "Check-in",
        Status::LinkChecking => "Link checking",
        Status::Finishing => "Finishing",
        Status::Pending => "Pending request",
        Status::Canceled => "Cancel request",
        _ => "Status change",
    }
}

/// Closes the technician's request that waits for the NOC, if one does, as superseded by the
/// NOC's own command (`by`): its log entry is rejected with a remark naming that command, and
/// the ticket returns to the status before the request, as on a rejection.
fn supersede(next: &mut TicketState, updates: &mut Vec<LogUpdate>, by: &str) {
    if !next.need_validate {
        return;
    }
    let Some(evidence_id) = next.awaiting_evidence.take() else { return };
    next.need_validate = false;
    return_before_request(next);
    updates.push(LogUpdate::Validated {
        evidence_id,
        approved: false,
        remark: Some(format!("superseded by {by}")),
    });
}

/// A request that is not granted (rejected or superseded): the ticket returns to the status
/// before it, and a pending it asked for is forgotten.
fn return_before_request(next: &mut TicketState) {
    if next.status == Status::Pending {
        next.pending_minutes = None;
        next.pending_category = None;
    }
    next.status = next.status_before.take().unwrap_or(Status::Accepted);
}

/// Turns `next` into "waiting for the NOC on `requested`" and returns the request's log entry.
fn request(
    next: &mut TicketState,
    requested: Status,
    evidence: Evidence,
    who: &str,
    now: DateTime<Utc>,
    id: Uuid,
) -> NewLog {
    next.status_before = Some(next.status);
    next.status = requested;
    next.need_validate = true;
    next.awaiting_evidence = Some(id);
    NewLog {
        card_type: if requested == Status::Finishing {
            CardType::FinishingAction
        } else {
            CardType::RequestValidationAction
        },
        status_name: requested,
        title: title_of(requested).to_owned(),
        description: format!("{who} asks to validate {requested}"),
        evidence_id: Some(id),
        need_approval: true,
        is_approved: None,
        approval_remark: None,
        evidence,
        pending_minutes: None,
        pending_category: None,
        cancel_category: None,
        is_resumed: None,
        foc_before: None,
        at: now,
    }
}

fn start_pending(next: &mut TicketState, evidence_id: Uuid, minutes: i64, now: DateTime<Utc>) {
    next.status = Status::Pending;
    next.resume_status = next.status_before.take();
    next.pending_evidence = Some(evidence_id);
    next.pending_started_at = Some(now);
    next.pending_minutes = Some(minutes);
}

/// Ends the running pending: counts its time (at most its interval) and goes back to the
/// status before it. Returns the pending's evidence and its length in whole minutes (rounded up).
fn end_pending(next: &mut TicketState, now: DateTime<Utc>) -> (Uuid, i64) {
    let evidence_id = next.pending_evidence.take().expect("a running pending");
    let started = next.pending_started_at.take().expect("a running pending has a start");
    let allowed = next.pending_minutes.take().unwrap_or(0);
    next.pending_category = None;
    let seconds = (now - started).num_seconds().clamp(0, allowed * 60);
    next.total_pending_seconds += seconds;
    if next.on_going_at.is_some() {
        next.work_pending_seconds += seconds;
    }
    next.status = next.resume_status.take().unwrap_or(Status::Accepted);
    let minutes = ((seconds + 59) / 60).min(allowed);
    (evidence_id, minutes)
}

fn close(next: &mut TicketState, canceled: bool, now: DateTime<Utc>) {
    if next.pending_evidence.is_some() {
        end_pending(next, now);
    }
    next.status = Status::Closed;
    next.status_before = None;
    next.canceled = canceled;
    next.closed_at = Some(now);
}

/// Applies the NOC's verdict on the request that `next` waits for.
fn validate(
    next: &mut TicketState,
    logs: &mut Vec<NewLog>,
    evidence_id: Uuid,
    approved: bool,
    remark: Option<String>,
    who: &str,
    now: DateTime<Utc>,
) {
    let requested = next.status;
    next.need_validate = false;
    next.awaiting_evidence = None;
    let verdict = if approved { "approved" } else { "rejected" };
    let mut log = NewLog::simple(
        requested,
        format!("{} {verdict}", title_of(requested)),
        format!("{who} {verdict} {requested}"),
        now,
    );
    log.card_type = CardType::RequestValidationDone;
    log.evidence_id = Some(evidence_id);
    log.need_approval = true;
    log.is_approved = Some(approved);
    log.approval_remark = remark;
    if !approved {
        return_before_request(next);
        logs.push(log);
        return;
    }
    match requested {
        Status::CheckedIn => {
            next.status = Status::OnGoing;
            next.status_before = None;
            next.on_going_at = Some(now);
            logs.push(log);
            logs.push(NewLog::simple(Status::OnGoing, "Work started", "work at the site is going on", now));
        }
        Status::LinkChecking => {
            next.status_before = None;
            next.link_check_approved = true;
            logs.push(log);
        }
        Status::Finishing => {
            close(next, false, now);
            log.status_name = Status::Closed;
            log.title = "Ticket closed".into();
            logs.push(log);
        }
        Status::Canceled => {
            close(next, true, now);
            log.title = "Ticket canceled".into();
            logs.push(log);
        }
        Status::Pending => {
            let minutes = next.pending_minutes.unwrap_or(0);
            start_pending(next, evidence_id, minutes, now);
            logs.push(log);
        }
        _ => logs.push(log),
    }
}

#[cfg(test)]
#[path = "ticket_tests.rs"]
mod tests;
