//! `cgs-bench outage-burst`: a real outage's burst of reports against the real `cgs-api`
//! binary: `reports` creations spread over `splitters` splitters (each under its own main
//! splitter and POP), `concurrency` at a time; prints the creations' latency, and the time from
//! the first creation until every report is linked to its splitter's outage.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use reqwest::Method;
use serde_json::json;
use tokio::sync::{Mutex, Semaphore};

use crate::load::{Client, Samples, start_api};

pub struct Burst {
    pub reports: usize,
    pub splitters: usize,
    pub concurrency: usize,
    pub postgres: Option<String>,
}

pub async fn run(b: Burst, api_bin: std::path::PathBuf) -> anyhow::Result<()> {
    ensure!(b.splitters > 0 && b.reports >= b.splitters, "at least one report per splitter");
    let (url, backend) = crate::database(b.postgres.clone()).await?;
    let port = peers::reserve_port();
    let client = Client { http: reqwest::Client::new(), base: format!("http://127.0.0.1:{port}") };
    let _api = start_api(&api_bin, &url, &client, port, &[]).await?;
    let admin = client.login("bench@cgs.test", "bench-password").await?;
    let noc_body = json!({"email": "noc@cgs.test", "password": "password123", "rePassword": "password123",
        "nik": "NOC", "name": "NOC", "role": "NOC", "region": "West"});
    client.call(Method::POST, "/v1/users", &admin, Some(noc_body)).await?;
    let noc = client.login("noc@cgs.test", "password123").await?;

    // One customer per report, spread evenly over the splitters.
    let mut customers = Vec::with_capacity(b.reports);
    for s in 0..b.splitters {
        let ms = client
            .call(
                Method::POST,
                "/v1/main_splitters",
                &admin,
                Some(json!({"name": format!("MS-{s}"), "coordinate": "1,1"})),
            )
            .await?;
        let sp = client
            .call(
                Method::POST,
                "/v1/splitters",
                &admin,
                Some(json!({"name": format!("SP-{s}"), "coordinate": "2,2"})),
            )
            .await?;
        let (ms, sp) = (ms["data"]["result"]["id"].clone(), sp["data"]["result"]["id"].clone());
        for c in (s..b.reports).step_by(b.splitters) {
            let body = json!({"cid": format!("C{c}"), "customerType": "Broadband", "name": format!("Customer {c}"),
                "status": "Active", "region": "West", "pop": format!("POP-{s}"), "ms": ms, "splitter": sp});
            let r = client.call(Method::POST, "/v1/clients", &admin, Some(body)).await?;
            customers.push(r["data"]["result"]["id"].as_str().context("client id")?.to_owned());
        }
    }
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "cgs-bench outage-burst on {backend}, {cores} cores: {} reports under {} splitters, {} at a time, release build of {}",
        b.reports,
        b.splitters,
        b.concurrency,
        api_bin.display()
    );

    let gate = Arc::new(Semaphore::new(b.concurrency));
    let samples = Arc::new(Mutex::new(Vec::with_capacity(b.reports)));
    let started = Instant::now();
    let tasks: Vec<_> = customers
        .into_iter()
        .map(|c| {
            let (client, noc, gate, samples) = (client.clone(), noc.clone(), gate.clone(), samples.clone());
            tokio::spawn(async move {
                let _slot = gate.acquire().await?;
                let body = json!({"client": c, "type": "Trouble", "source": "Whatsapp", "isDraft": false,
                    "indicationCategory": "FiberCut", "networkSegment": "Access", "indication": "LOS"});
                let t0 = Instant::now();
                client.call(Method::POST, "/v1/tickets", &noc, Some(body)).await?;
                samples.lock().await.push(t0.elapsed());
                anyhow::Ok(())
            })
        })
        .collect();
    let mut failed = 0;
    for t in tasks {
        if !matches!(t.await, Ok(Ok(()))) {
            failed += 1;
        }
    }
    let burst = started.elapsed();
    let mut samples = Samples(std::mem::take(&mut *samples.lock().await));
    samples.report("POST /v1/tickets", burst);

    // Every report linked: the open outages' customers add up to the reports.
    let (outages, linked) = loop {
        let list = client.call(Method::GET, "/v1/outages", &noc, None).await?;
        let open = list["data"]["result"].as_array().context("outages")?.clone();
        let linked: i64 = open.iter().map(|o| o["customersAffected"].as_i64().unwrap_or(0)).sum();
        if linked as usize >= b.reports - failed || started.elapsed() > Duration::from_secs(120) {
            break (open.len(), linked);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!(
        "  burst {:.2?} ({failed} failed); every report linked {:.2?} after the first creation: {outages} outages, {linked} reports linked",
        burst,
        started.elapsed()
    );
    ensure!(failed == 0, "{failed} creations failed");
    ensure!(outages == b.splitters, "{outages} outages for {} splitters", b.splitters);
    ensure!(linked as usize == b.reports, "{linked} of {} reports linked", b.reports);
    crate::cleanup(&url);
    Ok(())
}
