//! The background worker: job consumers and schedules. `cgs-worker` runs it on its own; `cgs-api`
//! runs it in-process on the embedded SQLite default (or when told to).

pub mod bot;
pub mod clients;
pub mod jobs;
pub mod mail_intake;

use std::{future::Future, str::FromStr, sync::Arc, time::Duration};

use anyhow::Context as _;
use apalis::prelude::*;
use apalis_cron::CronScheduler;
use common::{
    config::Settings,
    db::Db,
    jobs::{
        BroadcastOpenTicket, Deliver, DeliverWebhook, Escalate, ExpirePending, Notify, SyncAccess,
        SyncTicket, SyncTickets,
    },
};
use tokio::{sync::watch, task::JoinHandle};

use crate::clients::{
    Chat, Mailer, TicketStore, firestore::FirestoreTickets, mail::SmtpMailer, telegram::Telegram,
};

/// What every job handler shares.
#[derive(Clone)]
pub struct Context {
    pub db: Db,
    pub settings: Arc<Settings>,
    /// Firestore, when `FIRESTORE_PROJECT_ID` is set.
    pub firestore: Option<Arc<dyn TicketStore>>,
    /// Outgoing mail, when `CGS_SMTP_URL` is set.
    pub mailer: Option<Arc<dyn Mailer>>,
    /// The Telegram bot, when `CGS_TELEGRAM_BOT_TOKEN` is set.
    pub telegram: Option<Arc<dyn Chat>>,
    /// Where the SLA sweep of this process left off.
    pub sla_sweep: Arc<tokio::sync::Mutex<Option<jobs::sla_sweep::LeftOff>>>,
}

impl Context {
    /// Connects what the settings configure, and says what is off.
    pub async fn new(db: Db, settings: Arc<Settings>) -> anyhow::Result<Self> {
        let firestore = match &settings.firestore_project_id {
            Some(project) => {
                let store = FirestoreTickets::connect(project).await?;
                tracing::info!(project = %project, "Firestore sync is on");
                Some(Arc::new(store) as Arc<dyn TicketStore>)
            }
            None => {
                tracing::info!("Firestore sync is off (FIRESTORE_PROJECT_ID is not set)");
                None
            }
        };
        let mailer = match &settings.smtp_url {
            Some(url) => {
                let mailer = SmtpMailer::new(url.expose(), &settings.mail_from)?;
                tracing::info!(from = %settings.mail_from, "mail broadcasts are on");
                Some(Arc::new(mailer) as Arc<dyn Mailer>)
            }
            None => {
                tracing::info!("mail broadcasts are off (CGS_SMTP_URL is not set)");
                None
            }
        };
        let telegram = match &settings.telegram_bot_token {
            Some(token) => {
                let bot = Telegram::new(token.expose(), &settings.telegram_api_url)?;
                tracing::info!(api = %settings.telegram_api_url, "Telegram bot is on");
                Some(Arc::new(bot) as Arc<dyn Chat>)
            }
            None => {
                tracing::info!("Telegram bot is off (CGS_TELEGRAM_BOT_TOKEN is not set)");
                None
            }
        };
        match &settings.imap_host {
            Some(host) => tracing::info!(
                host = %host,
                port = settings.imap_port,
                tls = settings.imap_tls,
                mailbox = %settings.imap_mailbox,
                "mail intake is on"
            ),
            None => tracing::info!("mail intake is off (CGS_IMAP_HOST is not set)"),
        }
        Ok(Self { db, settings, firestore, mailer, telegram, sla_sweep: Default::default() })
    }
}

pub(crate) type Stop = watch::Receiver<bool>;

pub(crate) fn signal(stop: &Stop) -> impl Future<Output = Result<(), std::io::Error>> + Send + 'static {
    let mut rx = stop.clone();
    async move {
        let _ = rx.wait_for(|s| *s).await;
        Ok(())
    }
}

fn cron(expr: &str, var: &str) -> anyhow::Result<cron::Schedule> {
    cron::Schedule::from_str(expr).with_context(|| format!("{var} `{expr}` is not a cron expression"))
}

