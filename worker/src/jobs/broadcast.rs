//! `BroadcastOpenTicket`: fans an open ticket out to the active field technicians of its region,
//! one `Deliver` per recipient and channel (mail to everyone, Telegram to linked chats) in one
//! transaction, so each delivery is retried on its own.

use common::{
    db::{tickets, users},
    domain::Status,
    jobs::{BroadcastOpenTicket, Channel, Deliver, enqueue_all},
};

use super::{JobError, Run};
use crate::Context;

impl Run for BroadcastOpenTicket {
    #[tracing::instrument(skip_all, fields(ticket.id = %self.ticket_id))]
    async fn run(self, ctx: &Context) -> Result<(), JobError> {
        announce(self, ctx).await
    }
}

async fn announce(job: BroadcastOpenTicket, ctx: &Context) -> Result<(), JobError> {
    let mut tx = ctx.db.begin_write().await?;
    let Some(ticket) = tickets::get(&mut tx, job.ticket_id).await? else { return Ok(()) };
    if ticket.state.status != Status::Open {
        tracing::info!(status = %ticket.state.status, "ticket no longer open; nothing to announce");
        return Ok(());
    }
    if let Some(outage) = ticket.state.parent_id {
        tracing::info!(%outage, "ticket is part of an outage, which is announced instead");
        return Ok(());
    }
    let recipients = users::field_staff(&mut tx, ticket.state.region).await?;
    let mut deliveries = Vec::new();
    for &(user_id, chat) in &recipients {
        let mail = ctx.mailer.is_some().then_some(Channel::Mail);
        let telegram = (ctx.telegram.is_some() && chat.is_some()).then_some(Channel::Telegram);
        for channel in mail.into_iter().chain(telegram) {
            deliveries.push(Deliver { ticket_id: job.ticket_id, user_id, channel });
        }
    }
    enqueue_all(&mut tx, &deliveries).await?;
    tx.commit().await?;
    tracing::info!(recipients = recipients.len(), deliveries = deliveries.len(), region = %ticket.state.region, "open ticket announced");
    Ok(())
}
