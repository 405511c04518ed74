//! `/v1/admin`: what an operator needs to see and mend (SuperAdmin).

use common::{DomainError, db::failed_jobs};
use poem::web::Data;
use poem_openapi::{Object, OpenApi, param::Path, param::Query};

use crate::{
    ApiTags,
    auth::Auth,
    envelope::{Found, Listed, found, listed, page_request},
    error::ApiResult,
    state::AppState,
};

/// A background job that used up its attempts.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct FailedJob {
    pub id: String,
    pub queue: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    /// The last error, as the queue recorded it.
    pub last_result: Option<String>,
    /// When it last was due, Unix seconds.
    pub run_at: i64,
    /// The job's payload (JSON).
    pub payload: String,
}

impl From<failed_jobs::FailedJob> for FailedJob {
    fn from(j: failed_jobs::FailedJob) -> Self {
        Self {
            id: j.id,
            queue: j.queue,
            status: j.status,
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            last_result: j.last_result,
            run_at: j.run_at,
            payload: j.payload,
        }
    }
}

/// A job put back in its queue.
#[derive(Debug, Clone, Object)]
pub struct RetriedJob {
    pub id: String,
}

pub struct AdminApi;

#[OpenApi(prefix_path = "/v1/admin", tag = "ApiTags::Operations")]
impl AdminApi {
    /// Background jobs that failed every attempt (SuperAdmin).
    #[oai(path = "/jobs/failed", method = "get", operation_id = "listFailedJobs")]
    async fn failed_jobs(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        /// Rows per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// Rows to skip (default 0).
        #[oai(validator(minimum(value = "0")))]
        offset: Query<Option<i64>>,
    ) -> ApiResult<Listed<FailedJob>> {
        auth.actor().require_super_admin()?;
        let page = page_request(limit.0, offset.0)?;
        let mut tx = state.db.begin().await?;
        let jobs = failed_jobs::list(&mut tx, page).await?;
        tx.commit().await?;
        Ok(listed(jobs, FailedJob::from))
    }

    /// Run a failed job again, with fresh attempts (SuperAdmin).
    #[oai(path = "/jobs/:id/retry", method = "post", operation_id = "retryJob")]
    async fn retry_job(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        #[oai(validator(max_length = 100))] id: Path<String>,
    ) -> ApiResult<Found<RetriedJob>> {
        auth.actor().require_super_admin()?;
        let mut tx = state.db.begin_write().await?;
        if !failed_jobs::retry(&mut tx, &id.0).await? {
            return Err(DomainError::NotFound("failed job").into());
        }
        tx.commit().await?;
        tracing::info!(job.id = %id.0, by = %auth.actor().id, "failed job retried");
        Ok(found(RetriedJob { id: id.0 }))
    }
}
