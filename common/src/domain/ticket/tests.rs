//! The state machine, cell by cell: every status × command × actor, then the arithmetic.

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

fn evidence() -> Evidence {
    Evidence {
        media_url: Some("https://x/p.jpg".into()),
        remark: Some("ok".into()),
        location: Some("1,1".into()),
    }
}

fn commands(t: &TicketState) -> Vec<Command> {
    let assignee =
        Assignee { id: Uuid::now_v7(), role: Role::FOC, region: Region::West, name: "New FOC".into() };
    let mut cmds = vec![
        Command::Publish,
        Command::Accept,
        Command::Assign(assignee),
        Command::OnTheWay,
        Command::CheckIn(evidence()),
    ];
    cmds.extend(TASKS.iter().map(|task| Command::Task(*task, evidence())));
    cmds.extend([
        Command::LinkChecking(evidence()),
        Command::Finishing(evidence()),
        Command::Pending { evidence: evidence(), category: PendingCategory::Weather, minutes: 30 },
        Command::Cancel { evidence: evidence(), category: CancelCategory::Duplicate },
        Command::Resume,
        Command::Validate {
            evidence_id: t.awaiting_evidence.unwrap_or_else(Uuid::now_v7),
            approved: true,
            remark: None,
        },
        Command::Validate {
            evidence_id: t.awaiting_evidence.unwrap_or_else(Uuid::now_v7),
            approved: false,
            remark: Some("blurred".into()),
        },
    ]);
    cmds
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    NotFound,
    Forbidden,
    Conflict,
}

/// The role table and status flow of the contract notes, written as data.
fn expected(s: Situation, who: Who, cmd: &Command, t: &TicketState, a: &Actor) -> Outcome {
    use Situation as S;
    let work = |s: S| matches!(s, S::OnGoing | S::Task(_) | S::LinkCheckingApproved);
    let awaiting = matches!(
        s,
        S::CheckInAwaiting
            | S::LinkCheckingAwaiting
            | S::FinishingAwaiting
            | S::PendingAwaiting
            | S::CancelAwaiting
    );
    let noc = matches!(who, Who::SuperAdmin | Who::NocHere);
    let assigned = matches!(who, Who::SupervisorAssigned | Who::FocAssigned) && t.foc_id == Some(a.id);
    let field_here =
        matches!(who, Who::SupervisorAssigned | Who::SupervisorHere | Who::FocAssigned | Who::FocHere);
    let (may, applies) = match cmd {
        Command::Publish => (noc, s == S::Draft),
        Command::Accept => (field_here, s == S::Open),
        Command::Assign(_) => (
            noc || matches!(who, Who::SupervisorAssigned | Who::SupervisorHere),
            !matches!(s, S::Draft | S::Closed),
        ),
        Command::OnTheWay => (assigned, s == S::Accepted),
        Command::CheckIn(_) => (assigned, s == S::OnTheWay),
        Command::Task(..) => (assigned, work(s)),
        Command::LinkChecking(_) => (assigned, work(s)),
        Command::Finishing(_) => (assigned, s == S::LinkCheckingApproved),
        // The NOC's pending and cancel supersede a waiting request: the ticket is judged in the
        // status before that request.
        Command::Pending { .. } => {
            let base = match s {
                S::CheckInAwaiting => S::OnTheWay,
                S::LinkCheckingAwaiting => S::Task(Status::Jointing),
                S::FinishingAwaiting => S::LinkCheckingApproved,
                S::PendingAwaiting | S::CancelAwaiting => S::OnGoing,
                s => s,
            };
            let free = noc || !awaiting;
            (noc || assigned, free && (matches!(base, S::Accepted | S::OnTheWay) || work(base)))
        }
        Command::Cancel { .. } => (noc || assigned, s != S::Closed && (noc || !awaiting)),
        Command::Resume => (noc || assigned, s == S::PendingRunning),
        Command::Validate { .. } => (noc, awaiting),
        Command::ExpirePending { .. } => unreachable!(),
    };
    let visible = a.ticket_scope().sees(t.region, t.status, t.foc_id);
    let learns_taken = matches!(cmd, Command::Accept) && field_here;
    if !visible && !learns_taken {
        Outcome::NotFound
    } else if !may {
        Outcome::Forbidden
    } else if !applies {
        Outcome::Conflict
    } else {
        Outcome::Done
    }
}

