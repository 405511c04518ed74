//! What the ticket operations read and answer: the request bodies, the ticket summary, the
//! path enums, and the evidence each step must carry.

use chrono::{DateTime, Utc};
use common::{
    DomainError,
    db::tickets,
    document::ContactPerson,
    domain::{
        CancelCategory, CustomerType, IndicationCategory, NetworkSegment, PendingCategory, Region, Status,
        TicketSource, TicketType,
        ticket::Evidence,
        validate::{Checker, LONG_MAX},
    },
    service,
};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use crate::text::{Coordinate, Long, NotBlank, NotBlankLong, Short, Text, opt};

/// A ticket as lists and status changes show it.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct TicketSummary {
    pub id: Uuid,
    pub ticket_id: String,
    pub region: Region,
    pub end_user: String,
    /// The ticket's latest status.
    pub last_status: Option<Status>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&tickets::TicketRow> for TicketSummary {
    fn from(r: &tickets::TicketRow) -> Self {
        Self {
            id: r.state.id,
            ticket_id: r.ticket_id.clone(),
            region: r.state.region,
            end_user: r.end_user.clone(),
            last_status: Some(r.state.status),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The outage a report joins.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct LinkBody {
    pub parent_id: Uuid,
}

/// Whom to call on site.
#[derive(Debug, Clone, Object)]
pub struct ContactPersonBody {
    pub name: Text<NotBlank>,
    pub phone: Text<NotBlank>,
}

/// A new ticket. With a `client`, region, end user and SLA come from the client.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase", example)]
pub struct NewTicketBody {
    pub client: Option<Uuid>,
    #[oai(rename = "type")]
    pub ticket_type: TicketType,
    pub source: TicketSource,
    /// A draft waits for `publish`; otherwise the ticket opens now, or at a future `publishedAt`.
    #[oai(default)]
    pub is_draft: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub address: Option<Text<Long>>,
    #[oai(default)]
    pub contact_person: Vec<ContactPersonBody>,
    pub customer_type: Option<CustomerType>,
    pub indication_category: IndicationCategory,
    /// The fault as reported, e.g. an indication of the catalogue.
    pub indication: Option<Text<Long>>,
    pub network_segment: NetworkSegment,
    pub remark: Option<Text<Long>>,
    pub location_remark: Option<Text<Long>>,
    pub ms_name: Option<Text<Short>>,
    pub ms_location: Option<Text<Coordinate>>,
    pub splitter_name: Option<Text<Short>>,
    pub splitter_location: Option<Text<Coordinate>>,
    /// Only for a SuperAdmin creating a ticket without a client.
    pub region: Option<Region>,
}

impl poem_openapi::types::Example for NewTicketBody {
    /// A fibre cut reported by phone, without a client (a SuperAdmin names the region).
    fn example() -> Self {
        Self {
            client: None,
            ticket_type: TicketType::Trouble,
            source: TicketSource::Phone,
            is_draft: false,
            published_at: None,
            address: Some(Text::new("Jl. Asia Afrika 8, Bandung")),
            contact_person: vec![ContactPersonBody {
                name: Text::new("Budi"),
                phone: Text::new("0812345678"),
            }],
            customer_type: None,
            indication_category: IndicationCategory::FiberCut,
            indication: Some(Text::new("Kabel putus")),
            network_segment: NetworkSegment::Access,
            remark: Some(Text::new("no signal since 07:00")),
            location_remark: None,
            ms_name: None,
            ms_location: None,
            splitter_name: None,
            splitter_location: None,
            region: Some(Region::West),
        }
    }
}

impl NewTicketBody {
    /// What the ticket rules (`common::service::tickets`) take.
    pub(super) fn into_input(self) -> service::tickets::TicketInput {
        service::tickets::TicketInput {
            ticket_type: self.ticket_type,
            source: self.source,
            network_segment: self.network_segment,
            indication_category: self.indication_category,
            indication: opt(self.indication),
            address: opt(self.address),
            remark: opt(self.remark),
            location_remark: opt(self.location_remark),
            ms_name: opt(self.ms_name),
            ms_location: opt(self.ms_location),
            splitter_name: opt(self.splitter_name),
            splitter_location: opt(self.splitter_location),
            contact_person: self
                .contact_person
                .into_iter()
                .map(|c| ContactPerson { name: c.name.into_string(), phone: c.phone.into_string() })
                .collect(),
            client: self.client,
            region: self.region,
            customer_type: self.customer_type,
            is_draft: self.is_draft,
            published_at: self.published_at,
        }
    }
}

/// Evidence of a step: a photo uploaded beforehand, a remark, GPS.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct EvidenceBody {
    pub media_url: Option<Text<Long>>,
    pub remark: Option<Text<Long>>,
    pub location_coordinate: Option<Text<Coordinate>>,
}

/// Evidence of being on site (check-in): a photo uploaded beforehand and the GPS position, both
/// required, and a remark.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SiteEvidenceBody {
    pub media_url: Text<NotBlankLong>,
    pub remark: Option<Text<Long>>,
    pub location_coordinate: Text<Coordinate>,
}

/// A pending request.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct PendingBody {
    pub media_url: Option<Text<Long>>,
    pub remark: Option<Text<Long>>,
    pub pending_category: PendingCategory,
    /// Minutes, 1 to 10080 (a week).
    #[oai(validator(minimum(value = "1"), maximum(value = "10080")))]
    pub pending_interval: i64,
}

