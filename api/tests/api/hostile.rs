//! The hostile suite: floods, oversized bodies and abuse, tried as an attacker would, while the
//! real users keep being served.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;

use crate::{helpers::*, on_both_backends};

/// A login as seen from `address` (the test's loopback is a trusted proxy in these tests).
async fn login_from(app: &TestApp, address: &str, email: &str, password: &str) -> Answer {
    let resp = app
        .client
        .post(app.url("/v1/login"))
        .header("x-forwarded-for", address)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login sent");
    TestApp::answer(resp).await
}

/// Creates an FOC; answers its email (password [`PASSWORD`]).
async fn account(app: &TestApp) -> String {
    let n = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("victim-{}@cgs.test", &n[..8]);
    app.post(
        "/v1/users",
        &app.admin,
        json!({"email": email, "password": PASSWORD, "rePassword": PASSWORD, "nik": n, "name": "Victim",
               "role": "FOC", "region": "West"}),
    )
    .await
    .expect(201);
    email
}

fn retry_after(a: &Answer) -> i64 {
    a.headers.get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap()
}

on_both_backends! {
    with |s| {
        s.trusted_proxies = vec![common::config::parse_network("127.0.0.1").unwrap()];
        s.login_max_failures = 5;
        s.login_account_max_failures = 8;
    };

    async fn hostile_failed_logins_lock_the_attackers_address_and_not_the_victims(app) {
        let victim = account(&app).await;
        for _ in 0..5 {
            login_from(&app, "203.0.113.9", &victim, "guessed-wrong").await.expect(401);
        }
        // Even the right password from the attacker's address is refused now, without a check.
        let refused = login_from(&app, "203.0.113.9", &victim, PASSWORD).await;
        refused.expect(429);
        assert_eq!(refused.code(), "too_many_attempts");
        assert!((1..=300).contains(&retry_after(&refused)), "{:?}", refused.headers);
        // The victim, elsewhere, logs in.
        login_from(&app, "198.51.100.7", &victim, PASSWORD).await.expect(200);
        // The attacker's own pair stays locked after the victim's good login.
        login_from(&app, "203.0.113.9", &victim, PASSWORD).await.expect(429);
    }

    async fn hostile_parallel_guesses_cannot_pass_the_limit(app) {
        let victim = account(&app).await;
        let guesses = (0..20).map(|i| {
            let app = &app;
            let victim = victim.clone();
            async move { login_from(app, "203.0.113.10", &victim, &format!("guess-{i}")).await.status.as_u16() }
        });
        let statuses = futures_util::future::join_all(guesses).await;
        let count = |s: u16| statuses.iter().filter(|&&x| x == s).count();
        assert_eq!((count(401), count(429)), (5, 15), "{statuses:?}");
    }

    async fn hostile_an_attack_spread_over_addresses_locks_the_account_for_its_window(app) {
        let victim = account(&app).await;
        for i in 0..8 {
            login_from(&app, &format!("192.0.2.{i}"), &victim, "guessed-wrong").await.expect(401);
        }
        let refused = login_from(&app, "198.51.100.7", &victim, PASSWORD).await;
        refused.expect(429);
        // Another account is not affected.
        let other = account(&app).await;
        login_from(&app, "192.0.2.1", &other, PASSWORD).await.expect(200);
    }

    async fn hostile_a_good_login_gives_its_count_back(app) {
        let user = account(&app).await;
        // Ten good logins in a row from one address pass both limits.
        for _ in 0..10 {
            login_from(&app, "198.51.100.8", &user, PASSWORD).await.expect(200);
        }
    }
}

on_both_backends! {
    with |s| {
        s.trusted_proxies = vec![common::config::parse_network("127.0.0.0/8").unwrap()];
        s.login_per_address_per_minute = 6;
    };

    async fn hostile_one_address_gets_a_few_login_attempts_a_minute(app) {
        for i in 0..6 {
            login_from(&app, "203.0.113.20", &format!("nobody-{i}@cgs.test"), "whatever").await.expect(401);
        }
        let refused = login_from(&app, "203.0.113.20", ADMIN_EMAIL, ADMIN_PASSWORD).await;
        refused.expect(429);
        assert!((1..=60).contains(&retry_after(&refused)), "{:?}", refused.headers);
        login_from(&app, "203.0.113.21", ADMIN_EMAIL, ADMIN_PASSWORD).await.expect(200);
    }
}

