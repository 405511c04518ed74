//! `cgs-worker`: the background worker of CGS Ticketing. It shares the database with `cgs-api`;
//! job consumers register here as they are added.

use clap::Parser;
use common::{config::Settings, db::Db};
use tracing_subscriber::EnvFilter;

/// CGS Ticketing background worker. Every option can be given as the environment variable shown.
#[derive(Parser)]
#[command(name = "cgs-worker", version, about)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let db = Db::connect(&cli.settings.database_url, cli.settings.db_max_connections).await?;
    db.migrate().await?;
    tracing::info!(backend = ?db.backend(), "cgs-worker connected; no job queues are defined in this version");
    tokio::signal::ctrl_c().await?;
    db.close().await;
    Ok(())
}
