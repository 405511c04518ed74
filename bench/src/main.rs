//! `cgs-bench`: benchmarks that print figures. Each starts the real app in this process on a
//! database of its own and drives it over HTTP on loopback.
//!
//! `cgs-bench firestore-latency --changes 200 [--postgres URL]`: the time from a status change's
//! answer to the Firestore document (a local emulator) holding it.
//! `cgs-bench load --tickets 100000 [--postgres URL]`: the `cgs-api` binary on a seeded
//! database under concurrent clients (creation, status flows, lists, reads, RSS, pgbench ceiling).
//! `cgs-bench sla-sweep --tickets 1000000 [--postgres URL]`: one SLA sweep over open tickets.
//! `cgs-bench hostile [--postgres URL]`: the `cgs-api` binary under a login flood and a streamed
//! 100 MiB body (read latency idle and flooded, RSS before and after).

mod cpu;
mod hostile;
mod load;
mod outage;
mod pgbench;
mod seed;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "cgs-bench", about = "CGS Ticketing benchmarks")]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Status change → Firestore document latency, against the local Firestore emulator.
    FirestoreLatency {
        /// How many status changes to time.
        #[arg(long, default_value_t = 200)]
        changes: usize,
        /// A PostgreSQL server (a database is created on it); SQLite when absent.
        #[arg(long)]
        postgres: Option<String>,
    },
    /// The API binary under load on a seeded database.
    Load {
        /// Tickets seeded before the run.
        #[arg(long, default_value_t = 100_000)]
        tickets: u64,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Seconds per phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// A PostgreSQL server (a database is created on it); SQLite when absent.
        #[arg(long)]
        postgres: Option<String>,
        /// The `cgs-api` binary (default: beside this one).
        #[arg(long)]
        api_bin: Option<std::path::PathBuf>,
    },
    /// A logged-in user's reads idle and during a login flood; RSS around a 100 MiB body.
    Hostile {
        /// Clients flooding the login.
        #[arg(long, default_value_t = 48)]
        flood_clients: usize,
        /// Seconds of reads idle, and again during the flood.
        #[arg(long, default_value_t = 12)]
        seconds: u64,
        /// A PostgreSQL server (a database is created on it); SQLite when absent.
        #[arg(long)]
        postgres: Option<String>,
        /// The `cgs-api` binary (default: beside this one).
        #[arg(long)]
        api_bin: Option<std::path::PathBuf>,
    },
    /// A burst of reports under many splitters: creation latency and the time until every
    /// report is linked to its splitter's outage.
    OutageBurst {
        /// Reports (one customer each).
        #[arg(long, default_value_t = 500)]
        reports: usize,
        /// Splitters they spread over (each under its own main splitter and POP).
        #[arg(long, default_value_t = 25)]
        splitters: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// A PostgreSQL server (a database is created on it); SQLite when absent.
        #[arg(long)]
        postgres: Option<String>,
        /// The `cgs-api` binary (default: beside this one).
        #[arg(long)]
        api_bin: Option<std::path::PathBuf>,
    },
    /// One SLA sweep over a table of open tickets.
    SlaSweep {
        /// Open tickets seeded (half of them past their SLA).
        #[arg(long, default_value_t = 1_000_000)]
        tickets: u64,
        /// A PostgreSQL server (a database is created on it); SQLite when absent.
        #[arg(long)]
        postgres: Option<String>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.bench {
        Bench::FirestoreLatency { changes, postgres } => {
            let emulator = peers::FirestoreEmulator::start()?;
            // SAFETY: set before the runtime and its threads exist.
            unsafe { std::env::set_var("FIRESTORE_EMULATOR_HOST", format!("127.0.0.1:{}", emulator.grpc)) };
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(firestore_latency(&emulator, changes, postgres))
        }
        Bench::Load { tickets, concurrency, seconds, postgres, api_bin } => {
            let api_bin = match api_bin {
                Some(p) => p,
                None => std::env::current_exe()?.with_file_name("cgs-api"),
            };
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(load::run(load::Load { tickets, concurrency, seconds, postgres }, api_bin))
        }
        Bench::Hostile { flood_clients, seconds, postgres, api_bin } => {
            let api_bin = match api_bin {
                Some(p) => p,
                None => std::env::current_exe()?.with_file_name("cgs-api"),
            };
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(hostile::run(hostile::Hostile { flood_clients, seconds, postgres }, api_bin))
        }
        Bench::OutageBurst { reports, splitters, concurrency, postgres, api_bin } => {
            let api_bin = match api_bin {
                Some(p) => p,
                None => std::env::current_exe()?.with_file_name("cgs-api"),
            };
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(outage::run(outage::Burst { reports, splitters, concurrency, postgres }, api_bin))
        }
        Bench::SlaSweep { tickets, postgres } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(sla_sweep(tickets, postgres))
        }
    }
}

