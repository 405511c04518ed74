//! The moves several commands share (a request, a pending, closing, a verdict) and the keys a
//! log entry of each status must carry.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Evidence, LogUpdate, NewLog, TicketState};
use crate::domain::{CardType, Status};

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
pub(super) fn conform(
    log: &mut NewLog,
    before: &TicketState,
    after: &TicketState,
    new_id: &mut dyn FnMut() -> Uuid,
) {
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

pub(super) fn title_of(status: Status) -> &'static str {
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
pub(super) fn supersede(next: &mut TicketState, updates: &mut Vec<LogUpdate>, by: &str) {
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
pub(super) fn request(
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

pub(super) fn start_pending(next: &mut TicketState, evidence_id: Uuid, minutes: i64, now: DateTime<Utc>) {
    next.status = Status::Pending;
    next.resume_status = next.status_before.take();
    next.pending_evidence = Some(evidence_id);
    next.pending_started_at = Some(now);
    next.pending_minutes = Some(minutes);
}

/// Ends the running pending: counts its time (at most its interval) and goes back to the
/// status before it. Returns the pending's evidence and its length in whole minutes (rounded up).
pub(super) fn end_pending(next: &mut TicketState, now: DateTime<Utc>) -> (Uuid, i64) {
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

pub(super) fn close(next: &mut TicketState, canceled: bool, now: DateTime<Utc>) {
    if next.pending_evidence.is_some() {
        end_pending(next, now);
    }
    next.status = Status::Closed;
    next.status_before = None;
    next.canceled = canceled;
    next.closed_at = Some(now);
}

/// Applies the NOC's verdict on the request that `next` waits for.
pub(super) fn validate(
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
