//! The SLA report: tickets of a period grouped by region, ISP and customer type, with how many
//! closed, how many kept or missed their SLA, and how long resolution and pending took.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{CustomerType, Region, SlaType, sla, ticket::TicketState};

/// What the report needs of one ticket.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportTicket {
    pub region: Region,
    pub isp: Option<String>,
    pub customer_type: Option<CustomerType>,
    pub sla_type: SlaType,
    pub closed: bool,
    pub canceled: bool,
    /// Published → closed, minus pending; only for tickets closed by finishing (not canceled).
    pub resolution_seconds: Option<i64>,
    /// All pending time, a running pending up to now.
    pub pending_seconds: i64,
}

impl ReportTicket {
    /// What the report counts of a ticket in `state`, of the client's ISP and customer type,
    /// with the SLA type it has `now`.
    pub fn of(
        state: &TicketState,
        isp: Option<String>,
        customer_type: Option<CustomerType>,
        sla_type: SlaType,
        now: DateTime<Utc>,
    ) -> Self {
        let d = sla::durations(state, now);
        let closed = state.closed_at.is_some();
        Self {
            region: state.region,
            isp,
            customer_type,
            sla_type,
            closed,
            canceled: state.canceled,
            resolution_seconds: (closed && !state.canceled).then_some(d.total),
            pending_seconds: d.total_pending,
        }
    }
}

/// Figures of one group (or of all tickets).
#[derive(Debug, Clone, PartialEq, Default)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(rename_all = "camelCase"))]
pub struct SlaFigures {
    pub tickets: i64,
    /// Closed, by finishing or cancellation.
    pub closed: i64,
    pub canceled: i64,
    pub under_sla: i64,
    pub over_sla: i64,
    /// Tickets without an SLA (no client).
    pub non_sla: i64,
    /// Mean and 90th percentile (nearest rank) of the resolution time of the tickets closed by
    /// finishing, in minutes; null when none closed so.
    pub mean_resolution_minutes: Option<f64>,
    pub p90_resolution_minutes: Option<f64>,
    /// Pending time of all the group's tickets, in minutes: the sum and the mean per ticket.
    pub pending_minutes: f64,
    pub mean_pending_minutes: f64,
}

/// The key of a group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupKey {
    pub region: Region,
    pub isp: Option<String>,
    pub customer_type: Option<CustomerType>,
}

/// Groups ordered by region, ISP (none first) and customer type, and the figures of all.
pub fn aggregate(tickets: &[ReportTicket]) -> (Vec<(GroupKey, SlaFigures)>, SlaFigures) {
    let mut groups: BTreeMap<GroupKey, Vec<&ReportTicket>> = BTreeMap::new();
    for t in tickets {
        let key = GroupKey { region: t.region, isp: t.isp.clone(), customer_type: t.customer_type };
        groups.entry(key).or_default().push(t);
    }
    let all: Vec<&ReportTicket> = tickets.iter().collect();
    (groups.into_iter().map(|(k, ts)| (k, figures(&ts))).collect(), figures(&all))
}

fn figures(tickets: &[&ReportTicket]) -> SlaFigures {
    let count = |f: &dyn Fn(&ReportTicket) -> bool| tickets.iter().filter(|t| f(t)).count() as i64;
    let mut resolutions: Vec<i64> = tickets.iter().filter_map(|t| t.resolution_seconds).collect();
    resolutions.sort_unstable();
    let minutes = |s: i64| s as f64 / 60.0;
    let pending: i64 = tickets.iter().map(|t| t.pending_seconds).sum();
    let n = tickets.len() as i64;
    SlaFigures {
        tickets: n,
        closed: count(&|t| t.closed),
        canceled: count(&|t| t.canceled),
        under_sla: count(&|t| t.sla_type == SlaType::UnderSla),
        over_sla: count(&|t| t.sla_type == SlaType::OverSla),
        non_sla: count(&|t| t.sla_type == SlaType::NonSla),
        mean_resolution_minutes: (!resolutions.is_empty())
            .then(|| round2(minutes(resolutions.iter().sum::<i64>()) / resolutions.len() as f64)),
        p90_resolution_minutes: percentile(&resolutions, 0.9).map(|s| round2(minutes(s))),
        pending_minutes: round2(minutes(pending)),
        mean_pending_minutes: if n == 0 { 0.0 } else { round2(minutes(pending) / n as f64) },
    }
}

