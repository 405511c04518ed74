//! Every ticket rule the entry points (HTTP API, worker jobs, chat) share: creating a ticket and
//! editing a draft (who may, the defaults its client gives, the draft rules), and changing its
//! status through the state machine. Handlers parse, call these, and map the answer.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    config::Settings,
    db::{
        Tx, clients,
        tickets::{self, LogActor, NewTicket, TicketRow},
    },
    document::{self, ContactPerson},
    domain::{
        CustomerType, IndicationCategory, NON_SLA, NetworkSegment, Region, Status, TicketSource, TicketType,
        access::Actor,
        sla,
        ticket::{Change, Command, NewLog, TicketState, decide},
        validate::{Checker, LONG_MAX, SHORT_MAX},
        webhook::WebhookEvent,
    },
    error::DomainError,
    jobs::{self, Effects, Job, NotifyKind},
};

/// What a client asks a new ticket, or a draft's edit, to be. Texts are trimmed by the caller;
/// what the client leaves out its client record fills in.
#[derive(Debug, Clone)]
pub struct TicketInput {
    pub ticket_type: TicketType,
    pub source: TicketSource,
    pub network_segment: NetworkSegment,
    pub indication_category: IndicationCategory,
    pub indication: Option<String>,
    pub address: Option<String>,
    pub remark: Option<String>,
    pub location_remark: Option<String>,
    pub ms_name: Option<String>,
    pub ms_location: Option<String>,
    pub splitter_name: Option<String>,
    pub splitter_location: Option<String>,
    pub contact_person: Vec<ContactPerson>,
    pub client: Option<Uuid>,
    pub region: Option<Region>,
    pub customer_type: Option<CustomerType>,
    pub is_draft: bool,
    pub published_at: Option<DateTime<Utc>>,
}

/// Creates a ticket by `actor` (SuperAdmin, or a NOC in its own region): `Open` at once, or a
/// `Draft` when asked or when `publishedAt` lies ahead (the worker opens it then).
pub async fn create(
    tx: &mut Tx,
    settings: &Settings,
    actor: &Actor,
    input: TicketInput,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    let t = prepare(tx, settings, actor, input, None, now).await?;
    let row = insert_detecting(
        tx,
        settings.effects(),
        Some(settings),
        &t,
        &actor.into(),
        &settings.ticket_prefix,
        now,
    )
    .await?;
    tracing::info!(ticket.id = %row.state.id, ticket.number = %row.ticket_id, "ticket created");
    Ok(row)
}

/// Rewrites the draft `id` with `input` (SuperAdmin, NOC of its region); its number, NOC and log
/// stay, and it stays a draft. A ticket the actor cannot see is 404, one no longer a draft 409
/// `not_a_draft`; of two racing edits one wins, the other gets 409.
pub async fn edit_draft(
    tx: &mut Tx,
    settings: &Settings,
    actor: &Actor,
    id: Uuid,
    input: TicketInput,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    let before = tickets::get(tx, id)
        .await?
        .filter(|t| actor.ticket_scope().sees(t.state.region, t.state.status, t.state.foc_id))
        .ok_or(DomainError::NotFound("ticket"))?;
    if !actor.is_noc_of(before.state.region) {
        return Err(DomainError::Forbidden("only the NOC of the ticket's region edits it".into()));
    }
    if before.state.status != Status::Draft {
        return Err(DomainError::conflict(
            "not_a_draft",
            format!("only a draft is edited; this ticket is {}", before.state.status),
        ));
    }
    let t = prepare(tx, settings, actor, input, Some(&before), now).await?;
    update_draft(tx, settings.effects(), &before, &t, now).await
}

