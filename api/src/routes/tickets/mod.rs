//! `/v1/tickets`: create, list, read, and every status change of the contract. The bodies and
//! answers are in `bodies.rs`, the live feed's event type in `feed_event.rs`.

use common::{
    DomainError,
    db::{self, Tx, tickets, users},
    document::{self, TicketDocument},
    domain::{
        Region, SlaType, Status, TicketType,
        ticket::{Assignee, Command},
        validate::{Checker, LONG_MAX},
    },
    service,
};
use futures_util::stream::BoxStream;
use poem::web::Data;
use poem_openapi::{
    OpenApi,
    param::{Header, Path, Query},
    payload::{EventStream, Json},
    types::ToJSON,
};
use uuid::Uuid;

use crate::{
    ApiTags,
    auth::Auth,
    envelope::{Created, Found, FoundSerde, Listed, created, found, listed, page_request},
    error::ApiResult,
    idempotency::{self, IdempotencyKey},
    optional_json::OptionalJson,
    state::AppState,
    text::{Coordinate, Text, opt},
};

mod bodies;
mod feed_event;

pub use bodies::*;
pub use feed_event::FeedEvent;

/// The `Idempotency-Key` header of the ticket POSTs (its name and pattern are given at each).
type KeyHeader = Header<Option<String>>;

/// Runs a status change, honouring `Idempotency-Key`; `status` is the operation's success status.
async fn change(
    state: &AppState,
    auth: &Auth,
    id: Uuid,
    key: Option<IdempotencyKey>,
    cmd: Command,
    status: u16,
) -> ApiResult<TicketSummary> {
    let actor = auth.actor();
    idempotency::run(state, actor.id, &key, status, async |tx| {
        let (row, _) =
            service::tickets::change(tx, &state.settings, actor, &actor.into(), id, &cmd, db::now()).await?;
        Ok(TicketSummary::from(&row))
    })
    .await
}

fn key(
    header: Option<String>,
    op: &str,
    id: Uuid,
    body: Option<serde_json::Value>,
) -> Result<Option<IdempotencyKey>, DomainError> {
    IdempotencyKey::new(header, &format!("{op} {id}"), body)
}

fn body_json<T: ToJSON>(t: &T) -> Option<serde_json::Value> {
    t.to_json()
}

/// Resolves the assignee of `focId`.
async fn assignee(tx: &mut Tx, id: Uuid) -> Result<Assignee, DomainError> {
    let u = users::get(tx, id).await?.ok_or_else(|| DomainError::invalid("focId", "no such active user"))?;
    Ok(Assignee { id: u.id, role: u.role, region: u.region, name: u.name })
}

pub struct TicketsApi;

