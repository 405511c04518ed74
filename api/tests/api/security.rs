//! Attacks on the API: forged and expired tokens, hostile JSON, and secrets that must never be
//! answered or logged.

use common::{
    auth::Claims,
    config::Secret,
    domain::{Region, Role},
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::json;

use crate::{helpers::*, on_both_backends};

const SECRET: &str = "a-test-signing-secret-of-enough-length";

fn claims_of(token: &str) -> Claims {
    jsonwebtoken::dangerous::insecure_decode::<Claims>(token).unwrap().claims
}

fn sign(alg: Algorithm, claims: &Claims, secret: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret)).unwrap()
}

async fn expired_and_forged_tokens_are_refused(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| s.jwt_secret = Some(Secret::new(SECRET))).await else {
        return;
    };
    {
        let real = claims_of(&app.admin);
        let now = chrono::Utc::now().timestamp();
        // The server's own key and algorithm, on a live session, is accepted...
        let good =
            sign(Algorithm::HS256, &Claims { iat: now, exp: now + 60, ..real.clone() }, SECRET.as_bytes());
        app.get("/v1/users", &good).await.expect(200);
        // ...but not once expired, with another HMAC algorithm, another key, or another user.
        let expired = sign(
            Algorithm::HS256,
            &Claims { iat: now - 120, exp: now - 60, ..real.clone() },
            SECRET.as_bytes(),
        );
        app.get("/v1/users", &expired).await.expect(401);
        app.get("/v1/users", &sign(Algorithm::HS512, &real, SECRET.as_bytes())).await.expect(401);
        app.get("/v1/users", &sign(Algorithm::HS256, &real, b"another-secret-of-enough-length"))
            .await
            .expect(401);
        let (other, _) = app.user(Role::FOC, Region::East).await;
        let someone_else = Claims { sub: other.parse().unwrap(), ..real.clone() };
        app.get("/v1/users", &sign(Algorithm::HS256, &someone_else, SECRET.as_bytes())).await.expect(401);
        // A token of an ended session stays refused though its signature and time are good.
        app.send(Method::GET, "/v1/logout", Some(&good), None).await.expect(200);
        app.get("/v1/users", &good).await.expect(401);
        app.get("/v1/users", &app.admin).await.expect(401);
        // Garbage in the header.
        for junk in ["", "a.b.c", "Bearer", &"x".repeat(10_000)] {
            let resp = app
                .client
                .get(app.url("/v1/users"))
                .header("Authorization", format!("Bearer {junk}"))
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 401, "{junk:.20}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_forged_tokens_are_refused_sqlite() {
    expired_and_forged_tokens_are_refused(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_forged_tokens_are_refused_postgres() {
    expired_and_forged_tokens_are_refused(Backend::Postgres).await;
}

on_both_backends! {
    async fn hostile_json_is_refused_with_4xx_and_changes_nothing(app) {
        let send_raw = |body: String| {
            app.client.post(app.url("/v1/areas")).bearer_auth(&app.admin).header("content-type", "application/json").body(body).send()
        };
        // Deeply nested JSON.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let status = send_raw(deep).await.unwrap().status().as_u16();
        assert!((400..500).contains(&status), "deep JSON: {status}");
        let deep_object = format!(r#"{{"name": {}1{}, "region": "West", "initial": "X"}}"#, r#"{"a":"#.repeat(5_000), "}".repeat(5_000));
        let status = send_raw(deep_object).await.unwrap().status().as_u16();
        assert!((400..500).contains(&status), "deep object: {status}");
        // Long strings: over the field's bound, and over the body limit.
        let a = app.post("/v1/areas", &app.admin, json!({"region": "West", "name": "x".repeat(201), "initial": "X"})).await;
        a.expect(400);
        let oversize = json!({"region": "West", "name": "x".repeat(2_000_000), "initial": "X"}).to_string();
        let head = format!(
            "POST /v1/areas HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            app.admin,
            oversize.len()
        );
        let answer = raw_exchange(app.addr, head, oversize.into_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        // Wrong types, duplicate keys, NUL bytes, lone surrogates.
        for body in [
            r#"{"region": "West", "name": 12, "initial": "X"}"#,
            r#"{"region": "Mars", "name": "A", "initial": "X"}"#,
            r#"{"region": "West", "name": "A\u0000B", "initial": "X"}"#,
            r#"{"region": "West", "name": "\ud800", "initial": "X"}"#,
            r#"[]"#,
            r#"null"#,
        ] {
            let status = send_raw(body.to_owned()).await.unwrap().status().as_u16();
            assert!((400..500).contains(&status), "{body}: {status}");
        }
        let total = app.get("/v1/areas", &app.admin).await.body["data"]["meta"]["total"].as_i64().unwrap();
        assert_eq!(total, 0, "nothing was stored");
        // Hostile query strings are searched for, or refused; never a server error.
        for q in ["%00", "%27%3B%20DROP%20TABLE%20users%3B--", "%25%5F%5C", "%F0%9F%9A%80", &"a".repeat(300)] {
            let a = app.get(&format!("/v1/users?q={q}"), &app.admin).await;
            assert!(a.status.as_u16() < 500, "q={q:.20}: {}", a.status);
            let a = app.get(&format!("/v1/tickets?endUser={q}"), &app.admin).await;
            assert!(a.status.as_u16() < 500, "endUser={q:.20}: {}", a.status);
        }
    }
}

/// Runs the real binary with debug logs through a session that handles passwords, tokens and
/// the signing secret, and checks that none of them is answered or logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_hash_reaches_a_response_or_a_log_line() {
    let (db, file) = fresh_database(Backend::Sqlite).await.unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::env::temp_dir().join(format!("cgs-security-{}.log", uuid::Uuid::new_v4().simple()));
    let mut cmd = cgs_api_command(&db, port);
    cmd.env("CGS_JWT_SECRET", SECRET)
        .env("CGS_LOG_FORMAT", "json")
        .env("RUST_LOG", "debug,sqlx=debug")
        .stderr(std::fs::File::create(&log).unwrap());
    let mut child = Running::spawn(cmd);
    let client = reqwest::Client::new();
    wait_ready(&base).await;
    let mut answers = String::new();
    let mut call =
        async |method: Method, path: &str, token: Option<&str>, body: Option<serde_json::Value>| {
            let mut req = client.request(method, format!("{base}{path}"));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            if let Some(b) = body {
                req = req.json(&b);
            }
            let resp = req.send().await.unwrap();
            let headers = format!("{:?}", resp.headers());
            let text = resp.text().await.unwrap();
            answers.push_str(&headers);
            answers.push_str(&text);
            serde_json::from_str::<serde_json::Value>(&text).unwrap_or_default()
        };
    let login = call(
        Method::POST,
        "/v1/login",
        None,
        Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
    )
    .await;
    let admin = login["data"]["token"].as_str().unwrap().to_owned();
    let user_password = "user-secret-password-1";
    let new_password = "user-secret-password-2";
    let user = call(
        Method::POST,
        "/v1/users",
        Some(&admin),
        Some(json!({
        "email": "tech@cgs.test", "password": user_password, "rePassword": user_password, "nik": "777",
        "name": "Tech", "role": "FOC", "region": "West"})),
    )
    .await;
    let id = user["data"]["result"]["id"].as_str().unwrap().to_owned();
    call(
        Method::POST,
        "/v1/login",
        None,
        Some(json!({"email": "tech@cgs.test", "password": "wrong-password-guess"})),
    )
    .await;
    let tech = call(
        Method::POST,
        "/v1/login",
        None,
        Some(json!({"email": "tech@cgs.test", "password": user_password})),
    )
    .await;
    let tech_token = tech["data"]["token"].as_str().unwrap().to_owned();
    call(
        Method::PUT,
        &format!("/v1/users/{id}"),
        Some(&admin),
        Some(json!({
        "email": "tech@cgs.test", "password": new_password, "rePassword": new_password, "nik": "777",
        "name": "Tech", "role": "FOC", "region": "West"})),
    )
    .await;
    call(Method::GET, "/v1/users", Some(&admin), None).await;
    call(Method::GET, &format!("/v1/users/{id}"), Some(&admin), None).await;
    call(Method::GET, "/v1/logout", Some(&admin), None).await;
    child.sigterm();
    child.wait_exit(60).await;

    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("request"), "the log was written");
    for secret in [
        ADMIN_PASSWORD,
        user_password,
        new_password,
        "wrong-password-guess",
        SECRET,
        &admin,
        &tech_token,
        "$argon2",
    ] {
        assert!(!logged.contains(secret), "the log holds {secret:.12}...");
    }
    for secret in
        [ADMIN_PASSWORD, user_password, new_password, SECRET, "$argon2", "password_hash", "passwordHash"]
    {
        assert!(!answers.contains(secret), "an answer holds {secret:.12}...");
    }
    let _ = std::fs::remove_file(&log);
    if let Some(path) = file {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }
}

on_both_backends! {
    async fn answers_carry_the_security_headers(app) {
        let login = app.client.post(app.url("/v1/login")).json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})).send().await.unwrap();
        assert_eq!(login.status(), 200);
        assert_eq!(login.headers()["cache-control"], "no-store", "a token is never cached");
        assert_eq!(login.headers()["x-content-type-options"], "nosniff");
        let refused = app.client.post(app.url("/v1/login/")).json(&json!({"email": ADMIN_EMAIL, "password": "wrong-password"})).send().await.unwrap();
        assert_eq!((refused.status().as_u16(), refused.headers()["cache-control"].to_str().unwrap()), (401, "no-store"));
        let list = app.client.get(app.url("/v1/tickets")).bearer_auth(&app.admin).send().await.unwrap();
        assert_eq!(list.headers()["x-content-type-options"], "nosniff");
        let missing = app.client.get(app.url("/v1/nothing-here")).send().await.unwrap();
        assert_eq!((missing.status().as_u16(), missing.headers()["x-content-type-options"].to_str().unwrap()), (404, "nosniff"));
        let docs = app.client.get(app.url("/docs")).send().await.unwrap();
        assert_eq!(docs.status(), 200);
        assert_eq!(docs.headers()["x-frame-options"], "DENY", "no other site frames the documentation");
        assert_eq!(docs.headers()["content-security-policy"], "frame-ancestors 'none'");
    }
}
