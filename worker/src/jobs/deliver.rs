//! `Deliver`: tells one technician about an open ticket on one channel (mail, or the linked
//! Telegram chat with an Accept button). Skipped when the ticket was taken (no longer `Open`)
//! or the user left (inactive, moved to another region, chat unlinked) before it ran; a channel
//! that refuses or is down gets the delivery again later, with a growing wait, up to
//! `DELIVERY_ATTEMPTS` tries; the last failure is kept as a failed job.

use apalis::prelude::{BoxDynError, Data};
use common::{
    announce::Announcement,
    db::{self, telegram, tickets, users},
    domain::Status,
    jobs::{Channel, DELIVER_QUEUE, DELIVERY_ATTEMPTS, Deliver, delivery_backoff, enqueue},
};

use crate::{Context, clients::mail::Mail};

#[tracing::instrument(skip_all, fields(ticket.id = %job.ticket_id, user.id = %job.user_id, channel = ?job.channel))]
pub async fn run(job: Deliver, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let mut tx = ctx.db.begin().await?;
    let ticket = tickets::get(&mut tx, job.ticket_id).await?;
    let user = users::get(&mut tx, job.user_id).await?;
    let chat = telegram::chat_of(&mut tx, job.user_id).await?;
    tx.commit().await?;
    let (Some(ticket), Some(user)) = (ticket, user) else {
        tracing::info!("ticket or user gone; delivery dropped");
        return Ok(());
    };
    if ticket.state.status != Status::Open || user.region != ticket.state.region {
        tracing::info!(status = %ticket.state.status, "ticket taken or user moved; delivery dropped");
        return Ok(());
    }
    let a = Announcement::of(&ticket, ctx.settings.app_url.as_deref());
    let sent = match (job.channel, &ctx.mailer, &ctx.telegram, chat) {
        (Channel::Mail, Some(mailer), _, _) => {
            let mail = Mail {
                to_name: user.name,
                to_address: user.email,
                subject: a.subject(),
                text: a.text(),
                message_id: format!("ticket-{}.{}@cgs-ticketing", job.ticket_id, job.user_id),
            };
            mailer.send(&mail).await
        }
        (Channel::Telegram, _, Some(bot), Some(chat)) => bot.announce(chat, &a).await,
        _ => {
            tracing::info!("channel off or chat unlinked; delivery dropped");
            return Ok(());
        }
    };
    match sent {
        Ok(()) => {
            tracing::info!("open ticket delivered");
            Ok(())
        }
        Err(e) if job.attempt + 1 < DELIVERY_ATTEMPTS => {
            let again = db::now() + delivery_backoff(job.attempt);
            tracing::warn!(error = %format!("{e:#}"), attempt = job.attempt + 1, retry_at = %again, "delivery failed; trying again later");
            let mut tx = ctx.db.begin_write().await?;
            enqueue(&mut tx, DELIVER_QUEUE, &Deliver { attempt: job.attempt + 1, ..job }, again).await?;
            tx.commit().await?;
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), attempts = DELIVERY_ATTEMPTS, "delivery failed for good; kept as a failed job");
            Err(e.into())
        }
    }
}