/// Runs every worker until `shutdown` resolves; jobs in flight finish first.
pub async fn run(ctx: Context, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
    let (stop_tx, stop) = watch::channel(false);
    let publish = cron(&ctx.settings.publish_schedule, "CGS_PUBLISH_SCHEDULE")?;
    let reconcile = cron(&ctx.settings.sync_reconcile_schedule, "CGS_SYNC_RECONCILE_SCHEDULE")?;
    let sweep = cron(&ctx.settings.sla_sweep_schedule, "CGS_SLA_SWEEP_SCHEDULE")?;
    let pools = jobs::QueuePools::new(&ctx.db).await?;
    let mut handles: Vec<JoinHandle<Result<(), WorkerError>>> = vec![
        tokio::spawn(
            WorkerBuilder::new("cgs-publish-scheduled")
                .backend(CronScheduler::new(publish))
                .data(ctx.clone())
                .build(jobs::publish_scheduled::run)
                .run_until(signal(&stop)),
        ),
        tokio::spawn(
            WorkerBuilder::new("cgs-sla-sweep")
                .backend(CronScheduler::new(sweep))
                .data(ctx.clone())
                .build(jobs::sla_sweep::run)
                .run_until(signal(&stop)),
        ),
        jobs::consumer::<ExpirePending>(&ctx, &stop, &pools),
        jobs::consumer::<Escalate>(&ctx, &stop, &pools),
        jobs::consumer::<DeliverWebhook>(&ctx, &stop, &pools),
    ];
    if ctx.firestore.is_some() {
        handles.push(jobs::consumer::<SyncTicket>(&ctx, &stop, &pools));
        handles.push(jobs::consumer::<SyncTickets>(&ctx, &stop, &pools));
        handles.push(jobs::consumer::<SyncAccess>(&ctx, &stop, &pools));
        handles.push(tokio::spawn(
            WorkerBuilder::new("cgs-reconcile-sync")
                .backend(CronScheduler::new(reconcile))
                .data(ctx.clone())
                .build(jobs::reconcile_sync::run)
                .run_until(signal(&stop)),
        ));
    }
    if ctx.mailer.is_some() || ctx.telegram.is_some() {
        handles.push(jobs::consumer::<BroadcastOpenTicket>(&ctx, &stop, &pools));
        handles.push(jobs::consumer::<Deliver>(&ctx, &stop, &pools));
        handles.push(jobs::consumer::<Notify>(&ctx, &stop, &pools));
    }
    if ctx.settings.imap_host.is_some() {
        let (ctx, stop) = (ctx.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            mail_intake::run(ctx, stop).await;
            Ok(())
        }));
    }
    if let Some(telegram) = ctx.telegram.clone() {
        let (ctx, stop) = (ctx.clone(), stop.clone());
        handles.push(tokio::spawn(async move {
            bot::run(ctx, telegram, stop).await;
            Ok(())
        }));
    }
    tracing::info!(
        backend = ?ctx.db.backend(),
        firestore = ctx.firestore.is_some(),
        mail = ctx.mailer.is_some(),
        telegram = ctx.telegram.is_some(),
        mail_intake = ctx.settings.imap_host.is_some(),
        "worker running"
    );
    shutdown.await;
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN, async {
        for h in handles {
            if let Ok(Err(e)) = h.await {
                tracing::warn!(error = %e, "a worker stopped with an error");
            }
        }
    })
    .await;
    if drained.is_err() {
        // What still runs is left to the queue: its heartbeats stop, and the next worker takes
        // the jobs over.
        tracing::warn!(
            seconds = DRAIN.as_secs(),
            "jobs still running after the drain time; leaving them to the queue"
        );
    }
    Ok(())
}

/// Sends the process's logs to stderr, filtered by `RUST_LOG` (default `info`): JSON lines when
/// `format` is `json`, else text, coloured only when stderr is a terminal (a log file or a
/// collector gets no escape codes).
pub fn init_tracing(format: &str) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.with_ansi(std::io::stderr().is_terminal()).init();
    }
}

/// How long a stopping worker waits for the jobs in flight.
pub const DRAIN: Duration = Duration::from_secs(15);

/// Resolves on SIGINT or SIGTERM: the signals that stop `cgs-api` and `cgs-worker` gracefully.
/// The handlers are installed when this is called, not when it is first awaited: call it first
/// thing, so that a signal during startup stops the process gracefully once it has started
/// rather than ending it at once.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::terminate()).ok(), signal(SignalKind::interrupt()).ok())
    };
    async move {
        #[cfg(unix)]
        {
            let (term, int) = signals;
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {},
                _ = wait(int) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing in-flight requests and jobs");
    }
}
