//! `Escalate`: follows up the tickets nobody may forget. Each follow-up is checked again when
//! it runs (a ticket accepted meanwhile is not escalated, a request decided meanwhile is not
//! reminded, a closed ticket is not warned about), then each person concerned gets a `Notify`
//! per channel, claimed once per (ticket, kind, occurrence, user, channel): a retried job or a
//! second sweep tells nobody twice.

use std::collections::BTreeSet;

use chrono::Duration;
use common::{
    db::{self, Tx, tickets, users},
    domain::{Role, Status, webhook::WebhookEvent},
    jobs::{BroadcastOpenTicket, Escalate, FollowUp, Job, NotifyKind},
    service,
};
use uuid::Uuid;

use super::{JobError, Run};
use crate::Context;

impl Run for Escalate {
    #[tracing::instrument(skip_all, fields(tickets = self.ticket_ids.len(), follow_up = ?self.follow_up))]
    async fn run(self, ctx: &Context) -> Result<(), JobError> {
        escalate(self, ctx).await
    }
}

/// What one ticket's follow-up tells, and whom.
struct Telling {
    kind: NotifyKind,
    occurrence: String,
    evidence_id: Option<Uuid>,
    recipients: Vec<Uuid>,
}

async fn escalate(job: Escalate, ctx: &Context) -> Result<(), JobError> {
    let effects = ctx.settings.effects();
    let now = db::now();
    let mut tx = ctx.db.begin_write().await?;
    let (mut told, mut dropped) = (0usize, 0usize);
    for &id in &job.ticket_ids {
        let Some(t) = tickets::get(&mut tx, id).await? else {
            dropped += 1;
            continue;
        };
        let telling = match &job.follow_up {
            &FollowUp::Unaccepted { level, since } => {
                // Accepted since (and perhaps open again, which escalates on its own), or part
                // of an outage, which escalates instead.
                if t.state.status != Status::Open
                    || t.state.accepted_at.is_some_and(|at| at >= since)
                    || t.state.parent_id.is_some()
                {
                    dropped += 1;
                    continue;
                }
                let recipients = if level <= 1 {
                    if effects.broadcast() {
                        BroadcastOpenTicket { ticket_id: id }.enqueue(&mut tx).await?;
                    }
                    let next = Escalate {
                        ticket_ids: vec![id],
                        follow_up: FollowUp::Unaccepted { level: 2, since },
                    };
                    let at = since + Duration::minutes(2 * effects.escalate_minutes.max(1));
                    next.enqueue_at(&mut tx, at.max(now)).await?;
                    let mut who = users::in_region(&mut tx, t.state.region, Role::FOCSupervisor).await?;
                    who.push(t.noc_id);
                    who
                } else {
                    users::in_region(&mut tx, t.state.region, Role::NOC).await?
                };
                let level_field = Some(("level", serde_json::Value::from(level)));
                service::webhooks::emit_one(&mut tx, id, WebhookEvent::TicketEscalated, level_field, now)
                    .await?;
                let occurrence = format!("{}/{level}", since.timestamp_millis());
                Telling { kind: NotifyKind::Unaccepted, occurrence, evidence_id: None, recipients }
            }
            FollowUp::SlaWarning | FollowUp::SlaBreached => {
                if t.state.closed_at.is_some() {
                    dropped += 1;
                    continue;
                }
                let kind = match job.follow_up {
                    FollowUp::SlaWarning => NotifyKind::SlaWarning,
                    _ => NotifyKind::SlaBreached,
                };
                let mut who = users::in_region(&mut tx, t.state.region, Role::FOCSupervisor).await?;
                who.extend(t.state.foc_id);
                who.push(t.noc_id);
                // Once each per ticket.
                Telling { kind, occurrence: "sla".into(), evidence_id: None, recipients: who }
            }
            &FollowUp::ValidationWaiting { evidence_id } => {
                if t.state.awaiting_evidence != Some(evidence_id) {
                    dropped += 1;
                    continue;
                }
                let recipients = users::in_region(&mut tx, t.state.region, Role::NOC).await?;
                let occurrence = evidence_id.to_string();
                Telling {
                    kind: NotifyKind::ValidationWaiting,
                    occurrence,
                    evidence_id: Some(evidence_id),
                    recipients,
                }
            }
        };
        tell(&mut tx, ctx, id, telling, now).await?;
        told += 1;
    }
    tx.commit().await?;
    tracing::info!(told, dropped, "follow-up done");
    Ok(())
}

/// Tells each recipient once, on every channel configured.
async fn tell(
    tx: &mut Tx,
    ctx: &Context,
    ticket_id: Uuid,
    t: Telling,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), JobError> {
    let effects = ctx.settings.effects();
    let recipients: BTreeSet<Uuid> = t.recipients.into_iter().collect();
    for user in recipients {
        effects.notify(tx, ticket_id, user, t.kind, t.evidence_id, &t.occurrence, now).await?;
    }
    Ok(())
}
