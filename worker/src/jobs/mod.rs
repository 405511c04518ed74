//! The worker's side of every job: [`Run`] gives a `common::jobs::Job` its handler, [`JobError`]
//! says whether a failure is worth another try, and [`consumer`] runs one queue on either
//! backend with the one retry policy. One file per job below.

pub mod broadcast;
pub mod deliver;
pub mod escalate;
pub mod expire_pending;
pub mod notify;
pub mod publish_scheduled;
pub mod reconcile_sync;
pub mod sla_sweep;
mod stopping;
pub mod sync_access;
pub mod sync_ticket;
pub mod webhook;

use std::{
    future::Future,
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use apalis::prelude::{
    AbortError, Attempt, BackendExt, BoxDynError, Data, TaskId, WorkerBuilder, WorkerError,
};
use common::{
    db::{self, Db, failed_jobs},
    jobs::Job,
};
use tokio::task::JoinHandle;

use self::stopping::{Draining, drain_then_stop};
use crate::{Context, Stop};

/// Why a job did not get done.
#[derive(Debug)]
pub enum JobError {
    /// Worth another try later (a peer or the database is down or busy): tried again after
    /// [`Job::backoff`], up to [`Job::MAX_ATTEMPTS`] tries, then kept as failed.
    Transient(anyhow::Error),
    /// Another try would fail the same way (a peer refused the payload for good): kept as
    /// failed at once.
    Permanent(anyhow::Error),
}

impl JobError {
    pub fn permanent(e: impl Into<anyhow::Error>) -> Self {
        Self::Permanent(e.into())
    }
}

impl<E: Into<anyhow::Error>> From<E> for JobError {
    fn from(e: E) -> Self {
        Self::Transient(e.into())
    }
}

/// A job's handler.
pub trait Run: Job {
    fn run(self, ctx: &Context) -> impl Future<Output = Result<(), JobError>> + Send;
}

/// Runs one try of `J` and applies the retry policy to its failure: a transient one is due again
/// after [`Job::backoff`] (the queue counts the tries and keeps the job as failed after
/// [`Job::MAX_ATTEMPTS`]), a permanent one is kept as failed at once. The queue records the
/// whole error chain as the job's last result.
async fn attempt<J: Run>(
    job: J,
    ctx: Data<Context>,
    id: TaskId,
    attempt: Attempt,
) -> Result<(), BoxDynError> {
    let tries = attempt.current();
    match job.run(&ctx).await {
        Ok(()) => Ok(()),
        Err(JobError::Permanent(e)) => {
            tracing::error!(queue = J::QUEUE, job.id = %id, error = %format!("{e:#}"), "job failed for good; kept as failed");
            Err(AbortError::new(format!("{e:#}")).into())
        }
        Err(JobError::Transient(e)) if tries < J::MAX_ATTEMPTS => {
            let wait = J::backoff(tries).min(Duration::from_secs(ctx.settings.job_retry_max_wait_seconds));
            let again = db::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
            if let Err(e) = failed_jobs::due_again(&ctx.db, &id.to_string(), again).await {
                tracing::warn!(queue = J::QUEUE, job.id = %id, error = %e, "could not delay the job's next try");
            }
            tracing::warn!(queue = J::QUEUE, job.id = %id, error = %format!("{e:#}"), tries, retry_in_s = wait.as_secs(), "job failed; tried again later");
            Err(format!("{e:#}").into())
        }
        Err(JobError::Transient(e)) => {
            tracing::error!(queue = J::QUEUE, job.id = %id, error = %format!("{e:#}"), tries, "job failed on its last try; kept as failed");
            Err(format!("{e:#}").into())
        }
    }
}

/// How often the SQLite queue is polled.
const SQLITE_POLL: Duration = Duration::from_millis(50);
/// How often a queue consumer says it is alive; the jobs of one silent for [`MISSED_HEARTBEATS`]
/// beats (a worker killed mid-job) are taken over by the others or by its restart: after 15 s on
/// PostgreSQL, 5 s on SQLite. On SQLite the consumer at times waits for its next beat before
/// fetching a due job, so the beat there is short (it bounds that wait; each beat is one small
/// write).
const HEARTBEAT: Duration = Duration::from_secs(5);
const SQLITE_HEARTBEAT: Duration = Duration::from_secs(1);
/// Beats a consumer may miss before its jobs count as orphaned (the queue's default is 10). A
/// live consumer whose beats stall that long has its jobs run a second time, as a worker killed
/// between a job's work and its acknowledgement does: jobs run at least once, and each re-reads
/// the database first.
const MISSED_HEARTBEATS: usize = 3;
const SQLITE_MISSED_HEARTBEATS: usize = 5;
/// How often PostgreSQL is polled for jobs that came due (new jobs arrive by LISTEN/NOTIFY).
const PG_POLL: Duration = Duration::from_secs(1);
/// Jobs a fetch brings at most (the queues' default).
const BATCH: usize = 10;
/// A consumer's name in the queue's worker registry, unique to this process: the jobs a killed
/// process held are recognised as orphans (its heartbeats stop) and run by the live consumers,
/// a restart of the same process included.
fn instance(queue: &str) -> String {
    static SUFFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let suffix = SUFFIX.get_or_init(|| uuid::Uuid::new_v4().simple().to_string()[..8].to_owned());
    format!("{}-{suffix}", queue.replace(['.', '_'], "-"))
}

/// The most queues a worker consumes: the size of the queues' own pools.
const MAX_QUEUES: u32 = 10;

/// The connections the queues use beside the app's pool. On SQLite, a pool of their own: the
/// queue's setup relaxes `synchronous` on its connections, and each queue's backend has one
/// statement under way at most, so one connection per queue keeps a queue from waiting behind
/// another's. On PostgreSQL, the connections of the queues' `LISTEN`: each holds one for as
/// long as the worker runs, which must not come out of the pool requests and jobs share.
pub struct QueuePools {
    sqlite: sqlx::SqlitePool,
    listen: sqlx::PgPool,
}

impl QueuePools {
    pub async fn new(db: &Db) -> anyhow::Result<Self> {
        let unused_pg = || sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://localhost/unused");
        Ok(match db {
            Db::Sqlite(p, _) => Self {
                sqlite: sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(MAX_QUEUES)
                    .connect_with((*p.connect_options()).clone())
                    .await?,
                listen: unused_pg()?,
            },
            Db::Postgres(p, ..) => Self {
                sqlite: sqlx::sqlite::SqlitePoolOptions::new().connect_lazy("sqlite::memory:")?,
                // Lazy: a worker starts while the database is down, and listens once it is back.
                listen: sqlx::postgres::PgPoolOptions::new()
                    .max_connections(MAX_QUEUES)
                    .connect_lazy_with((*p.connect_options()).clone().application_name("cgs-queue-listener")),
            },
        })
    }
}

/// Starts the consumer of `J`'s queue on the context's backend; it stops taking jobs when
/// `stop` turns true and ends once those in flight are done.
pub fn consumer<J: Run>(
    ctx: &Context,
    stop: &Stop,
    pools: &QueuePools,
) -> JoinHandle<Result<(), WorkerError>> {
    let name = instance(J::QUEUE);
    match &ctx.db {
        Db::Sqlite(..) => {
            let backend = apalis_sqlite::SqliteStorage::<J>::new(&pools.sqlite)
                .with_config(
                    apalis_sqlite::Config::default()
                        .queue(J::QUEUE)
                        .batch_size(BATCH)
                        .heartbeat_interval(SQLITE_HEARTBEAT)
                        .missed_heartbeats(SQLITE_MISSED_HEARTBEATS),
                )
                .poll_with_interval(SQLITE_POLL);
            let stopping = Arc::new(AtomicBool::new(false));
            let backend = Draining::new(backend, stopping.clone(), BATCH);
            let worker = WorkerBuilder::new(name).backend(backend).data(ctx.clone()).build(attempt::<J>);
            tokio::spawn(worker.run_with_ctx(drain_then_stop(stop.clone(), stopping)))
        }
        Db::Postgres(pool, ..) => {
            // LISTEN/NOTIFY picks up new jobs at once; the interval finds jobs that come due.
            let strategy = apalis::prelude::Strategy::new()
                .stream(apalis_postgres::Pubsub::new(pools.listen.clone(), J::QUEUE.to_owned()))
                .interval(PG_POLL);
            let backend = apalis_postgres::PostgresStorage::<J>::new(pool)
                .with_config(
                    apalis_postgres::Config::default()
                        .queue(J::QUEUE)
                        .batch_size(BATCH)
                        .heartbeat_interval(HEARTBEAT)
                        .missed_heartbeats(MISSED_HEARTBEATS),
                )
                .poll_with_strategy(strategy);
            let stopping = Arc::new(AtomicBool::new(false));
            let backend = Draining::new(backend, stopping.clone(), BATCH);
            let worker = WorkerBuilder::new(name).backend(backend).data(ctx.clone()).build(attempt::<J>);
            tokio::spawn(worker.run_with_ctx(drain_then_stop(stop.clone(), stopping)))
        }
    }
}