/// Seeds `n` tickets, 40 % open and most of those past their SLA, and times the first sweep (which marks them all,
/// in batches), the next one a minute later (which marks the few that ran out meanwhile), and
/// the hourly sweep of every open ticket.
async fn sla_sweep(n: u64, postgres: Option<String>) -> anyhow::Result<()> {
    let (url, backend) = database(postgres).await?;
    let db = common::db::Db::connect(&url, 2).await?;
    db.migrate().await?;
    let mut tx = db.begin_write().await?;
    let fields = common::db::users::UserFields {
        email: "noc@cgs.test".into(),
        nik: "NOC".into(),
        name: "NOC".into(),
        role: common::domain::Role::NOC,
        region: common::domain::Region::West,
        area_id: None,
        profile_photo: None,
        phone_number: None,
    };
    let noc = common::db::users::insert(&mut tx, &fields, "-", common::db::now()).await?.id;
    tx.commit().await?;
    let t0 = Instant::now();
    // Two in five open, as in the load benchmark's seed.
    seed::tickets(&db, n, noc).await?;
    println!("seeded {n} tickets, two in five open, in {:.1?}", t0.elapsed());
    // Published 10·k seconds ago with 24 h of SLA: those older than a day are over it. The sweep
    // is the worker's, with what it writes when Firestore is on: per marked ticket a live-feed
    // row and a sync job, in transactions of `SLA_SWEEP.size` tickets (in two walks at once on
    // PostgreSQL).
    let effects = common::jobs::Effects { sync_firestore: true, ..Default::default() };
    let batches = common::service::sla::SLA_SWEEP;
    let batch = batches.size;
    let start = common::db::now();
    let later = start + chrono::Duration::minutes(1);
    let minutes = chrono::Duration::minutes(30);
    use common::db::tickets::SlaCursor;
    for (round, now, cursor) in [
        ("first sweep (catches up: marks every overdue ticket)", start, SlaCursor::full()),
        (
            "the next sweep, a minute later (what came within reach)",
            later,
            SlaCursor::since(start, start + minutes),
        ),
        ("the hourly full sweep (every open ticket)", later, SlaCursor::full()),
    ] {
        let t0 = Instant::now();
        let sweep =
            common::service::sla::sweep_sla(&db, effects, now, now + minutes, cursor, batches, 0).await?;
        println!(
            "SLA sweep over {n} tickets on {backend}, {round}: {:.2?} ({} breached, {} warned, {} cleared; \
             {} transactions of up to {batch} per kind)",
            t0.elapsed(),
            sweep.breached,
            sweep.warned,
            sweep.cleared,
            sweep.batches
        );
    }
    db.close().await;
    cleanup(&url);
    Ok(())
}

/// Removes a SQLite benchmark database (PostgreSQL ones are named like test databases, which
/// `scripts/test.sh` drops).
fn cleanup(url: &str) {
    if let Some(path) = url.strip_prefix("sqlite://").and_then(|u| u.split('?').next()) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{path}{suffix}"));
        }
    }
}

/// The URL of database `name` on the PostgreSQL server of URL `server`, with the server URL's
/// options (`?sslmode=...`).
pub(crate) fn database_url(server: &str, name: &str) -> String {
    let (path, options) = server.split_once('?').map_or((server, None), |(p, o)| (p, Some(o)));
    let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
    match options {
        Some(o) => format!("{base}/{name}?{o}"),
        None => format!("{base}/{name}"),
    }
}

/// A new database on the PostgreSQL server `postgres` (its URL's options kept: the API and
/// pgbench connect as the URL says, TLS or not), or a new SQLite file; and how it is reached.
async fn database(postgres: Option<String>) -> anyhow::Result<(String, &'static str)> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    Ok(match postgres {
        None => (format!("sqlite://{}/cgs-bench-{id}.db?mode=rwc", std::env::temp_dir().display()), "SQLite"),
        Some(server) => {
            use sqlx::Connection;
            let mut c = sqlx::PgConnection::connect(&server).await?;
            // Named like the test databases, which scripts/test.sh drops.
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE cgs_test_bench_{id}")))
                .execute(&mut c)
                .await?;
            let tls: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&mut c)
                .await?;
            let backend = if tls { "PostgreSQL over TLS" } else { "PostgreSQL without TLS" };
            (database_url(&server, &format!("cgs_test_bench_{id}")), backend)
        }
    })
}

