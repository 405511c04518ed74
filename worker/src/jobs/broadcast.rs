//! `BroadcastOpenTicket`: fans an open ticket out to the active field technicians of its region,
//! one `DeliverMail` per recipient in one transaction, so each delivery is retried on its own and
//! a repeated broadcast job is harmless to the queue (deliveries recheck the ticket).

use apalis::prelude::{BoxDynError, Data};
use common::{
    db::{self, tickets, users},
    domain::Status,
    jobs::{BroadcastOpenTicket, DeliverMail, MAIL_QUEUE, enqueue},
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
    if ctx.mailer.is_some() {
        for user_id in &recipients {
            enqueue(
                &mut tx,
                MAIL_QUEUE,
                &DeliverMail { ticket_id: job.ticket_id, user_id: *user_id, attempt: 0 },
                now,
            )
            .await?;
        }
    }
    tx.commit().await?;
    tracing::info!(recipients = recipients.len(), region = %ticket.state.region, "open ticket announced");
    Ok(())
}
