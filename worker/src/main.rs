//! `cgs-worker`: the background worker of CGS Ticketing. Run any number of them beside
//! `cgs-api` on one PostgreSQL; each job runs once.

use std::sync::Arc;

use clap::{Parser, Subcommand};
use common::{config::Settings, db::Db};

/// CGS Ticketing background worker. Every option can be given as the environment variable shown.
#[derive(Parser)]
#[command(name = "cgs-worker", version, about)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the worker (the default).
    Run,
    /// Exit 0 when the database answers (for container health checks).
    Healthcheck,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let shutdown = worker::shutdown_signal();
    worker::init_tracing(&cli.settings.log_format);
    if let Some(Command::Healthcheck) = cli.command {
        let db = Db::connect(&cli.settings.database_url, 1).await?;
        anyhow::ensure!(db.ping().await, "the database does not answer");
        println!("ready");
        return Ok(());
    }
    let db = Db::connect(&cli.settings.database_url, cli.settings.db_max_connections).await?;
    db.migrate().await?;
    let ctx = worker::Context::new(db.clone(), Arc::new(cli.settings)).await?;
    worker::run(ctx, shutdown).await?;
    if tokio::time::timeout(std::time::Duration::from_secs(3), db.close()).await.is_err() {
        tracing::warn!("database connections still busy after the drain; closing anyway");
    }
    Ok(())
}