/// Checks a new ticket (or the new fields of the draft `existing`, which keeps its id, number,
/// NOC and, without a client or region, its region) and fills in what its client gives.
async fn prepare(
    tx: &mut Tx,
    settings: &Settings,
    actor: &Actor,
    b: TicketInput,
    existing: Option<&TicketRow>,
    now: DateTime<Utc>,
) -> Result<NewTicket, DomainError> {
    actor.may_write_tickets()?;
    let mut check = Checker::new();
    check
        .opt_len("address", b.address.as_deref(), LONG_MAX)
        .opt_len("remark", b.remark.as_deref(), LONG_MAX)
        .opt_len("locationRemark", b.location_remark.as_deref(), LONG_MAX)
        .opt_len("indication", b.indication.as_deref(), LONG_MAX)
        .opt_len("msName", b.ms_name.as_deref(), SHORT_MAX)
        .opt_len("splitterName", b.splitter_name.as_deref(), SHORT_MAX)
        .opt_coordinate("msLocation", b.ms_location.as_deref())
        .opt_coordinate("splitterLocation", b.splitter_location.as_deref());
    if b.contact_person.len() > 20 {
        check.fail("contactPerson", "at most 20 contacts");
    }
    for (i, c) in b.contact_person.iter().enumerate() {
        check
            .required(&format!("contactPerson[{i}].name"), &c.name)
            .required(&format!("contactPerson[{i}].phone"), &c.phone);
    }
    let client = match b.client {
        Some(id) => {
            let c = clients::get(tx, id).await?;
            if c.is_none() {
                check.fail("client", "no such client");
            }
            c
        }
        None => None,
    };
    let region = match (&client, b.region, existing) {
        (Some(c), _, _) => c.region,
        (None, Some(r), _) => r,
        (None, None, Some(e)) => e.state.region,
        (None, None, None) => actor.home_region_for_tickets().unwrap_or_else(|| {
            check.fail("region", "a ticket without a client needs a region");
            actor.region
        }),
    };
    check.finish()?;
    actor.may_write_tickets_in(region)?;
    let (status, published_at) = match (b.is_draft, b.published_at) {
        (true, _) => (Status::Draft, None),
        (false, Some(at)) if at > now => (Status::Draft, Some(at)),
        (false, _) if existing.is_some() => {
            return Err(DomainError::invalid(
                "isDraft",
                "an edit keeps the ticket a draft: send isDraft true or a future publishedAt; open it with POST /v1/tickets/:id/publish",
            ));
        }
        (false, _) => (Status::Open, Some(now)),
    };
    let contacts: Vec<ContactPerson> = b
        .contact_person
        .into_iter()
        .map(|c| ContactPerson { name: c.name.trim().to_owned(), phone: c.phone.trim().to_owned() })
        .collect();
    let customer_type = client.as_ref().map(|c| c.customer_type).or(b.customer_type);
    let policy = settings.sla_policy();
    let (id, noc_id) = match existing {
        Some(e) => (e.state.id, e.noc_id),
        None => (Uuid::now_v7(), actor.id),
    };
    let from_client = |f: fn(&clients::ClientRow) -> Option<String>| client.as_ref().and_then(f);
    Ok(NewTicket {
        id,
        region,
        client_id: client.as_ref().map(|c| c.id),
        end_user: client.as_ref().map_or_else(|| NON_SLA.into(), |c| c.name.clone()),
        customer_type,
        sla_hours: client.as_ref().map(|c| policy.hours(c.customer_type)),
        ticket_type: b.ticket_type,
        source: b.source,
        network_segment: b.network_segment,
        indication_category: b.indication_category,
        indication: b.indication,
        address: b.address.or_else(|| from_client(|c| c.address.clone())),
        contact_person: document::contacts_json(&contacts),
        remark: b.remark,
        location_remark: b.location_remark,
        ms_name: b.ms_name.or_else(|| from_client(|c| c.ms_name.clone())),
        ms_location: b.ms_location.or_else(|| from_client(|c| c.ms_coordinate.clone())),
        splitter_name: b.splitter_name.or_else(|| from_client(|c| c.splitter_name.clone())),
        splitter_location: b.splitter_location.or_else(|| from_client(|c| c.splitter_coordinate.clone())),
        noc_id,
        status,
        published_at,
        outage: None,
    })
}

