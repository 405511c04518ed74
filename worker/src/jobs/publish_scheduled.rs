//! `PublishScheduled` (cron): opens the drafts whose `publishedAt` has come.

use apalis::prelude::{BoxDynError, Data};
use apalis_cron::Tick;
use common::{
    DomainError,
    db::{self, tickets::LogActor},
    domain::{access::Actor, ticket::Command},
    service,
};

use crate::Context;

pub async fn run(_tick: Tick, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let now = db::now();
    let due = {
        let mut tx = ctx.db.begin().await?;
        let ids = common::db::tickets::scheduled_drafts(&mut tx, now, 500).await?;
        tx.commit().await?;
        ids
    };
    for id in due {
        let mut tx = ctx.db.begin_write().await?;
        match service::tickets::change(
            &mut tx,
            &ctx.settings,
            &Actor::system(),
            &LogActor::system(),
            id,
            &Command::Publish,
            now,
        )
        .await
        {
            Ok(_) => {
                tx.commit().await?;
                tracing::info!(ticket.id = %id, "scheduled ticket published");
            }
            // Published or canceled meanwhile.
            Err(DomainError::Conflict { .. }) | Err(DomainError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
