//! `cgs-bench load`: the real `cgs-api` binary on a database seeded with N tickets, driven by
//! concurrent clients over loopback; prints latency percentiles and throughput per operation,
//! the server's RSS, and on PostgreSQL the database's own ceiling (pgbench with a transaction
//! shaped like one transition) with our transitions/s as a ratio of it, and what PostgreSQL alone
//! makes of our transition's and our document read's statements (pgbench replaying them); after
//! each of those phases, where the CPU went per operation ([`crate::cpu`]).

use std::{
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::cpu::Cpu;

/// What to run.
pub struct Load {
    pub tickets: u64,
    pub concurrency: usize,
    pub seconds: u64,
    pub postgres: Option<String>,
}

pub(crate) struct Api(pub(crate) Child);

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `cgs-api` on `url` and `port` with the bench's admin, the worker in process and
/// `env` besides, and waits until `client` finds it ready.
pub(crate) async fn start_api(
    api_bin: &std::path::Path,
    url: &str,
    client: &Client,
    port: u16,
    env: &[(&str, String)],
) -> anyhow::Result<Api> {
    let api = Api(Command::new(api_bin)
        .env("DATABASE_URL", url)
        .env("CGS_LISTEN", format!("127.0.0.1:{port}"))
        .env("CGS_ADMIN_EMAIL", "bench@cgs.test")
        .env("CGS_ADMIN_PASSWORD", "bench-password")
        .env("CGS_RUN_WORKER", "true")
        .env("RUST_LOG", "error")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", api_bin.display()))?);
    for _ in 0..300 {
        if client.http.get(format!("{}/readyz", client.base)).send().await.is_ok_and(|r| r.status() == 200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(api)
}

/// Resident memory of a process, in MiB.
pub(crate) fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").map(|v| v.trim().trim_end_matches(" kB").trim().to_owned())
            })
        })
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

#[derive(Clone)]
pub(crate) struct Client {
    pub(crate) http: reqwest::Client,
    pub(crate) base: String,
}

