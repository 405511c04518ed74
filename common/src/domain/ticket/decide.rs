//! `decide()`: for each command, who may give it, from which status, and what it changes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Change, Command, LogUpdate, MAX_PENDING_MINUTES, NewLog, TASKS, TicketState,
    steps::{close, conform, end_pending, request, start_pending, supersede, title_of, validate},
};
use crate::{
    domain::{CardType, Role, Status, access::Actor},
    error::DomainError,
};

fn invalid_transition(cmd: &Command, status: Status) -> DomainError {
    DomainError::conflict("invalid_transition", format!("cannot {} a ticket that is {status}", cmd.name()))
}

fn forbidden(message: &str) -> DomainError {
    DomainError::Forbidden(message.to_owned())
}

/// A report linked to an outage is worked through the outage, not on its own.
fn part_of_outage(t: &TicketState) -> Result<(), DomainError> {
    match t.parent_id {
        Some(parent) => Err(DomainError::conflict(
            "part_of_outage",
            format!("the ticket is part of outage {parent}: accept or assign the outage"),
        )),
        None => Ok(()),
    }
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
            part_of_outage(t)?;
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
            part_of_outage(t)?;
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
        Command::Link { outage, number, moving } => {
            if !noc {
                return Err(forbidden("only the NOC of the ticket's region links it to an outage"));
            }
            if t.is_outage || *outage == t.id {
                return Err(DomainError::conflict("is_outage", "an outage is not linked to another"));
            }
            match t.parent_id {
                Some(parent) if !moving || parent == *outage => {
                    return Err(DomainError::conflict(
                        "already_linked",
                        format!("the ticket is already part of outage {parent}"),
                    ));
                }
                None if *moving => {
                    return Err(DomainError::conflict("not_linked", "the ticket is not part of an outage"));
                }
                _ => {}
            }
            if t.status != Status::Open {
                return Err(invalid_transition(cmd, t.status));
            }
            next.parent_id = Some(*outage);
            let description = match moving {
                true => format!("its outage merged into outage {number}"),
                false => format!("{who} linked the ticket to outage {number}"),
            };
            logs.push(NewLog::simple(Status::Open, "Linked to an outage", description, now));
        }
        Command::MergeInto { number } => {
            if !noc {
                return Err(forbidden("only the NOC of the ticket's region merges outages"));
            }
            if !t.is_outage || t.status == Status::Closed {
                return Err(DomainError::conflict("not_an_open_outage", "only an open outage merges"));
            }
            supersede(&mut next, &mut updates, "the merge of the outage");
            close(&mut next, true, now);
            logs.push(NewLog::simple(
                Status::Closed,
                "Outage merged",
                format!("the outage merged into outage {number}, which takes its reports"),
                now,
            ));
        }
        Command::Unlink => {
            if !noc {
                return Err(forbidden("only the NOC of the ticket's region unlinks it"));
            }
            if t.parent_id.is_none() || t.status != Status::Open {
                return Err(DomainError::conflict(
                    "not_linked",
                    "the ticket is not an open part of an outage",
                ));
            }
            next.parent_id = None;
            logs.push(NewLog::simple(
                Status::Open,
                "Unlinked from the outage",
                format!("{who} gave the ticket back to work on its own"),
                now,
            ));
        }
        Command::CloseWithOutage { number, pending_seconds } => {
            if !noc {
                return Err(forbidden("only the NOC of the ticket's region closes it"));
            }
            if t.parent_id.is_none() || t.status != Status::Open {
                return Err(DomainError::conflict(
                    "not_linked",
                    "the ticket is not an open part of an outage",
                ));
            }
            // The outage's pending counts as the report's own, as far as the report was open.
            let open_for = t.published_at.map_or(0, |p| (now - p).num_seconds().max(0));
            next.total_pending_seconds = t.total_pending_seconds + (*pending_seconds).clamp(0, open_for);
            close(&mut next, false, now);
            logs.push(NewLog::simple(
                Status::Closed,
                "Ticket closed",
                format!("closed with outage {number}"),
                now,
            ));
        }
    }
    for log in &mut logs {
        conform(log, t, &next, new_id);
    }
    Ok(Change { next, logs, updates })
}
