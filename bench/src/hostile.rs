//! `cgs-bench hostile`: the real `cgs-api` binary attacked as the hostile suite does, with
//! figures: a logged-in user's read latency idle and during a login flood, side by side, and
//! the server's RSS before and after a 100 MiB body streamed over HTTP/2 without a length.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;

use crate::load::{Client, Samples, rss_mib, start_api};

/// What to run: `flood_clients` flooding the login, `seconds` of reads idle and again flooded.
pub struct Hostile {
    pub flood_clients: usize,
    pub seconds: u64,
    pub postgres: Option<String>,
}

/// A logged-in user's reads, one after another, for `seconds`.
async fn reads(client: &Client, token: &str, seconds: u64) -> anyhow::Result<(Samples, usize)> {
    let (mut samples, mut failed) = (Samples::default(), 0);
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        let t0 = Instant::now();
        match client.call(Method::GET, "/v1/tickets?limit=1", token, None).await {
            Ok(_) => samples.0.push(t0.elapsed()),
            Err(_) => failed += 1,
        }
    }
    Ok((samples, failed))
}

pub async fn run(h: Hostile, api_bin: std::path::PathBuf) -> anyhow::Result<()> {
    let (url, backend) = crate::database(h.postgres.clone()).await?;
    let port = peers::reserve_port();
    let base = format!("http://127.0.0.1:{port}");
    // The flood comes from the loopback here, as if from many addresses: the per-address limit
    // would otherwise refuse it before the password checks this measures.
    let client = Client { http: reqwest::Client::new(), base: base.clone() };
    let env = [("CGS_LOGIN_PER_ADDRESS_PER_MINUTE", "1000000".to_owned())];
    let api = start_api(&api_bin, &url, &client, port, &env).await?;
    let pid = api.0.id();
    let admin = client.login("bench@cgs.test", "bench-password").await?;
    let noc_body = json!({"email": "noc@cgs.test", "password": "password123", "rePassword": "password123",
        "nik": "NOC", "name": "NOC", "role": "NOC", "region": "West"});
    client.call(Method::POST, "/v1/users", &admin, Some(noc_body)).await?;
    let noc = client.login("noc@cgs.test", "password123").await?;
    for _ in 0..20 {
        let ticket = json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"});
        client.call(Method::POST, "/v1/tickets", &noc, Some(ticket)).await?;
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("cgs-bench hostile on {backend}, {cores} cores, release build of {}", api_bin.display());

    let at_start = rss_mib(pid);
    let (mut idle, idle_failed) = reads(&client, &noc, h.seconds).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let flood: Vec<_> = (0..h.flood_clients)
        .map(|_| {
            let (url, stop) = (format!("{base}/v1/login"), stop.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let mut seen = BTreeMap::<String, usize>::new();
                while !stop.load(Ordering::Relaxed) {
                    let email = format!("{}@flood.test", uuid::Uuid::new_v4().simple());
                    let key = match http
                        .post(&url)
                        .json(&json!({"email": email, "password": "flood-flood"}))
                        .send()
                        .await
                    {
                        Ok(resp) => {
                            let status = resp.status().as_u16();
                            let body: serde_json::Value = resp.json().await.unwrap_or_default();
                            format!("{status} {}", body["code"].as_str().unwrap_or(""))
                        }
                        Err(e) => format!("error {e}"),
                    };
                    *seen.entry(key).or_default() += 1;
                }
                seen
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut flooded, flooded_failed) = reads(&client, &noc, h.seconds).await?;
    stop.store(true, Ordering::Relaxed);
    let mut answers = BTreeMap::<String, usize>::new();
    for task in flood {
        for (k, n) in task.await? {
            *answers.entry(k).or_default() += n;
        }
    }
    let elapsed = Duration::from_secs(h.seconds);
    println!("A logged-in user's GET /v1/tickets?limit=1, one after another, {} s each:", h.seconds);
    idle.report("idle", elapsed);
    flooded.report(&format!("during a {}-client login flood", h.flood_clients), elapsed);
    let slowest = |s: &Samples| s.0.iter().max().copied().unwrap_or_default();
    println!(
        "  slowest read: idle {:.1?}, during the flood {:.1?}; failed reads: idle {idle_failed}, during the flood {flooded_failed}",
        slowest(&idle),
        slowest(&flooded)
    );
    println!("  cgs-api RSS {at_start:.1} MiB before the flood, {:.1} MiB after it", rss_mib(pid));
    let flood_total: usize = answers.values().sum();
    println!(
        "  the flood's {flood_total} logins ({:.0}/s) were answered: {answers:?}",
        flood_total as f64 / (h.seconds as f64 + 0.5)
    );
    println!("  targets: during the flood the read median under 100 ms and no read over 0.5 s");

    // A 100 MiB body over HTTP/2 with prior knowledge, streamed without Content-Length.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = rss_mib(pid);
    let pulled = Arc::new(AtomicUsize::new(0));
    const CHUNK: usize = 64 * 1024;
    let total = 100 * 1024 * 1024;
    let counter = pulled.clone();
    let chunks = futures_util::stream::iter((0..total / CHUNK).map(move |_| {
        counter.fetch_add(CHUNK, Ordering::SeqCst);
        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; CHUNK]))
    }));
    let h2 = reqwest::Client::builder().http2_prior_knowledge().build()?;
    let t0 = Instant::now();
    let status = h2
        .post(format!("{base}/v1/areas"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .map(|r| r.status().as_u16().to_string())
        .unwrap_or_else(|e| format!("error {e}"));
    let answered = t0.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss_mib(pid);
    println!("A 100 MiB JSON body over HTTP/2 without Content-Length to POST /v1/areas:");
    println!(
        "  answered {status} after {answered:.1?}, {:.1} MiB of it sent; cgs-api RSS {before:.1} MiB before, {after:.1} MiB after (+{:.1} MiB; target under +50 MiB)",
        pulled.load(Ordering::SeqCst) as f64 / (1024.0 * 1024.0),
        after - before
    );
    drop(api);
    Ok(())
}
