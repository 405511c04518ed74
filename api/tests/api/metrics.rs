//! `/metrics`: request figures by route and status, tickets by status, SLA breaches.

use common::domain::{Region, Role};
use serde_json::json;

use crate::{helpers::*, master_data::client_body, on_both_backends};

async fn scrape(app: &TestApp) -> String {
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap()
}

/// The value of the series `name{labels}`, if present.
fn value(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

on_both_backends! {
    async fn a_scrape_after_requests_shows_them_by_route_and_status(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let client = app.post("/v1/clients", &app.admin, client_body(&app, "M-CID").await).await.id();
        let body = json!({
            "client": client, "type": "Trouble", "source": "Email", "indicationCategory": "FiberCut",
            "networkSegment": "Access"
        });
        let id = app.post("/v1/tickets", &noc, body.clone()).await.id();
        app.post("/v1/tickets", &noc, body).await.expect(201);
        app.get(&format!("/v1/tickets/{id}"), &noc).await.expect(200);
        app.get(&format!("/v1/tickets/{}", uuid::Uuid::new_v4()), &noc).await.expect(404);
        app.get("/v1/no-such-route", &noc).await.expect(404);

        let m = scrape(&app).await;
        // Routes are patterns, never raw paths with ids.
        assert_eq!(value(&m, r#"cgs_http_requests_total{method="POST",route="/v1/tickets",status="201"}"#), Some(2.0), "{m}");
        assert_eq!(value(&m, r#"cgs_http_requests_total{method="GET",route="/v1/tickets/{id}",status="200"}"#), Some(1.0), "{m}");
        assert_eq!(value(&m, r#"cgs_http_requests_total{method="GET",route="/v1/tickets/{id}",status="404"}"#), Some(1.0), "{m}");
        assert_eq!(value(&m, r#"cgs_http_requests_total{method="GET",route="unmatched",status="404"}"#), Some(1.0), "{m}");
        assert!(!m.contains(&id), "no ids in label values");
        assert_eq!(value(&m, r#"cgs_http_request_duration_seconds_count{method="POST",route="/v1/tickets",status="201"}"#), Some(2.0));
        assert_eq!(value(&m, r#"cgs_http_request_duration_seconds_bucket{method="POST",route="/v1/tickets",status="201",le="+Inf"}"#), Some(2.0));
        // Tickets by status, and none over SLA yet.
        assert_eq!(value(&m, r#"cgs_tickets{region="West",status="Open"}"#), Some(2.0), "{m}");
        assert_eq!(value(&m, r#"cgs_tickets_over_sla{region="West",status="Open"}"#), Some(0.0), "{m}");

        // One ticket runs past its SLA.
        let ts = sql_time(chrono::Utc::now() - chrono::Duration::hours(1));
        app.exec(&format!("UPDATE tickets SET sla_due_at = {ts} WHERE ticket_id LIKE '%-0001'")).await;
        let m = scrape(&app).await;
        assert_eq!(value(&m, r#"cgs_tickets_over_sla{region="West",status="Open"}"#), Some(1.0), "{m}");
        // The scrapes count too.
        assert!(value(&m, r#"cgs_http_requests_total{method="GET",route="/metrics",status="200"}"#).unwrap() >= 1.0);
    }
}

/// With `CGS_METRICS_TOKEN`, a scrape without it (or with another) answers 401; the database's
/// figures are counted once per `CGS_METRICS_INTERVAL_SECONDS`, however often it is scraped.
async fn a_closed_and_cached_metrics_endpoint(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| {
        s.metrics_token = Some(common::config::Secret::new("scrape-secret-0123456789"));
        s.metrics_interval_seconds = 3600;
    })
    .await
    else {
        return;
    };
    let url = app.url("/metrics");
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 401);
    assert_eq!(app.client.get(&url).bearer_auth("wrong").send().await.unwrap().status(), 401);
    assert_eq!(
        app.client.get(&url).bearer_auth(&app.admin).send().await.unwrap().status(),
        401,
        "a session token is not the scrape token"
    );
    let scrape =
        || async { app.client.get(&url).bearer_auth("scrape-secret-0123456789").send().await.unwrap() };
    let first = scrape().await;
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    let open = |m: &str| value(m, r#"cgs_tickets{region="West",status="Open"}"#).unwrap_or(0.0);
    let (_, noc) = app.user(Role::NOC, Region::West).await;
    app.post("/v1/tickets", &noc, json!({"type": "Trouble", "source": "Phone", "indicationCategory": "Device", "networkSegment": "Access"})).await.expect(201);
    let second = scrape().await.text().await.unwrap();
    assert_eq!(open(&second), open(&first), "the ticket counts are the cached ones within the interval");
    assert!(
        value(&second, r#"cgs_http_requests_total{method="POST",route="/v1/tickets",status="201"}"#)
            == Some(1.0),
        "the process's own request figures are always current: {second}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_token_closes_the_endpoint_and_its_database_figures_are_cached_sqlite() {
    a_closed_and_cached_metrics_endpoint(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_token_closes_the_endpoint_and_its_database_figures_are_cached_postgres() {
    a_closed_and_cached_metrics_endpoint(Backend::Postgres).await
}
