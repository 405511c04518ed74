//! Chaos on a PostgreSQL of the test's own (initdb into a temp dir, its own port; never the
//! machine's shared server): the server is killed and restarted under load. While it is down the
//! API answers 503; it recovers by itself; every acknowledged ticket is there afterwards.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use serde_json::json;

use crate::helpers::*;

/// A PostgreSQL cluster in a temp dir, run by the `postgres` user, stopped and removed on drop.
struct OwnPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

fn as_postgres(bin: &Path, tool: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = if nix_is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    };
    cmd.args(args).stdin(Stdio::null()).output().expect("PostgreSQL tool runs")
}

fn nix_is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl OwnPostgres {
    /// `None` (with a notice) when no PostgreSQL server binaries are installed.
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|b| b.join("initdb").exists());
        let Some(bin) = bin else {
            eprintln!(
                "SKIPPED: the chaos test needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin)"
            );
            return None;
        };
        let dir = std::env::temp_dir().join(format!("cgs-chaos-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        if nix_is_root() {
            assert!(
                Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir).status().unwrap().success()
            );
        }
        let data = dir.join("data");
        let out =
            as_postgres(&bin, "initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres"]);
        assert!(out.status.success(), "initdb: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port();
        let pg = OwnPostgres { bin, dir, port };
        pg.up();
        Some(pg)
    }

    fn up(&self) {
        let data = self.dir.join("data");
        let opts = format!("-p {} -k {} -c listen_addresses=127.0.0.1", self.port, self.dir.display());
        let log = self.dir.join("pg.log");
        let out = as_postgres(
            &self.bin,
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-o", &opts, "-l", log.to_str().unwrap(), "-w", "start"],
        );
        assert!(out.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Stops the server the way a crash would: no checkpoint, clients cut off.
    fn crash(&self) {
        let data = self.dir.join("data");
        let out = as_postgres(
            &self.bin,
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "immediate", "-w", "stop"],
        );
        assert!(out.status.success(), "pg_ctl stop: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let _ = as_postgres(&self.bin, "pg_ctl", &["-D", data.to_str().unwrap(), "-m", "immediate", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Default)]
struct Seen {
    created: Vec<String>,
    statuses: Vec<u16>,
    failed: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_load_answers_503_recovers_and_loses_nothing() {
    let Some(pg) = OwnPostgres::start() else { return };
    {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&pg.url("postgres")).await.unwrap();
        sqlx::query("CREATE DATABASE cgs").execute(&mut c).await.unwrap();
    }
    let db = pg.url("cgs");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut cmd = cgs_api_command(&db, port);
    cmd.env("CGS_RUN_WORKER", "true")
        .env("CGS_DB_MAX_CONNECTIONS", "5")
        .env("RUST_LOG", std::env::var("CGS_CHAOS_LOG").unwrap_or_else(|_| "error".into()));
    let _api = Running::spawn(cmd);
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
    wait_ready(&base).await;
    let token = admin_login(&client, &base).await;

    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = vec![];
    for _ in 0..4 {
        let (client, base, token, seen, stop) =
            (client.clone(), base.clone(), token.clone(), seen.clone(), stop.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let resp = client
                    .post(format!("{base}/v1/tickets"))
                    .bearer_auth(&token)
                    .json(&json!({"type": "Trouble", "source": "Phone", "region": "West",
                                  "indicationCategory": "FiberCut", "networkSegment": "Access"}))
                    .send()
                    .await;
                match resp {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        let mut s = seen.lock().unwrap();
                        s.statuses.push(status);
                        if status == 201 {
                            s.created.push(body["data"]["result"]["id"].as_str().unwrap().to_owned());
                        }
                    }
                    Err(e) => seen.lock().unwrap().failed.push(format!("{e:?}")),
                }
                if seen.lock().unwrap().statuses.last() == Some(&503) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }));
    }
    let created = |n: usize| {
        let seen = seen.clone();
        move || {
            let seen = seen.clone();
            async move { seen.lock().unwrap().created.len() >= n }
        }
    };
    wait_until(60, "tickets are created", created(30)).await;

    // The database dies under load, stays down a while, and comes back.
    pg.crash();
    let down_at = seen.lock().unwrap().statuses.len();
    wait_until(30, "the API answers 503 while the database is down", || {
        let seen = seen.clone();
        async move { seen.lock().unwrap().statuses[down_at..].contains(&503) }
    })
    .await;
    let readyz = client.get(format!("{base}/readyz")).send().await.unwrap().status();
    assert_eq!(readyz, 503, "not ready while the database is down");
    tokio::time::sleep(Duration::from_secs(2)).await;
    pg.up();
    let before = seen.lock().unwrap().created.len();
    wait_until(60, "the API recovers by itself", created(before + 30)).await;
    stop.store(true, Ordering::SeqCst);
    for l in load {
        l.await.unwrap();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let mut counts = std::collections::BTreeMap::new();
    for s in &seen.statuses {
        *counts.entry(*s).or_insert(0) += 1;
    }
    eprintln!("answers by status: {counts:?}");
    assert!(seen.failed.is_empty(), "every request got an answer: {:?}", seen.failed);
    assert!(seen.statuses.iter().all(|s| matches!(s, 201 | 503)), "only 201 and 503: {counts:?}");
    // Every acknowledged ticket survived the crash.
    let ids: Vec<String> = seen.created.iter().map(|id| format!("'{id}'")).collect();
    let stored =
        db_scalar(&db, &format!("SELECT COUNT(*) FROM tickets WHERE id IN ({})", ids.join(","))).await;
    assert_eq!(stored, seen.created.len() as i64, "every 201 is in the database");
    let readyz = client.get(format!("{base}/readyz")).send().await.unwrap().status();
    assert_eq!(readyz, 200);
}
