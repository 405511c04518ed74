//! `spawn_app`: the real app from `build_app`, on port 0, with a fresh database per test.
//! Here the app and its answers; `requests.rs` the test app's requests and checks,
//! `processes.rs` binaries, ports and polling, `backends.rs` the both-backends macro and its
//! fixtures, `local_peers.rs` the local peers (SMTP, IMAP, Telegram, Firestore).

use std::{net::SocketAddr, path::PathBuf};

use common::{
    config::{Secret, Settings},
    domain::{Region, Role},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::oneshot;

/// Queue names for [`TestApp::expect_jobs`] (`ExpirePending::QUEUE`).
pub use common::jobs::Job;

pub const ADMIN_EMAIL: &str = "admin@cgs.test";
pub const ADMIN_PASSWORD: &str = "admin-password";
pub const PASSWORD: &str = "password123";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub admin: String,
    /// The test's own database, for tests that move the clock by editing timestamps.
    pub db_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    sqlite_file: Option<PathBuf>,
    /// The test's own media directory.
    pub media_dir: PathBuf,
    /// The app runs its worker: jobs are consumed, so only failed ones count as left over.
    runs_worker: bool,
    /// Queues whose jobs the test means to leave (see [`TestApp::expect_jobs`]).
    expected_jobs: std::sync::Mutex<Vec<&'static str>>,
}

/// Creates a database for one test and starts the app on it. `None` (with a notice) when the
/// backend is PostgreSQL and no server URL is configured.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// A new empty database of the backend: its URL and, on SQLite, its file. `None` (with a
/// notice) when the backend is PostgreSQL and no server URL is configured.
pub async fn fresh_database(backend: Backend) -> Option<(String, Option<PathBuf>)> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    Some(match backend {
        Backend::Sqlite => {
            let path = std::env::temp_dir().join(format!("cgs-test-{id}.db"));
            (format!("sqlite://{}?mode=rwc", path.display()), Some(path))
        }
        Backend::Postgres => {
            let server = peers::test_postgres_server()?;
            let name = format!("cgs_test_{id}");
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
                .await
                .expect("connect to PostgreSQL");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create the test database");
            let base = server.rsplit_once('/').map(|(b, _)| b).unwrap_or(&server);
            (format!("{base}/{name}"), None)
        }
    })
}

pub async fn spawn_app_with(backend: Backend, tweak: impl FnOnce(&mut Settings)) -> Option<TestApp> {
    // `CGS_TEST_LOG=debug` (a tracing filter) shows the app's logs in a test's output.
    if let Ok(filter) = std::env::var("CGS_TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
    let (url, sqlite_file) = fresh_database(backend).await?;
    let mut settings = Settings::with_database(url.clone());
    settings.admin_email = Some(ADMIN_EMAIL.into());
    settings.admin_password = Some(Secret::new(ADMIN_PASSWORD));
    settings.db_max_connections = 5;
    // Tests log many users in from the loopback; the hostile suite sets its own limit.
    settings.login_per_address_per_minute = 100_000;
    settings.job_retry_max_wait_seconds = 1;
    let media_dir = std::env::temp_dir().join(format!("cgs-test-media-{}", uuid::Uuid::new_v4().simple()));
    settings.media_dir = Some(media_dir.clone());
    tweak(&mut settings);
    // The database the app runs on (a test may point it elsewhere).
    let url = settings.database_url.clone();
    let runs_worker = settings.run_worker;
    let app = api::build_app(settings).await.expect("build the app");
    let addr = app.local_addr();
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn(async move {
        app.run_until(async {
            let _ = rx.await;
        })
        .await
        .expect("server runs");
    });
    let client = reqwest::Client::builder().build().unwrap();
    let mut test = TestApp {
        addr,
        client,
        admin: String::new(),
        db_url: url,
        shutdown: Some(tx),
        server: Some(server),
        sqlite_file,
        media_dir,
        runs_worker,
        expected_jobs: Default::default(),
    };
    test.admin = test.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    Some(test)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
        let left = if std::thread::panicking() { Vec::new() } else { self.left_over_jobs() };
        let _ = std::fs::remove_dir_all(&self.media_dir);
        if let Some(path) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
        }
        assert!(
            left.is_empty(),
            "the test left jobs it did not expect (queue, status, tries): {left:?}; \
             a test that means to leave them says so with TestApp::expect_jobs"
        );
    }
}

/// An answer: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The `data.result` of a success envelope.
    pub fn result(&self) -> &Value {
        &self.body["data"]["result"]
    }

    pub fn id(&self) -> String {
        self.result()["id"].as_str().unwrap_or_else(|| panic!("no id in {:?}", self.body)).to_owned()
    }

    /// Asserts the status and that the body is the matching envelope.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(
            self.body["statusCode"],
            json!(status),
            "statusCode must equal the HTTP status: {}",
            self.body
        );
        if status >= 400 {
            for key in ["error", "code", "message"] {
                assert!(self.body[key].is_string(), "error envelope lacks `{key}`: {}", self.body);
            }
        } else {
            assert!(self.body["data"].is_object(), "success envelope lacks `data`: {}", self.body);
        }
        self
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }
}

mod backends;
mod local_peers;
mod processes;
mod requests;

pub use backends::*;
pub use local_peers::*;
pub use processes::*;
