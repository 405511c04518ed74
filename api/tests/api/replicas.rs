//! Two `cgs-api` processes on one PostgreSQL database: a session change made through one is
//! refused by the other within a second, though the other answers session checks from its
//! cache; and a listener that loses its connection empties the cache.

use std::time::{Duration, Instant};

use common::domain::{Region, Role};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// A `cgs-api` process on `db` with answers kept long, so that only a notification (or a lost
/// listener) can end them early.
async fn replica(db: &str) -> (Running, String) {
    let port = free_port();
    let mut cmd = cgs_api_command(db, port);
    cmd.env("CGS_SESSION_CACHE_SECONDS", "600").env("RUST_LOG", "warn");
    let process = Running::spawn(cmd);
    let base = format!("http://127.0.0.1:{port}");
    wait_ready(&base).await;
    (process, base)
}

async fn status(client: &Client, base: &str, path: &str, token: &str) -> StatusCode {
    client.get(format!("{base}{path}")).bearer_auth(token).send().await.expect("request sent").status()
}

/// Session checks `base` answered from its cache so far.
async fn cache_answers(client: &Client, base: &str) -> u64 {
    let text = client.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("cgs_session_checks_total{answer=\"cache\"} "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no cache count in /metrics:\n{text}"))
}

/// Asks `base` for `path` with `token` until it is refused with `refused`; fails unless the
/// refusing request was sent within a second of `since`.
async fn refused_within_a_second(
    client: &Client,
    base: &str,
    path: &str,
    token: &str,
    refused: StatusCode,
    since: Instant,
    what: &str,
) {
    loop {
        let sent = since.elapsed();
        let answer = status(client, base, path, token).await;
        if answer == refused {
            assert!(sent < Duration::from_secs(1), "{what}: first refused {sent:?} after the change");
            return;
        }
        assert_eq!(answer, StatusCode::OK, "{what}: before the refusal");
        assert!(sent < Duration::from_secs(5), "{what}: still answered {answer} {sent:?} after the change");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The body of `PUT /v1/users/{id}` that keeps the user as it is but for `role` and `region`.
async fn user_update(app: &TestApp, id: &str, role: Role, region: Region, password: Option<&str>) -> Value {
    let user = app.get(&format!("/v1/users/{id}"), &app.admin).await.result().clone();
    let mut body = json!({"email": user["email"], "nik": user["nik"], "name": user["name"], "role": role, "region": region});
    if let Some(p) = password {
        body["password"] = json!(p);
        body["rePassword"] = json!(p);
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_session_change_made_on_one_replica_is_refused_by_the_other_within_a_second() {
    let Some(app) = spawn_app(Backend::Postgres).await else { return };
    let (_a, a) = replica(&app.db_url).await;
    let (_b, b) = replica(&app.db_url).await;
    let client = Client::new();
    let probe = format!("/v1/users/{}", app.user(Role::FOC, Region::West).await.0);
    let failed_jobs = "/v1/admin/jobs/failed";
    let (unauthorized, forbidden, not_found) =
        (StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN, StatusCode::NOT_FOUND);

    // What changes, made through replica A: (name, user's role, the request, what B is asked
    // and how B refuses it after).
    let mut cases = Vec::new();
    for (what, role, path, refused) in [
        ("logout", Role::NOC, probe.as_str(), unauthorized),
        ("deactivation", Role::NOC, &probe, unauthorized),
        ("new password", Role::NOC, &probe, unauthorized),
        ("role change", Role::SuperAdmin, failed_jobs, forbidden),
        ("region change", Role::NOC, &probe, not_found),
    ] {
        let (id, token) = app.user(role, Region::West).await;
        let url = format!("{a}/v1/users/{id}");
        let change = match what {
            "logout" => client.get(format!("{a}/v1/logout")).bearer_auth(&token),
            "deactivation" => client.delete(&url).bearer_auth(&app.admin),
            _ => {
                let (role, region, password) = match what {
                    "new password" => (Role::NOC, Region::West, Some("a-new-password-1")),
                    "role change" => (Role::NOC, Region::West, None),
                    _ => (Role::NOC, Region::East, None),
                };
                let body = user_update(&app, &id, role, region, password).await;
                client.put(&url).bearer_auth(&app.admin).json(&body)
            }
        };
        cases.push((what, change, token, path, refused));
    }

    // Every token is good on the other replica, which then answers from its cache.
    let before = cache_answers(&client, &b).await;
    for (_, _, token, path, _) in &cases {
        for _ in 0..3 {
            assert_eq!(status(&client, &b, path, token).await, StatusCode::OK, "{path} on the other replica");
        }
    }
    assert!(cache_answers(&client, &b).await >= before + 10, "the other replica answers from its cache");

    for (what, change, token, path, refused) in cases {
        assert_eq!(change.send().await.unwrap().status(), StatusCode::OK, "{what} on replica A");
        let since = Instant::now();
        refused_within_a_second(&client, &b, path, &token, refused, since, what).await;
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_listener_lost_its_connection_checks_sessions_in_the_database_again() {
    let Some(app) = spawn_app(Backend::Postgres).await else { return };
    let (_b, b) = replica(&app.db_url).await;
    let client = Client::new();
    let (id, token) = app.user(Role::NOC, Region::West).await;
    for _ in 0..3 {
        assert_eq!(status(&client, &b, "/v1/users", &token).await, StatusCode::OK);
    }
    // Ended behind the app's back: no notification tells the replica.
    app.exec(&format!("UPDATE sessions SET revoked_at = now() WHERE user_id = {}", app.sql_uuid(&id))).await;
    app.exec(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = '{}' AND datname = current_database()",
        common::db::session_cache::LISTENER_NAME
    ))
    .await;
    let since = Instant::now();
    refused_within_a_second(
        &client,
        &b,
        "/v1/users",
        &token,
        StatusCode::UNAUTHORIZED,
        since,
        "lost listener",
    )
    .await;
    app.shutdown().await;
}
