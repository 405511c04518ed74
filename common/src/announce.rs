//! What people are told, in one place: the announcement of a ticket that became `Open` (to the
//! field technicians of its region), the NOC's verdict on a technician's request and an
//! assignment (to the technician), and the follow-ups nobody may miss (a ticket nobody
//! accepted, an SLA about to run out or run out, a request waiting for the NOC). Every channel
//! sends the same words (mail, chat).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{db::tickets::TicketRow, domain::Status, jobs::NotifyKind};

/// The ticket in the web app, when its address is configured.
fn link_of(t: &TicketRow, app_url: Option<&str>) -> Option<String> {
    app_url.map(|base| format!("{}/tickets/{}", base.trim_end_matches('/'), t.state.id))
}

/// "Open it: <link>" on a line of its own, or nothing.
fn open_line(link: &Option<String>) -> String {
    match link {
        Some(url) => format!("\nOpen it: {url}\n"),
        None => String::new(),
    }
}

/// What a technician's request asks for, in a word or two.
fn request_name(requested: Status) -> &'static str {
    match requested {
        Status::CheckedIn => "check-in",
        Status::LinkChecking => "link check",
        Status::Finishing => "finishing",
        Status::Pending => "pending request",
        Status::Canceled => "cancel request",
        _ => "request",
    }
}

/// "1 customer", "7 customers": an outage's reports.
pub fn customers(n: i64) -> String {
    match n {
        1 => "1 customer".to_owned(),
        n => format!("{n} customers"),
    }
}

/// What technicians are told of an open ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement {
    pub ticket_id: Uuid,
    pub number: String,
    pub customer: String,
    pub address: String,
    pub indication: String,
    pub region: String,
    /// Where to accept it, when the web app's address is configured.
    pub accept_url: Option<String>,
    /// For an outage: its element, customers and since when ("Outage at splitter SP-1, 7
    /// customers since 10:42 WIB").
    pub outage: Option<String>,
}

impl Announcement {
    pub fn of(t: &TicketRow, app_url: Option<&str>) -> Self {
        let indication = match t.indication.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(text) => format!("{} ({text})", t.indication_category),
            None => t.indication_category.to_string(),
        };
        Self {
            ticket_id: t.state.id,
            number: t.ticket_id.clone(),
            customer: t.end_user.clone(),
            address: t.address.clone().filter(|a| !a.trim().is_empty()).unwrap_or_else(|| "-".into()),
            indication,
            region: t.state.region.to_string(),
            accept_url: link_of(t, app_url),
            outage: Self::outage_line(t),
        }
    }

    fn outage_line(t: &TicketRow) -> Option<String> {
        let (level, name) = t.outage_level.zip(t.outage_name.as_deref())?;
        let region = t.state.region;
        let since = t.state.published_at.unwrap_or(t.created_at).with_timezone(&region.utc_offset());
        Some(format!(
            "Outage at {} {name}, {} since {} {}",
            level.words(),
            customers(t.child_count),
            since.format("%H:%M"),
            region.clock_name()
        ))
    }

    pub fn subject(&self) -> String {
        match &self.outage {
            Some(line) => format!("{} {line}", self.number),
            None => format!("New ticket {}: {}", self.number, self.customer),
        }
    }

    /// The body: what, where, and how to take it.
    pub fn text(&self) -> String {
        let accept = match &self.accept_url {
            Some(url) => format!("Accept it: {url}"),
            None => format!("Accept it in the CGS app (ticket {}).", self.number),
        };
        if let Some(line) = &self.outage {
            return format!(
                "An outage in {region} needs a technician.\n\n\
                 {line}.\n\
                 Ticket:     {number}\n\
                 Indication: {indication}\n\n\
                 {accept}\n\
                 The first technician to accept it takes it; the customers' reports close with it.\n",
                region = self.region,
                number = self.number,
                indication = self.indication,
            );
        }
        format!(
            "A ticket in {region} needs a technician.\n\n\
             Ticket:     {number}\n\
             Customer:   {customer}\n\
             Address:    {address}\n\
             Indication: {indication}\n\n\
             {accept}\n\
             The first technician to accept it takes it.\n",
            region = self.region,
            number = self.number,
            customer = self.customer,
            address = self.address,
            indication = self.indication,
        )
    }
}