impl Client {
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or_default();
        if !status.is_success() {
            bail!("{path}: {status}: {body}");
        }
        Ok(body)
    }

    /// Like [`Client::call`] for an answer whose body is not needed: checks the status and reads
    /// the body's bytes without parsing them (the load's clients share the cores with the API and
    /// the database, so they spend on an answer no more than pgbench spends on a result).
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<()> {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            bail!("{path}: {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(())
    }

    pub(crate) async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let resp = self
            .http
            .post(format!("{}/v1/login", self.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?;
        let body: Value = resp.json().await?;
        Ok(body["data"]["token"].as_str().context("login token")?.to_owned())
    }
}

/// Latencies of one operation.
#[derive(Default)]
pub(crate) struct Samples(pub(crate) Vec<Duration>);

impl Samples {
    pub(crate) fn report(&mut self, name: &str, elapsed: Duration) {
        let n = self.0.len();
        if n == 0 {
            println!("  {name:<28} no samples");
            return;
        }
        self.0.sort();
        let pct = |p: f64| self.0[((n as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0;
        println!(
            "  {name:<28} {n:>7} ops {:>9.1}/s   p50 {:>7.2} ms   p95 {:>7.2} ms   p99 {:>7.2} ms",
            n as f64 / elapsed.as_secs_f64(),
            pct(0.50),
            pct(0.95),
            pct(0.99),
        );
    }
}

/// Runs `work` on `concurrency` tasks for `seconds`, each task given its index; collects the
/// latencies the tasks record.
async fn phase<F, Fut>(concurrency: usize, seconds: u64, work: F) -> (Samples, Duration)
where
    F: Fn(usize, Arc<Mutex<Vec<Duration>>>, Arc<AtomicBool>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let samples = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> =
        (0..concurrency).map(|i| tokio::spawn(work(i, samples.clone(), stop.clone()))).collect();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        if let Ok(Err(e)) = t.await {
            eprintln!("  a client stopped: {e:#}");
        }
    }
    let elapsed = started.elapsed();
    let s = std::mem::take(&mut *samples.lock().await);
    (Samples(s), elapsed)
}

async fn timed<T>(
    samples: &Mutex<Vec<Duration>>,
    f: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let t0 = Instant::now();
    let out = f.await?;
    samples.lock().await.push(t0.elapsed());
    Ok(out)
}

pub async fn run(load: Load, api_bin: std::path::PathBuf) -> anyhow::Result<()> {
    let (url, backend) = crate::database(load.postgres.clone()).await?;
    let port = peers::reserve_port();
    let base = format!("http://127.0.0.1:{port}");
    // The schema first, then the seed, then the server.
    let db = common::db::Db::connect(&url, 4).await?;
    db.migrate().await?;
    // Every client logs in from the loopback.
    let env = [
        ("CGS_LOGIN_PER_ADDRESS_PER_MINUTE", "100000".to_owned()),
        ("CGS_DB_MAX_CONNECTIONS", (load.concurrency + 8).to_string()),
    ];
    let http = reqwest::Client::builder().pool_max_idle_per_host(load.concurrency * 2).build()?;
    let client = Client { http, base };
    let api = start_api(&api_bin, &url, &client, port, &env).await?;
    let pid = api.0.id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_mib(pid);
    let admin = client.login("bench@cgs.test", "bench-password").await?;
    let user = |role: &str, n: usize| {
        json!({"email": format!("{role}{n}@cgs.test"), "password": "password123", "rePassword": "password123",
        "nik": format!("{role}{n}"), "name": format!("{role} {n}"), "role": role, "region": "West"})
    };
    let noc_body = client.call(Method::POST, "/v1/users", &admin, Some(user("NOC", 0))).await?;
    let noc_id: uuid::Uuid = noc_body["data"]["result"]["id"].as_str().context("noc id")?.parse()?;
    let noc = client.login("noc0@cgs.test", "password123").await?;
    let mut focs = Vec::new();
    for i in 0..load.concurrency {
        client.call(Method::POST, "/v1/users", &admin, Some(user("FOC", i))).await?;
        focs.push(client.login(&format!("foc{i}@cgs.test"), "password123").await?);
    }

    let t0 = Instant::now();
    crate::seed::tickets(&db, load.tickets, noc_id).await?;
    // A running deployment's tickets are swept already: the server's first sweep finds the
    // overdue ones marked instead of catching up on them under the load.
    let now = common::db::now();
    let effects = common::jobs::Effects::default();
    let (cursor, batches) = (common::db::tickets::SlaCursor::full(), common::service::sla::SLA_SWEEP);
    common::service::sla::sweep_sla(
        &db,
        effects,
        now,
        now + chrono::Duration::minutes(30),
        cursor,
        batches,
        0,
    )
    .await?;
    println!("seeded {} tickets with their logs, swept, in {:.1?}", load.tickets, t0.elapsed());
    let ids = Arc::new(crate::seed::sample_ids(&db, 10_000).await?);
    db.close().await;
    let after_logins = rss_mib(pid);
    println!(
        "cgs-api on {backend}, {} seeded tickets, {} concurrent clients, {} s per phase",
        load.tickets, load.concurrency, load.seconds
    );
    let peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                let now = (rss_mib(pid) * 1024.0) as u64;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    let new_ticket = json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut",
                            "networkSegment": "Access", "contactPerson": [{"name": "Budi", "phone": "0812"}]});

    // Ticket creation. The new tickets, open in the technicians' region, are those the status
    // flows then work on.
    let open = Arc::new(Mutex::new(Vec::new()));
    let on_postgres = load.postgres.is_some();
    let cpu_now = || Cpu::now(Some(pid), on_postgres);
    let cpu = cpu_now();
    let (mut created, elapsed) = phase(load.concurrency, load.seconds, |_, samples, stop| {
        let (client, noc, body, open) = (client.clone(), noc.clone(), new_ticket.clone(), open.clone());
        async move {
            while !stop.load(Ordering::SeqCst) {
                let t = timed(&samples, client.call(Method::POST, "/v1/tickets", &noc, Some(body.clone())))
                    .await?;
                open.lock().await.push(t["data"]["result"]["id"].as_str().context("id")?.to_owned());
            }
            Ok(())
        }
    })
    .await;
    let created_per_s = created.0.len() as f64 / elapsed.as_secs_f64();
    created.report("POST /v1/tickets", elapsed);
    println!("    {}", cpu.per_op(&cpu_now(), created.0.len()));

    // Complete status flows: each client its own technician, on the tickets just created (a
    // client that runs out creates one).
    let steps = ["checking", "pullingCable", "jointing", "tidying"];
    let inline = Arc::new(AtomicU64::new(0));
    let cpu = cpu_now();
    let (mut transitions, elapsed) = phase(load.concurrency, load.seconds, |i, samples, stop| {
        let (client, noc, foc, body, open, inline) =
            (client.clone(), noc.clone(), focs[i].clone(), new_ticket.clone(), open.clone(), inline.clone());
        async move {
            while !stop.load(Ordering::SeqCst) {
                // Taken before the match, so the lock is not held while a ticket is created.
                let next = open.lock().await.pop();
                let id = match next {
                    Some(id) => id,
                    None => {
                        inline.fetch_add(1, Ordering::SeqCst);
                        let t = client.call(Method::POST, "/v1/tickets", &noc, Some(body.clone())).await?;
                        t["data"]["result"]["id"].as_str().context("id")?.to_owned()
                    }
                };
                let go = |path: String, token: String, body: Option<Value>| {
                    let client = client.clone();
                    async move { client.send(Method::POST, &path, &token, body).await }
                };
                timed(&samples, go(format!("/v1/tickets/{id}/ticketStatus/accept"), foc.clone(), None))
                    .await?;
                timed(&samples, go(format!("/v1/tickets/{id}/ticketStatus/onTheWay"), foc.clone(), None))
                    .await?;
                timed(
                    &samples,
                    go(
                        format!("/v1/tickets/{id}/ticketStatus/checkedIn"),
                        foc.clone(),
                        // A photo of its own: a photo used again is looked up and flagged.
                        Some(json!({"mediaUrl": format!("https://m/{id}.jpg"), "locationCoordinate": "-6.9,107.6"})),
                    ),
                )
                .await?;
                let doc = client.call(Method::GET, &format!("/v1/tickets/{id}"), &noc, None).await?;
                let ev = doc["data"]["result"]["ticketLogs"]
                    .as_array()
                    .and_then(|l| l.last())
                    .context("log")?["evidenceId"]
                    .as_str()
                    .context("evidence")?
                    .to_owned();
                timed(&samples, go(format!("/v1/tickets/{id}/validate/{ev}/true"), noc.clone(), None))
                    .await?;
                for step in steps {
                    timed(
                        &samples,
                        go(
                            format!("/v1/tickets/{id}/taskStatus/{step}"),
                            foc.clone(),
                            Some(json!({"remark": "ok"})),
                        ),
                    )
                    .await?;
                }
            }
            Ok(())
        }
    })
    .await;
    let transitions_per_s = transitions.0.len() as f64 / elapsed.as_secs_f64();
    // Each flow also reads its ticket once (the evidence's id), untimed: counted with the
    // transitions here. A flow times accept, onTheWay, checkedIn and the verdict, then its steps.
    let flows = transitions.0.len() / (4 + steps.len());
    let cpu_line = cpu.per_op(&cpu_now(), transitions.0.len() + flows);
    transitions.report("status transitions", elapsed);
    println!("    {cpu_line} (the flows' untimed reads of their ticket counted as ops)");
    let inline = inline.load(Ordering::SeqCst);
    if inline > 0 {
        println!("    ({inline} flows created their ticket, the creation phase's tickets ran out)");
    }

    // Lists with filters, as a NOC (its region) and as the SuperAdmin.
    let filters = [
        "/v1/tickets?limit=20",
        "/v1/tickets?latestStatus=Open&limit=20",
        "/v1/tickets?region=West&type=Trouble&limit=20",
        "/v1/tickets?agingTime=over&limit=20",
        // One customer's name (a few hundred tickets at 1M), and a family name (one in 40).
        "/v1/tickets?endUser=budi%20nasution&limit=20",
        "/v1/tickets?endUser=siregar&limit=20",
        "/v1/tickets?limit=20&offset=100",
    ];
    // At full concurrency (all filters in turn), then each filter from one client: the list's
    // own latency, without queueing for the two cores behind 31 other requests.
    let all: Vec<&str> = filters.to_vec();
    let mut runs = vec![(load.concurrency, "GET /v1/tickets (filters)".to_owned(), all, load.seconds)];
    // A family name with a status filter as well: answered from `tickets`, not from the search
    // table's list order (one client only).
    let combined = "/v1/tickets?endUser=siregar&latestStatus=Open&limit=20";
    for f in filters.into_iter().chain([combined]) {
        runs.push((1, format!("  1 client: {}", f.trim_start_matches("/v1/tickets")), vec![f], 3));
    }
    for (clients, label, these, seconds) in runs {
        let these = Arc::new(these);
        let (mut lists, elapsed) = phase(clients, seconds, |i, samples, stop| {
            let (client, noc, admin, these) = (client.clone(), noc.clone(), admin.clone(), these.clone());
            async move {
                let mut k = i;
                while !stop.load(Ordering::SeqCst) {
                    // Every filter as the NOC, then every filter as the SuperAdmin.
                    let token = if (k / these.len()).is_multiple_of(2) { &noc } else { &admin };
                    timed(&samples, client.send(Method::GET, these[k % these.len()], token, None)).await?;
                    k += 1;
                }
                Ok(())
            }
        })
        .await;
        lists.report(&label, elapsed);
    }

    let cpu = cpu_now();
    let (mut gets, elapsed) = phase(load.concurrency, load.seconds, |i, samples, stop| {
        let (client, token, ids) = (client.clone(), admin.clone(), ids.clone());
        async move {
            let mut k = i * 7919;
            while !stop.load(Ordering::SeqCst) {
                let id = ids[k % ids.len()];
                timed(&samples, client.send(Method::GET, &format!("/v1/tickets/{id}"), &token, None)).await?;
                k += 1;
            }
            Ok(())
        }
    })
    .await;
    let gets_per_s = gets.0.len() as f64 / elapsed.as_secs_f64();
    gets.report("GET /v1/tickets/{id}", elapsed);
    println!("    {}", cpu.per_op(&cpu_now(), gets.0.len()));
    println!(
        "  creations {:.2}x the transitions' throughput; GET /v1/tickets/{{id}} {:.1}x",
        created_per_s / transitions_per_s,
        gets_per_s / transitions_per_s
    );
    sampler.abort();
    println!(
        "  cgs-api RSS: idle {idle:.1} MiB, after {} logins {after_logins:.1} MiB, peak under load {:.1} MiB",
        load.concurrency + 2,
        peak.load(Ordering::SeqCst) as f64 / 1024.0
    );

    if let Some(server) = &load.postgres {
        let ceiling = crate::pgbench::ceiling(server, load.concurrency, load.seconds).await?;
        let tps = ceiling.tps;
        println!(
            "  pgbench ceiling (update 1 row + insert 1 row + insert 1 job row), {} clients: {tps:.0} tps; \
             our transitions: {transitions_per_s:.0}/s = {:.0}% of it",
            load.concurrency,
            transitions_per_s / tps * 100.0
        );
        println!("    {}", ceiling.cpu);
        let replay = crate::pgbench::replay(&url, load.tickets, load.concurrency, load.seconds).await?;
        let replayed = replay.tps;
        println!(
            "  pgbench replaying a transition's statements (the read; the update with its log entry and \
             live-feed row as one statement) without the API, {} clients: {replayed:.0} tps = {:.0}% of the ceiling",
            load.concurrency,
            replayed / tps * 100.0
        );
        println!("    {}", replay.cpu);
        let replay_read =
            crate::pgbench::replay_read(&url, load.tickets, load.concurrency, load.seconds).await?;
        let read = replay_read.tps;
        println!(
            "  pgbench replaying GET /v1/tickets/{{id}}'s statements (the ticket with its log, the users) without the API, {} \
             clients: {read:.0}/s; our GET /v1/tickets/{{id}}: {gets_per_s:.0}/s = {:.0}% of it",
            load.concurrency,
            gets_per_s / read * 100.0
        );
        println!("    {}", replay_read.cpu);
    }
    drop(api);
    crate::cleanup(&url);
    Ok(())
}
