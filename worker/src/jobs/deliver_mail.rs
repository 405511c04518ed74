//! `DeliverMail`: mails one technician about an open ticket. Skipped when the ticket was taken
//! (no longer `Open`) or the user left (inactive, or moved to another region) before it ran; a
//! mail server that refuses or is down gets the delivery again later, with a growing wait, up
//! to `DELIVERY_ATTEMPTS` tries; the last failure is kept as a failed job.

use apalis::prelude::{BoxDynError, Data};
use common::{
    announce::Announcement,
    db::{self, tickets, users},
    domain::Status,
    jobs::{DELIVERY_ATTEMPTS, DeliverMail, MAIL_QUEUE, delivery_backoff, enqueue},
};

use crate::{Context, clients::mail::Mail};

#[tracing::instrument(skip_all, fields(ticket.id = %job.ticket_id, user.id = %job.user_id))]
pub async fn run(job: DeliverMail, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let Some(mailer) = &ctx.mailer else { return Ok(()) };
    let mut tx = ctx.db.begin().await?;
    let ticket = tickets::get(&mut tx, job.ticket_id).await?;
    let user = users::get(&mut tx, job.user_id).await?;
    tx.commit().await?;
    let (Some(ticket), Some(user)) = (ticket, user) else {
        tracing::info!("ticket or user gone; mail dropped");
        return Ok(());
    };
    if ticket.state.status != Status::Open || user.region != ticket.state.region {
        tracing::info!(status = %ticket.state.status, "ticket taken or user moved; mail dropped");
        return Ok(());
    }
    let a = Announcement::of(&ticket, ctx.settings.app_url.as_deref());
    let mail = Mail {
        to_name: user.name,
        to_address: user.email,
        subject: a.subject(),
        text: a.text(),
        message_id: format!("ticket-{}.{}@cgs-ticketing", job.ticket_id, job.user_id),
    };
    match mailer.send(&mail).await {
        Ok(()) => {
            tracing::info!("open ticket mailed");
            Ok(())
        }
        Err(e) if job.attempt + 1 < DELIVERY_ATTEMPTS => {
            let again = db::now() + delivery_backoff(job.attempt);
            tracing::warn!(error = %format!("{e:#}"), attempt = job.attempt + 1, retry_at = %again, "mail delivery failed; trying again later");
            let mut tx = ctx.db.begin_write().await?;
            enqueue(&mut tx, MAIL_QUEUE, &DeliverMail { attempt: job.attempt + 1, ..job }, again).await?;
            tx.commit().await?;
            Ok(())
        }
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), attempts = DELIVERY_ATTEMPTS, "mail delivery failed for good; kept as a failed job");
            Err(e.into())
        }
    }
}
