//! SIGTERM under load: the `cgs-api` binary turns not-ready, lets a load balancer (here a health
//! checker the load follows) stop routing to it, closes the listener, finishes what it accepted,
//! and loses nothing — no 5xx, no connection cut or refused, every 201 in the database, and every
//! job it enqueued done after a restart.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt;
use serde_json::json;

use crate::helpers::*;

/// The real binary on `port`, with the Firestore sync on the emulator, the worker in process, and
/// no reconciliation (so only the queued jobs themselves can bring the documents up to date
/// after a restart).
fn start(db: &str, port: u16, emulator: &Emulator) -> Running {
    let mut cmd = cgs_api_command(db, port);
    cmd.env("CGS_RUN_WORKER", "true")
        .env("CGS_DB_MAX_CONNECTIONS", "8")
        .env("FIRESTORE_PROJECT_ID", "demo-shutdown")
        .env("FIRESTORE_EMULATOR_HOST", format!("127.0.0.1:{}", emulator.grpc))
        .env("CGS_SYNC_RECONCILE_SCHEDULE", "0 0 0 1 1 *")
        .env("CGS_SHUTDOWN_GRACE_SECONDS", "2")
        .env("RUST_LOG", "warn");
    Running::spawn(cmd)
}

/// What the load saw.
#[derive(Default)]
struct Seen {
    created: Vec<String>,
    statuses: Vec<u16>,
    /// Requests that failed without an answer: cut, reset or refused.
    failed: Vec<String>,
}

async fn drains_under_load(backend: Backend) {
    let Some((db, sqlite_file)) = fresh_database(backend).await else { return };
    let mut emulator = Emulator::start();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = start(&db, port, &emulator);
    wait_ready(&base).await;
    // A fresh connection per request: what is measured is the server's drain, not a client
    // reusing a pooled connection the server closed.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let token = admin_login(&client, &base).await;

    // A live-feed stream is open across the shutdown: it must end, not hold the drain.
    let feed = client.get(format!("{base}/v1/tickets/stream")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(feed.status(), 200);
    let feed = tokio::spawn(async move {
        let mut body = feed.bytes_stream();
        let mut ok = true;
        while let Some(chunk) = body.next().await {
            ok = chunk.is_ok();
        }
        ok
    });

    // The load balancer: routes while `/readyz` says 200.
    let routable = Arc::new(AtomicBool::new(true));
    let checker = {
        let (client, base, routable) = (client.clone(), base.clone(), routable.clone());
        tokio::spawn(async move {
            loop {
                match client.get(format!("{base}/readyz")).send().await {
                    Ok(r) if r.status() == 200 => {}
                    Ok(r) => {
                        let body: serde_json::Value = r.json().await.unwrap_or_default();
                        routable.store(false, Ordering::SeqCst);
                        return body["code"].as_str().map(str::to_owned);
                    }
                    Err(_) => {
                        routable.store(false, Ordering::SeqCst);
                        return None;
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut load = vec![];
    for n in 0..8 {
        let (client, base, token, seen, routable) =
            (client.clone(), base.clone(), token.clone(), seen.clone(), routable.clone());
        load.push(tokio::spawn(async move {
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while std::time::Instant::now() < deadline && routable.load(Ordering::SeqCst) {
                let req = if n % 4 == 3 {
                    client.get(format!("{base}/v1/tickets?limit=5")).bearer_auth(&token)
                } else {
                    client.post(format!("{base}/v1/tickets")).bearer_auth(&token).json(&json!({
                        "type": "Trouble", "source": "Phone", "region": "West",
                        "indicationCategory": "FiberCut", "networkSegment": "Access"
                    }))
                };
                match req.send().await {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let body: serde_json::Value = resp.json().await.unwrap_or_default();
                        let mut s = seen.lock().unwrap();
                        s.statuses.push(status);
                        if status == 201 {
                            s.created.push(body["data"]["result"]["id"].as_str().unwrap().to_owned());
                        }
                    }
                    Err(e) => seen.lock().unwrap().failed.push(format!("{e:?}")),
                }
            }
        }));
    }

    // Under load for a while, then SIGTERM.
    wait_until(60, "the load has created tickets", || {
        let seen = seen.clone();
        async move { seen.lock().unwrap().created.len() >= 40 }
    })
    .await;
    // Firestore goes away: the syncs of the changes from here on cannot finish before the stop.
    emulator.stop();
    let before = seen.lock().unwrap().created.len();
    wait_until(60, "more tickets are created", || {
        let seen = seen.clone();
        async move { seen.lock().unwrap().created.len() >= before + 10 }
    })
    .await;
    child.sigterm();
    let status = child.wait_exit(60).await;
    assert!(status.success(), "cgs-api exits cleanly on SIGTERM: {status}");
    for l in load {
        l.await.unwrap();
    }
    assert!(feed.await.unwrap(), "the open stream ended cleanly");
    assert_eq!(checker.await.unwrap().as_deref(), Some("draining"), "readiness said it was draining");

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.statuses.iter().all(|s| *s < 500), "no 5xx: {:?}", seen.statuses);
    assert!(seen.failed.is_empty(), "every request got an answer: {:?}", seen.failed);
    // Every acknowledged ticket is in the database.
    let n = seen.created.len() as i64;
    assert_eq!(db_scalar(&db, "SELECT COUNT(*) FROM tickets").await, n);
    // And no job was lost: after a restart each queued sync runs and every document is up to
    // date, with the reconciliation schedule off.
    let lagging = db_scalar(
        &db,
        "SELECT COUNT(*) FROM tickets WHERE synced_version IS NULL OR synced_version < version",
    )
    .await;
    eprintln!("{n} tickets acknowledged; {lagging} not yet synced when the process stopped");
    assert!(lagging >= 10, "the syncs after Firestore went away are still queued");
    let emulator = Emulator::start_on(emulator.grpc, emulator.http);
    let mut child = start(&db, port, &emulator);
    wait_ready(&base).await;
    wait_until(90, "every ticket is synced", || async {
        db_scalar(
            &db,
            "SELECT COUNT(*) FROM tickets WHERE synced_version IS NULL OR synced_version < version",
        )
        .await
            == 0
    })
    .await;
    assert!(emulator.count("demo-shutdown", "tickets").await >= lagging as usize);
    child.sigterm();
    assert!(child.wait_exit(60).await.success());
    if let Some(path) = sqlite_file {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_nothing_sqlite() {
    drains_under_load(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_loses_nothing_postgres() {
    drains_under_load(Backend::Postgres).await;
}