on_both_backends! {
    async fn hostile_throttle_rows_of_ended_windows_are_pruned(app) {
        let db = common::db::Db::connect(&app.db_url, 1).await.unwrap();
        let now = common::db::now();
        let window = chrono::Duration::seconds(300);
        for key in ["account:a@x", "account:b@x"] {
            common::db::sessions::count_attempt(&db, key, now - chrono::Duration::seconds(600), window, 5).await.unwrap();
        }
        common::db::sessions::count_attempt(&db, "account:c@x", now, window, 5).await.unwrap();
        let mut tx = db.begin_write().await.unwrap();
        assert_eq!(common::db::sessions::prune_throttle(&mut tx, now - window).await.unwrap(), 2);
        tx.commit().await.unwrap();
        assert_eq!(app.scalar("SELECT COUNT(*) FROM login_throttle WHERE key LIKE 'account:%@x'").await, 1);
        // A window that ended starts again at one.
        let again = common::db::sessions::count_attempt(&db, "account:a@x", now, window, 5).await.unwrap();
        assert_eq!((again.count, again.window_start), (1, now));
    }
}

on_both_backends! {
    async fn hostile_a_login_flood_leaves_logged_in_users_served(app) {
        let (_, noc) = app.user(common::domain::Role::NOC, common::domain::Region::West).await;
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let flood: Vec<_> = (0..48)
            .map(|_| {
                let (client, url, stop) = (reqwest::Client::new(), app.url("/v1/login"), stop.clone());
                let answered = answered.clone();
                tokio::spawn(async move {
                    let mut seen = BTreeMap::<String, usize>::new();
                    while !stop.load(Ordering::Relaxed) {
                        let email = format!("{}@flood.test", uuid::Uuid::new_v4().simple());
                        let resp = client.post(&url).json(&json!({"email": email, "password": "flood-flood"})).send().await;
                        let resp = resp.expect("a flood login is answered");
                        let status = resp.status().as_u16();
                        let body: serde_json::Value = resp.json().await.unwrap_or_default();
                        *seen.entry(format!("{status} {}", body["code"].as_str().unwrap_or(""))).or_default() += 1;
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    seen
                })
            })
            .collect();
        wait_until(30, "the flood is under way", || async { answered.load(Ordering::Relaxed) >= 48 }).await;
        let (mut reads, mut slowest) = (0, Duration::ZERO);
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            let started = Instant::now();
            app.get("/v1/tickets?limit=1", &noc).await.expect(200);
            slowest = slowest.max(started.elapsed());
            reads += 1;
        }
        stop.store(true, Ordering::Relaxed);
        let mut seen = BTreeMap::<String, usize>::new();
        for task in flood {
            for (k, n) in task.await.unwrap() {
                *seen.entry(k).or_default() += n;
            }
        }
        eprintln!("{reads} reads during the flood, slowest {slowest:?}; flood answers {seen:?}");
        assert!(seen.keys().all(|k| k == "401 unauthorized" || k == "429 login_busy"), "{seen:?}");
        assert!(seen.get("429 login_busy").copied().unwrap_or(0) > 0, "the queue of password checks is bounded: {seen:?}");
    }
}

#[test]
fn hostile_help_never_shows_a_secret_from_the_environment() {
    let secrets = [
        ("DATABASE_URL", "postgres://cgs:db-secret-1@db/cgs"),
        ("CGS_ADMIN_PASSWORD", "admin-secret-2"),
        ("CGS_JWT_SECRET", "jwt-secret-3-jwt-secret-3-jwt-secret-3"),
        ("CGS_METRICS_TOKEN", "metrics-secret-4"),
        ("CGS_SMTP_URL", "smtps://u:smtp-secret-5@mail"),
        ("CGS_TELEGRAM_BOT_TOKEN", "123:telegram-secret-6"),
        ("CGS_IMAP_PASSWORD", "imap-secret-7"),
    ];
    for bin in ["cgs-api", "cgs-worker"] {
        let path = env!("CARGO_BIN_EXE_cgs-api").replace("cgs-api", bin);
        let out = std::process::Command::new(path).arg("--help").envs(secrets).output().unwrap();
        assert!(out.status.success(), "{bin} --help failed");
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("CGS_SMTP_URL"), "{bin} --help lists the settings: {help}");
        for (name, value) in secrets {
            assert!(!help.contains(value), "{bin} --help shows {name}");
        }
    }
}

#[tokio::test]
async fn hostile_a_short_signing_secret_is_refused_at_start() {
    let (url, file) = fresh_database(Backend::Sqlite).await.unwrap();
    let mut settings = common::config::Settings::with_database(url);
    settings.jwt_secret = Some(common::config::Secret::new("31-bytes-are-one-byte-too-few.."));
    let err = api::build_app(settings).await.err().expect("a short secret is refused");
    assert!(format!("{err:#}").contains("at least 32"), "{err:#}");
    if let Some(file) = file {
        let _ = std::fs::remove_file(file);
    }
}