/// Runs `cmd` by `actor` on ticket `id` and returns the ticket as it is afterwards; the
/// evidence it carries is checked (`service::evidence`). The write is guarded by the ticket's
/// version: of two racing commands one wins, the other gets 409.
pub async fn change(
    tx: &mut Tx,
    settings: &Settings,
    actor: &Actor,
    who: &LogActor,
    id: Uuid,
    cmd: &Command,
    now: DateTime<Utc>,
) -> Result<(TicketRow, Change), DomainError> {
    let effects = settings.effects();
    let (mut row, watched) = tickets::get_watched(tx, id).await?.ok_or(DomainError::NotFound("ticket"))?;
    if row.state.is_outage {
        // An outage is written to under its element's lock, which a report joining it takes
        // too; read again once it is held.
        super::outages::guard(tx, &row).await?;
        row = tickets::get(tx, id).await?.ok_or(DomainError::NotFound("ticket"))?;
    }
    let mut change = match decide(&row.state, actor, cmd, now, &mut Uuid::now_v7) {
        Ok(change) => change,
        Err(DomainError::Conflict { .. }) if matches!(cmd, Command::Validate { evidence_id, .. } if !tickets::has_evidence(tx, id, *evidence_id).await?) =>
        {
            return Err(DomainError::NotFound("evidence"));
        }
        Err(e) => return Err(e),
    };
    super::evidence::check(tx, settings, &row, cmd, &mut change, now).await?;
    let due = sla::due_at(&change.next, row.sla_hours);
    let lost = || {
        DomainError::conflict("concurrent_change", "the ticket changed meanwhile; reload it and try again")
    };
    let Some(after) = tickets::save_state(tx, &row, &change.next, due, now, lost).await? else {
        return Err(lost());
    };
    if due != row.sla_due_at {
        tickets::clear_sla_mark(tx, id).await?;
    }
    tickets::append_logs(tx, id, &change.logs, who).await?;
    tickets::update_logs(tx, id, &change.updates).await?;
    schedule_expiry(tx, &row.state, &change.next).await?;
    if after.state.is_outage && after.state.status == Status::Closed && row.state.status != Status::Closed {
        super::outages::closed(tx, settings, &after, now).await?;
    }
    effects.ticket_changed(tx, id, Some(&row.state), now).await?;
    effects.status_entered(tx, id, Some(row.state.status), after.state.status, now).await?;
    if let Some(evidence_id) = after.state.awaiting_evidence
        && row.state.awaiting_evidence != Some(evidence_id)
    {
        effects.request_waiting(tx, id, evidence_id, now).await?;
    }
    notify(tx, effects, &row, &after, cmd, now).await?;
    if row.state.status == Status::Draft && after.state.status == Status::Open {
        super::outages::detect(tx, settings, &after, now).await?;
    }
    if watched {
        emit_changed(tx, id, cmd, now).await?;
    }
    tracing::info!(ticket.id = %id, command = cmd.name(), status = %after.state.status, "ticket changed");
    Ok((after, change))
}

/// The webhook events of a change: `ticket.changed`, and `evidence.validated` of a verdict.
async fn emit_changed(tx: &mut Tx, id: Uuid, cmd: &Command, now: DateTime<Utc>) -> Result<(), DomainError> {
    super::webhooks::emit_one(tx, id, WebhookEvent::TicketChanged, Some(("command", cmd.name().into())), now)
        .await?;
    if let Command::Validate { evidence_id, approved, .. } = cmd {
        let verdict = serde_json::json!({"evidenceId": evidence_id, "approved": approved});
        super::webhooks::emit_one(tx, id, WebhookEvent::EvidenceValidated, Some(("evidence", verdict)), now)
            .await?;
    }
    Ok(())
}

/// Tells the people a change concerns: the technician the NOC's verdict on a request; the
/// technician an assignment names and the one it replaces.
async fn notify(
    tx: &mut Tx,
    effects: Effects,
    before: &TicketRow,
    after: &TicketRow,
    cmd: &Command,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let id = after.state.id;
    match (cmd, before.state.foc_id, after.state.foc_id) {
        (Command::Validate { evidence_id, .. }, Some(technician), _) => {
            let occurrence = evidence_id.to_string();
            effects
                .notify(tx, id, technician, NotifyKind::Verdict, Some(*evidence_id), &occurrence, now)
                .await
        }
        (Command::Assign(_), old, Some(new)) if old != Some(new) => {
            let occurrence = after.version.to_string();
            effects.notify(tx, id, new, NotifyKind::Assigned, None, &occurrence, now).await?;
            match old {
                Some(old) => {
                    effects.notify(tx, id, old, NotifyKind::Reassigned, None, &occurrence, now).await
                }
                None => Ok(()),
            }
        }
        _ => Ok(()),
    }
}

