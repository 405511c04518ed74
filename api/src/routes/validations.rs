//! `/v1/validations`: the NOC's queue of evidence waiting for a verdict, oldest first, with what
//! the evidence checks found.

use chrono::{DateTime, Utc};
use common::{
    DomainError,
    db::{self, validations},
    document::TicketRef,
    domain::{Region, Role, Status, evidence::EvidenceFlag},
};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query};
use uuid::Uuid;

use crate::{
    ApiTags,
    auth::Auth,
    envelope::{Listed, listed, page_request},
    error::ApiResult,
    state::AppState,
};

/// The ticket an evidence belongs to.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct QueueTicket {
    pub id: Uuid,
    pub ticket_id: String,
    pub region: Region,
    pub end_user: String,
    // The status the request asks for. (A doc comment on a reference would wrap it in `allOf`.)
    pub latest_status: Status,
}

/// Who asked.
#[derive(Debug, Clone, Object)]
pub struct QueueTechnician {
    pub id: Option<Uuid>,
    pub name: String,
}

/// An evidence waiting for the NOC's verdict.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct WaitingEvidence {
    pub ticket: QueueTicket,
    pub technician: QueueTechnician,
    /// Approve or reject with `POST /v1/tickets/{ticket.id}/validate/{evidenceId}/{approved}`.
    pub evidence_id: Uuid,
    pub title: String,
    pub media_url: Option<String>,
    pub location_coordinate: Option<String>,
    pub remark: Option<String>,
    pub requested_at: DateTime<Utc>,
    /// Seconds since the request.
    pub waiting_seconds: i64,
    /// Metres from the customer's coordinate (check-in, finishing).
    pub distance_meters: Option<i64>,
    /// Why no distance was measured, when the NOC should know.
    pub distance_note: Option<String>,
    pub photo_coordinate: Option<String>,
    pub photo_taken_at: Option<DateTime<Utc>>,
    pub photo_distance_meters: Option<i64>,
    pub reused_from: Option<TicketRef>,
    pub flags: Vec<EvidenceFlag>,
}

impl WaitingEvidence {
    fn from_row(r: validations::WaitingRow, now: DateTime<Utc>) -> Self {
        Self {
            ticket: QueueTicket {
                id: r.ticket,
                ticket_id: r.ticket_number,
                region: r.region,
                end_user: r.end_user,
                latest_status: r.status,
            },
            technician: QueueTechnician { id: r.technician_id, name: r.technician_name },
            evidence_id: r.evidence_id,
            title: r.title,
            media_url: r.media_url,
            location_coordinate: r.location_coordinate,
            remark: r.remark,
            requested_at: r.requested_at,
            waiting_seconds: (now - r.requested_at).num_seconds().max(0),
            distance_meters: r.check.distance_meters,
            distance_note: r.check.distance_note.clone(),
            photo_coordinate: r.check.photo_coordinate.clone(),
            photo_taken_at: r.check.photo_taken_at,
            photo_distance_meters: r.check.photo_distance_meters,
            reused_from: r.check.reused().map(|(id, ticket_id)| TicketRef { id, ticket_id }),
            flags: r.check.flags(),
        }
    }
}

pub struct ValidationsApi;

#[OpenApi(prefix_path = "/v1/validations", tag = "ApiTags::Tickets")]
impl ValidationsApi {
    /// The evidence waiting for a verdict (SuperAdmin; NOC: its region), oldest first, with the
    /// checks' findings: distance from the customer, the photo's EXIF position and time, a photo
    /// used before, and the flags they raised.
    #[oai(path = "/", method = "get", operation_id = "listValidations")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        /// Only this region (a NOC sees its own only: another region lists nothing).
        region: Query<Option<Region>>,
        /// Only evidence with this flag.
        flag: Query<Option<EvidenceFlag>>,
        /// Rows per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// Rows to skip (default 0).
        #[oai(validator(minimum(value = "0")))]
        offset: Query<Option<i64>>,
    ) -> ApiResult<Listed<WaitingEvidence>> {
        let page = page_request(limit.0, offset.0)?;
        let actor = auth.actor();
        let region = match actor.role {
            Role::SuperAdmin => region.0,
            Role::NOC if region.0.is_none_or(|r| r == actor.region) => Some(actor.region),
            Role::NOC => {
                let none = db::Page { items: Vec::new(), total: 0, total_exact: true, page };
                return Ok(listed(none, |r| WaitingEvidence::from_row(r, db::now())));
            }
            Role::FOC | Role::FOCSupervisor => {
                return Err(DomainError::Forbidden("the validation queue is the NOC's".into()).into());
            }
        };
        let mut tx = state.db.begin().await?;
        let rows =
            validations::queue(&mut tx, validations::QueueFilter { region, flag: flag.0 }, page).await?;
        tx.commit().await?;
        let now = db::now();
        Ok(listed(rows, |r| WaitingEvidence::from_row(r, now)))
    }
}
