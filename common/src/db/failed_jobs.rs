//! The job queue's failures: jobs of ours that used up their attempts, retrying them, and the
//! wait before a failed try's next one.
//! The queue's tables belong to apalis and differ by backend, hence the two dialects here.

use chrono::{DateTime, Utc};

use super::{Conn, Db, Page, PageRequest, Tx};
use crate::error::DomainError;

/// A job that used up its attempts (or was killed).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FailedJob {
    pub id: String,
    pub queue: String,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub last_result: Option<String>,
    /// When it last was due, Unix seconds.
    pub run_at: i64,
    /// The payload, as JSON text.
    pub payload: String,
}

const FAILED: &str =
    "job_type LIKE 'cgs.%' AND (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))";

pub async fn list(tx: &mut Tx, page: PageRequest) -> Result<Page<FailedJob>, DomainError> {
    match tx.conn().await? {
        Conn::Sqlite(t) => {
            let sql = format!(
                "SELECT id, job_type AS queue, status, attempts, max_attempts, CAST(last_result AS TEXT) AS last_result, \
                 run_at, CAST(job AS TEXT) AS payload FROM Jobs WHERE {FAILED} ORDER BY run_at DESC, id LIMIT $1 OFFSET $2"
            );
            let count = format!("SELECT COUNT(*) FROM Jobs WHERE {FAILED}");
            let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count)).fetch_one(&mut **t).await?;
            let items = sqlx::query_as::<_, FailedJob>(sqlx::AssertSqlSafe(sql))
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(&mut **t)
                .await?;
            Ok(Page { items, total, total_exact: true, page })
        }
        Conn::Postgres(t) => {
            let sql = format!(
                "SELECT id, job_type AS queue, status, CAST(attempts AS BIGINT) AS attempts, \
                 CAST(max_attempts AS BIGINT) AS max_attempts, CAST(last_result AS TEXT) AS last_result, \
                 CAST(EXTRACT(EPOCH FROM run_at) AS BIGINT) AS run_at, convert_from(job, 'UTF8') AS payload \
                 FROM apalis.jobs WHERE {FAILED} ORDER BY run_at DESC, id LIMIT $1 OFFSET $2"
            );
            let count = format!("SELECT COUNT(*) FROM apalis.jobs WHERE {FAILED}");
            let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count)).fetch_one(&mut **t).await?;
            let items = sqlx::query_as::<_, FailedJob>(sqlx::AssertSqlSafe(sql))
                .bind(page.limit)
                .bind(page.offset)
                .fetch_all(&mut **t)
                .await?;
            Ok(Page { items, total, total_exact: true, page })
        }
    }
}

/// Puts a failed job back in its queue with fresh attempts; `false` when there is no such
/// failed job.
pub async fn retry(tx: &mut Tx, id: &str) -> Result<bool, DomainError> {
    let affected = match tx.conn().await? {
        Conn::Sqlite(t) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE Jobs SET status = 'Pending', attempts = 0, run_at = strftime('%s', 'now'), lock_by = NULL, \
             lock_at = NULL, done_at = NULL WHERE id = $1 AND {FAILED}"
        )))
        .bind(id)
        .execute(&mut **t)
        .await?
        .rows_affected(),
        Conn::Postgres(t) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE apalis.jobs SET status = 'Pending', attempts = 0, run_at = now(), lock_by = NULL, \
             lock_at = NULL, done_at = NULL WHERE id = $1 AND {FAILED}"
        )))
        .bind(id)
        .execute(&mut **t)
        .await?
        .rows_affected(),
    };
    Ok(affected == 1)
}

/// Makes a job whose try is failing due again at `at`, not before: the queue runs a failed
/// job with tries left as soon as it is due, and the retry policy wants a wait. Its own short
/// write, before the queue records the failure (which leaves the due time as it is).
pub async fn due_again(db: &Db, id: &str, at: DateTime<Utc>) -> Result<(), DomainError> {
    let mut tx = db.begin_write().await?;
    match tx.conn().await? {
        Conn::Sqlite(t) => {
            sqlx::query("UPDATE Jobs SET run_at = $1 WHERE id = $2")
                .bind(at.timestamp())
                .bind(id)
                .execute(&mut **t)
                .await?;
        }
        Conn::Postgres(t) => {
            sqlx::query("UPDATE apalis.jobs SET run_at = $1 WHERE id = $2")
                .bind(at)
                .bind(id)
                .execute(&mut **t)
                .await?;
        }
    }
    tx.commit().await
}

/// Jobs of ours by queue and state: `queued` (waiting, the queue's depth), `running`,
/// `retrying` (failed, attempts left), `failed` (attempts used up, or killed) and `done`.
pub async fn counts(tx: &mut Tx) -> Result<Vec<(String, String, i64)>, DomainError> {
    let sql = |table: &str| {
        format!(
            "SELECT job_type, CASE WHEN status = 'Done' THEN 'done' \
             WHEN status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts) THEN 'failed' \
             WHEN status = 'Failed' THEN 'retrying' WHEN status = 'Running' THEN 'running' \
             ELSE 'queued' END AS state, COUNT(*) FROM {table} WHERE job_type LIKE 'cgs.%' GROUP BY 1, 2 ORDER BY 1, 2"
        )
    };
    Ok(match tx.conn().await? {
        Conn::Sqlite(t) => {
            sqlx::query_as::<_, (String, String, i64)>(sqlx::AssertSqlSafe(sql("Jobs")))
                .fetch_all(&mut **t)
                .await?
        }
        Conn::Postgres(t) => {
            sqlx::query_as::<_, (String, String, i64)>(sqlx::AssertSqlSafe(sql("apalis.jobs")))
                .fetch_all(&mut **t)
                .await?
        }
    })
}
