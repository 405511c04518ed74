//! The background worker: job consumers and schedules. `cgs-worker` runs it on its own; `cgs-api`
//! runs it in-process on the embedded SQLite default (or when told to).

pub mod jobs;

use std::{future::Future, str::FromStr, sync::Arc, time::Duration};

use anyhow::Context as _;
use apalis::prelude::*;
use apalis_cron::CronScheduler;
use common::{config::Settings, db::Db, jobs::EXPIRE_PENDING_QUEUE};
use tokio::sync::watch;

/// What every job handler shares.
#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub settings: Arc<Settings>,
}

/// How often the SQLite queue is polled.
const SQLITE_POLL: Duration = Duration::from_millis(250);
/// How often PostgreSQL is polled for jobs that came due (new jobs arrive by LISTEN/NOTIFY).
const PG_POLL: Duration = Duration::from_secs(1);

/// Runs every worker until `shutdown` resolves; jobs in flight finish first.
pub async fn run(ctx: Context, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let signal = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
            Ok::<(), std::io::Error>(())
        }
    };
    let schedule = cron::Schedule::from_str(&ctx.settings.publish_schedule).with_context(|| {
        format!("CGS_PUBLISH_SCHEDULE `{}` is not a cron expression", ctx.settings.publish_schedule)
    })?;
    let publisher = WorkerBuilder::new("cgs-publish-scheduled")
        .backend(CronScheduler::new(schedule))
        .data(ctx.clone())
        .build(jobs::publish_scheduled::run);
    let mut handles = vec![tokio::spawn(publisher.run_until(signal()))];
    match &ctx.db {
        Db::Sqlite(_) => {
            // The queue gets connections of its own: its setup relaxes `synchronous` on them.
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(
                    (*match &ctx.db {
                        Db::Sqlite(p) => p.connect_options(),
                        Db::Postgres(_) => unreachable!(),
                    })
                    .clone(),
                )
                .await?;
            let backend = apalis_sqlite::SqliteStorage::new(&pool)
                .with_config(apalis_sqlite::Config::default().queue(EXPIRE_PENDING_QUEUE))
                .poll_with_interval(SQLITE_POLL);
            let worker = WorkerBuilder::new("cgs-expire-pending")
                .backend(backend)
                .data(ctx.clone())
                .build(jobs::expire_pending::run);
            handles.push(tokio::spawn(worker.run_until(signal())));
        }
        Db::Postgres(pool) => {
            // LISTEN/NOTIFY picks up new jobs at once; the interval finds jobs that come due.
            let strategy = apalis::prelude::Strategy::new()
                .stream(apalis_postgres::Pubsub::new(pool.clone(), EXPIRE_PENDING_QUEUE.to_owned()))
                .interval(PG_POLL);
            let backend = apalis_postgres::PostgresStorage::new(pool)
                .with_config(apalis_postgres::Config::default().queue(EXPIRE_PENDING_QUEUE))
                .poll_with_strategy(strategy);
            let worker = WorkerBuilder::new("cgs-expire-pending")
                .backend(backend)
                .data(ctx.clone())
                .build(jobs::expire_pending::run);
            handles.push(tokio::spawn(worker.run_until(signal())));
        }
    }
    tracing::info!(backend = ?ctx.db.backend(), "worker running: expire_pending, publish_scheduled");
    shutdown.await;
    let _ = stop_tx.send(true);
    for h in handles {
        if let Ok(Err(e)) = h.await {
            tracing::warn!(error = %e, "a worker stopped with an error");
        }
    }
    Ok(())
}
