//! The state machine's tests: here the situations a ticket can be in and who calls;
//! `cells.rs` every status × command × actor and the keys of every log entry, `paths.rs` whole
//! paths and the arithmetic of times.

use chrono::TimeZone;

use super::*;
use crate::DomainError;
use crate::domain::access::Actor;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).unwrap()
}

fn blank(status: Status) -> TicketState {
    TicketState::new(Uuid::now_v7(), Region::West, status)
}

fn evidence() -> Evidence {
    Evidence {
        media_url: Some("https://x/p.jpg".into()),
        remark: Some("ok".into()),
        location: Some("1,1".into()),
        check: None,
    }
}

/// The situations a ticket can be in, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Situation {
    Draft,
    Open,
    Accepted,
    OnTheWay,
    CheckInAwaiting,
    OnGoing,
    Task(Status),
    LinkCheckingAwaiting,
    LinkCheckingApproved,
    FinishingAwaiting,
    PendingAwaiting,
    PendingRunning,
    CancelAwaiting,
    Closed,
}

const SITUATIONS: [Situation; 17] = [
    Situation::Draft,
    Situation::Open,
    Situation::Accepted,
    Situation::OnTheWay,
    Situation::CheckInAwaiting,
    Situation::OnGoing,
    Situation::Task(Status::Checking),
    Situation::Task(Status::PullingCable),
    Situation::Task(Status::Jointing),
    Situation::Task(Status::Tidying),
    Situation::LinkCheckingAwaiting,
    Situation::LinkCheckingApproved,
    Situation::FinishingAwaiting,
    Situation::PendingAwaiting,
    Situation::PendingRunning,
    Situation::CancelAwaiting,
    Situation::Closed,
];

fn ticket(s: Situation, foc: Uuid) -> TicketState {
    let awaiting = |status: Status, before: Status| {
        let mut t = blank(status);
        t.foc_id = Some(foc);
        t.need_validate = true;
        t.awaiting_evidence = Some(Uuid::now_v7());
        t.status_before = Some(before);
        t
    };
    let assigned = |status: Status| {
        let mut t = blank(status);
        t.foc_id = Some(foc);
        t
    };
    match s {
        Situation::Draft => blank(Status::Draft),
        Situation::Open => blank(Status::Open),
        Situation::Accepted => assigned(Status::Accepted),
        Situation::OnTheWay => assigned(Status::OnTheWay),
        Situation::CheckInAwaiting => awaiting(Status::CheckedIn, Status::OnTheWay),
        Situation::OnGoing => assigned(Status::OnGoing),
        Situation::Task(task) => assigned(task),
        Situation::LinkCheckingAwaiting => awaiting(Status::LinkChecking, Status::Jointing),
        Situation::LinkCheckingApproved => {
            let mut t = assigned(Status::LinkChecking);
            t.link_check_approved = true;
            t
        }
        Situation::FinishingAwaiting => {
            let mut t = awaiting(Status::Finishing, Status::LinkChecking);
            t.link_check_approved = true;
            t
        }
        Situation::PendingAwaiting => {
            let mut t = awaiting(Status::Pending, Status::OnGoing);
            t.pending_minutes = Some(60);
            t.pending_category = Some(PendingCategory::WaitingForMaterial);
            t
        }
        Situation::PendingRunning => {
            let mut t = assigned(Status::Pending);
            t.pending_evidence = Some(Uuid::now_v7());
            t.pending_started_at = Some(t0());
            t.pending_minutes = Some(60);
            t.pending_category = Some(PendingCategory::WaitingForMaterial);
            t.resume_status = Some(Status::OnGoing);
            t
        }
        Situation::CancelAwaiting => awaiting(Status::Canceled, Status::OnGoing),
        Situation::Closed => assigned(Status::Closed),
    }
}

/// Who calls: the roles, in and out of the ticket's region, assigned or not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    SuperAdmin,
    NocHere,
    NocElsewhere,
    SupervisorAssigned,
    SupervisorHere,
    FocAssigned,
    FocHere,
    FocElsewhere,
}

const EVERYONE: [Who; 8] = [
    Who::SuperAdmin,
    Who::NocHere,
    Who::NocElsewhere,
    Who::SupervisorAssigned,
    Who::SupervisorHere,
    Who::FocAssigned,
    Who::FocHere,
    Who::FocElsewhere,
];

fn actor(who: Who) -> Actor {
    let (role, region) = match who {
        Who::SuperAdmin => (Role::SuperAdmin, Region::East),
        Who::NocHere => (Role::NOC, Region::West),
        Who::NocElsewhere => (Role::NOC, Region::East),
        Who::SupervisorAssigned | Who::SupervisorHere => (Role::FOCSupervisor, Region::West),
        Who::FocAssigned | Who::FocHere => (Role::FOC, Region::West),
        Who::FocElsewhere => (Role::FOC, Region::East),
    };
    Actor { id: Uuid::now_v7(), role, region, name: format!("{who:?}") }
}

fn noc() -> Actor {
    actor(Who::NocHere)
}

/// Runs `cmd` and returns the next state, failing the test on an error.
fn step(t: &TicketState, a: &Actor, cmd: Command, at: DateTime<Utc>) -> (TicketState, Change) {
    let change =
        decide(t, a, &cmd, at, &mut Uuid::now_v7).unwrap_or_else(|e| panic!("{} refused: {e:?}", cmd.name()));
    (change.next.clone(), change)
}

fn validate(t: &TicketState, approved: bool, at: DateTime<Utc>) -> TicketState {
    let cmd = Command::Validate {
        evidence_id: t.awaiting_evidence.unwrap(),
        approved,
        remark: Some("seen".into()),
    };
    step(t, &noc(), cmd, at).0
}

mod cells;
mod outages;
mod paths;
