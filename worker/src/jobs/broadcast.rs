//! `BroadcastOpenTicket`: fans an open ticket out to the active field technicians of its region,
//! one `Deliver` per recipient and channel (mail to everyone, Telegram to linked chats) in one
//! transaction, so each delivery is retried on its own.

use apalis::prelude::{BoxDynError, Data};
use common::{
    db::{self, tickets, users},
    domain::Status,
    jobs::{BroadcastOpenTicket, Channel, DELIVER_QUEUE, Deliver, enqueue},
};

use crate::Context;

#[tracing::instrument(skip_all, fields(ticket.id = %job.ticket_id))]
pub async fn run(job: BroadcastOpenTicket, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let now = db::now();
    let mut tx = ctx.db.begin_write().await?;
    let Some(ticket) = tickets::get(&mut tx, job.ticket_id).await? else { return Ok(()) };
    if ticket.state.status != Status::Open {
        tracing::info!(status = %ticket.state.status, "ticket no longer open; nothing to announce");
        return Ok(());
    }
    let recipients = users::field_staff(&mut tx, ticket.state.region).await?;
    let mut deliveries = 0;
    for &(user_id, chat) in &recipients {
        let mail = ctx.mailer.is_some().then_some(Channel::Mail);
        let telegram = (ctx.telegram.is_some() && chat.is_some()).then_some(Channel::Telegram);
        for channel in mail.into_iter().chain(telegram) {
            let d = Deliver { ticket_id: job.ticket_id, user_id, channel, attempt: 0 };
            enqueue(&mut tx, DELIVER_QUEUE, &d, now).await?;
            deliveries += 1;
        }
    }
    tx.commit().await?;
    tracing::info!(recipients = recipients.len(), deliveries, region = %ticket.state.region, "open ticket announced");
    Ok(())
}