/// The nearest-rank percentile of sorted values: the smallest value with at least `p` of all
/// at or below it.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(region: Region, isp: &str, sla: SlaType, resolution_minutes: Option<i64>) -> ReportTicket {
        ReportTicket {
            region,
            isp: Some(isp.into()),
            customer_type: Some(CustomerType::Broadband),
            sla_type: sla,
            closed: resolution_minutes.is_some(),
            canceled: false,
            resolution_seconds: resolution_minutes.map(|m| m * 60),
            pending_seconds: 600,
        }
    }

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 0.9), Some(9));
        assert_eq!(percentile(&v, 1.0), Some(10));
        assert_eq!(percentile(&[5], 0.9), Some(5));
        assert_eq!(percentile(&[1, 2, 3], 0.9), Some(3));
        assert_eq!(percentile(&[], 0.9), None);
    }

    #[test]
    fn groups_and_totals() {
        let tickets = vec![
            ticket(Region::West, "NetA", SlaType::UnderSla, Some(60)),
            ticket(Region::West, "NetA", SlaType::OverSla, Some(300)),
            ticket(Region::West, "NetA", SlaType::UnderSla, None),
            ticket(Region::West, "NetB", SlaType::UnderSla, Some(30)),
        ];
        let (groups, total) = aggregate(&tickets);
        assert_eq!(groups.len(), 2);
        let (key, a) = &groups[0];
        assert_eq!(key.isp.as_deref(), Some("NetA"));
        assert_eq!((a.tickets, a.closed, a.under_sla, a.over_sla, a.non_sla), (3, 2, 2, 1, 0));
        assert_eq!(a.mean_resolution_minutes, Some(180.0));
        assert_eq!(a.p90_resolution_minutes, Some(300.0));
        assert_eq!(a.pending_minutes, 30.0);
        assert_eq!(a.mean_pending_minutes, 10.0);
        assert_eq!((total.tickets, total.closed), (4, 3));
        assert_eq!(total.mean_resolution_minutes, Some(130.0));
        assert_eq!(total.p90_resolution_minutes, Some(300.0));
    }

    #[test]
    fn nothing_closed_has_no_resolution_figures() {
        let (groups, total) = aggregate(&[ticket(Region::West, "NetA", SlaType::NonSla, None)]);
        assert_eq!(groups[0].1.mean_resolution_minutes, None);
        assert_eq!(total.p90_resolution_minutes, None);
        let (groups, total) = aggregate(&[]);
        assert!(groups.is_empty());
        assert_eq!(total, SlaFigures::default());
    }
}

/// What the outage report needs of one outage: its element and region, how long it was down
/// (published to closed, or to now while open) and the customers whose reports it carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOutage {
    pub region: Region,
    pub level: super::OutageLevel,
    pub element: String,
    pub minutes_down: i64,
    pub customers: i64,
}

/// Figures of one element's outages (or of all): the basis for SLA credits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
#[cfg_attr(feature = "openapi", oai(rename_all = "camelCase"))]
pub struct OutageFigures {
    pub outages: i64,
    pub minutes_down: i64,
    pub customers_affected: i64,
    /// Minutes down times the customers, summed over the outages.
    pub customer_minutes: i64,
}

impl OutageFigures {
    fn add(&mut self, o: &ReportOutage) {
        self.outages += 1;
        self.minutes_down += o.minutes_down;
        self.customers_affected += o.customers;
        self.customer_minutes += o.minutes_down * o.customers;
    }
}

/// An element of the outage report: its region, level and name.
pub type OutageKey = (Region, super::OutageLevel, String);

/// The outages grouped by (region, level, element), in that order, and the total.
pub fn aggregate_outages(rows: &[ReportOutage]) -> (Vec<(OutageKey, OutageFigures)>, OutageFigures) {
    let mut groups: BTreeMap<OutageKey, OutageFigures> = BTreeMap::new();
    let mut total = OutageFigures::default();
    for o in rows {
        groups.entry((o.region, o.level, o.element.clone())).or_default().add(o);
        total.add(o);
    }
    (groups.into_iter().collect(), total)
}

#[cfg(test)]
mod outage_tests {
    use super::*;
    use crate::domain::OutageLevel;

    #[test]
    fn outages_add_up_per_element_with_customer_minutes() {
        let o = |element: &str, minutes_down, customers| ReportOutage {
            region: Region::West,
            level: OutageLevel::Splitter,
            element: element.into(),
            minutes_down,
            customers,
        };
        let (groups, total) = aggregate_outages(&[o("SP-2", 30, 4), o("SP-1", 90, 10), o("SP-2", 10, 3)]);
        let names: Vec<&str> = groups.iter().map(|((_, _, e), _)| e.as_str()).collect();
        assert_eq!(names, ["SP-1", "SP-2"]);
        assert_eq!(
            groups[1].1,
            OutageFigures { outages: 2, minutes_down: 40, customers_affected: 7, customer_minutes: 150 }
        );
        assert_eq!(
            total,
            OutageFigures { outages: 3, minutes_down: 130, customers_affected: 17, customer_minutes: 1050 }
        );
    }
}
