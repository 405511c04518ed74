//! The ticket document rendered from a [`TicketView`]: the ticket's row, its log, the users they
//! name and its client, read together (the row and its log in one statement on PostgreSQL).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::*;
use crate::{
    db::{
        Tx, clients,
        tickets::{self, LogRow, TicketRow},
        users::UserRow,
    },
    domain::sla,
    error::DomainError,
};

/// Everything a ticket's document is rendered from: its row, its log, the users they name and
/// its client.
#[derive(Debug, Clone)]
pub struct TicketView {
    pub row: TicketRow,
    pub logs: Vec<LogRow>,
    pub people: HashMap<Uuid, UserRow>,
    pub client: Option<clients::ClientRow>,
}

/// Reads a ticket's view; `None` when there is no such ticket. A fixed number of statements
/// whatever the log's length ([`tickets::with_log`]).
pub async fn load_view(tx: &mut Tx, id: Uuid) -> Result<Option<TicketView>, DomainError> {
    Ok(tickets::with_log(tx, id).await?.map(TicketView::from))
}

impl From<tickets::WithLog> for TicketView {
    fn from(w: tickets::WithLog) -> Self {
        let people = w.people.into_iter().map(|u| (u.id, u)).collect();
        TicketView { row: w.row, logs: w.logs, people, client: w.client }
    }
}

/// Loads and renders a ticket's document; `None` when there is no such ticket.
pub async fn load(tx: &mut Tx, id: Uuid, now: DateTime<Utc>) -> Result<Option<TicketDocument>, DomainError> {
    Ok(load_view(tx, id).await?.map(|view| render(&view, now)))
}

/// Renders a ticket's document as it stands at `now` (its durations and SLA run on the clock).
pub fn render(view: &TicketView, now: DateTime<Utc>) -> TicketDocument {
    let TicketView { row, logs, people, client } = view;
    let client = client.as_ref();
    let state = &row.state;
    let d = sla::durations(state, now);
    let foc = state.foc_id.and_then(|id| people.get(&id));
    let contact_person = serde_json::from_str::<Vec<ContactJson>>(&row.contact_person)
        .map(|v| v.into_iter().map(Into::into).collect())
        .unwrap_or_default();
    TicketDocument {
        document_id: state.id,
        id: state.id,
        ticket_id: row.ticket_id.clone(),
        accepted_duration: d.accepted,
        accepted_time: state.accepted_at,
        action: state.need_validate.then(|| "validate".to_owned()),
        check_in_time: state.check_in_at,
        created_at: row.created_at,
        departure_time: state.departure_at,
        indication: row.indication.clone(),
        indication_category: row.indication_category,
        in_progress_by_foc: state.foc_id.is_some() && state.status != Status::Closed,
        is_draft: state.status == Status::Draft,
        is_last_link_checking: state.link_check_approved,
        latest_status: state.status,
        location_remark: row.location_remark.clone(),
        need_reassign: foc.is_some_and(|f| !f.active) && state.status != Status::Closed,
        need_validate: state.need_validate,
        network_segment: row.network_segment,
        on_going_time: state.on_going_at,
        on_the_way_duration: d.on_the_way,
        published_at: state.published_at,
        region: state.region,
        remark: row.remark.clone(),
        sla: row.sla_hours,
        sla_type: row.sla_type(now),
        sla_due_at: row.sla_due_at,
        source: row.source,
        total_pending_duration: d.total_pending,
        total_time: d.total,
        ticket_type: row.ticket_type,
        updated_at: row.updated_at,
        work_duration: d.work,
        closed_time: state.closed_at,
        is_canceled: state.canceled,
        version: row.version,
        parent_id: state.parent_id,
        is_outage: state.is_outage,
        child_count: row.child_count,
        outage: row.outage_level.zip(row.outage_name.clone()).map(|(level, name)| OutageDoc { level, name }),
        address: row.address.clone(),
        contact_person,
        foc: foc.map(user_doc),
        // The ticket's NOC is a user row that is never deleted (deactivated at most), and
        // `load` reads it: the fallback names the id alone if a caller passed fewer people.
        noc: people.get(&row.noc_id).map(user_doc).unwrap_or_else(|| UserDoc {
            id: row.noc_id,
            nik: String::new(),
            phone_number: None,
            email: String::new(),
            name: String::new(),
            role: Role::NOC,
            region: row.state.region,
            profile_photo: None,
            areas: vec![],
        }),
        client: client_doc(row, client),
        ticket_logs: logs.iter().map(|l| log_doc(l, people)).collect(),
    }
}

fn user_doc(u: &UserRow) -> UserDoc {
    let areas = match (u.area_id, &u.area_name, u.area_region, &u.area_initial) {
        (Some(id), Some(name), Some(region), Some(initial)) => {
            vec![AreaDoc { id, name: name.clone(), region, initial: initial.clone() }]
        }
        _ => vec![],
    };
    UserDoc {
        id: u.id,
        nik: u.nik.clone(),
        phone_number: u.phone_number.clone(),
        email: u.email.clone(),
        name: u.name.clone(),
        role: u.role,
        region: u.region,
        profile_photo: u.profile_photo.clone(),
        areas,
    }
}

