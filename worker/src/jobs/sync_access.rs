//! `SyncAccess`: writes a user's `access/{uid}` document (active, role, region) to Firestore
//! from the database's current state, which the rules check on every read. Idempotent: it
//! always writes the latest state.

use common::{db::users, domain::access::AccessDocument, jobs::SyncAccess};

use super::{JobError, Run};
use crate::Context;

impl Run for SyncAccess {
    #[tracing::instrument(skip_all, fields(user.id = %self.user_id))]
    async fn run(self, ctx: &Context) -> Result<(), JobError> {
        let Some(store) = &ctx.firestore else { return Ok(()) };
        let mut tx = ctx.db.begin().await?;
        let user = users::get_any(&mut tx, self.user_id).await?;
        tx.commit().await?;
        let Some(user) = user else { return Ok(()) };
        let doc = AccessDocument { active: user.active, role: user.role, region: user.region };
        store.put_access(user.id, &doc).await?;
        Ok(())
    }
}