async fn firestore_latency(
    emu: &peers::FirestoreEmulator,
    changes: usize,
    postgres: Option<String>,
) -> anyhow::Result<()> {
    let (url, backend) = database(postgres).await?;
    let project = format!("cgs-bench-{}", uuid::Uuid::new_v4().simple());
    let db_url = url.clone();
    let mut s = common::config::Settings::with_database(url);
    s.admin_email = Some("bench@cgs.test".into());
    s.admin_password = Some(common::config::Secret::new("bench-password"));
    s.run_worker = true;
    s.firestore_project_id = Some(project.clone());
    let app = api::build_app(s).await?;
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until(std::future::pending()));
    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String, token: Option<String>, body: Option<Value>| {
        let mut req = http.request(method, format!("{base}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        async move {
            let resp = req.send().await?;
            let status = resp.status();
            let body: Value = resp.json().await?;
            if !status.is_success() {
                bail!("{status}: {body}");
            }
            Ok::<Value, anyhow::Error>(body)
        }
    };
    let login = |email: String, password: String| {
        let c = call(
            reqwest::Method::POST,
            "/v1/login".into(),
            None,
            Some(json!({"email": email, "password": password})),
        );
        async move { Ok::<String, anyhow::Error>(c.await?["data"]["token"].as_str().context("token")?.to_owned()) }
    };
    let admin = login("bench@cgs.test".into(), "bench-password".into()).await?;
    let user = |role: &str| {
        json!({"email": format!("{role}@cgs.test"), "password": "password123", "rePassword": "password123",
        "nik": role, "name": role, "role": role, "region": "West"})
    };
    for role in ["NOC", "FOC"] {
        call(reqwest::Method::POST, "/v1/users".into(), Some(admin.clone()), Some(user(role))).await?;
    }
    let noc = login("noc@cgs.test".into(), "password123".into()).await?;
    let foc = login("foc@cgs.test".into(), "password123".into()).await?;
    let ticket = call(reqwest::Method::POST, "/v1/tickets".into(), Some(noc.clone()),
        Some(json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"}))).await?;
    let id = ticket["data"]["result"]["id"].as_str().context("ticket id")?.to_owned();
    let post = |path: &str, token: &String, body: Option<Value>| {
        call(reqwest::Method::POST, format!("/v1/tickets/{id}/{path}"), Some(token.clone()), body)
    };
    post("ticketStatus/accept", &foc, None).await?;
    post("ticketStatus/onTheWay", &foc, None).await?;
    post(
        "ticketStatus/checkedIn",
        &foc,
        Some(json!({"mediaUrl": format!("https://m/{id}.jpg"), "locationCoordinate": "1,1"})),
    )
    .await?;
    let doc = call(reqwest::Method::GET, format!("/v1/tickets/{id}"), Some(admin.clone()), None).await?;
    let ev =
        doc["data"]["result"]["ticketLogs"].as_array().and_then(|l| l.last()).context("log")?["evidenceId"]
            .as_str()
            .context("evidence")?
            .to_owned();
    call(reqwest::Method::POST, format!("/v1/tickets/{id}/validate/{ev}/true"), Some(noc.clone()), None)
        .await?;
    let state_url = format!("http://127.0.0.1:{}/", emu.http);
    let version_in_firestore = || {
        let (http, url, project, id) = (http.clone(), state_url.clone(), project.clone(), id.clone());
        async move {
            let state: Value = http.get(url).send().await.ok()?.json().await.ok()?;
            let f = &state["projects"][&project]["databases"]["(default)"]["collections"]["tickets"]["documents"]
                [&id]["fields"]["version"];
            f["value"].as_str().and_then(|v| v.parse::<i64>().ok()).or(f["value"].as_i64())
        }
    };
    let steps = ["checking", "pullingCable", "jointing", "tidying"];
    let mut samples = Vec::with_capacity(changes);
    let started = Instant::now();
    for i in 0..changes {
        let answer =
            post(&format!("taskStatus/{}", steps[i % steps.len()]), &foc, Some(json!({"remark": "bench"})))
                .await?;
        let t0 = Instant::now();
        let _ = answer;
        let want = call(reqwest::Method::GET, format!("/v1/tickets/{id}"), Some(admin.clone()), None).await?
            ["data"]["result"]["version"]
            .as_i64()
            .context("version")?;
        loop {
            if version_in_firestore().await.is_some_and(|v| v >= want) {
                break;
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("the document did not reach Firestore in 60 s");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        samples.push(t0.elapsed());
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "status change -> Firestore document, {backend}, {changes} changes in {:.1?}",
        started.elapsed()
    );
    println!(
        "  p50 {:>8.1?}  p95 {:>8.1?}  p99 {:>8.1?}  max {:>8.1?}",
        pct(0.50),
        pct(0.95),
        pct(0.99),
        samples[samples.len() - 1]
    );
    cleanup(&db_url);
    Ok(())
}
