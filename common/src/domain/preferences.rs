//! What each user chooses to be told: which kinds, on which channels, and the quiet hours (on
//! the clock of the user's region) during which only an SLA breach gets through; the rest is
//! held back until the quiet hours end.

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};

use super::{Channel, NoticeKind, Region};
use crate::error::DomainError;

/// Quiet hours: from `from` to `to` on the region's clock, across midnight when `to` comes
/// first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    pub from: NaiveTime,
    pub to: NaiveTime,
}

/// A user's choices; a user who never chose is told everything, at any hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    pub kinds: Vec<NoticeKind>,
    pub channels: Vec<Channel>,
    pub quiet: Option<QuietHours>,
}

impl Default for Preferences {
    fn default() -> Self {
        Self { kinds: NoticeKind::ALL.to_vec(), channels: Channel::ALL.to_vec(), quiet: None }
    }
}

/// What becomes of a notification under a user's choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Now,
    /// Quiet hours: not before then.
    HeldUntil(DateTime<Utc>),
    /// The user turned this kind or channel off.
    Off,
}

impl QuietHours {
    /// Reads `HH:MM` times; the two must differ.
    pub fn parse(from: &str, to: &str) -> Result<Self, DomainError> {
        let time = |field: &str, v: &str| {
            NaiveTime::parse_from_str(v, "%H:%M").map_err(|_| {
                DomainError::invalid(format!("quietHours.{field}"), "a time of day as HH:MM, e.g. 22:00")
            })
        };
        let q = Self { from: time("from", from)?, to: time("to", to)? };
        if q.from == q.to {
            return Err(DomainError::invalid("quietHours.to", "must differ from quietHours.from"));
        }
        Ok(q)
    }

    /// When the quiet hours that hold `now` end, on `region`'s clock; `None` outside them.
    pub fn ends(&self, region: Region, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let zone = region.utc_offset();
        let local = now.with_timezone(&zone);
        let time = local.time();
        let inside = if self.from < self.to {
            time >= self.from && time < self.to
        } else {
            time >= self.from || time < self.to
        };
        if !inside {
            return None;
        }
        let day = if time < self.to {
            local.date_naive()
        } else {
            local.date_naive().checked_add_days(Days::new(1))?
        };
        zone.from_local_datetime(&day.and_time(self.to)).single().map(|t| t.with_timezone(&Utc))
    }
}

impl Preferences {
    /// What becomes of a notification of `kind` on `channel` to a user of `region` at `now`.
    pub fn delivery(
        &self,
        kind: NoticeKind,
        channel: Channel,
        region: Region,
        now: DateTime<Utc>,
    ) -> Delivery {
        if !self.kinds.contains(&kind) || !self.channels.contains(&channel) {
            return Delivery::Off;
        }
        match self.quiet.and_then(|q| q.ends(region, now)) {
            Some(end) if kind != NoticeKind::SlaBreached => Delivery::HeldUntil(end),
            _ => Delivery::Now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        // 2026-12-02 h:m WIB (UTC+7).
        Region::West.utc_offset().with_ymd_and_hms(2026, 12, 2, h, m, 0).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn quiet_hours_across_midnight_hold_everything_but_a_breach_until_they_end() {
        let p =
            Preferences { quiet: Some(QuietHours::parse("22:00", "06:00").unwrap()), ..Default::default() };
        let morning =
            Region::West.utc_offset().with_ymd_and_hms(2026, 12, 3, 6, 0, 0).unwrap().with_timezone(&Utc);
        // (local time, what a verdict by mail does)
        for (h, m, want) in [
            (21, 59, Delivery::Now),
            (22, 0, Delivery::HeldUntil(morning)),
            (23, 30, Delivery::HeldUntil(morning)),
            (6, 0, Delivery::Now),
            (12, 0, Delivery::Now),
        ] {
            assert_eq!(
                p.delivery(NoticeKind::Verdict, Channel::Mail, Region::West, at(h, m)),
                want,
                "{h}:{m}"
            );
        }
        // After midnight, the same morning.
        let early = p.delivery(NoticeKind::SlaWarning, Channel::Telegram, Region::West, at(3, 0));
        assert_eq!(early, Delivery::HeldUntil(at(6, 0)));
        assert_eq!(
            p.delivery(NoticeKind::SlaBreached, Channel::Mail, Region::West, at(23, 0)),
            Delivery::Now
        );
    }

    #[test]
    fn quiet_hours_within_a_day_and_on_another_regions_clock() {
        let p =
            Preferences { quiet: Some(QuietHours::parse("12:00", "13:30").unwrap()), ..Default::default() };
        assert_eq!(
            p.delivery(NoticeKind::Assignment, Channel::Mail, Region::West, at(11, 59)),
            Delivery::Now
        );
        assert_eq!(
            p.delivery(NoticeKind::Assignment, Channel::Mail, Region::West, at(12, 10)),
            Delivery::HeldUntil(at(13, 30))
        );
        // 12:10 WIB is 14:10 WIT: outside the East's quiet hours.
        assert_eq!(
            p.delivery(NoticeKind::Assignment, Channel::Mail, Region::East, at(12, 10)),
            Delivery::Now
        );
    }

    #[test]
    fn a_kind_or_channel_turned_off_is_not_sent_and_bad_times_are_refused() {
        let p = Preferences {
            kinds: vec![NoticeKind::SlaBreached],
            channels: vec![Channel::Telegram],
            quiet: None,
        };
        assert_eq!(p.delivery(NoticeKind::Verdict, Channel::Telegram, Region::West, at(9, 0)), Delivery::Off);
        assert_eq!(p.delivery(NoticeKind::SlaBreached, Channel::Mail, Region::West, at(9, 0)), Delivery::Off);
        assert_eq!(
            p.delivery(NoticeKind::SlaBreached, Channel::Telegram, Region::West, at(9, 0)),
            Delivery::Now
        );
        assert_eq!(
            Preferences::default().delivery(NoticeKind::NewTicket, Channel::Mail, Region::East, at(2, 0)),
            Delivery::Now
        );
        for (from, to) in [("22:00", "22:00"), ("25:00", "06:00"), ("22", "06:00"), ("", "06:00")] {
            assert!(QuietHours::parse(from, to).is_err(), "{from}-{to}");
        }
    }
}
