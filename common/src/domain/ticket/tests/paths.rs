//! Whole paths through the state machine, and the arithmetic of its times.

use super::*;

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
