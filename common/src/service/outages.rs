//! Outages: a report that opens under a customer's splitter, main splitter or POP joins the
//! element's open outage, or opens one when the rule of `domain::outage` says so; the NOC
//! declares, links and unlinks; an outage that closes closes its reports, one canceled gives
//! them back. Every step on a ticket goes through the state machine; the region's outage lock
//! takes these decisions one at a time.

use std::{future::Future, pin::Pin};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    config::Settings,
    db::{
        Tx, clients, outages,
        tickets::{self, LogActor, NewTicket, OutageMark, TicketRow},
    },
    domain::{
        IndicationCategory, NON_SLA, NetworkSegment, Region, Status, TicketSource, TicketType,
        access::Actor,
        outage::{Decision, Element, OpenOutage, OutageLevel, Report, Topology, decide},
        ticket::Command,
    },
    error::DomainError,
};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, DomainError>> + Send + 'a>>;

/// Runs `cmd` on ticket `id` as the system (the state machine's rules hold as for anyone).
/// Boxed: a command may lead here again (a publish that detects, a close that closes reports).
fn system<'a>(
    tx: &'a mut Tx,
    settings: &'a Settings,
    id: Uuid,
    cmd: Command,
    now: DateTime<Utc>,
) -> Boxed<'a, TicketRow> {
    Box::pin(async move {
        let (row, _) =
            super::tickets::change(tx, settings, &Actor::system(), &LogActor::system(), id, &cmd, now)
                .await?;
        Ok(row)
    })
}

/// Where a client hangs.
fn topology(c: &clients::ClientRow) -> Topology {
    Topology { pop: c.pop.clone(), main_splitter: c.ms_id, splitter: c.splitter_id }
}

/// The name of `element` under the client `c`.
fn element_name(element: &Element, c: &clients::ClientRow) -> String {
    match element {
        Element::Splitter(id) => c.splitter_name.clone().unwrap_or_else(|| id.to_string()),
        Element::MainSplitter(id) => c.ms_name.clone().unwrap_or_else(|| id.to_string()),
        Element::Pop(name) => name.trim().to_owned(),
    }
}

/// The report `row` just became `Open`: it joins the open outage of its customer's element, or
/// opens one with the other reports there when they are enough (see `domain::outage`). Nothing
/// without a client, topology or when detection is off.
pub async fn detect(
    tx: &mut Tx,
    settings: &Settings,
    row: &TicketRow,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let (Some(rule), Some(client_id)) = (settings.outage_rule(), row.client_id) else { return Ok(()) };
    if row.state.is_outage || row.state.parent_id.is_some() || row.state.status != Status::Open {
        return Ok(());
    }
    let Some(client) = clients::get(tx, client_id).await? else { return Ok(()) };
    let under = topology(&client);
    let region = row.state.region;
    let elements: Vec<Element> = [OutageLevel::Pop, OutageLevel::MainSplitter, OutageLevel::Splitter]
        .iter()
        .filter_map(|l| under.at(*l))
        .collect();
    if elements.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = elements.iter().map(|e| e.key(region)).collect();
    outages::lock(tx, &keys).await?;
    let open: Vec<OpenOutage> = outages::open_at(tx, &keys)
        .await?
        .into_iter()
        .filter_map(|(id, key)| {
            elements.iter().find(|e| e.key(region) == key).map(|e| OpenOutage { id, element: e.clone() })
        })
        .collect();
    let others = outages::reports(tx, region, &under).await?;
    let new = Report {
        ticket: row.state.id,
        client: client_id,
        at: row.state.published_at.unwrap_or(now),
        under,
        outage: None,
    };
    match decide(&new, &others, &open, rule) {
        Decision::Alone => Ok(()),
        Decision::Join(outage) => {
            let number = number_of(tx, outage).await?;
            system(tx, settings, row.state.id, Command::Link { outage, number, moving: false }, now).await?;
            refresh(tx, settings, &[outage], now).await
        }
        Decision::Open { element, members, merge } => {
            // An outage below that a technician took already goes on: it and its reports stay.
            let mut kept = Vec::new();
            let mut merging = Vec::new();
            for id in merge {
                match tickets::get(tx, id).await? {
                    Some(o) if o.state.status == Status::Open => merging.push(id),
                    _ => kept.push(id),
                }
            }
            let merge = merging;
            let members: Vec<Uuid> = members
                .into_iter()
                .filter(|m| {
                    others
                        .iter()
                        .find(|r| r.ticket == *m)
                        .and_then(|r| r.outage)
                        .is_none_or(|o| !kept.contains(&o))
                })
                .collect();
            let name = element_name(&element, &client);
            let first = first_report(tx, &members).await?.unwrap_or_else(|| row.clone());
            let mark = OutageMark { level: element.level(), key: element.key(region), name };
            let outage = open_outage(tx, settings, region, &first, mark, now).await?;
            gather(tx, settings, &outage, &members, row.state.id, now).await?;
            for old in &merge {
                system(tx, settings, *old, Command::MergeInto { number: outage.ticket_id.clone() }, now)
                    .await?;
            }
            let mut touched = merge.clone();
            touched.push(outage.state.id);
            refresh(tx, settings, &touched, now).await
        }
    }
}

