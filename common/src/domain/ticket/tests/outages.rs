//! Reports linked to an outage: worked through it, closed with it, given back.

use super::*;

fn open_report() -> TicketState {
    let mut t = blank(Status::Open);
    t.published_at = Some(t0());
    t
}

fn link(t: &TicketState, outage: Uuid) -> TicketState {
    step(t, &noc(), Command::Link { outage, number: "CGS-202611-0009".into(), moving: false }, t0()).0
}

fn code(r: Result<Change, DomainError>) -> String {
    match r {
        Err(DomainError::Conflict { code, .. }) => code.to_string(),
        other => panic!("expected a conflict, got {other:?}"),
    }
}

#[test]
fn a_linked_report_is_neither_accepted_nor_assigned_on_its_own() {
    let outage = Uuid::now_v7();
    let t = link(&open_report(), outage);
    assert_eq!(t.parent_id, Some(outage));
    assert_eq!(t.status, Status::Open);
    let foc = actor(Who::FocHere);
    assert_eq!(code(decide(&t, &foc, &Command::Accept, t0(), &mut Uuid::now_v7)), "part_of_outage");
    let assignee = Assignee { id: Uuid::now_v7(), role: Role::FOC, region: Region::West, name: "F".into() };
    assert_eq!(
        code(decide(&t, &noc(), &Command::Assign(assignee), t0(), &mut Uuid::now_v7)),
        "part_of_outage"
    );
    // Linked once; moved only from an outage that merges, into another.
    let again = Command::Link { outage: Uuid::now_v7(), number: "X".into(), moving: false };
    assert_eq!(code(decide(&t, &noc(), &again, t0(), &mut Uuid::now_v7)), "already_linked");
    let to = Uuid::now_v7();
    let (moved, change) =
        step(&t, &noc(), Command::Link { outage: to, number: "CGS-1".into(), moving: true }, t0());
    assert_eq!(moved.parent_id, Some(to));
    assert!(change.logs[0].description.contains("merged into outage CGS-1"));
    // Technicians do not link.
    let cmd = Command::Link { outage, number: "X".into(), moving: false };
    assert!(matches!(
        decide(&open_report(), &foc, &cmd, t0(), &mut Uuid::now_v7),
        Err(DomainError::Forbidden(_))
    ));
}

#[test]
fn unlinking_gives_the_report_back_to_be_accepted() {
    let t = link(&open_report(), Uuid::now_v7());
    let (back, change) = step(&t, &noc(), Command::Unlink, t0());
    assert_eq!((back.parent_id, back.status), (None, Status::Open));
    assert_eq!(change.logs[0].status_name, Status::Open);
    step(&back, &actor(Who::FocHere), Command::Accept, t0());
    assert_eq!(code(decide(&back, &noc(), &Command::Unlink, t0(), &mut Uuid::now_v7)), "not_linked");
}

#[test]
fn a_report_closes_with_its_outage_and_the_outage_pending_left_out_as_far_as_it_was_open() {
    let t = link(&open_report(), Uuid::now_v7());
    let at = t0() + Duration::hours(3);
    let cmd = Command::CloseWithOutage { number: "CGS-202611-0009".into(), pending_seconds: 1800 };
    let (closed, change) = step(&t, &noc(), cmd, at);
    assert_eq!((closed.status, closed.canceled, closed.closed_at), (Status::Closed, false, Some(at)));
    assert_eq!(closed.total_pending_seconds, 1800);
    assert_eq!(change.logs[0].status_name, Status::Closed);
    assert_eq!(change.logs[0].description, "closed with outage CGS-202611-0009");
    let d = crate::domain::sla::durations(&closed, at + Duration::hours(1));
    assert_eq!(d.total, 3 * 3600 - 1800, "published to the outage's close, its pending left out");
    // More pending than the report was open for counts as long as it was open.
    let cmd = Command::CloseWithOutage { number: "N".into(), pending_seconds: 99_999 };
    assert_eq!(step(&t, &noc(), cmd, at).0.total_pending_seconds, 3 * 3600);
}

#[test]
fn an_open_outage_merges_into_another_by_closing_canceled() {
    let mut o = open_report();
    o.is_outage = true;
    let (merged, change) = step(&o, &noc(), Command::MergeInto { number: "CGS-2".into() }, t0());
    assert_eq!((merged.status, merged.canceled), (Status::Closed, true));
    assert!(change.logs[0].description.contains("CGS-2"));
    assert_eq!(
        code(decide(&merged, &noc(), &Command::MergeInto { number: "N".into() }, t0(), &mut Uuid::now_v7)),
        "not_an_open_outage"
    );
    // An outage is no report of another.
    let cmd = Command::Link { outage: Uuid::now_v7(), number: "X".into(), moving: false };
    assert_eq!(code(decide(&o, &noc(), &cmd, t0(), &mut Uuid::now_v7)), "is_outage");
}
