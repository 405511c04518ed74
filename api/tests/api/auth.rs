//! Login, sessions, cookies and the login lock, on both backends.

use reqwest::Method;
use serde_json::json;

use crate::{helpers::*, on_both_backends};

on_both_backends! {
    async fn login_returns_a_token_its_times_and_a_session_cookie(app) {
        let a = app.send(Method::POST, "/v1/login", None, Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))).await;
        a.expect(200);
        let data = &a.body["data"];
        assert!(data["token"].as_str().unwrap().split('.').count() == 3, "a JWT");
        let (iat, exp) = (data["iat"].as_i64().unwrap(), data["exp"].as_i64().unwrap());
        assert!(exp > iat && (iat - chrono::Utc::now().timestamp()).abs() < 60);
        let cookie = a.headers.get("set-cookie").unwrap().to_str().unwrap();
        assert!(cookie.starts_with("session_id="), "{cookie}");
        for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(cookie.contains(attr), "{cookie} lacks {attr}");
        }
    }

    async fn emails_are_matched_without_regard_to_case(app) {
        app.login(&ADMIN_EMAIL.to_uppercase(), ADMIN_PASSWORD).await;
    }

    async fn wrong_credentials_answer_401(app) {
        for (email, password) in [(ADMIN_EMAIL, "wrong-password"), ("nobody@cgs.test", ADMIN_PASSWORD)] {
            let a = app.send(Method::POST, "/v1/login", None, Some(json!({"email": email, "password": password}))).await;
            a.expect(401);
        }
    }

    async fn every_operation_but_login_needs_a_session(app) {
        for path in ["/v1/users", "/v1/areas", "/v1/main_splitters", "/v1/splitters", "/v1/isps", "/v1/indications", "/v1/clients", "/v1/logout"] {
            app.send(Method::GET, path, None, None).await.expect(401);
            app.send(Method::GET, path, Some("not-a-token"), None).await.expect(401);
        }
    }

    async fn the_session_cookie_works_like_the_bearer_token(app) {
        let resp = app.client.get(app.url("/v1/users")).header("cookie", format!("session_id={}", app.admin)).send().await.unwrap();
        TestApp::answer(resp).await.expect(200);
    }

    async fn logout_ends_the_session_for_token_and_cookie(app) {
        let token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        app.get("/v1/users", &token).await.expect(200);
        let a = app.get("/v1/logout", &token).await;
        a.expect(200);
        assert!(a.headers.get("set-cookie").unwrap().to_str().unwrap().contains("Max-Age=0"));
        app.get("/v1/users", &token).await.expect(401);
        let resp = app.client.get(app.url("/v1/users")).header("cookie", format!("session_id={token}")).send().await.unwrap();
        TestApp::answer(resp).await.expect(401);
        // Other sessions of the same user live on.
        app.get("/v1/users", &app.admin).await.expect(200);
    }

    async fn a_token_signed_with_another_key_is_refused(app) {
        let parts: Vec<&str> = app.admin.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], parts[1], "AAAA".repeat(10));
        app.get("/v1/users", &forged).await.expect(401);
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{}.", parts[1]);
        app.get("/v1/users", &none).await.expect(401);
    }

    async fn repeated_failures_lock_the_email_with_429(app) {
        for _ in 0..5 {
            app.send(Method::POST, "/v1/login", None, Some(json!({"email": ADMIN_EMAIL, "password": "nope-nope"}))).await.expect(401);
        }
        let a = app.send(Method::POST, "/v1/login", None, Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))).await;
        a.expect(429);
        let retry: i64 = a.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
        assert!(retry > 0 && retry <= 300, "{retry}");
        // Another account is not affected.
        app.user(common::domain::Role::NOC, common::domain::Region::West).await;
    }

    async fn a_deleted_user_can_no_longer_log_in_and_its_sessions_end(app) {
        let (id, token) = app.user(common::domain::Role::FOC, common::domain::Region::East).await;
        app.get(&format!("/v1/users/{id}"), &token).await.expect(200);
        app.delete(&format!("/v1/users/{id}"), &app.admin).await.expect(200);
        app.get(&format!("/v1/users/{id}"), &token).await.expect(401);
        app.get(&format!("/v1/users/{id}"), &app.admin).await.expect(404);
    }
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    for path in ["/healthz", "/readyz"] {
        let a = app.send(Method::GET, path, None, None).await;
        a.expect(200);
        assert_eq!(a.body["data"]["status"], "ok");
    }
}

