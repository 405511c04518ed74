//! SLA arithmetic: hours per customer type, the due time, and the durations of the document.
//! Pending time never counts.

use chrono::{DateTime, Duration, Utc};

use super::{CustomerType, SlaType, ticket::TicketState};

/// SLA hours per customer type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaPolicy {
    pub dedicated_hours: i64,
    pub broadband_hours: i64,
}

impl Default for SlaPolicy {
    fn default() -> Self {
        Self { dedicated_hours: 4, broadband_hours: 24 }
    }
}

impl SlaPolicy {
    pub fn hours(&self, customer_type: CustomerType) -> i64 {
        match customer_type {
            CustomerType::Dedicated => self.dedicated_hours,
            CustomerType::Broadband => self.broadband_hours,
        }
    }
}

/// When the SLA runs out: published + SLA + pending so far. A running pending counts in full
/// (the clock stops for it); a resume that ends it early moves the due time back.
pub fn due_at(t: &TicketState, sla_hours: Option<i64>) -> Option<DateTime<Utc>> {
    let published = t.published_at?;
    let hours = sla_hours?;
    let running = t.pending_started_at.and(t.pending_minutes).unwrap_or(0) * 60;
    Some(published + Duration::hours(hours) + Duration::seconds(t.total_pending_seconds + running))
}

/// `NonSla` without an SLA; else over once the clock (stopped at closing) passes the due time.
pub fn sla_type(
    sla_hours: Option<i64>,
    due: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> SlaType {
    match (sla_hours, due) {
        (None, _) => SlaType::NonSla,
        (Some(_), None) => SlaType::UnderSla,
        (Some(_), Some(due)) if closed_at.unwrap_or(now) > due => SlaType::OverSla,
        _ => SlaType::UnderSla,
    }
}

/// The document's durations, in seconds; a stage not reached yet is 0, a stage going on
/// counts up to `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Durations {
    /// Published → accepted.
    pub accepted: i64,
    /// On the way → checked in.
    pub on_the_way: i64,
    /// On going → closed, minus pending.
    pub work: i64,
    /// All pending time.
    pub total_pending: i64,
    /// Published → closed, minus pending.
    pub total: i64,
}

pub fn durations(t: &TicketState, now: DateTime<Utc>) -> Durations {
    let end = t.closed_at.unwrap_or(now);
    let secs = |from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>| match (from, to) {
        (Some(a), Some(b)) => (b - a).num_seconds().max(0),
        _ => 0,
    };
    // A pending still running counts up to now, at most its interval.
    let running = match (t.pending_started_at, t.pending_minutes) {
        (Some(start), Some(minutes)) => (end - start).num_seconds().clamp(0, minutes * 60),
        _ => 0,
    };
    let total_pending = t.total_pending_seconds + running;
    let work_pending = t.work_pending_seconds + if t.on_going_at.is_some() { running } else { 0 };
    Durations {
        accepted: secs(t.published_at, t.accepted_at),
        on_the_way: secs(t.departure_at, t.check_in_at),
        work: (secs(t.on_going_at, Some(end)) - work_pending).max(0),
        total_pending,
        total: (secs(t.published_at, Some(end)) - total_pending).max(0),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{Region, Status};

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).unwrap() + Duration::hours(h)
    }

    fn state() -> TicketState {
        let mut t = TicketState::new(Uuid::now_v7(), Region::West, Status::OnGoing);
        t.published_at = Some(at(0));
        t.accepted_at = Some(at(1));
        t.departure_at = Some(at(1));
        t.check_in_at = Some(at(2));
        t.on_going_at = Some(at(2));
        t
    }

    #[test]
    fn pending_time_moves_the_due_time_and_is_left_out_of_durations() {
        let mut t = state();
        t.total_pending_seconds = 3600;
        t.work_pending_seconds = 3600;
        assert_eq!(due_at(&t, Some(4)), Some(at(5)));
        assert_eq!(due_at(&t, None), None);
        t.closed_at = Some(at(6));
        let d = durations(&t, at(100));
        assert_eq!(
            d,
            Durations {
                accepted: 3600,
                on_the_way: 3600,
                work: 3 * 3600,
                total_pending: 3600,
                total: 5 * 3600
            }
        );
    }

    #[test]
    fn a_running_pending_stops_the_clock_for_its_interval() {
        let mut t = state();
        t.status = Status::Pending;
        t.pending_started_at = Some(at(3));
        t.pending_minutes = Some(120);
        assert_eq!(due_at(&t, Some(4)), Some(at(6)));
        assert_eq!(durations(&t, at(4)).total_pending, 3600);
        assert_eq!(durations(&t, at(9)).total_pending, 7200, "at most the interval");
        assert_eq!(sla_type(Some(4), due_at(&t, Some(4)), None, at(5)), SlaType::UnderSla);
        assert_eq!(sla_type(Some(4), due_at(&t, Some(4)), None, at(7)), SlaType::OverSla);
    }

    #[test]
    fn sla_type_follows_the_closing_time_and_has_no_sla_without_a_client() {
        let due = Some(at(4));
        assert_eq!(sla_type(None, None, None, at(100)), SlaType::NonSla);
        assert_eq!(sla_type(Some(4), due, Some(at(3)), at(100)), SlaType::UnderSla);
        assert_eq!(sla_type(Some(4), due, Some(at(5)), at(5)), SlaType::OverSla);
        assert_eq!(
            sla_type(Some(4), None, None, at(100)),
            SlaType::UnderSla,
            "a draft's clock has not started"
        );
    }
}