fn client_doc(row: &TicketRow, c: Option<&clients::ClientRow>) -> ClientDoc {
    let place = |name: &Option<String>, coordinate: &Option<String>| {
        name.as_ref().map(|n| PlaceDoc { name: n.clone(), coordinate: coordinate.clone() })
    };
    ClientDoc {
        id: c.map(|c| c.id),
        cid: c.map(|c| c.cid.clone()),
        name: row.end_user.clone(),
        address: row.address.clone(),
        coordinate: c.and_then(|c| c.coordinate.clone()),
        city: c.and_then(|c| match (c.city_id, &c.city_name, c.city_region, &c.city_initial) {
            (Some(id), Some(name), Some(region), Some(initial)) => {
                Some(AreaDoc { id, name: name.clone(), region, initial: initial.clone() })
            }
            _ => None,
        }),
        customer_type: row.customer_type,
        pop: c.and_then(|c| place(&c.pop, &None)),
        ms: place(&row.ms_name, &row.ms_location),
        splitter: place(&row.splitter_name, &row.splitter_location),
        isp: c.and_then(|c| match (&c.isp_name, &c.isp_brand, &c.isp_initial) {
            (Some(name), Some(brand), Some(initial)) => {
                Some(IspDoc { name: name.clone(), brand: brand.clone(), initial: initial.clone() })
            }
            _ => None,
        }),
    }
}

fn log_doc(l: &LogRow, people: &HashMap<Uuid, UserRow>) -> LogDoc {
    let actor = l.actor_id.and_then(|id| people.get(&id));
    let mut fields = Vec::new();
    let mut field = |name: &str, text: Option<String>| {
        if let Some(text) = text {
            fields.push(DescriptionField { name: name.to_owned(), text });
        }
    };
    field("Remark", l.remark.clone());
    field("Pending interval", l.pending_minutes.map(|m| format!("{m} minutes")));
    field("Pending category", l.pending_category.map(|c| c.to_string()));
    field("Cancel category", l.cancel_category.map(|c| c.to_string()));
    field("Approval remark", l.approval_remark.clone());
    let check = &l.check;
    let flags = check.flags();
    field(
        "Distance from customer",
        check.distance_meters.map(metres).or_else(|| check.distance_note.clone()),
    );
    field(
        "Photo position",
        check.photo_distance_meters.map(|m| format!("{} from the reported position", metres(m))),
    );
    field("Photo taken", check.photo_taken_at.map(|t| photo_age(t, l.created_at)));
    field("Same photo as", check.reused_from_number.clone());
    field(
        "Flags",
        (!flags.is_empty()).then(|| flags.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(", ")),
    );
    let foc_before = l.foc_before_id.and_then(|id| people.get(&id)).map(|u| FocBefore {
        email: u.email.clone(),
        id: u.id,
        name: u.name.clone(),
        nik: u.nik.clone(),
        region: u.region,
        role: u.role,
    });
    LogDoc {
        card_type: l.card_type,
        evidence_id: l.evidence_id,
        timestamp: l.created_at,
        bubble_option: BubbleOption {
            photo_url: actor.and_then(|u| u.profile_photo.clone()).or_else(|| l.actor_photo.clone()),
            name: l.actor_name.clone(),
        },
        title: l.title.clone(),
        description: l.description.clone(),
        description_fields: fields,
        status_name: l.status_name,
        data: LogData { media_url: l.media_url.clone(), location_coordinate: l.location_coordinate.clone() },
        need_approval: l.need_approval,
        is_approved: l.is_approved,
        remark: l.remark.clone(),
        approval_remark: l.approval_remark.clone(),
        location_coordinate: l.location_coordinate.clone(),
        media_url: l.media_url.clone(),
        pending_interval: l.pending_minutes,
        pending_category: l.pending_category,
        is_resumed: l.is_resumed,
        cancel_category: l.cancel_category,
        foc_before_reassigned: foc_before,
        distance_meters: check.distance_meters,
        photo_coordinate: check.photo_coordinate.clone(),
        photo_taken_at: check.photo_taken_at,
        photo_distance_meters: check.photo_distance_meters,
        reused_from: check.reused().map(|(id, ticket_id)| TicketRef { id, ticket_id }),
        flags,
    }
}

/// A distance for a person: metres up to a kilometre, then kilometres.
fn metres(m: i64) -> String {
    if m < 1000 { format!("{m} m") } else { format!("{:.1} km", m as f64 / 1000.0) }
}

/// When a photo was taken, against the request it is evidence of.
fn photo_age(taken: DateTime<Utc>, request: DateTime<Utc>) -> String {
    let minutes = (request - taken).num_minutes();
    let when = match minutes {
        0 => "within a minute of the request".to_owned(),
        m if m > 0 => format!("{m} minutes before the request"),
        m => format!("{} minutes after the request", -m),
    };
    format!("{} UTC, {when}", taken.format("%Y-%m-%d %H:%M"))
}