/// A body of `total` bytes of JSON-looking filler, sent as a stream of 64 KiB chunks (so with no
/// `Content-Length`); `pulled` counts the bytes the client was let send.
fn endless_body(total: usize, pulled: Arc<std::sync::atomic::AtomicUsize>) -> reqwest::Body {
    const CHUNK: usize = 64 * 1024;
    let chunks = futures_util::stream::iter((0..total / CHUNK).map(move |i| {
        pulled.fetch_add(CHUNK, Ordering::SeqCst);
        let mut chunk = vec![b' '; CHUNK];
        if i == 0 {
            chunk[0] = b'[';
        }
        Ok::<_, std::io::Error>(bytes::Bytes::from(chunk))
    }));
    reqwest::Body::wrap_stream(chunks)
}

on_both_backends! {
    async fn hostile_bodies_past_one_mebibyte_get_413_over_http2_without_content_length(app) {
        let pulled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let client = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
        let resp = client
            .post(app.url("/v1/areas"))
            .bearer_auth(&app.admin)
            .header("content-type", "application/json")
            .body(endless_body(100 * 1024 * 1024, pulled.clone()))
            .send()
            .await
            .expect("HTTP/2 answers before the body ends");
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
        let a = TestApp::answer(resp).await;
        a.expect(413);
        assert_eq!(a.code(), "payload_too_large");
        let sent = pulled.load(Ordering::SeqCst);
        assert!(sent < 16 * 1024 * 1024, "the server stopped the stream early, not after {sent} bytes");
        // Within the limit, the same framing is served.
        let small = client
            .post(app.url("/v1/areas"))
            .bearer_auth(&app.admin)
            .header("content-type", "application/json")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter([Ok::<_, std::io::Error>(
                bytes::Bytes::from(r#"{"region": "West", "name": "Over h2", "initial": "OH2"}"#),
            )])))
            .send()
            .await
            .unwrap();
        assert_eq!(small.version(), reqwest::Version::HTTP_2);
        TestApp::answer(small).await.expect(201);
    }

    async fn hostile_bodies_past_one_mebibyte_get_413_over_http1_chunked(app) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        let (mut read, mut write) = tcp.into_split();
        let head = format!(
            "POST /v1/areas HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            app.admin
        );
        write.write_all(head.as_bytes()).await.unwrap();
        // Chunks of 64 KiB, up to 100 MiB, until the server stops taking them.
        let writer = tokio::spawn(async move {
            let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
            let mut sent = 0usize;
            for _ in 0..1600 {
                if write.write_all(chunk.as_bytes()).await.is_err() {
                    break;
                }
                sent += 64 * 1024;
            }
            sent
        });
        let mut answer = vec![0u8; 4096];
        let n = read.read(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer[..n]).to_string();
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        assert!(answer.contains("\"code\":\"payload_too_large\""), "{answer}");
        drop(read);
        let sent = writer.await.unwrap();
        assert!(sent < 100 * 1024 * 1024, "the server closed the connection, after {sent} bytes");
        assert_eq!(app.get("/v1/areas", &app.admin).await.result().as_array().map(Vec::len), Some(0));
    }
}

on_both_backends! {
    // The test moves the idle end behind the app's back, which no session cache hears of.
    with |s| {
        s.session_idle_minutes = 10;
        s.session_cache_seconds = 0;
    };

    async fn hostile_a_session_unused_for_its_idle_time_ends_and_a_use_keeps_it(app) {
        let token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        let claims = jsonwebtoken::dangerous::insecure_decode::<common::auth::Claims>(&token).unwrap().claims;
        let db = common::db::Db::connect(&app.db_url, 1).await.unwrap();
        let alive_at = |minutes: i64| {
            let db = db.clone();
            let claims = claims.clone();
            async move {
                let at = common::db::now() + chrono::Duration::minutes(minutes);
                common::db::sessions::live_actor(&db, claims.sid, claims.sub, at).await.unwrap().is_some()
            }
        };
        assert!(alive_at(9).await && !alive_at(11).await, "a new session may idle 10 minutes");
        // Last used 8 minutes ago: a use now moves its end 10 minutes on.
        let sid = app.sql_uuid(&claims.sid.to_string());
        let soon = sql_time(chrono::Utc::now() + chrono::Duration::minutes(2));
        app.exec(&format!("UPDATE sessions SET idle_until = {soon} WHERE id = {sid}")).await;
        assert!(!alive_at(5).await);
        app.get("/v1/users", &token).await.expect(200);
        assert!(alive_at(9).await, "the use moved the idle end on");
        // Unused past its idle end, the session is over.
        let past = sql_time(chrono::Utc::now() - chrono::Duration::seconds(1));
        app.exec(&format!("UPDATE sessions SET idle_until = {past} WHERE id = {sid}")).await;
        app.get("/v1/users", &token).await.expect(401);
    }
}
