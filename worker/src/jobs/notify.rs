//! `Notify`: tells one user on one channel what happened to a ticket (the NOC's verdict on the
//! technician's request, with its remark and the next step; an assignment, to the technician
//! it names and the one it replaces; a follow-up: a ticket nobody accepted, an SLA about to run
//! out or run out, a request waiting for the NOC). Dropped when the ticket, the user or the
//! verdict is gone, what it tells is no longer true, the user turned its kind or channel off,
//! or the channel is off or unlinked; held back until the user's quiet hours end (all but an
//! SLA breach); a channel that refuses or is down is handled as for `Deliver`.

use chrono::{DateTime, Utc};
use common::{
    announce::{AssignmentNotice, FollowUpNotice, VerdictNotice},
    db::{self, notifications, telegram, tickets, users},
    domain::{CardType, NoticeKind, Region, Status, preferences::Delivery},
    jobs::{Channel, Job, Notify, NotifyKind},
};

use super::{JobError, Run, deliver::outcome};
use crate::{Context, clients::mail::Mail};

impl Run for Notify {
    #[tracing::instrument(skip_all, fields(ticket.id = %self.ticket_id, user.id = %self.user_id, channel = ?self.channel, kind = ?self.kind))]
    async fn run(self, ctx: &Context) -> Result<(), JobError> {
        let claim = self.clone();
        let ended = notify(self, ctx).await;
        // What became of it, for the metrics: sent, dropped, failed for good; one held back
        // or worth another try still waits.
        let state = match &ended {
            Ok(Some(state)) => *state,
            Err(JobError::Permanent(_)) => "Failed",
            Ok(None) | Err(JobError::Transient(_)) => return ended.map(|_| ()),
        };
        let mut tx = ctx.db.begin_write().await?;
        notifications::settle(&mut tx, &claim, state).await?;
        tx.commit().await?;
        ended.map(|_| ())
    }
}