#[test]
fn every_status_command_and_actor_cell_answers_as_the_role_table_says() {
    let mut cells = 0;
    let mut entries = 0;
    for s in SITUATIONS {
        for who in EVERYONE {
            let a = actor(who);
            let foc =
                if matches!(who, Who::SupervisorAssigned | Who::FocAssigned) { a.id } else { Uuid::now_v7() };
            let t = ticket(s, foc);
            for cmd in commands(&t) {
                let got = match decide(&t, &a, &cmd, t0() + Duration::minutes(10), &mut Uuid::now_v7) {
                    Ok(change) => {
                        entries += change.logs.len();
                        change.logs.iter().for_each(|l| {
                            assert_carries_its_keys(l, &format!("{s:?} {who:?} {}", cmd.name()))
                        });
                        Outcome::Done
                    }
                    Err(DomainError::NotFound(_)) => Outcome::NotFound,
                    Err(DomainError::Forbidden(_)) => Outcome::Forbidden,
                    Err(DomainError::Conflict { .. }) => Outcome::Conflict,
                    Err(other) => panic!("{s:?} {who:?} {}: unexpected {other:?}", cmd.name()),
                };
                assert_eq!(got, expected(s, who, &cmd, &t, &a), "{s:?} / {who:?} / {}", cmd.name());
                cells += 1;
            }
        }
    }
    assert_eq!(cells, SITUATIONS.len() * EVERYONE.len() * 16, "17 situations × 8 callers × 16 commands");
    assert!(entries > 200, "{entries} entries checked");
}

/// Checks that an entry carries, with values, the keys the contract says its status must have.
fn assert_carries_its_keys(l: &NewLog, case: &str) {
    let keys = log_keys(l.status_name);
    assert_eq!(l.need_approval, keys.need_approval, "{case}: needApproval of a {} entry", l.status_name);
    if keys.evidence {
        assert!(l.evidence_id.is_some(), "{case}: a {} entry has an evidenceId", l.status_name);
    }
    if keys.pending {
        assert!(
            l.pending_minutes.is_some() && l.pending_category.is_some() && l.is_resumed.is_some(),
            "{case}: a Pending entry has its interval, category and isResumed: {l:?}"
        );
    }
}

