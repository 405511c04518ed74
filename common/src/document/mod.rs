//! The ticket document of the contract (`tickets/{id}` in Firestore, `GET /v1/tickets/:id`):
//! its shape here, rendered by one function from the database's state in `render.rs`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{
    CancelCategory, CardType, CustomerType, IndicationCategory, NetworkSegment, OutageLevel, PendingCategory,
    Region, Role, SlaType, Status, TicketSource, TicketType, evidence::EvidenceFlag,
};

mod render;

pub use render::{TicketView, load, load_view, render};

/// Declares a document struct: serde for Firestore and the live feed, and (with the `openapi`
/// feature) the same shape as an OpenAPI object. Both use camelCase names.
macro_rules! document {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(poem_openapi::Object))]
        #[serde(rename_all = "camelCase")]
        #[cfg_attr(feature = "openapi", oai(rename_all = "camelCase"))]
        pub struct $name { $($(#[$fmeta])* pub $field: $ty,)* }
    };
}

document! {
    /// A ticket with its people, client and log, as the apps read it.
    pub struct TicketDocument {
        /// The Firestore document id: the ticket's id.
        pub document_id: Uuid,
        pub id: Uuid,
        /// Human-readable number, e.g. `CGS-202611-0001`.
        pub ticket_id: String,
        /// Seconds from publishing to acceptance.
        pub accepted_duration: i64,
        pub accepted_time: Option<DateTime<Utc>>,
        /// What the ticket waits for: `validate` while a request waits for the NOC.
        pub action: Option<String>,
        pub check_in_time: Option<DateTime<Utc>>,
        pub created_at: DateTime<Utc>,
        pub departure_time: Option<DateTime<Utc>>,
        pub indication: Option<String>,
        pub indication_category: IndicationCategory,
        /// An FOC holds the ticket and it is not closed.
        pub in_progress_by_foc: bool,
        pub is_draft: bool,
        /// The latest task status is an approved link check: finishing may be asked.
        pub is_last_link_checking: bool,
        pub latest_status: Status,
        pub location_remark: Option<String>,
        /// The assigned FOC was deactivated: someone must reassign the ticket.
        pub need_reassign: bool,
        pub need_validate: bool,
        pub network_segment: NetworkSegment,
        pub on_going_time: Option<DateTime<Utc>>,
        /// Seconds from leaving to checking in.
        pub on_the_way_duration: i64,
        pub published_at: Option<DateTime<Utc>>,
        pub region: Region,
        pub remark: Option<String>,
        /// SLA hours; null without a client.
        pub sla: Option<i64>,
        pub sla_type: SlaType,
        /// When the SLA runs out, pending time added.
        pub sla_due_at: Option<DateTime<Utc>>,
        pub source: TicketSource,
        pub total_pending_duration: i64,
        /// Seconds from publishing to closing (or now), pending left out.
        pub total_time: i64,
        #[serde(rename = "type")]
        #[cfg_attr(feature = "openapi", oai(rename = "type"))]
        pub ticket_type: TicketType,
        pub updated_at: DateTime<Utc>,
        /// Seconds from work going on to closing (or now), pending left out.
        pub work_duration: i64,
        pub closed_time: Option<DateTime<Utc>>,
        /// Closed through a cancellation.
        pub is_canceled: bool,
        /// Grows with every change; a copy with a lower version is stale.
        pub version: i64,
        /// The outage this report is linked to (the field works it through the outage).
        pub parent_id: Option<Uuid>,
        /// The ticket is an outage: one fault of a network element, its reports linked to it.
        pub is_outage: bool,
        /// The reports linked to this outage (customers affected); 0 for a report.
        pub child_count: i64,
        /// An outage's network element; null for a report.
        pub outage: Option<OutageDoc>,
        pub address: Option<String>,
        pub contact_person: Vec<ContactPerson>,
        pub foc: Option<UserDoc>,
        // The NOC who opened the ticket (or received its report); always set. (A doc comment
        // here would wrap the reference in the OpenAPI document and name a type of its own.)
        pub noc: UserDoc,
        pub client: ClientDoc,
        pub ticket_logs: Vec<LogDoc>,
    }
}

document! {
    /// The network element an outage is at.
    pub struct OutageDoc {
        pub level: OutageLevel,
        /// The splitter's or main splitter's name, or the POP.
        pub name: String,
    }
}

document! {
    /// Whom to call on site.
    pub struct ContactPerson {
        pub name: String,
        pub phone: String,
    }
}

document! {
    /// An area as embedded in other documents.
    pub struct AreaDoc {
        pub id: Uuid,
        pub name: String,
        pub region: Region,
        pub initial: String,
    }
}

document! {
    /// A user as embedded in a ticket.
    pub struct UserDoc {
        pub id: Uuid,
        pub nik: String,
        pub phone_number: Option<String>,
        pub email: String,
        pub name: String,
        pub role: Role,
        pub region: Region,
        pub profile_photo: Option<String>,
        pub areas: Vec<AreaDoc>,
    }
}

document! {
    /// A named point of the network.
    pub struct PlaceDoc {
        pub name: String,
        pub coordinate: Option<String>,
    }
}

document! {
    /// The client's ISP.
    pub struct IspDoc {
        pub name: String,
        pub brand: String,
        pub initial: String,
    }
}

document! {
    /// The client of a ticket, or `Non SLA` without one.
    pub struct ClientDoc {
        pub id: Option<Uuid>,
        pub cid: Option<String>,
        pub name: String,
        pub address: Option<String>,
        pub coordinate: Option<String>,
        pub city: Option<AreaDoc>,
        pub customer_type: Option<CustomerType>,
        pub pop: Option<PlaceDoc>,
        pub ms: Option<PlaceDoc>,
        pub splitter: Option<PlaceDoc>,
        pub isp: Option<IspDoc>,
    }
}

document! {
    /// Who wrote a log entry.
    pub struct BubbleOption {
        pub photo_url: Option<String>,
        pub name: String,
    }
}

document! {
    /// A labelled value shown on a card.
    pub struct DescriptionField {
        pub name: String,
        pub text: String,
    }
}

document! {
    /// A card's media.
    pub struct LogData {
        pub media_url: Option<String>,
        pub location_coordinate: Option<String>,
    }
}

document! {
    /// The FOC a reassignment took the ticket from.
    pub struct FocBefore {
        pub email: String,
        pub id: Uuid,
        pub name: String,
        pub nik: String,
        pub region: Region,
        pub role: Role,
    }
}

document! {
    /// One entry of a ticket's log.
    pub struct LogDoc {
        pub card_type: CardType,
        pub evidence_id: Option<Uuid>,
        pub timestamp: DateTime<Utc>,
        pub bubble_option: BubbleOption,
        pub title: String,
        pub description: String,
        pub description_fields: Vec<DescriptionField>,
        pub status_name: Status,
        pub data: LogData,
        pub need_approval: bool,
        pub is_approved: Option<bool>,
        pub remark: Option<String>,
        pub approval_remark: Option<String>,
        pub location_coordinate: Option<String>,
        pub media_url: Option<String>,
        /// Minutes; after a resume, how long the pending really was.
        pub pending_interval: Option<i64>,
        pub pending_category: Option<PendingCategory>,
        pub is_resumed: Option<bool>,
        pub cancel_category: Option<CancelCategory>,
        pub foc_before_reassigned: Option<FocBefore>,
        /// Metres from the customer's coordinate to the reported position (check-in and
        /// finishing of a ticket with a client); null where not measured.
        pub distance_meters: Option<i64>,
        /// The GPS position the photo carries in its EXIF (`lat,long`).
        pub photo_coordinate: Option<String>,
        /// When the photo was taken, by its EXIF.
        pub photo_taken_at: Option<DateTime<Utc>>,
        /// Metres from the photo's own position to the reported one.
        pub photo_distance_meters: Option<i64>,
        /// The ticket whose evidence used the same photo first.
        pub reused_from: Option<TicketRef>,
        /// What the evidence checks flagged for the NOC; empty when nothing.
        pub flags: Vec<EvidenceFlag>,
    }
}

document! {
    /// Another ticket, by its id and number.
    pub struct TicketRef {
        pub id: Uuid,
        pub ticket_id: String,
    }
}

/// The document's fields that the contract types `Date` (Firestore Timestamps; the API and the
/// live feed write them as RFC 3339 strings, since JSON has no date type), with the SLA's due
/// time beside them. The `*Time` fields are typed `string` by the contract and stay strings.
pub const DATE_FIELDS: [&str; 4] = ["createdAt", "updatedAt", "publishedAt", "slaDueAt"];

/// The fields of a log entry (`ticketLogs[]`) that the contract types `Date`, with the photo's
/// capture time beside them.
pub const LOG_DATE_FIELDS: [&str; 2] = ["timestamp", "photoTakenAt"];

/// The document's JSON form: the one the API answers, Firestore stores and the live feed sends.
pub fn to_json(doc: &TicketDocument) -> serde_json::Value {
    serde_json::to_value(doc).expect("a ticket document serializes")
}

#[derive(serde::Deserialize)]
struct ContactJson {
    name: String,
    phone: String,
}

impl From<ContactJson> for ContactPerson {
    fn from(c: ContactJson) -> Self {
        Self { name: c.name, phone: c.phone }
    }
}

/// The stored form of a contact list.
pub fn contacts_json(contacts: &[ContactPerson]) -> String {
    serde_json::to_string(contacts).expect("contacts serialize")
}