/// Tells it, or not: `Some` of what became of it (`Sent`, `Dropped`), `None` when it was held
/// back for later.
async fn notify(job: Notify, ctx: &Context) -> Result<Option<&'static str>, JobError> {
    let now = db::now();
    let mut tx = ctx.db.begin().await?;
    let ticket = tickets::get(&mut tx, job.ticket_id).await?;
    let user = users::get(&mut tx, job.user_id).await?;
    let chat = telegram::chat_of(&mut tx, job.user_id).await?;
    let logs = match (&ticket, job.evidence_id) {
        (Some(_), Some(_)) => tickets::logs(&mut tx, job.ticket_id).await?,
        _ => Vec::new(),
    };
    let technician = match ticket.as_ref().and_then(|t| t.state.foc_id) {
        Some(id) => users::get(&mut tx, id).await?.map(|u| u.name),
        None => None,
    };
    let preferences = notifications::preferences(&mut tx, job.user_id).await?;
    tx.commit().await?;
    let (Some(ticket), Some(user)) = (ticket, user) else {
        tracing::info!("ticket or user gone; notification dropped");
        return Ok(Some("Dropped"));
    };
    let notice = match job.kind {
        NotifyKind::Verdict => {
            // The request's own entry carries the verdict and its remark.
            let request = logs
                .iter()
                .find(|l| l.evidence_id == job.evidence_id && l.need_approval && l.is_approved.is_some());
            let Some(request) = request else {
                tracing::info!("no verdict on that evidence; notification dropped");
                return Ok(Some("Dropped"));
            };
            // A later request has its verdict already: only the latest verdict is worth telling,
            // and an older one must not arrive after it.
            let is_request = |l: &&tickets::LogRow| {
                matches!(l.card_type, CardType::RequestValidationAction | CardType::FinishingAction)
            };
            if logs.iter().filter(is_request).any(|l| l.seq > request.seq && l.is_approved.is_some()) {
                tracing::info!("a later verdict on the ticket exists; notification dropped");
                return Ok(Some("Dropped"));
            }
            let n = VerdictNotice::of(
                &ticket,
                request.status_name,
                request.is_approved == Some(true),
                request.approval_remark.clone(),
                ctx.settings.app_url.as_deref(),
            );
            (n.subject(), n.text())
        }
        NotifyKind::Assigned | NotifyKind::Reassigned => {
            let yours = job.kind == NotifyKind::Assigned;
            // Told only while it is still true: a technician replaced again meanwhile is told
            // by the later assignment's own notice.
            if (ticket.state.foc_id == Some(job.user_id)) != yours {
                tracing::info!("the assignment changed meanwhile; notification dropped");
                return Ok(Some("Dropped"));
            }
            let n = AssignmentNotice::of(&ticket, yours, ctx.settings.app_url.as_deref());
            (n.subject(), n.text())
        }
        NotifyKind::Unaccepted
        | NotifyKind::SlaWarning
        | NotifyKind::SlaBreached
        | NotifyKind::ValidationWaiting => {
            let (applies, since) = match job.kind {
                NotifyKind::Unaccepted => (
                    ticket.state.status == Status::Open,
                    ticket.state.published_at.unwrap_or(ticket.created_at),
                ),
                NotifyKind::ValidationWaiting => {
                    let asked = logs.iter().find(|l| l.evidence_id == job.evidence_id).map(|l| l.created_at);
                    (ticket.state.awaiting_evidence == job.evidence_id, asked.unwrap_or(now))
                }
                _ => (ticket.state.closed_at.is_none(), now),
            };
            if !applies {
                tracing::info!("no longer so; notification dropped");
                return Ok(Some("Dropped"));
            }
            let n = FollowUpNotice::of(
                &ticket,
                job.kind,
                technician,
                since,
                now,
                ctx.settings.app_url.as_deref(),
            );
            (n.subject(), n.text())
        }
    };
    match apply_choice(ctx, &job, &preferences, job.kind.notice(), job.channel, user.region, now).await? {
        Delivery::Now => {}
        Delivery::Off => return Ok(Some("Dropped")),
        Delivery::HeldUntil(_) => return Ok(None),
    }
    let (subject, text) = notice;
    let sent = match (job.channel, &ctx.mailer, &ctx.telegram, chat) {
        (Channel::Mail, Some(mailer), _, _) => {
            let mail = Mail {
                to_name: user.name,
                to_address: user.email,
                subject,
                text,
                message_id: format!(
                    "{}-{}-{}.{}@cgs-ticketing",
                    job.kind.as_str(),
                    job.occurrence,
                    job.ticket_id,
                    job.user_id
                ),
            };
            mailer.send(&mail).await
        }
        (Channel::Telegram, _, Some(bot), Some(chat)) => bot.say(chat, &format!("{subject}\n\n{text}")).await,
        _ => {
            tracing::info!("channel off or chat unlinked; notification dropped");
            return Ok(Some("Dropped"));
        }
    };
    outcome(ctx, job.channel, sent, "notification delivered").map(|()| Some("Sent"))
}

/// What the user's choices make of `job` now: [`Delivery::Now`] goes on; [`Delivery::Off`]
/// (kind or channel turned off) is dropped; [`Delivery::HeldUntil`] has been put back, due when
/// the user's quiet hours end.
pub(super) async fn apply_choice<J: Job>(
    ctx: &crate::Context,
    job: &J,
    preferences: &common::domain::preferences::Preferences,
    kind: NoticeKind,
    channel: Channel,
    region: Region,
    now: DateTime<Utc>,
) -> Result<Delivery, JobError> {
    let delivery = preferences.delivery(kind, channel, region, now);
    match delivery {
        Delivery::Now => {}
        Delivery::Off => tracing::info!(?kind, ?channel, "turned off by the user; dropped"),
        Delivery::HeldUntil(at) => {
            let mut tx = ctx.db.begin_write().await?;
            job.enqueue_at(&mut tx, at).await?;
            tx.commit().await?;
            tracing::info!(until = %at, "quiet hours; held back");
        }
    }
    Ok(delivery)
}
