//! Background jobs: payloads (ids only; the handler re-reads the database) and `enqueue`,
//! which writes the job in the caller's transaction, so a committed change never loses its
//! jobs and a rolled-back one never runs them.

use apalis_core::task::builder::TaskBuilder;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{db::Tx, error::DomainError};

/// Queue of [`ExpirePending`].
pub const EXPIRE_PENDING_QUEUE: &str = "cgs.expire_pending";

/// Attempts before a job is kept as failed.
pub const MAX_ATTEMPTS: usize = 10;

/// Resume a ticket whose pending interval is over, if that pending still runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpirePending {
    pub ticket_id: Uuid,
    pub evidence_id: Uuid,
}

/// Writes a job to `queue`, to run at `run_at` (at the earliest), in the caller's transaction.
pub async fn enqueue<J: Serialize>(
    tx: &mut Tx,
    queue: &str,
    job: &J,
    run_at: DateTime<Utc>,
) -> Result<(), DomainError> {
    let args = serde_json::to_vec(job).map_err(|e| DomainError::Internal(format!("encoding a job: {e}")))?;
    // The queue counts whole seconds: round up so a job never runs before its time.
    let at = run_at.timestamp() + i64::from(run_at.timestamp_subsec_nanos() > 0);
    let task = TaskBuilder::new(args).run_at_timestamp(at.max(0) as u64).max_attempts(MAX_ATTEMPTS).build();
    let failed = |e: String| DomainError::Internal(format!("enqueueing a job on {queue}: {e}"));
    match tx {
        Tx::Sqlite(t) => apalis_sqlite::queries::push_tasks(&mut **t, queue, &[task])
            .await
            .map_err(|e| failed(e.to_string())),
        Tx::Postgres(t) => apalis_postgres::queries::push_tasks(&mut **t, queue, vec![task])
            .await
            .map_err(|e| failed(e.to_string())),
    }
}
