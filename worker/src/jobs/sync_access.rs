//! `SyncAccess`: writes a user's `access/{uid}` document (active, role, region) to Firestore
//! from the database's current state, which the rules check on every read. Idempotent: it
//! always writes the latest state.

use apalis::prelude::{BoxDynError, Data};
use common::{db::users, domain::access::AccessDocument, jobs::SyncAccess};

use crate::Context;

#[tracing::instrument(skip_all, fields(user.id = %job.user_id))]
pub async fn run(job: SyncAccess, ctx: Data<Context>) -> Result<(), BoxDynError> {
    let Some(store) = &ctx.firestore else { return Ok(()) };
    let mut tx = ctx.db.begin().await?;
    let user = users::get_any(&mut tx, job.user_id).await?;
    tx.commit().await?;
    let Some(user) = user else { return Ok(()) };
    let doc = AccessDocument { active: user.active, role: user.role, region: user.region };
    store.put_access(user.id, &doc).await.map_err(|e| {
        tracing::warn!(error = %format!("{e:#}"), "writing a user's Firestore access failed; the job retries");
        BoxDynError::from(e)
    })
}