#[test]
fn every_kind_of_entry_the_state_machine_writes_carries_the_keys_of_its_status() {
    let foc = actor(Who::FocHere);
    let system = actor(Who::SuperAdmin);
    let mut kinds = Vec::new();
    // Resumed by hand and by expiry, into each status work can pause in.
    for back in [Status::Accepted, Status::OnTheWay, Status::OnGoing, Status::Checking, Status::LinkChecking]
    {
        let mut t = ticket(Situation::PendingRunning, foc.id);
        t.resume_status = Some(back);
        t.pending_category = Some(PendingCategory::Weather);
        t.link_check_approved = back == Status::LinkChecking;
        let expire = Command::ExpirePending { evidence_id: t.pending_evidence.unwrap() };
        kinds.push(step(&t, &foc, Command::Resume, t0() + Duration::minutes(5)).1);
        kinds.push(step(&t, &system, expire, t0() + Duration::hours(2)).1);
        // A reassignment while the pending runs.
        let other = Assignee { id: Uuid::now_v7(), role: Role::FOC, region: Region::West, name: "B".into() };
        kinds.push(step(&t, &noc(), Command::Assign(other), t0()).1);
    }
    // A rejected cancel that returns to a pending whose time is up.
    let mut t = ticket(Situation::PendingRunning, foc.id);
    t.pending_category = Some(PendingCategory::Weather);
    let (asked, c) =
        step(&t, &foc, Command::Cancel { evidence: evidence(), category: CancelCategory::Other }, t0());
    kinds.push(c);
    let reject =
        Command::Validate { evidence_id: asked.awaiting_evidence.unwrap(), approved: false, remark: None };
    kinds.push(step(&asked, &noc(), reject, t0() + Duration::hours(3)).1);
    // A reassignment while each request waits.
    for s in [Situation::CheckInAwaiting, Situation::PendingAwaiting, Situation::FinishingAwaiting] {
        let mut t = ticket(s, foc.id);
        t.pending_category = t.pending_minutes.map(|_| PendingCategory::Weather);
        let other = Assignee { id: Uuid::now_v7(), role: Role::FOC, region: Region::West, name: "B".into() };
        let c = step(&t, &noc(), Command::Assign(other), t0()).1;
        assert_eq!(c.logs[0].is_approved, None, "{s:?}: the request still waits");
        assert_eq!(c.logs[0].evidence_id, t.awaiting_evidence, "{s:?}: the entry names the waiting evidence");
        kinds.push(c);
    }
    let mut entries = 0;
    for change in &kinds {
        for l in &change.logs {
            assert_carries_its_keys(l, &format!("{} / {}", l.title, l.status_name));
            entries += 1;
        }
    }
    assert_eq!(entries, 5 * 3 + 2 + 1 + 3, "every entry of these kinds");
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

#[test]
fn the_happy_path_reaches_closed_with_every_timestamp() {
    let foc = actor(Who::FocHere);
    let m = |n: i64| t0() + Duration::minutes(n);
    let t = blank(Status::Draft);
    let (t, _) = step(&t, &noc(), Command::Publish, m(0));
    let (t, _) = step(&t, &foc, Command::Accept, m(5));
    assert_eq!(t.foc_id, Some(foc.id));
    let (t, _) = step(&t, &foc, Command::OnTheWay, m(6));
    let (t, c) = step(&t, &foc, Command::CheckIn(evidence()), m(30));
    assert!(t.need_validate && t.status == Status::CheckedIn);
    assert_eq!(c.logs[0].card_type, CardType::RequestValidationAction);
    assert_eq!(c.logs[0].is_approved, None);
    let t = validate(&t, true, m(31));
    assert_eq!(t.status, Status::OnGoing);
    let (t, _) = step(&t, &foc, Command::Task(Status::Jointing, evidence()), m(40));
    let (t, _) = step(&t, &foc, Command::Task(Status::Checking, evidence()), m(45));
    let (t, _) = step(&t, &foc, Command::Task(Status::Checking, evidence()), m(46));
    let (t, _) = step(&t, &foc, Command::LinkChecking(evidence()), m(50));
    let t = validate(&t, true, m(51));
    assert!(t.status == Status::LinkChecking && t.link_check_approved);
    let (t, c) = step(&t, &foc, Command::Finishing(evidence()), m(55));
    assert_eq!(c.logs[0].card_type, CardType::FinishingAction);
    let t = validate(&t, true, m(60));
    assert_eq!(t.status, Status::Closed);
    assert!(!t.canceled);
    assert_eq!(
        (t.published_at, t.accepted_at, t.departure_at, t.check_in_at, t.on_going_at, t.closed_at),
        (Some(m(0)), Some(m(5)), Some(m(6)), Some(m(30)), Some(m(31)), Some(m(60)))
    );
}

#[test]
fn a_rejected_request_returns_to_the_status_before_it() {
    let foc = actor(Who::FocHere);
    let mut t = blank(Status::OnTheWay);
    t.foc_id = Some(foc.id);
    let (t, _) = step(&t, &foc, Command::CheckIn(evidence()), t0());
    let t = validate(&t, false, t0());
    assert_eq!((t.status, t.need_validate), (Status::OnTheWay, false));
    let (t, _) = step(&t, &foc, Command::CheckIn(evidence()), t0());
    assert_eq!(t.status, Status::CheckedIn, "the technician may try again");
    let mut t = ticket(Situation::FinishingAwaiting, foc.id);
    t = validate(&t, false, t0());
    assert!(t.status == Status::LinkChecking && t.link_check_approved, "finishing may be asked again");
}

#[test]
fn a_task_step_after_an_approved_link_check_needs_a_new_link_check() {
    let foc = actor(Who::FocHere);
    let t = ticket(Situation::LinkCheckingApproved, foc.id);
    let (t, _) = step(&t, &foc, Command::Task(Status::Tidying, evidence()), t0());
    assert!(!t.link_check_approved);
    assert!(matches!(
        decide(&t, &foc, &Command::Finishing(evidence()), t0(), &mut Uuid::now_v7),
        Err(DomainError::Conflict { .. })
    ));
}

#[test]
fn an_approved_pending_runs_until_resumed_and_counts_only_its_time() {
    let foc = actor(Who::FocHere);
    let mut t = ticket(Situation::OnGoing, foc.id);
    t.on_going_at = Some(t0());
    let ask = Command::Pending { evidence: evidence(), category: PendingCategory::Weather, minutes: 60 };
    let (t, c) = step(&t, &foc, ask, t0());
    assert_eq!(c.logs[0].pending_minutes, Some(60));
    assert_eq!(c.logs[0].is_resumed, Some(false));
    let pending_id = t.awaiting_evidence.unwrap();
    assert!(
        matches!(
            decide(&t, &foc, &Command::Resume, t0(), &mut Uuid::now_v7),
            Err(DomainError::Conflict { .. })
        ),
        "not approved yet"
    );
    let t = validate(&t, true, t0() + Duration::minutes(5));
    assert_eq!((t.status, t.pending_evidence), (Status::Pending, Some(pending_id)));
    // Resumed after 20 min 10 s: the interval becomes 21 minutes (rounded up), 1210 s count.
    let (t, c) = step(&t, &foc, Command::Resume, t0() + Duration::seconds(25 * 60 + 10));
    assert_eq!(c.updates, vec![LogUpdate::Resumed { evidence_id: pending_id, minutes: 21 }]);
    assert_eq!(t.status, Status::OnGoing);
    assert_eq!((t.total_pending_seconds, t.work_pending_seconds), (1210, 1210));
    assert_eq!(t.pending_evidence, None);
}

#[test]
fn a_pending_resumed_after_its_interval_counts_only_the_interval() {
    let foc = actor(Who::FocHere);
    let t = ticket(Situation::PendingRunning, foc.id);
    let (t, c) = step(&t, &foc, Command::Resume, t0() + Duration::hours(5));
    assert_eq!(t.total_pending_seconds, 3600);
    assert!(matches!(c.updates[0], LogUpdate::Resumed { minutes: 60, .. }));
}

#[test]
fn the_worker_expires_a_pending_only_once_its_interval_is_over() {
    let foc = actor(Who::FocHere);
    let t = ticket(Situation::PendingRunning, foc.id);
    let id = t.pending_evidence.unwrap();
    let system = actor(Who::SuperAdmin);
    let early = decide(
        &t,
        &system,
        &Command::ExpirePending { evidence_id: id },
        t0() + Duration::minutes(59),
        &mut Uuid::now_v7,
    );
    assert!(matches!(early, Err(DomainError::Conflict { .. })));
    let (t, _) = step(&t, &system, Command::ExpirePending { evidence_id: id }, t0() + Duration::minutes(61));
    assert_eq!((t.status, t.total_pending_seconds), (Status::OnGoing, 3600));
}

#[test]
fn the_nocs_pending_and_cancel_apply_at_once() {
    let foc = actor(Who::FocHere);
    let t = ticket(Situation::Task(Status::Jointing), foc.id);
    let (t, c) = step(
        &t,
        &noc(),
        Command::Pending { evidence: Evidence::default(), category: PendingCategory::Other, minutes: 10 },
        t0(),
    );
    assert_eq!(
        (t.status, t.need_validate, t.resume_status),
        (Status::Pending, false, Some(Status::Jointing))
    );
    assert_eq!(c.logs[0].is_approved, Some(true));
    let (t, c) = step(
        &t,
        &noc(),
        Command::Cancel { evidence: Evidence::default(), category: CancelCategory::CustomerRequest },
        t0() + Duration::minutes(4),
    );
    assert_eq!((t.status, t.canceled, t.total_pending_seconds), (Status::Closed, true, 240));
    assert_eq!(c.logs[0].status_name, Status::Canceled, "the record says it was canceled");
    let draft = blank(Status::Draft);
    let (t, _) = step(
        &draft,
        &noc(),
        Command::Cancel { evidence: Evidence::default(), category: CancelCategory::Duplicate },
        t0(),
    );
    assert_eq!(t.status, Status::Closed);
}

#[test]
fn an_approved_cancel_request_closes_and_a_rejected_one_keeps_the_pending() {
    let foc = actor(Who::FocHere);
    let t = ticket(Situation::PendingRunning, foc.id);
    let (asked, _) =
        step(&t, &foc, Command::Cancel { evidence: evidence(), category: CancelCategory::WrongReport }, t0());
    let rejected = validate(&asked, false, t0());
    assert_eq!((rejected.status, rejected.pending_evidence), (Status::Pending, t.pending_evidence));
    let (resumed, _) = step(&rejected, &foc, Command::Resume, t0() + Duration::minutes(1));
    assert_eq!(resumed.status, Status::OnGoing, "the pending still knows where work was");
    let approved = validate(&asked, true, t0() + Duration::minutes(2));
    assert_eq!(
        (approved.status, approved.canceled, approved.total_pending_seconds),
        (Status::Closed, true, 120)
    );
}

#[test]
fn reassigning_logs_the_technician_before() {
    let foc = actor(Who::FocHere);
    let t = ticket(Situation::OnGoing, foc.id);
    let new = Assignee { id: Uuid::now_v7(), role: Role::FOC, region: Region::West, name: "B".into() };
    let (t2, c) = step(&t, &noc(), Command::Assign(new.clone()), t0());
    assert_eq!(t2.foc_id, Some(new.id));
    assert_eq!(t2.status, Status::OnGoing);
    assert_eq!(c.logs[0].card_type, CardType::ReassignAction);
    assert_eq!(c.logs[0].foc_before, Some(foc.id));
    let again = decide(&t2, &noc(), &Command::Assign(new), t0(), &mut Uuid::now_v7);
    assert!(matches!(again, Err(DomainError::Conflict { .. })));
    for bad in [
        Assignee { id: Uuid::now_v7(), role: Role::NOC, region: Region::West, name: "N".into() },
        Assignee { id: Uuid::now_v7(), role: Role::FOC, region: Region::East, name: "E".into() },
    ] {
        assert!(matches!(
            decide(&t, &noc(), &Command::Assign(bad), t0(), &mut Uuid::now_v7),
            Err(DomainError::Validation(_))
        ));
    }
}

#[test]
fn a_pending_interval_is_bounded() {
    let foc = actor(Who::FocHere);
    let t = ticket(Situation::OnGoing, foc.id);
    for minutes in [0, -5, MAX_PENDING_MINUTES + 1] {
        let cmd = Command::Pending { evidence: evidence(), category: PendingCategory::Other, minutes };
        assert!(
            matches!(decide(&t, &foc, &cmd, t0(), &mut Uuid::now_v7), Err(DomainError::Validation(_))),
            "{minutes}"
        );
    }
}

#[test]
fn the_nocs_cancel_and_pending_supersede_a_waiting_request() {
    let foc = actor(Who::FocHere);
    for s in [
        Situation::CheckInAwaiting,
        Situation::LinkCheckingAwaiting,
        Situation::FinishingAwaiting,
        Situation::PendingAwaiting,
        Situation::CancelAwaiting,
    ] {
        let t = ticket(s, foc.id);
        let waiting = t.awaiting_evidence.unwrap();
        let superseded = |c: &Change, by: &str| {
            assert_eq!(
                c.updates[0],
                LogUpdate::Validated {
                    evidence_id: waiting,
                    approved: false,
                    remark: Some(format!("superseded by the NOC's {by}")),
                },
                "{s:?}"
            );
        };
        let cancel = Command::Cancel { evidence: Evidence::default(), category: CancelCategory::Duplicate };
        let (closed, c) = step(&t, &noc(), cancel, t0());
        superseded(&c, "cancel");
        assert_eq!((closed.status, closed.canceled, closed.need_validate), (Status::Closed, true, false));
        assert_eq!(closed.awaiting_evidence, None);

        let pending =
            Command::Pending { evidence: Evidence::default(), category: PendingCategory::Other, minutes: 15 };
        let (held, c) = step(&t, &noc(), pending, t0());
        superseded(&c, "pending");
        assert_eq!(
            (held.status, held.need_validate, held.pending_minutes),
            (Status::Pending, false, Some(15))
        );
        assert_eq!(
            held.resume_status, t.status_before,
            "{s:?}: work resumes where it was before the request"
        );
        assert_eq!(c.logs[0].is_approved, Some(true));
    }
    // The technician's own requests still wait their turn.
    let t = ticket(Situation::CheckInAwaiting, foc.id);
    let cancel = Command::Cancel { evidence: evidence(), category: CancelCategory::Duplicate };
    assert!(matches!(
        decide(&t, &foc, &cancel, t0(), &mut Uuid::now_v7),
        Err(DomainError::Conflict { code: "awaiting_validation", .. })
    ));
}

#[test]
fn a_rejected_cancel_returns_to_a_pending_whose_time_is_up_and_resumes_it_at_once() {
    let foc = actor(Who::FocHere);
    let t = ticket(Situation::PendingRunning, foc.id);
    let pending_id = t.pending_evidence.unwrap();
    let ask = Command::Cancel { evidence: evidence(), category: CancelCategory::WrongReport };
    let (asked, _) = step(&t, &foc, ask, t0() + Duration::minutes(30));
    let expire = Command::ExpirePending { evidence_id: pending_id };
    assert!(
        matches!(
            decide(&asked, &actor(Who::SuperAdmin), &expire, t0() + Duration::minutes(61), &mut Uuid::now_v7),
            Err(DomainError::Conflict { .. })
        ),
        "the expiry meets the waiting cancel"
    );
    let cmd =
        Command::Validate { evidence_id: asked.awaiting_evidence.unwrap(), approved: false, remark: None };
    let (back, c) = step(&asked, &noc(), cmd, t0() + Duration::minutes(90));
    assert_eq!((back.status, back.pending_evidence), (Status::OnGoing, None));
    assert_eq!(back.total_pending_seconds, 3600, "the pending counts its interval, not the wait");
    assert!(c.updates.contains(&LogUpdate::Resumed { evidence_id: pending_id, minutes: 60 }));
    assert_eq!(c.logs.last().map(|l| l.title.as_str()), Some("Work resumed"));
    // Rejected before the interval is over: the pending goes on.
    let cmd =
        Command::Validate { evidence_id: asked.awaiting_evidence.unwrap(), approved: false, remark: None };
    let (back, _) = step(&asked, &noc(), cmd, t0() + Duration::minutes(40));
    assert_eq!((back.status, back.pending_evidence), (Status::Pending, Some(pending_id)));
}

#[test]
fn the_ids_of_new_evidence_come_from_the_caller() {
    let foc = actor(Who::FocHere);
    let t = ticket(Situation::OnGoing, foc.id);
    let given = Uuid::from_u128(42);
    let mut asked = 0;
    let mut new_id = || {
        asked += 1;
        given
    };
    let cmd = Command::LinkChecking(evidence());
    let change = decide(&t, &foc, &cmd, t0(), &mut new_id).unwrap();
    assert_eq!(change.next.awaiting_evidence, Some(given));
    assert!(change.logs.iter().all(|l| l.evidence_id == Some(given)), "{:?}", change.logs);
    assert_eq!(asked, 1, "one request, one new id");
}
