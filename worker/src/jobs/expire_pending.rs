//! `ExpirePending`: the pending interval is over; resume the ticket the way `resume` does, if
//! that pending still runs. Idempotent: a resumed, closed or vanished ticket is left alone.

use apalis::prelude::{BoxDynError, Data};
use common::{
    DomainError,
    db::{self, tickets::LogActor},
    domain::ticket::Command,
    jobs::{EXPIRE_PENDING_QUEUE, ExpirePending, enqueue},
    service,
};

use crate::Context;

#[tracing::instrument(skip_all, fields(ticket.id = %job.ticket_id))]
pub async fn run(job: ExpirePending, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let now = db::now();
    let mut tx = ctx.db.begin_write().await?;
    let cmd = Command::ExpirePending { evidence_id: job.evidence_id };
    match service::execute(
        &mut tx,
        ctx.settings.effects(),
        &super::system(),
        &LogActor::system(),
        job.ticket_id,
        &cmd,
        now,
    )
    .await
    {
        Ok(_) => {
            tx.commit().await?;
            tracing::info!("pending interval over: ticket resumed");
        }
        Err(DomainError::Conflict { .. }) | Err(DomainError::NotFound(_)) => {
            // Resumed by hand, closed, or not due yet (clocks of two machines): if the same
            // pending still runs, come back when it is due.
            let row = common::db::tickets::get(&mut tx, job.ticket_id).await?;
            if let Some(row) = row
                && row.state.pending_evidence == Some(job.evidence_id)
                && let Some(due) = row.state.pending_due()
                && due > now
            {
                enqueue(&mut tx, EXPIRE_PENDING_QUEUE, &job, due).await?;
                tx.commit().await?;
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