/// The NOC's verdict on a technician's request, as the technician is told it: what was asked,
/// the verdict and its remark, and what to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerdictNotice {
    pub number: String,
    pub customer: String,
    /// The status the request asked for.
    pub requested: Status,
    pub approved: bool,
    pub remark: Option<String>,
    /// The ticket in the web app, when its address is configured.
    pub link: Option<String>,
}

impl VerdictNotice {
    pub fn of(
        t: &TicketRow,
        requested: Status,
        approved: bool,
        remark: Option<String>,
        app_url: Option<&str>,
    ) -> Self {
        Self {
            number: t.ticket_id.clone(),
            customer: t.end_user.clone(),
            requested,
            approved,
            remark: remark.filter(|r| !r.trim().is_empty()),
            link: link_of(t, app_url),
        }
    }

    fn what(&self) -> &'static str {
        request_name(self.requested)
    }

    fn verdict(&self) -> &'static str {
        if self.approved { "approved" } else { "rejected" }
    }

    pub fn subject(&self) -> String {
        format!("{} {}: {} {}", self.number, self.customer, self.what(), self.verdict())
    }

    /// What to do now. (The ticket may have moved on by the time the message is read: the
    /// step follows from the verdict alone.)
    pub fn next_step(&self) -> String {
        match (self.approved, self.requested) {
            (false, _) => format!("Send the {} again with a clear photo taken on site.", self.what()),
            (true, Status::CheckedIn) => "Work can start: report each task step as you go.".into(),
            (true, Status::LinkChecking) => "Finish the ticket with a photo and your position.".into(),
            (true, Status::Finishing) => "The ticket is closed. Thank you.".into(),
            (true, Status::Pending) => "The ticket is pending: resume it as soon as work can go on.".into(),
            (true, Status::Canceled) => "The ticket is closed as canceled.".into(),
            (true, _) => "Open the ticket for what comes next.".into(),
        }
    }

    /// The body: the verdict, the NOC's remark, and the next step.
    pub fn text(&self) -> String {
        let remark = match &self.remark {
            Some(r) => format!("\nThe NOC's remark: {r}\n"),
            None => String::new(),
        };
        let open = open_line(&self.link);
        format!(
            "The NOC {verdict} your {what} on ticket {number} ({customer}).\n{remark}\nNext: {next}\n{open}",
            verdict = self.verdict(),
            what = self.what(),
            number = self.number,
            customer = self.customer,
            next = self.next_step(),
        )
    }
}

/// An assignment, as the technician it names, or the one it replaces, is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentNotice {
    pub number: String,
    pub customer: String,
    pub address: String,
    /// The user told holds the ticket now (`false`: it was given to someone else).
    pub yours: bool,
    pub link: Option<String>,
}

impl AssignmentNotice {
    pub fn of(t: &TicketRow, yours: bool, app_url: Option<&str>) -> Self {
        Self {
            number: t.ticket_id.clone(),
            customer: t.end_user.clone(),
            address: t.address.clone().filter(|a| !a.trim().is_empty()).unwrap_or_else(|| "-".into()),
            yours,
            link: link_of(t, app_url),
        }
    }

    pub fn subject(&self) -> String {
        let what = if self.yours { "assigned to you" } else { "reassigned" };
        format!("{} {}: {what}", self.number, self.customer)
    }

    pub fn text(&self) -> String {
        let open = open_line(&self.link);
        if self.yours {
            format!(
                "Ticket {number} ({customer}) is yours now.\n\nAddress: {address}\n\n\
                 Next: leave for the site and report that you are on the way.\n{open}",
                number = self.number,
                customer = self.customer,
                address = self.address,
            )
        } else {
            format!(
                "Ticket {number} ({customer}) was given to another technician: you no longer hold it.\n{open}",
                number = self.number,
                customer = self.customer,
            )
        }
    }
}