/// Links `members` to `outage` (moving those linked to an outage below); `new` is the report
/// being opened. A member that changed meanwhile (accepted, say) stays as it is.
async fn gather(
    tx: &mut Tx,
    settings: &Settings,
    outage: &TicketRow,
    members: &[Uuid],
    new: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    for &member in members {
        let moving = match tickets::get(tx, member).await? {
            Some(m) => m.state.parent_id.is_some(),
            None => continue,
        };
        let cmd = Command::Link { outage: outage.state.id, number: outage.ticket_id.clone(), moving };
        match system(tx, settings, member, cmd, now).await {
            Ok(_) => {}
            Err(DomainError::Conflict { .. }) if member != new => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The earliest published of `members`.
async fn first_report(tx: &mut Tx, members: &[Uuid]) -> Result<Option<TicketRow>, DomainError> {
    let mut first: Option<TicketRow> = None;
    for &id in members {
        if let Some(r) = tickets::get(tx, id).await?
            && first
                .as_ref()
                .is_none_or(|f| (r.state.published_at, r.created_at) < (f.state.published_at, f.created_at))
        {
            first = Some(r);
        }
    }
    Ok(first)
}

async fn number_of(tx: &mut Tx, id: Uuid) -> Result<String, DomainError> {
    Ok(tickets::get(tx, id).await?.ok_or(DomainError::NotFound("outage"))?.ticket_id)
}

/// Opens the outage ticket of `mark` in `region`: `Trouble`, the NOC and source of the `first`
/// report, published now (and so announced once to the region's technicians).
async fn open_outage(
    tx: &mut Tx,
    settings: &Settings,
    region: Region,
    first: &TicketRow,
    mark: OutageMark,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    let t = outage_ticket(
        region,
        mark,
        first.noc_id,
        (first.source, first.network_segment, first.indication_category),
        now,
    );
    Box::pin(super::tickets::insert(
        tx,
        settings.effects(),
        &t,
        &LogActor::system(),
        &settings.ticket_prefix,
        now,
    ))
    .await
}

/// The ticket of a new outage at `mark`: `Trouble`, no client, the NOC `noc_id`, the source,
/// segment and indication category of `kind`, published `now`.
fn outage_ticket(
    region: Region,
    mark: OutageMark,
    noc_id: Uuid,
    kind: (TicketSource, NetworkSegment, IndicationCategory),
    now: DateTime<Utc>,
) -> NewTicket {
    let (source, network_segment, indication_category) = kind;
    NewTicket {
        id: Uuid::now_v7(),
        region,
        client_id: None,
        end_user: NON_SLA.into(),
        customer_type: None,
        sla_hours: None,
        ticket_type: TicketType::Trouble,
        source,
        network_segment,
        indication_category,
        indication: Some(format!("Outage at {} {}", mark.level.words(), mark.name)),
        address: None,
        contact_person: "[]".into(),
        remark: None,
        location_remark: None,
        ms_name: None,
        ms_location: None,
        splitter_name: None,
        splitter_location: None,
        noc_id,
        status: Status::Open,
        published_at: Some(now),
        outage: Some(mark),
    }
}

/// Counts the reports of `outages` anew and records the change of their documents.
async fn refresh(
    tx: &mut Tx,
    settings: &Settings,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    outages::recount(tx, ids, now).await?;
    for &id in ids {
        settings.effects().ticket_changed(tx, id, None, now).await?;
    }
    Ok(())
}

/// The outage `after` closed (it was open before): a cancellation gives its open reports back
/// (`Open` on their own, announced), a close closes them with it. The merge of an outage
/// finds no report left: they moved first.
pub fn closed<'a>(
    tx: &'a mut Tx,
    settings: &'a Settings,
    after: &'a TicketRow,
    now: DateTime<Utc>,
) -> Boxed<'a, ()> {
    Box::pin(async move {
        guard(tx, after).await?;
        let children = outages::open_children(tx, after.state.id).await?;
        for child in children {
            let cmd = match after.state.canceled {
                true => Command::Unlink,
                false => Command::CloseWithOutage {
                    number: after.ticket_id.clone(),
                    pending_seconds: after.state.total_pending_seconds,
                },
            };
            // A report that changed meanwhile (the NOC canceled it, say) is read again: one
            // still linked is closed or given back, any other is left as it is.
            let mut tries = 0;
            loop {
                match system(tx, settings, child, cmd.clone(), now).await {
                    Ok(_) => break,
                    Err(DomainError::Conflict { code: "concurrent_change", .. }) if tries < 3 => tries += 1,
                    Err(DomainError::Conflict { .. }) => break,
                    Err(e) => return Err(e),
                }
            }
            if after.state.canceled {
                settings.effects().status_entered(tx, child, None, Status::Open, now).await?;
            }
        }
        if after.state.canceled {
            refresh(tx, settings, &[after.state.id], now).await?;
        }
        Ok(())
    })
}

/// Takes the outage lock of `outage`'s element (nothing for a ticket that is no outage) before
/// anything writes to it: every write to an outage, and every report joining it, take turns.
pub async fn guard(tx: &mut Tx, outage: &TicketRow) -> Result<(), DomainError> {
    match (&outage.outage_element, outage.state.is_outage) {
        (Some(key), true) => outages::lock(tx, std::slice::from_ref(key)).await,
        _ => Ok(()),
    }
}

/// What the NOC declares: an outage at a splitter or main splitter (by id) or a POP (by name,
/// in a region).
#[derive(Debug, Clone)]
pub struct Declaration {
    pub element: Element,
    /// The element's name (the splitter's or main splitter's, the POP).
    pub name: String,
    pub region: Region,
    pub source: TicketSource,
    pub indication_category: IndicationCategory,
}

/// Declares an outage (the NOC of the region, SuperAdmin): 409 `outage_open` when the element
/// has one open; the region's open reports under the element are linked to it.
pub async fn declare(
    tx: &mut Tx,
    settings: &Settings,
    actor: &Actor,
    d: Declaration,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    actor.may_write_tickets()?;
    actor.may_write_tickets_in(d.region)?;
    let key = d.element.key(d.region);
    outages::lock(tx, std::slice::from_ref(&key)).await?;
    if let Some(open) = outages::open_one(tx, &key).await? {
        return Err(DomainError::conflict("outage_open", format!("outage {open} is open at this element")));
    }
    let under = match &d.element {
        Element::Pop(p) => Topology { pop: Some(p.clone()), ..Default::default() },
        Element::MainSplitter(id) => Topology { main_splitter: Some(*id), ..Default::default() },
        Element::Splitter(id) => Topology { splitter: Some(*id), ..Default::default() },
    };
    // The reports under the element on their own; those of another outage stay with it.
    let members: Vec<Uuid> = outages::reports(tx, d.region, &under)
        .await?
        .into_iter()
        .filter(|r| r.outage.is_none() && r.under.under(&d.element))
        .map(|r| r.ticket)
        .collect();
    let mark = OutageMark { level: d.element.level(), key, name: d.name.trim().to_owned() };
    let kind = (d.source, NetworkSegment::Access, d.indication_category);
    let t = outage_ticket(d.region, mark, actor.id, kind, now);
    let outage =
        super::tickets::insert(tx, settings.effects(), &t, &actor.into(), &settings.ticket_prefix, now)
            .await?;
    gather(tx, settings, &outage, &members, Uuid::nil(), now).await?;
    refresh(tx, settings, &[outage.state.id], now).await?;
    Ok(tickets::get(tx, outage.state.id).await?.unwrap_or(outage))
}

/// Links the report `id` to the open outage `parent` (the NOC of the region, SuperAdmin): the
/// outage must be an open outage of the report's region (else 409 `not_an_open_outage`).
pub async fn link(
    tx: &mut Tx,
    settings: &Settings,
    actor: &Actor,
    id: Uuid,
    parent: Uuid,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    let report = tickets::get(tx, id).await?.ok_or(DomainError::NotFound("ticket"))?;
    let seen = |o: &TicketRow| actor.ticket_scope().sees(o.state.region, o.state.status, o.state.foc_id);
    let outage = tickets::get(tx, parent)
        .await?
        .filter(seen)
        .ok_or_else(|| DomainError::invalid("parentId", "no such ticket"))?;
    guard(tx, &outage).await?;
    // As it is once no other write to it runs.
    let outage = tickets::get(tx, parent).await?.unwrap_or(outage);
    if !outage.state.is_outage
        || outage.state.status == Status::Closed
        || outage.state.region != report.state.region
    {
        return Err(DomainError::conflict(
            "not_an_open_outage",
            format!("{} is not an open outage of {}", outage.ticket_id, report.state.region),
        ));
    }
    let cmd = Command::Link { outage: parent, number: outage.ticket_id.clone(), moving: false };
    let (row, _) = super::tickets::change(tx, settings, actor, &actor.into(), id, &cmd, now).await?;
    refresh(tx, settings, &[parent], now).await?;
    Ok(row)
}

/// Gives the linked report `id` back to work on its own (the NOC of the region, SuperAdmin):
/// `Open` and announced again.
pub async fn unlink(
    tx: &mut Tx,
    settings: &Settings,
    actor: &Actor,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    let report = tickets::get(tx, id).await?.ok_or(DomainError::NotFound("ticket"))?;
    if let Some(parent) = report.state.parent_id
        && let Some(outage) = tickets::get(tx, parent).await?
    {
        guard(tx, &outage).await?;
    }
    let (row, _) =
        super::tickets::change(tx, settings, actor, &actor.into(), id, &Command::Unlink, now).await?;
    if let Some(parent) = report.state.parent_id {
        refresh(tx, settings, &[parent], now).await?;
    }
    settings.effects().status_entered(tx, id, None, Status::Open, now).await?;
    Ok(row)
}
