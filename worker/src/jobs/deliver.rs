//! `Deliver`: tells one technician about an open ticket on one channel (mail, or the linked
//! Telegram chat with an Accept button). Skipped when the ticket was taken (no longer `Open`)
//! or the user left (inactive, moved to another region, chat unlinked) before it ran, or the
//! user turned new tickets or the channel off (held back in quiet hours); a channel
//! that refuses or is down fails the try, and the queue gives the delivery again later
//! (`Deliver`'s backoff and tries); the last failure is kept as a failed job.

use common::{
    announce::Announcement,
    db::{self, notifications, telegram, tickets, users},
    domain::{NoticeKind, Status, preferences::Delivery},
    jobs::{Channel, Deliver},
};

use super::{JobError, Run, notify::apply_choice};
use crate::{Context, clients::mail::Mail};

impl Run for Deliver {
    #[tracing::instrument(skip_all, fields(ticket.id = %self.ticket_id, user.id = %self.user_id, channel = ?self.channel))]
    async fn run(self, ctx: &Context) -> Result<(), JobError> {
        deliver(self, ctx).await
    }
}

async fn deliver(job: Deliver, ctx: &Context) -> Result<(), JobError> {
    let mut tx = ctx.db.begin().await?;
    let ticket = tickets::get(&mut tx, job.ticket_id).await?;
    let user = users::get(&mut tx, job.user_id).await?;
    let chat = telegram::chat_of(&mut tx, job.user_id).await?;
    let preferences = notifications::preferences(&mut tx, job.user_id).await?;
    tx.commit().await?;
    let (Some(ticket), Some(user)) = (ticket, user) else {
        tracing::info!("ticket or user gone; delivery dropped");
        return Ok(());
    };
    if ticket.state.status != Status::Open || user.region != ticket.state.region {
        tracing::info!(status = %ticket.state.status, "ticket taken or user moved; delivery dropped");
        return Ok(());
    }
    let (kind, now) = (NoticeKind::NewTicket, db::now());
    if apply_choice(ctx, &job, &preferences, kind, job.channel, user.region, now).await? != Delivery::Now {
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
    outcome(ctx, job.channel, sent, "open ticket delivered")
}

/// A send's end as a job's: done, refused for good by the channel (kept as failed at once), or
/// worth another try later.
pub(super) fn outcome(
    ctx: &Context,
    channel: Channel,
    sent: anyhow::Result<()>,
    done: &str,
) -> Result<(), JobError> {
    let for_good = |e: &anyhow::Error| match channel {
        Channel::Mail => ctx.mailer.as_ref().is_some_and(|m| m.refused_for_good(e)),
        Channel::Telegram => ctx.telegram.as_ref().is_some_and(|c| c.refused_for_good(e)),
    };
    match sent {
        Ok(()) => {
            tracing::info!("{done}");
            Ok(())
        }
        Err(e) if for_good(&e) => Err(JobError::Permanent(e)),
        Err(e) => Err(JobError::Transient(e)),
    }
}