/// A follow-up, as the people concerned are told it (`kind` one of [`NotifyKind::Unaccepted`],
/// [`NotifyKind::SlaWarning`], [`NotifyKind::SlaBreached`], [`NotifyKind::ValidationWaiting`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpNotice {
    pub kind: NotifyKind,
    pub number: String,
    pub customer: String,
    pub address: String,
    pub region: crate::domain::Region,
    /// The technician holding the ticket, by name.
    pub technician: Option<String>,
    /// How long the ticket waited for a technician, or the request for the NOC.
    pub waited_minutes: i64,
    /// When the SLA runs out (or ran out).
    pub due_at: Option<DateTime<Utc>>,
    /// What the waiting request asks for.
    pub requested: Status,
    pub link: Option<String>,
}

impl FollowUpNotice {
    pub fn of(
        t: &TicketRow,
        kind: NotifyKind,
        technician: Option<String>,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
        app_url: Option<&str>,
    ) -> Self {
        Self {
            kind,
            number: t.ticket_id.clone(),
            customer: t.end_user.clone(),
            address: t.address.clone().filter(|a| !a.trim().is_empty()).unwrap_or_else(|| "-".into()),
            region: t.state.region,
            technician,
            waited_minutes: (now - since).num_minutes().max(0),
            due_at: t.sla_due_at,
            requested: t.state.status,
            link: link_of(t, app_url),
        }
    }

    /// The due time on the region's clock ("14:30 WIB").
    fn due(&self) -> String {
        match self.due_at {
            Some(at) => format!(
                "{} {}",
                at.with_timezone(&self.region.utc_offset()).format("%H:%M"),
                self.region.clock_name()
            ),
            None => "-".into(),
        }
    }

    pub fn subject(&self) -> String {
        let what = match self.kind {
            NotifyKind::Unaccepted => format!("not accepted for {} min", self.waited_minutes),
            NotifyKind::SlaWarning => format!("SLA runs out at {}", self.due()),
            NotifyKind::SlaBreached => "SLA breached".into(),
            _ => format!("{} waiting for validation", request_name(self.requested)),
        };
        format!("{} {}: {what}", self.number, self.customer)
    }