#[OpenApi(prefix_path = "/v1/tickets", tag = "ApiTags::Tickets")]
impl TicketsApi {
    /// Create a ticket (SuperAdmin, NOC of the region).
    ///
    /// `ticketId` comes from a per-month counter (`CGS-202611-0001`). Honours `Idempotency-Key`.
    #[oai(path = "/", method = "post", operation_id = "createTicket")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,200}$"))] idempotency_key: KeyHeader,
        body: Json<NewTicketBody>,
    ) -> ApiResult<Created<TicketSummary>> {
        let actor = auth.actor();
        let key = IdempotencyKey::new(idempotency_key.0, "create", body.0.to_json())?;
        let input = body.0.into_input();
        let summary = idempotency::run(&state, actor.id, &key, 201, async move |tx| {
            let row = service::tickets::create(tx, &state.settings, actor, input, db::now()).await?;
            Ok(TicketSummary::from(&row))
        })
        .await?;
        Ok(created(summary))
    }

    /// List the tickets the caller may see, newest first.
    #[oai(path = "/", method = "get", operation_id = "listTickets")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        region: Query<Option<Region>>,
        /// An area name: tickets of clients in that city.
        #[oai(validator(max_length = 200))]
        area: Query<Option<String>>,
        #[oai(name = "type")] ticket_type: Query<Option<TicketType>>,
        /// Substring of the end user's name.
        #[oai(name = "endUser", validator(max_length = 200))]
        end_user: Query<Option<String>>,
        /// Any ticket or task status.
        #[oai(name = "latestStatus")]
        latest_status: Query<Option<Status>>,
        /// `under`, `over` or `non` (no SLA).
        #[oai(name = "agingTime")]
        aging_time: Query<Option<AgingTime>>,
        /// An outage: the reports linked to it.
        #[oai(name = "parentId")]
        parent_id: Query<Option<Uuid>>,
        /// Rows per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// Rows to skip (default 0).
        #[oai(validator(minimum(value = "0")))]
        offset: Query<Option<i64>>,
    ) -> ApiResult<Listed<TicketSummary>> {
        let page = page_request(limit.0, offset.0)?;
        let filter = tickets::TicketFilter {
            region: region.0,
            area: area.0,
            ticket_type: ticket_type.0,
            end_user: end_user.0,
            status: latest_status.0,
            sla_type: aging_time.0.map(|a| match a {
                AgingTime::Under => SlaType::UnderSla,
                AgingTime::Over => SlaType::OverSla,
                AgingTime::Non => SlaType::NonSla,
            }),
            parent_id: parent_id.0,
        };
        let mut tx = state.db.read().await?;
        let rows = tickets::list(
            &mut tx,
            auth.actor().ticket_scope(),
            &filter,
            page,
            state.settings.list_count_bound,
            db::now(),
        )
        .await?;
        tx.commit().await?;
        Ok(listed(rows, |r| TicketSummary::from(&r)))
    }

    /// Live feed of the tickets the caller may see (Server-Sent Events), by the same rule as the
    /// list and Firestore.
    ///
    /// Events: `ready` first (its id is where the stream starts); `ticket` with the rendered
    /// ticket document whenever a ticket the caller sees changes; `removed` with `{id, ticketId}`
    /// when a change takes a ticket out of the caller's sight (accepted by another technician,
    /// say); `reset` when `Last-Event-ID` names a change no longer kept (reload the list, then
    /// follow on). Every event id is a change number: reconnect with `Last-Event-ID` to resume
    /// without losing a change. A comment is sent every 15 s to keep proxies from closing the
    /// stream. The stream ends within a second of its session (logout, deactivation, expiry),
    /// and after `CGS_FEED_STREAM_SECONDS` (`retry: 1000` first tells the client to reconnect a
    /// second later). A session has at most 4 streams open; one more answers 429
    /// `too_many_streams`.
    #[oai(path = "/stream", method = "get", operation_id = "streamTickets")]
    async fn stream(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        /// The id of the last event received, to resume after it.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<i64>>,
    ) -> ApiResult<EventStream<BoxStream<'static, FeedEvent>>> {
        feed_event::open(&state, &auth, last_event_id.0).await
    }

    /// The full ticket document (the same as Firestore's `tickets/{id}`), log included.
    #[oai(path = "/:id", method = "get", operation_id = "getTicket")]
    async fn get(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<FoundSerde<TicketDocument>> {
        let mut tx = state.db.read().await?;
        let doc = document::load(&mut tx, id.0, db::now()).await?;
        tx.commit().await?;
        let doc = doc
            .filter(|d| {
                auth.actor().ticket_scope().sees(d.region, d.latest_status, d.foc.as_ref().map(|f| f.id))
            })
            .ok_or(DomainError::NotFound("ticket"))?;
        Ok(FoundSerde(doc))
    }

    /// Edit a draft (SuperAdmin, NOC of the region): the same fields as creation, which
    /// replace the draft's; its number, NOC and log stay. It stays a draft: send `isDraft: true`
    /// (or a future `publishedAt` to schedule it) and open it with `POST /v1/tickets/:id/publish`.
    /// A ticket no longer a draft answers 409 `not_a_draft`.
    #[oai(path = "/:id", method = "put", operation_id = "editDraftTicket")]
    async fn edit(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<NewTicketBody>,
    ) -> ApiResult<Found<TicketSummary>> {
        let mut tx = state.db.begin_write().await?;
        let input = body.0.into_input();
        let row =
            service::tickets::edit_draft(&mut tx, &state.settings, auth.actor(), id.0, input, db::now())
                .await?;
        tx.commit().await?;
        Ok(found(TicketSummary::from(&row)))
    }

    /// Publish a draft now (SuperAdmin, NOC of the region).
    #[oai(path = "/:id/publish", method = "post", operation_id = "publishTicket")]
    async fn publish(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,200}$"))] idempotency_key: KeyHeader,
    ) -> ApiResult<Created<TicketSummary>> {
        let k = key(idempotency_key.0, "publish", id.0, None)?;
        Ok(created(change(&state, &auth, id.0, k, Command::Publish, 201).await?))
    }

    /// Assign or reassign an FOC of the ticket's region (SuperAdmin, NOC and FOCSupervisor of the region).
    #[oai(path = "/:id/assign", method = "post", operation_id = "assignTicket")]
    async fn assign(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,200}$"))] idempotency_key: KeyHeader,
        body: Json<AssignBody>,
    ) -> ApiResult<Created<TicketSummary>> {
        let k = key(idempotency_key.0, "assign", id.0, body_json(&body.0))?;
        let foc = {
            let mut tx = state.db.begin().await?;
            let a = assignee(&mut tx, body.0.foc_id).await;
            tx.commit().await?;
            a?
        };
        Ok(created(change(&state, &auth, id.0, k, Command::Assign(foc), 201).await?))
    }

    /// Accept an `Open` ticket of your region (FOC, FOCSupervisor): you become its FOC.
    #[oai(path = "/:id/ticketStatus/accept", method = "post", operation_id = "acceptTicket")]
    async fn accept(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,200}$"))] idempotency_key: KeyHeader,
    ) -> ApiResult<Created<TicketSummary>> {
        let k = key(idempotency_key.0, "accept", id.0, None)?;
        Ok(created(change(&state, &auth, id.0, k, Command::Accept, 201).await?))
    }

    /// Leave for the site (the assigned FOC).
    #[oai(path = "/:id/ticketStatus/onTheWay", method = "post", operation_id = "reportOnTheWay")]
    async fn on_the_way(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,200}$"))] idempotency_key: KeyHeader,
    ) -> ApiResult<Created<TicketSummary>> {
        let k = key(idempotency_key.0, "onTheWay", id.0, None)?;
        Ok(created(change(&state, &auth, id.0, k, Command::OnTheWay, 201).await?))
    }

    /// Check in on site with a photo and GPS; the NOC validates it.
    #[oai(path = "/:id/ticketStatus/checkedIn", method = "post", operation_id = "checkIn")]
    async fn checked_in(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,200}$"))] idempotency_key: KeyHeader,
        body: Json<SiteEvidenceBody>,
    ) -> ApiResult<Created<TicketSummary>> {
        let k = key(idempotency_key.0, "checkedIn", id.0, body_json(&body.0))?;
        let b = body.0;
        let cmd =
            Command::CheckIn(evidence(Some(b.media_url), b.remark, Some(b.location_coordinate), PHOTO_GPS)?);
        Ok(created(change(&state, &auth, id.0, k, cmd, 201).await?))
    }

    /// Put the ticket on hold: a technician's request waits for the NOC; the NOC's applies at once.
    #[oai(path = "/:id/ticketStatus/pending", method = "post", operation_id = "pendTicket")]
    async fn pending(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,200}$"))] idempotency_key: KeyHeader,
        body: Json<PendingBody>,
    ) -> ApiResult<Created<TicketSummary>> {
        let k = key(idempotency_key.0, "pending", id.0, body_json(&body.0))?;
        let b = body.0;
        let cmd = Command::Pending {
            evidence: evidence(b.media_url, b.remark, None::<Text<Coordinate>>, FREE)?,
            category: b.pending_category,
            minutes: b.pending_interval,
        };
        Ok(created(change(&state, &auth, id.0, k, cmd, 201).await?))
    }

    /// End the running pending: work goes on where it was.
    #[oai(path = "/:id/ticketStatus/resume", method = "post", operation_id = "resumeTicket")]
    async fn resume(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,200}$"))] idempotency_key: KeyHeader,
    ) -> ApiResult<Created<TicketSummary>> {
        let k = key(idempotency_key.0, "resume", id.0, None)?;
        Ok(created(change(&state, &auth, id.0, k, Command::Resume, 201).await?))
    }

    /// Cancel: a technician's request waits for the NOC; the NOC's closes the ticket at once.
    #[oai(path = "/:id/ticketStatus/cancel", method = "post", operation_id = "cancelTicket")]
    async fn cancel(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,200}$"))] idempotency_key: KeyHeader,
        body: Json<CancelBody>,
    ) -> ApiResult<Created<TicketSummary>> {
        let k = key(idempotency_key.0, "cancel", id.0, body_json(&body.0))?;
        let b = body.0;
        let cmd = Command::Cancel {
            evidence: evidence(b.media_url, b.remark, None::<Text<Coordinate>>, FREE)?,
            category: b.cancel_category,
        };
        Ok(created(change(&state, &auth, id.0, k, cmd, 201).await?))
    }

    /// Report a task step: `checking`, `pullingCable`, `jointing` and `tidying` freely once work
    /// goes on; `linkChecking` (photo required) and `finishing` (photo and GPS, after an approved
    /// link check) wait for the NOC's validation.
    #[oai(path = "/:id/taskStatus/:task", method = "post", operation_id = "reportTaskStatus")]
    async fn task_status(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        task: Path<TaskStep>,
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,200}$"))] idempotency_key: KeyHeader,
        body: Json<EvidenceBody>,
    ) -> ApiResult<Created<TicketSummary>> {
        let k = key(idempotency_key.0, &format!("{:?}", task.0), id.0, body_json(&body.0))?;
        let cmd = match task.0 {
            TaskStep::Checking => Command::Task(Status::Checking, body.0.into_evidence(FREE)?),
            TaskStep::PullingCable => Command::Task(Status::PullingCable, body.0.into_evidence(FREE)?),
            TaskStep::Jointing => Command::Task(Status::Jointing, body.0.into_evidence(FREE)?),
            TaskStep::Tidying => Command::Task(Status::Tidying, body.0.into_evidence(FREE)?),
            TaskStep::LinkChecking => Command::LinkChecking(body.0.into_evidence(PHOTO)?),
            TaskStep::Finishing => Command::Finishing(body.0.into_evidence(PHOTO_GPS)?),
        };
        Ok(created(change(&state, &auth, id.0, k, cmd, 201).await?))
    }

    /// Link an `Open` report to an open outage of its region (SuperAdmin, NOC of the region):
    /// it is worked through the outage (not accepted on its own: 409 `part_of_outage`) and
    /// closes with it. 409 `already_linked`, `not_an_open_outage`, or the status.
    #[oai(path = "/:id/link", method = "post", operation_id = "linkTicket")]
    async fn link(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<LinkBody>,
    ) -> ApiResult<Created<TicketSummary>> {
        let mut tx = state.db.begin_write().await?;
        let row =
            service::outages::link(&mut tx, &state.settings, auth.actor(), id.0, body.0.parent_id, db::now())
                .await?;
        tx.commit().await?;
        Ok(created(TicketSummary::from(&row)))
    }

    /// Give a linked report back to work on its own (SuperAdmin, NOC of the region): `Open`
    /// and announced again. 409 `not_linked` when it is not an open part of an outage.
    #[oai(path = "/:id/unlink", method = "post", operation_id = "unlinkTicket")]
    async fn unlink(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
    ) -> ApiResult<Created<TicketSummary>> {
        let mut tx = state.db.begin_write().await?;
        let row = service::outages::unlink(&mut tx, &state.settings, auth.actor(), id.0, db::now()).await?;
        tx.commit().await?;
        Ok(created(TicketSummary::from(&row)))
    }

    /// Approve (`true`) or reject (`false`) the evidence a request waits on (SuperAdmin, NOC of the region).
    #[oai(path = "/:id/validate/:evidenceId/:approved", method = "post", operation_id = "validateEvidence")]
    #[allow(clippy::too_many_arguments)]
    async fn validate(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        #[oai(name = "evidenceId")] evidence_id: Path<Uuid>,
        approved: Path<Verdict>,
        #[oai(name = "Idempotency-Key", validator(pattern = "^[!-~]{1,200}$"))] idempotency_key: KeyHeader,
        body: OptionalJson<ValidateBody>,
    ) -> ApiResult<Found<TicketSummary>> {
        let remark = body.0.and_then(|b| b.approval_remark);
        Checker::new().opt_len("approvalRemark", remark.as_deref(), LONG_MAX).finish()?;
        let approved = approved.0 == Verdict::Approved;
        let fp =
            serde_json::json!({"evidence": evidence_id.0, "approved": approved, "remark": remark.as_deref()});
        let k = key(idempotency_key.0, "validate", id.0, Some(fp))?;
        let cmd = Command::Validate { evidence_id: evidence_id.0, approved, remark: opt(remark) };
        Ok(found(change(&state, &auth, id.0, k, cmd, 200).await?))
    }
}
