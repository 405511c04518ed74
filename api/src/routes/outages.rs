//! `/v1/outages`: the open outages (one fault of a splitter, main splitter or POP, with the
//! customers' reports linked to it) and the NOC's declaration of one. Linking and unlinking a
//! report are ticket operations (`/v1/tickets/:id/link`, `/unlink`).

use chrono::{DateTime, Utc};
use common::{
    DomainError,
    db::{
        self,
        catalog::{self, MAIN_SPLITTERS, SPLITTERS},
        outages,
    },
    domain::{IndicationCategory, OutageLevel, Region, Status, TicketSource, outage::Element},
    service,
};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Query, payload::Json};
use uuid::Uuid;

use super::catalog::Splitter;
use crate::{
    ApiTags,
    auth::Auth,
    envelope::{Created, Found, created, found},
    error::ApiResult,
    routes::tickets::TicketSummary,
    state::AppState,
};

/// An open outage.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct Outage {
    /// The outage's ticket.
    pub id: Uuid,
    pub ticket_id: String,
    pub region: Region,
    pub level: OutageLevel,
    /// The splitter's or main splitter's name, or the POP.
    pub element: String,
    pub status: Status,
    /// When it opened.
    pub since: Option<DateTime<Utc>>,
    /// The reports linked to it.
    pub customers_affected: i64,
}

impl From<outages::OutageRow> for Outage {
    fn from(r: outages::OutageRow) -> Self {
        Self {
            id: r.id,
            ticket_id: r.ticket_id,
            region: r.region,
            level: r.outage_level,
            element: r.outage_name,
            status: r.status,
            since: r.published_at,
            customers_affected: r.child_count,
        }
    }
}

/// An outage to declare, for example from a device alarm: at a splitter or main splitter (by
/// `elementId`) or at a POP (by `pop`, in `region`).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct NewOutage {
    pub level: OutageLevel,
    /// The splitter or main splitter; not for a POP.
    pub element_id: Option<Uuid>,
    /// The POP's name; only for a POP.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub pop: Option<String>,
    /// The region; the NOC's own when left out.
    pub region: Option<Region>,
    /// Where the fault was seen (default `DeviceLog`).
    pub source: Option<TicketSource>,
    /// Default `FiberCut`.
    pub indication_category: Option<IndicationCategory>,
}

pub struct OutagesApi;

#[OpenApi(prefix_path = "/v1/outages", tag = "ApiTags::Tickets")]
impl OutagesApi {
    /// The open outages the caller may see (their tickets by the rule of the tickets), oldest
    /// first: element, level, since when, customers affected.
    #[oai(path = "/", method = "get", operation_id = "listOutages")]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        region: Query<Option<Region>>,
    ) -> ApiResult<Found<Vec<Outage>>> {
        let scope = auth.actor().ticket_scope();
        let mut tx = state.db.begin().await?;
        let rows = outages::list_open(&mut tx, region.0).await?;
        tx.commit().await?;
        let data =
            rows.into_iter().filter(|r| scope.sees(r.region, r.status, r.foc_id)).map(Outage::from).collect();
        Ok(found(data))
    }

    /// Declare an outage (SuperAdmin, NOC of the region): an `Open` ticket that stands for the
    /// element's fault, announced once; the region's open reports under the element on their
    /// own are linked to it. 409 `outage_open` when the element has one open.
    #[oai(path = "/", method = "post", operation_id = "declareOutage")]
    async fn declare(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<NewOutage>,
    ) -> ApiResult<Created<TicketSummary>> {
        let actor = auth.actor();
        let b = body.0;
        let element = match (b.level, b.element_id, b.pop.as_deref().map(str::trim)) {
            (OutageLevel::Pop, None, Some(p)) if !p.is_empty() => Element::Pop(p.to_owned()),
            (OutageLevel::Pop, _, _) => {
                return Err(
                    DomainError::invalid("pop", "a POP outage names its POP (and no elementId)").into()
                );
            }
            (OutageLevel::Splitter, Some(id), None) => Element::Splitter(id),
            (OutageLevel::MainSplitter, Some(id), None) => Element::MainSplitter(id),
            _ => {
                return Err(DomainError::invalid(
                    "elementId",
                    "a splitter or main splitter outage names its elementId (and no pop)",
                )
                .into());
            }
        };
        actor.may_write_tickets()?;
        let mut tx = state.db.begin_write().await?;
        let name = match &element {
            Element::Pop(name) => name.clone(),
            Element::Splitter(id) | Element::MainSplitter(id) => {
                let cat = if matches!(element, Element::Splitter(_)) { &SPLITTERS } else { &MAIN_SPLITTERS };
                catalog::get::<Splitter>(&mut tx, cat, *id)
                    .await?
                    .ok_or_else(|| DomainError::invalid("elementId", format!("no such {}", cat.noun)))?
                    .name
            }
        };
        let d = service::outages::Declaration {
            element,
            name,
            region: b.region.unwrap_or(actor.region),
            source: b.source.unwrap_or(TicketSource::DeviceLog),
            indication_category: b.indication_category.unwrap_or(IndicationCategory::FiberCut),
        };
        let row = service::outages::declare(&mut tx, &state.settings, actor, d, db::now()).await?;
        tx.commit().await?;
        Ok(created(TicketSummary::from(&row)))
    }
}