    /// The body: what is late, since when, who holds it, and what to do.
    pub fn text(&self) -> String {
        let technician = self.technician.as_deref().unwrap_or("nobody yet");
        let (what, next) = match self.kind {
            NotifyKind::Unaccepted => (
                format!(
                    "Ticket {} ({}) in {} has waited {} minutes and no technician accepted it.",
                    self.number, self.customer, self.region, self.waited_minutes
                ),
                "assign it to a technician, or call one who can take it.",
            ),
            NotifyKind::SlaWarning => (
                format!("The SLA of ticket {} ({}) runs out at {}.", self.number, self.customer, self.due()),
                "make sure the work ends before then, or record a pending with its reason.",
            ),
            NotifyKind::SlaBreached => (
                format!("The SLA of ticket {} ({}) ran out at {}.", self.number, self.customer, self.due()),
                "finish the work as soon as possible and record why it took longer.",
            ),
            _ => (
                format!(
                    "A {} on ticket {} ({}) has waited {} minutes for the NOC's verdict.",
                    request_name(self.requested),
                    self.number,
                    self.customer,
                    self.waited_minutes
                ),
                "approve or reject it: the technician waits for it.",
            ),
        };
        format!(
            "{what}\n\nAddress:    {address}\nTechnician: {technician}\n\nNext: {next}\n{open}",
            address = self.address,
            open = open_line(&self.link),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(requested: Status, approved: bool, remark: Option<&str>) -> VerdictNotice {
        VerdictNotice {
            number: "CGS-202612-0007".into(),
            customer: "PT Satu".into(),
            requested,
            approved,
            remark: remark.map(str::to_owned),
            link: Some("https://app.cgs.test/tickets/x".into()),
        }
    }

    #[test]
    fn a_verdict_says_what_was_decided_why_and_what_comes_next() {
        let n = notice(Status::CheckedIn, false, Some("photo is blurry"));
        assert_eq!(n.subject(), "CGS-202612-0007 PT Satu: check-in rejected");
        let text = n.text();
        for part in [
            "The NOC rejected your check-in on ticket CGS-202612-0007 (PT Satu).",
            "The NOC's remark: photo is blurry",
            "Next: Send the check-in again with a clear photo taken on site.",
            "Open it: https://app.cgs.test/tickets/x",
        ] {
            assert!(text.contains(part), "{part} missing in {text}");
        }
        // (request, its next step once approved)
        for (requested, next) in [
            (Status::CheckedIn, "Work can start"),
            (Status::LinkChecking, "Finish the ticket"),
            (Status::Finishing, "The ticket is closed"),
            (Status::Pending, "The ticket is pending"),
            (Status::Canceled, "closed as canceled"),
        ] {
            let n = notice(requested, true, None);
            assert!(n.subject().ends_with("approved"), "{}", n.subject());
            assert!(n.next_step().contains(next), "{requested}: {}", n.next_step());
            assert!(!n.text().contains("remark"), "no remark, no line: {}", n.text());
        }
    }

    #[test]
    fn an_assignment_tells_the_new_technician_the_way_and_the_old_one_that_it_is_gone() {
        let mut n = AssignmentNotice {
            number: "CGS-202612-0007".into(),
            customer: "PT Satu".into(),
            address: "Jl. Merdeka 1".into(),
            yours: true,
            link: None,
        };
        assert_eq!(n.subject(), "CGS-202612-0007 PT Satu: assigned to you");
        assert!(
            n.text().contains("Address: Jl. Merdeka 1") && n.text().contains("Next: leave for the site"),
            "{}",
            n.text()
        );
        n.yours = false;
        assert_eq!(n.subject(), "CGS-202612-0007 PT Satu: reassigned");
        assert!(n.text().contains("you no longer hold it") && !n.text().contains("Address"), "{}", n.text());
    }

    #[test]
    fn a_follow_up_says_what_is_late_since_when_and_what_to_do() {
        use chrono::TimeZone;
        let mut n = FollowUpNotice {
            kind: NotifyKind::Unaccepted,
            number: "CGS-202612-0007".into(),
            customer: "PT Satu".into(),
            address: "Jl. Merdeka 1".into(),
            region: crate::domain::Region::Central,
            technician: None,
            waited_minutes: 15,
            due_at: Some(Utc.with_ymd_and_hms(2026, 12, 2, 6, 30, 0).unwrap()),
            requested: Status::CheckedIn,
            link: None,
        };
        assert_eq!(n.subject(), "CGS-202612-0007 PT Satu: not accepted for 15 min");
        assert!(
            n.text().contains("in Central has waited 15 minutes") && n.text().contains("nobody yet"),
            "{}",
            n.text()
        );
        n.kind = NotifyKind::SlaWarning;
        n.technician = Some("Budi".into());
        // On the region's clock: 06:30 UTC is 14:30 WITA.
        assert_eq!(n.subject(), "CGS-202612-0007 PT Satu: SLA runs out at 14:30 WITA");
        assert!(n.text().contains("Technician: Budi"), "{}", n.text());
        n.kind = NotifyKind::SlaBreached;
        assert_eq!(n.subject(), "CGS-202612-0007 PT Satu: SLA breached");
        assert!(n.text().contains("ran out at 14:30 WITA"), "{}", n.text());
        n.kind = NotifyKind::ValidationWaiting;
        assert_eq!(n.subject(), "CGS-202612-0007 PT Satu: check-in waiting for validation");
        assert!(n.text().contains("Next: approve or reject it"), "{}", n.text());
    }
}