#[tokio::test]
async fn tokens_stay_valid_across_a_restart_without_a_configured_secret() {
    let path = std::env::temp_dir().join(format!("cgs-restart-{}.db", uuid::Uuid::new_v4().simple()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let start = |url: String| async move {
        let mut s = common::config::Settings::with_database(url);
        s.admin_email = Some(ADMIN_EMAIL.into());
        s.admin_password = Some(common::config::Secret::new(ADMIN_PASSWORD));
        let app = api::build_app(s).await.unwrap();
        let addr = app.local_addr();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until(async {
            let _ = rx.await;
        }));
        (addr, tx, handle)
    };
    let client = reqwest::Client::new();
    let (addr, stop, handle) = start(url.clone()).await;
    let login = client
        .post(format!("http://{addr}/v1/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let token = TestApp::answer(login).await.body["data"]["token"].as_str().unwrap().to_owned();
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
    let (addr, stop, handle) = start(url).await;
    let resp = client.get(format!("http://{addr}/v1/users")).bearer_auth(&token).send().await.unwrap();
    TestApp::answer(resp).await.expect(200);
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

/// An RSA key pair from the system's openssl: (private PEM, public PEM).
fn rsa_pair() -> (String, String) {
    let private = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])
        .output()
        .expect("openssl runs");
    let mut public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    public.stdin.take().unwrap().write_all(&private.stdout).unwrap();
    let public = public.wait_with_output().unwrap();
    (String::from_utf8(private.stdout).unwrap(), String::from_utf8(public.stdout).unwrap())
}

#[tokio::test]
async fn login_answers_a_firebase_custom_token_when_a_service_account_is_configured() {
    let (private, public) = rsa_pair();
    let path = std::env::temp_dir().join(format!("cgs-sa-{}.json", uuid::Uuid::new_v4().simple()));
    let sa = json!({"type": "service_account", "client_email": "cgs@project.iam.gserviceaccount.com", "private_key": private});
    std::fs::write(&path, sa.to_string()).unwrap();
    let p = path.clone();
    let app = spawn_app_with(Backend::Sqlite, move |s| s.firebase_service_account = Some(p)).await.unwrap();
    let (id, _) = app.user(common::domain::Role::FOC, common::domain::Region::East).await;
    let email =
        app.get(&format!("/v1/users/{id}"), &app.admin).await.result()["email"].as_str().unwrap().to_owned();
    let a =
        app.send(Method::POST, "/v1/login", None, Some(json!({"email": email, "password": PASSWORD}))).await;
    a.expect(200);
    let token = a.body["data"]["firebaseToken"].as_str().expect("firebaseToken");
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[common::auth::FIREBASE_AUDIENCE]);
    let claims = jsonwebtoken::decode::<common::auth::FirebaseClaims>(token, &key, &v).unwrap().claims;
    assert_eq!(claims.iss, "cgs@project.iam.gserviceaccount.com");
    assert_eq!(claims.uid, id);
    assert_eq!(
        (claims.claims.role, claims.claims.region),
        (common::domain::Role::FOC, common::domain::Region::East)
    );
    assert_eq!(claims.exp - claims.iat, 3600);
    // Algorithm confusion: the session claims signed with the service account's RSA key (RS256),
    // or with its public key as an HMAC secret (HS256), are not session tokens.
    let session = a.body["data"]["token"].as_str().unwrap();
    let claims = jsonwebtoken::dangerous::insecure_decode::<common::auth::Claims>(session).unwrap().claims;
    let rs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(private.as_bytes()).unwrap(),
    )
    .unwrap();
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    app.get(&format!("/v1/users/{id}"), session).await.expect(200);
    app.get(&format!("/v1/users/{id}"), &rs).await.expect(401);
    app.get(&format!("/v1/users/{id}"), &hs).await.expect(401);
    std::fs::remove_file(path).unwrap();
    // Without a service account there is no Firebase token.
    let plain = spawn_app(Backend::Sqlite).await.unwrap();
    let a = plain
        .send(
            Method::POST,
            "/v1/login",
            None,
            Some(json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
        )
        .await;
    assert!(a.body["data"].get("firebaseToken").is_none());
}
