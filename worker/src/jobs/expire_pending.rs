//! `ExpirePending`: the pending interval is over; resume the ticket the way `resume` does, if
//! that pending still runs. Idempotent: a resumed, closed or vanished ticket is left alone.

use common::{
    DomainError,
    db::{self, tickets::LogActor},
    domain::{access::Actor, ticket::Command},
    jobs::{ExpirePending, Job},
    service,
};

use super::{JobError, Run};
use crate::Context;

impl Run for ExpirePending {
    #[tracing::instrument(skip_all, fields(ticket.id = %self.ticket_id))]
    async fn run(self, ctx: &Context) -> Result<(), JobError> {
        expire(self, ctx).await
    }
}

async fn expire(job: ExpirePending, ctx: &Context) -> Result<(), JobError> {
    let now = db::now();
    let mut tx = ctx.db.begin_write().await?;
    let cmd = Command::ExpirePending { evidence_id: job.evidence_id };
    match service::tickets::change(
        &mut tx,
        &ctx.settings,
        &Actor::system(),
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
            // Resumed by hand, closed, not due yet (clocks of two machines), beaten by a
            // concurrent change, or a request waits. While the same pending has not ended, it is
            // planned again: at its due time, or at once after a lost race. A waiting request
            // ends it when the NOC decides (a rejection returns to the pending and resumes it
            // at once when its time is up; an approval or the NOC's own cancel closes it).
            let row = common::db::tickets::get(&mut tx, job.ticket_id).await?;
            if let Some(row) = row
                && row.state.pending_evidence == Some(job.evidence_id)
                && let Some(due) = row.state.pending_due()
            {
                if due > now {
                    job.enqueue_at(&mut tx, due).await?;
                } else if !row.state.need_validate {
                    tracing::info!("pending expiry lost a race; planned again");
                    job.enqueue(&mut tx).await?;
                } else {
                    tracing::info!(
                        "pending interval over while a request waits; the NOC's decision resumes it"
                    );
                }
                tx.commit().await?;
            }
        }
        Err(e) => return Err(e.into()),
    }
    Ok(())
}
