//! Every status × command × actor cell against the role table, and the keys each entry carries.

use super::*;

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
        Command::Link { outage: Uuid::now_v7(), number: "CGS-202612-0009".into(), moving: false },
        Command::Unlink,
        Command::MergeInto { number: "CGS-202612-0009".into() },
        Command::CloseWithOutage { number: "CGS-202612-0009".into(), pending_seconds: 0 },
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
        // None of these tickets is an outage or part of one.
        Command::Link { .. } => (noc, s == S::Open),
        Command::Unlink | Command::MergeInto { .. } | Command::CloseWithOutage { .. } => (noc, false),
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
    assert_eq!(cells, SITUATIONS.len() * EVERYONE.len() * 20, "17 situations × 8 callers × 20 commands");
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
