//! `cgs-api`: the HTTP API of CGS Ticketing.

use clap::{Parser, Subcommand};
use common::config::{Secret, Settings};

/// CGS Ticketing API server. Every option can be given as the environment variable shown.
#[derive(Parser)]
#[command(name = "cgs-api", version, about)]
struct Cli {
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Print the OpenAPI document and exit.
    Openapi,
    /// Print `firestore.rules`, generated from the access rule, and exit.
    FirestoreRules,
    /// Create a SuperAdmin.
    CreateAdmin {
        #[arg(long)]
        email: String,
        /// The password (at least 8 characters).
        #[arg(long, env = "CGS_NEW_ADMIN_PASSWORD", hide_env_values = true)]
        password: Secret,
        #[arg(long, default_value = "Super Admin")]
        name: String,
        #[arg(long)]
        nik: String,
    },
    /// Exit 0 when the server at `CGS_LISTEN` is ready (for container health checks).
    Healthcheck,
    /// Enqueue the Firestore sync of every ticket (the worker writes them).
    Resync,
    /// List the background jobs that used up their attempts.
    FailedJobs,
    /// Put a failed background job back in its queue.
    RetryJob { id: String },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    worker::init_tracing(&cli.settings.log_format);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => println!("{}", api::openapi_json()),
        Command::FirestoreRules => print!("{}", common::domain::access::firestore_rules()),
        Command::Migrate => {
            let db = common::db::Db::connect(&cli.settings.database_url, 1).await?;
            db.migrate().await?;
            tracing::info!("migrations applied");
        }
        Command::CreateAdmin { email, password, name, nik } => {
            api::cli::create_admin(&cli.settings, &email, &password, &name, &nik).await?
        }
        Command::Healthcheck => api::cli::healthcheck(&cli.settings)?,
        Command::Resync => api::cli::resync(&cli.settings).await?,
        Command::FailedJobs => api::cli::failed(&cli.settings).await?,
        Command::RetryJob { id } => api::cli::retry(&cli.settings, &id).await?,
        Command::Serve => {
            // Installed before startup, so that a signal during it stops the server once started.
            let shutdown = worker::shutdown_signal();
            let app = api::build_app(cli.settings).await?;
            tracing::info!(addr = %app.local_addr(), backend = ?app.state.db.backend(), "cgs-api listening");
            app.run_until(shutdown).await?;
            tracing::info!("cgs-api stopped");
        }
    }
    Ok(())
}
