//! `Notify`: tells one user on one channel what happened to a ticket (the NOC's verdict on the
//! technician's request, with its remark and the next step; an assignment, to the technician
//! it names and the one it replaces). Dropped when the ticket, the user
//! or the verdict is gone, or the channel is off or unlinked, before it runs; a channel that
//! refuses or is down is handled as for `Deliver`.

use common::{
    announce::{AssignmentNotice, VerdictNotice},
    db::{telegram, tickets, users},
    domain::CardType,
    jobs::{Channel, Notify, NotifyKind},
};

use super::{JobError, Run, deliver::outcome};
use crate::{Context, clients::mail::Mail};

impl Run for Notify {
    #[tracing::instrument(skip_all, fields(ticket.id = %self.ticket_id, user.id = %self.user_id, channel = ?self.channel, kind = ?self.kind))]
    async fn run(self, ctx: &Context) -> Result<(), JobError> {
        notify(self, ctx).await
    }
}

async fn notify(job: Notify, ctx: &Context) -> Result<(), JobError> {
    let mut tx = ctx.db.begin().await?;
    let ticket = tickets::get(&mut tx, job.ticket_id).await?;
    let user = users::get(&mut tx, job.user_id).await?;
    let chat = telegram::chat_of(&mut tx, job.user_id).await?;
    let logs = match (&ticket, job.evidence_id) {
        (Some(_), Some(_)) => tickets::logs(&mut tx, job.ticket_id).await?,
        _ => Vec::new(),
    };
    tx.commit().await?;
    let (Some(ticket), Some(user)) = (ticket, user) else {
        tracing::info!("ticket or user gone; notification dropped");
        return Ok(());
    };
    let notice = match job.kind {
        NotifyKind::Verdict => {
            // The request's own entry carries the verdict and its remark.
            let request = logs
                .iter()
                .find(|l| l.evidence_id == job.evidence_id && l.need_approval && l.is_approved.is_some());
            let Some(request) = request else {
                tracing::info!("no verdict on that evidence; notification dropped");
                return Ok(());
            };
            // A later request has its verdict already: only the latest verdict is worth telling,
            // and an older one must not arrive after it.
            let is_request = |l: &&tickets::LogRow| {
                matches!(l.card_type, CardType::RequestValidationAction | CardType::FinishingAction)
            };
            if logs.iter().filter(is_request).any(|l| l.seq > request.seq && l.is_approved.is_some()) {
                tracing::info!("a later verdict on the ticket exists; notification dropped");
                return Ok(());
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
                return Ok(());
            }
            let n = AssignmentNotice::of(&ticket, yours, ctx.settings.app_url.as_deref());
            (n.subject(), n.text())
        }
    };
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
            return Ok(());
        }
    };
    outcome(ctx, job.channel, sent, "notification delivered")
}