/// A cancel request.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct CancelBody {
    pub media_url: Option<Text<Long>>,
    pub remark: Option<Text<Long>>,
    pub cancel_category: CancelCategory,
}

/// The FOC to assign.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct AssignBody {
    pub foc_id: Uuid,
}

/// The NOC's note on a verdict.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ValidateBody {
    pub approval_remark: Option<Text<Long>>,
}

/// `agingTime` filter: under, over or without SLA.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "lowercase")]
pub enum AgingTime {
    Under,
    Over,
    Non,
}

/// The task steps of `taskStatus/:task`.
#[derive(Debug, Clone, Copy, Enum)]
#[oai(rename_all = "camelCase")]
pub enum TaskStep {
    Checking,
    PullingCable,
    Jointing,
    Tidying,
    LinkChecking,
    Finishing,
}

/// The NOC's verdict in `validate/:evidenceId/:approved`: the words `true` or `false`. An enum
/// of two strings rather than a boolean, so that generated clients send these exact words (a
/// boolean path parameter becomes `True` in some languages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum Verdict {
    #[oai(rename = "true")]
    Approved,
    #[oai(rename = "false")]
    Rejected,
}

/// What an evidence body must carry for a step.
#[derive(Clone, Copy)]
pub(super) struct Needs {
    media: bool,
    location: bool,
}

pub(super) const FREE: Needs = Needs { media: false, location: false };
pub(super) const PHOTO: Needs = Needs { media: true, location: false };
pub(super) const PHOTO_GPS: Needs = Needs { media: true, location: true };

pub(super) fn evidence<M, R, L>(
    media: Option<Text<M>>,
    remark: Option<Text<R>>,
    location: Option<Text<L>>,
    needs: Needs,
) -> Result<Evidence, DomainError> {
    let mut check = Checker::new();
    check
        .opt_len("mediaUrl", media.as_deref(), LONG_MAX)
        .opt_len("remark", remark.as_deref(), LONG_MAX)
        .opt_coordinate("locationCoordinate", location.as_deref());
    if needs.media && media.as_deref().is_none_or(|m| m.trim().is_empty()) {
        check.fail("mediaUrl", "a photo is required for this step");
    }
    if needs.location && location.is_none() {
        check.fail("locationCoordinate", "the GPS position is required for this step");
    }
    check.finish()?;
    Ok(Evidence { media_url: opt(media), remark: opt(remark), location: opt(location), check: None })
}

impl EvidenceBody {
    pub(super) fn into_evidence(self, needs: Needs) -> Result<Evidence, DomainError> {
        evidence(self.media_url, self.remark, self.location_coordinate, needs)
    }
}
