//! Reports that arrive by a channel (a Telegram message, a mail) become `Draft` tickets for the
//! NOC to complete and publish: the sender as contact person, the text as remark, attachments as
//! media references. The same code serves every channel.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    DomainError,
    db::{
        Tx,
        tickets::{LogActor, NewTicket, TicketRow},
    },
    db_run,
    document::{ContactPerson, contacts_json},
    domain::{
        IndicationCategory, NetworkSegment, Region, Role, Status, TicketSource, TicketType, access::Actor,
    },
    jobs::Effects,
    service,
};

/// The longest remark a report keeps (the rest is cut, marked `[…]`): a ticket's remark limit,
/// less the mark, so the NOC can send a draft's remark back unchanged when it edits the draft.
pub const MAX_REMARK_CHARS: usize = crate::domain::validate::LONG_MAX - 4;

/// A report from a channel.
#[derive(Debug, Clone)]
pub struct Report {
    pub source: TicketSource,
    /// The sender's name as the channel gives it.
    pub contact_name: String,
    /// How to reach the sender on that channel (`telegram:<chat>`, a mail address).
    pub contact_address: String,
    pub text: String,
    /// References of attached media (`telegram-file:<id>`, a mail attachment's name).
    pub media: Vec<String>,
    /// The sender's account, when the chat or address belongs to a user.
    pub reporter: Option<Actor>,
}

/// Where reports that no user sent go, and the ticket number prefix.
#[derive(Debug, Clone)]
pub struct Inbox {
    pub region: Region,
    pub ticket_prefix: String,
    /// Reports per sender and hour that become drafts.
    pub max_per_hour: i64,
}

/// What became of a report.
#[derive(Debug)]
pub enum Drafted {
    Ticket(Box<TicketRow>),
    /// The sender made [`Inbox::max_per_hour`] reports within the hour: no draft. `tell` the
    /// first time in the window only, so a flood gets one answer.
    OverLimit {
        tell: bool,
    },
}

/// The answer to a sender over the limit.
pub fn over_limit_text(inbox: &Inbox) -> String {
    format!(
        "You have sent {} reports within the hour; further messages are not taken as reports until the hour \
         is over. For an urgent matter please call our NOC.",
        inbox.max_per_hour
    )
}

/// The remark of a report: its text, then one line per media reference, bounded.
pub fn remark(r: &Report) -> String {
    let mut text: String = r.text.trim().to_owned();
    for m in &r.media {
        text.push_str(&format!("\n[media] {m}"));
    }
    let text = printable(text.trim(), true);
    if text.chars().count() > MAX_REMARK_CHARS {
        let cut: String = text.chars().take(MAX_REMARK_CHARS).collect();
        format!("{cut} […]")
    } else {
        text
    }
}

/// `s` without control characters (a database refuses some, like NUL, and none belongs in a
/// ticket), keeping line breaks and tabs when `lines`.
pub fn printable(s: &str, lines: bool) -> String {
    s.chars().filter(|c| !c.is_control() || (lines && matches!(c, '\n' | '\t'))).collect()
}

/// Creates the draft of a report, unless its sender is over [`Inbox::max_per_hour`]. Its NOC is
/// the reporter when a NOC or SuperAdmin sent it; otherwise the region's longest-serving active
/// NOC (the report's region is the reporter's, or the inbox's for outsiders).
pub async fn draft(
    tx: &mut Tx,
    effects: Effects,
    inbox: &Inbox,
    r: &Report,
    now: DateTime<Utc>,
) -> Result<Drafted, DomainError> {
    let sender = r.contact_address.to_lowercase();
    match crate::db::intake::count_report(tx, &sender, now, inbox.max_per_hour).await? {
        crate::db::intake::Admission::Take => {}
        crate::db::intake::Admission::TellOnce => return Ok(Drafted::OverLimit { tell: true }),
        crate::db::intake::Admission::Quiet => return Ok(Drafted::OverLimit { tell: false }),
    }
    let region = r.reporter.as_ref().map_or(inbox.region, |a| a.region);
    let noc = match &r.reporter {
        Some(a) if matches!(a.role, Role::NOC | Role::SuperAdmin) => (a.id, a.name.clone()),
        _ => receiving_noc(tx, region).await?.ok_or_else(|| {
            DomainError::conflict(
                "no_noc",
                format!("no active NOC or SuperAdmin can receive reports for {region}"),
            )
        })?,
    };
    let name: String = printable(&r.contact_name, false).chars().take(200).collect();
    let address: String = printable(&r.contact_address, false).chars().take(200).collect();
    let contacts = [ContactPerson { name: name.clone(), phone: address }];
    let t = NewTicket {
        id: Uuid::now_v7(),
        region,
        client_id: None,
        end_user: crate::domain::NON_SLA.into(),
        customer_type: None,
        sla_hours: None,
        ticket_type: TicketType::Trouble,
        source: r.source,
        network_segment: NetworkSegment::Access,
        indication_category: IndicationCategory::Device,
        indication: None,
        address: None,
        contact_person: contacts_json(&contacts),
        remark: Some(remark(r)),
        location_remark: None,
        ms_name: None,
        ms_location: None,
        splitter_name: None,
        splitter_location: None,
        noc_id: noc.0,
        status: Status::Draft,
        published_at: None,
        outage: None,
    };
    let who = LogActor { id: r.reporter.as_ref().map(|a| a.id), name, photo: None };
    service::tickets::insert(tx, effects, &t, &who, &inbox.ticket_prefix, now)
        .await
        .map(|t| Drafted::Ticket(Box::new(t)))
}

/// The NOC who receives outsiders' reports of a region: its longest-serving active NOC, else
/// the longest-serving SuperAdmin.
async fn receiving_noc(tx: &mut Tx, region: Region) -> Result<Option<(Uuid, String)>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, (Uuid, String)>(
            "SELECT id, name FROM users WHERE active AND ((role = 'NOC' AND region = $1) OR role = 'SuperAdmin') \
             ORDER BY CASE WHEN role = 'NOC' THEN 0 ELSE 1 END, created_at, id LIMIT 1",
        )
        .bind(region)
        .fetch_optional(&mut *c)
        .await?
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(text: &str, media: &[&str]) -> Report {
        Report {
            source: TicketSource::Email,
            contact_name: "Budi".into(),
            contact_address: "budi@example.com".into(),
            text: text.into(),
            media: media.iter().map(|m| m.to_string()).collect(),
            reporter: None,
        }
    }

    #[test]
    fn a_remark_is_the_text_then_the_media_without_control_characters() {
        let r = report("  Mati\u{0}\r\n\tsejak pagi\u{7} ", &["mail-attachment:foto.jpg"]);
        assert_eq!(remark(&r), "Mati\n\tsejak pagi\n[media] mail-attachment:foto.jpg");
        assert_eq!(remark(&report("", &["telegram-file:x"])), "[media] telegram-file:x");
    }

    #[test]
    fn a_long_remark_is_cut_and_marked() {
        let r = report(&"é".repeat(MAX_REMARK_CHARS + 10), &[]);
        let text = remark(&r);
        assert!(text.ends_with(" […]"));
        assert_eq!(text.chars().count(), MAX_REMARK_CHARS + 4);
        assert_eq!(text.chars().count(), crate::domain::validate::LONG_MAX, "a draft's remark fits an edit");
    }
}
