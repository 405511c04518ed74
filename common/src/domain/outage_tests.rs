//! The outage rule, as tables: reports under splitters S1..S4 of main splitters M1 (S1..S3) and
//! M2 (S4), all under POP P1, threshold 3, window 30 minutes.

use chrono::TimeZone;

use super::*;

const RULE: OutageRule = OutageRule { threshold: 3, window: Duration::minutes(30) };

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// Splitter `s` (1..=4), its main splitter, POP P1.
fn under(s: u128) -> Topology {
    let ms = if s <= 3 { 1 } else { 2 };
    Topology { pop: Some("P1".into()), main_splitter: Some(id(100 + ms)), splitter: Some(id(200 + s)) }
}

/// Report `n` under splitter `s`, `minute` minutes into the hour, linked to `outage`.
fn report(n: u128, s: u128, minute: i64, outage: Option<u128>) -> Report {
    let at = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap() + Duration::minutes(minute);
    Report { ticket: id(n), at, under: under(s), outage: outage.map(id) }
}

fn open(element: Element, members: &[u128], merge: &[u128]) -> Decision {
    Decision::Open {
        element,
        members: members.iter().map(|&n| id(n)).collect(),
        merge: merge.iter().map(|&n| id(n)).collect(),
    }
}

#[test]
fn reports_under_one_splitter_become_an_outage_at_the_threshold_within_the_window() {
    let s1 = Element::Splitter(id(201));
    // (others, new, decision)
    let cases: Vec<(Vec<Report>, Report, Decision)> = vec![
        (vec![], report(1, 1, 0, None), Decision::Alone),
        (vec![report(1, 1, 0, None)], report(2, 1, 5, None), Decision::Alone),
        (
            vec![report(1, 1, 0, None), report(2, 1, 5, None)],
            report(3, 1, 10, None),
            open(s1.clone(), &[1, 2, 3], &[]),
        ),
        // The first report is older than the window: two within it are not enough.
        (vec![report(1, 1, 0, None), report(2, 1, 25, None)], report(3, 1, 31, None), Decision::Alone),
        // Other splitters do not count at the splitter.
        (vec![report(1, 1, 0, None), report(2, 2, 5, None)], report(3, 1, 10, None), Decision::Alone),
    ];
    for (i, (others, new, want)) in cases.into_iter().enumerate() {
        assert_eq!(decide(&new, &others, &[], RULE), want, "case {i}");
    }
}

#[test]
fn a_later_report_joins_the_open_outage_of_its_element_whenever_it_comes() {
    let outage = OpenOutage { id: id(900), element: Element::Splitter(id(201)) };
    let linked: Vec<Report> = (1..=3).map(|n| report(n, 1, 0, Some(900))).collect();
    assert_eq!(
        decide(&report(4, 1, 300, None), &linked, std::slice::from_ref(&outage), RULE),
        Decision::Join(id(900))
    );
    // Another splitter's customer does not.
    assert_eq!(decide(&report(5, 4, 5, None), &linked, std::slice::from_ref(&outage), RULE), Decision::Alone);
    // A main splitter's outage takes every splitter below it.
    let up = OpenOutage { id: id(901), element: Element::MainSplitter(id(101)) };
    assert_eq!(decide(&report(6, 2, 5, None), &[], &[up], RULE), Decision::Join(id(901)));
}

#[test]
fn reports_spanning_enough_splitters_move_the_outage_up_and_merge_the_ones_below() {
    // Two splitter outages under M1 (S1, S2), and a report under S3: three splitters of M1.
    let outages = [
        OpenOutage { id: id(900), element: Element::Splitter(id(201)) },
        OpenOutage { id: id(901), element: Element::Splitter(id(202)) },
    ];
    let mut others: Vec<Report> = (1..=3).map(|n| report(n, 1, 0, Some(900))).collect();
    others.extend((4..=6).map(|n| report(n, 2, 2, Some(901))));
    others.push(report(7, 4, 3, None)); // under M2: not part of it
    let want = open(Element::MainSplitter(id(101)), &[1, 2, 3, 4, 5, 6, 8], &[900, 901]);
    assert_eq!(
        decide(&report(8, 3, 40, None), &others, &outages, RULE),
        want,
        "linked reports count whenever they came"
    );

    // Three main splitters of one POP do it at the POP: here two (M1, M2) are not enough.
    let ms = [OpenOutage { id: id(910), element: Element::MainSplitter(id(101)) }];
    let linked: Vec<Report> = (1..=3).map(|n| report(n, n, 0, Some(910))).collect();
    assert_eq!(decide(&report(9, 4, 5, None), &linked, &ms, RULE), Decision::Alone);
    let mut third = report(10, 4, 6, None);
    third.under.main_splitter = Some(id(103));
    third.under.splitter = Some(id(205));
    let mut others = linked.clone();
    others.push(report(9, 4, 5, None));
    assert_eq!(
        decide(&third, &others, &ms, RULE),
        open(Element::Pop("P1".into()), &[1, 2, 3, 9, 10], &[910])
    );
}

#[test]
fn a_report_without_topology_stays_alone() {
    let mut lone = report(1, 1, 0, None);
    lone.under = Topology::default();
    let others: Vec<Report> = (2..=4).map(|n| report(n, 1, 0, None)).collect();
    assert_eq!(decide(&lone, &others, &[], RULE), Decision::Alone);
    // A blank POP name is no POP.
    let blank = Topology { pop: Some(" ".into()), ..Topology::default() };
    assert_eq!(blank.at(OutageLevel::Pop), None);
}
