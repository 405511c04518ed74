//! The outage rule, as tables: reports under splitters S1..S6 of main splitters M1 (S1..S3),
//! M2 (S4) and M3 (S5, S6), all under POP P1, threshold 3, window 30 minutes. Report `n` comes
//! from customer `n` unless said otherwise.

use chrono::TimeZone;

use super::*;

const RULE: OutageRule = OutageRule { threshold: 3, window: Duration::minutes(30) };

fn id(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

/// Splitter `s` (1..=6), its main splitter, POP P1.
fn under(s: u128) -> Topology {
    let ms = match s {
        1..=3 => 1,
        4 => 2,
        _ => 3,
    };
    Topology { pop: Some("P1".into()), main_splitter: Some(id(100 + ms)), splitter: Some(id(200 + s)) }
}

/// Report `n` of customer `n` under splitter `s`, `minute` minutes into the hour, linked to
/// `outage`.
fn report(n: u128, s: u128, minute: i64, outage: Option<u128>) -> Report {
    let at = Utc.with_ymd_and_hms(2026, 12, 2, 10, 0, 0).unwrap() + Duration::minutes(minute);
    Report { ticket: id(n), client: id(1000 + n), at, under: under(s), outage: outage.map(id) }
}

fn open(element: Element, members: &[u128], merge: &[u128]) -> Decision {
    Decision::Open {
        element,
        members: members.iter().map(|&n| id(n)).collect(),
        merge: merge.iter().map(|&n| id(n)).collect(),
    }
}

#[test]
fn reports_of_enough_customers_under_one_splitter_become_an_outage_within_the_window() {
    let s1 = Element::Splitter(id(201));
    let mut same_customer = report(3, 1, 10, None);
    same_customer.client = id(1001);
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
        // One customer reporting again is one customer.
        (vec![report(1, 1, 0, None), report(2, 1, 5, None)], same_customer, Decision::Alone),
        // Reports under other splitters of the main splitter do not move it up on their own.
        (
            vec![report(1, 1, 0, None), report(2, 1, 5, None), report(4, 2, 5, None), report(5, 3, 5, None)],
            report(3, 1, 10, None),
            open(s1.clone(), &[1, 2, 3], &[]),
        ),
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
    // A main splitter's outage takes every splitter below it, before a splitter's own.
    let up = OpenOutage { id: id(901), element: Element::MainSplitter(id(101)) };
    assert_eq!(decide(&report(6, 2, 5, None), &[], std::slice::from_ref(&up), RULE), Decision::Join(id(901)));
    assert_eq!(decide(&report(7, 1, 5, None), &linked, &[outage, up], RULE), Decision::Join(id(901)));
}

#[test]
fn outages_spanning_enough_splitters_move_up_and_merge_the_ones_below() {
    // Splitter outages at S1 and S2 of M1, and a third forming at S3: three splitters of M1.
    let outages = [
        OpenOutage { id: id(900), element: Element::Splitter(id(201)) },
        OpenOutage { id: id(901), element: Element::Splitter(id(202)) },
    ];
    let mut others: Vec<Report> = (1..=3).map(|n| report(n, 1, 0, Some(900))).collect();
    others.extend((4..=6).map(|n| report(n, 2, 2, Some(901))));
    others.push(report(7, 4, 3, None)); // under M2: not part of it
    others.extend([report(8, 3, 35, None), report(9, 3, 38, None)]);
    let want = open(Element::MainSplitter(id(101)), &[1, 2, 3, 4, 5, 6, 8, 9, 10], &[900, 901]);
    assert_eq!(
        decide(&report(10, 3, 40, None), &others, &outages, RULE),
        want,
        "linked reports count whenever they came"
    );
    // Without the third splitter's outage, the report stays alone.
    assert_eq!(decide(&report(10, 3, 40, None), &others[..7], &outages, RULE), Decision::Alone);

    // With threshold 2, two splitter outages make a main splitter's.
    let two = OutageRule { threshold: 2, ..RULE };
    let one = [OpenOutage { id: id(900), element: Element::Splitter(id(201)) }];
    let others = vec![report(1, 1, 0, Some(900)), report(2, 1, 0, Some(900)), report(3, 2, 1, None)];
    assert_eq!(
        decide(&report(4, 2, 2, None), &others, &one, two),
        open(Element::MainSplitter(id(101)), &[1, 2, 3, 4], &[900])
    );
}

#[test]
fn outages_spanning_enough_main_splitters_move_up_to_the_pop() {
    // Main splitter outages at M1 and M2, and a splitter outage forming under M3.
    let outages = [
        OpenOutage { id: id(910), element: Element::MainSplitter(id(101)) },
        OpenOutage { id: id(911), element: Element::MainSplitter(id(102)) },
    ];
    let mut others: Vec<Report> =
        vec![report(1, 1, 0, Some(910)), report(2, 2, 0, Some(910)), report(3, 4, 0, Some(911))];
    others.extend([report(4, 5, 1, None), report(5, 5, 2, None)]);
    assert_eq!(
        decide(&report(6, 5, 3, None), &others, &outages, RULE),
        open(Element::Pop("P1".into()), &[1, 2, 3, 4, 5, 6], &[910, 911])
    );
    // Two main splitters are not enough: the outage stays at S5.
    assert_eq!(
        decide(&report(6, 5, 3, None), &others[2..], &outages[1..], RULE),
        open(Element::Splitter(id(205)), &[4, 5, 6], &[])
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