/// A pending that starts with this change gets its expiry job, in the same transaction.
async fn schedule_expiry(tx: &mut Tx, before: &TicketState, after: &TicketState) -> Result<(), DomainError> {
    if let (Some(evidence_id), Some(due)) = (after.pending_evidence, after.pending_due())
        && before.pending_evidence != after.pending_evidence
    {
        let job = jobs::ExpirePending { ticket_id: after.id, evidence_id };
        job.enqueue_at(tx, due).await?;
    }
    Ok(())
}

/// Inserts a ticket its caller has checked (a channel's report, [`create`]) with its first log
/// entry; `t.status` is `Draft` or `Open`. Its number (`prefix`, month, count) comes last: the
/// month's counter stays locked only from there to the commit (and the deliveries of
/// `ticket.created`, when a webhook follows it), or, in a ticket command on PostgreSQL, only
/// while the one statement of its writes runs ([`tickets::insert_numbered`]).
pub async fn insert(
    tx: &mut Tx,
    effects: Effects,
    t: &NewTicket,
    who: &LogActor,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    insert_detecting(tx, effects, None, t, who, prefix, now).await
}

/// [`insert`], and with `outages` (the settings of the rule) an `Open` report from a client
/// joins or opens an outage before it is numbered.
async fn insert_detecting(
    tx: &mut Tx,
    effects: Effects,
    outages: Option<&Settings>,
    t: &NewTicket,
    who: &LogActor,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    let mut state = TicketState::new(t.id, t.region, t.status);
    state.published_at = t.published_at;
    let due = sla::due_at(&state, t.sla_hours);
    let (title, description) = match t.status {
        Status::Draft => ("Ticket drafted", format!("{} drafted the ticket", who.name)),
        _ => ("Ticket opened", format!("{} opened the ticket", who.name)),
    };
    let first = NewLog::simple(t.status, title, description, now);
    let detects = outages.filter(|_| t.status == Status::Open && t.client_id.is_some());
    // Read before anything is written: a command's transaction reads it without `BEGIN`.
    let hooks = crate::db::webhooks::following(tx, WebhookEvent::TicketCreated).await?;
    if detects.is_none() && hooks.is_empty() && tx.defers_ticket_writes() {
        // Nothing to read in between: the log entry, the live-feed row (naming the new
        // ticket's own state) and the jobs wait, and go with the numbered ticket.
        tickets::append_logs(tx, t.id, &[first], who).await?;
        effects.ticket_changed(tx, t.id, Some(&state), now).await?;
        effects.status_entered(tx, t.id, None, t.status, now).await?;
        return tickets::insert_numbered(tx, t, due, prefix, now).await;
    }
    tickets::insert(tx, t, due, now).await?;
    tickets::append_logs(tx, t.id, &[first], who).await?;
    if let Some(settings) = detects
        && let Some(row) = tickets::get(tx, t.id).await?
    {
        super::outages::detect(tx, settings, &row, now).await?;
    }
    effects.ticket_changed(tx, t.id, None, now).await?;
    effects.status_entered(tx, t.id, None, t.status, now).await?;
    let row = tickets::number(tx, t.id, prefix, now).await?;
    super::webhooks::emit_to(tx, &hooks, &[t.id], WebhookEvent::TicketCreated, Default::default(), now)
        .await?;
    Ok(row)
}

/// Rewrites a draft's descriptive fields (and its schedule) with `t`, which keeps the draft's
/// id, number and NOC. Of two racing edits one wins, the other gets 409; a ticket no longer a
/// draft is 409 too.
async fn update_draft(
    tx: &mut Tx,
    effects: Effects,
    before: &TicketRow,
    t: &NewTicket,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    let mut state = before.state.clone();
    state.region = t.region;
    state.published_at = t.published_at;
    let due = sla::due_at(&state, t.sla_hours);
    let Some(after) = tickets::update_draft(tx, t, before.version, due, now).await? else {
        return Err(DomainError::conflict(
            "concurrent_change",
            "the ticket changed meanwhile or is no longer a draft; reload it",
        ));
    };
    effects.ticket_changed(tx, t.id, Some(&before.state), now).await?;
    super::webhooks::emit_one(
        tx,
        t.id,
        WebhookEvent::TicketChanged,
        Some(("command", "editDraft".into())),
        now,
    )
    .await?;
    tracing::info!(ticket.id = %t.id, "draft edited");
    Ok(after)
}
