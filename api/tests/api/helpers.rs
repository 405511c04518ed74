//! `spawn_app`: the real app from `build_app`, on port 0, with a fresh database per test.

use std::{net::SocketAddr, path::PathBuf, sync::Once};

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

/// Where PostgreSQL tests create their throw-away databases.
pub const PG_URL_VAR: &str = "CGS_TEST_POSTGRES_URL";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub admin: String,
    /// The test's own database, for tests that move the clock by editing timestamps.
    pub db_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
    sqlite_file: Option<PathBuf>,
    /// The app runs its worker: jobs are consumed, so only failed ones count as left over.
    runs_worker: bool,
    /// Queues whose jobs the test means to leave (see [`TestApp::expect_jobs`]).
    expected_jobs: std::sync::Mutex<Vec<&'static str>>,
}

static SKIP_NOTICE: Once = Once::new();

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
            let Ok(server) = std::env::var(PG_URL_VAR) else {
                // In CI a PostgreSQL test that cannot reach its server fails; it never passes
                // without having run.
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("CI=true but {PG_URL_VAR} is not set: the PostgreSQL tests cannot run");
                }
                SKIP_NOTICE.call_once(|| {
                    eprintln!("SKIPPED: PostgreSQL tests need {PG_URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/postgres)");
                });
                return None;
            };
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

impl TestApp {
    /// Says that the test means to leave jobs of `queue` behind: without a worker, jobs it
    /// enqueues; with one, jobs that failed for good. Any other such job fails the test when the
    /// app is dropped.
    pub fn expect_jobs(&self, queue: &'static str) {
        self.expected_jobs.lock().unwrap().push(queue);
    }

    /// The jobs of queues the test did not expect that are left: any (without a worker) or
    /// those failed for good (with one). Read on a thread of its own, as `Drop` runs inside the
    /// test's runtime.
    pub fn left_over_jobs(&self) -> Vec<(String, String, i64)> {
        let expected = self.expected_jobs.lock().unwrap().clone();
        let (url, table, worker) = (self.db_url.clone(), self.jobs_table(), self.runs_worker);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async move {
                use sqlx::Connection;
                let failed = if worker {
                    " AND (status = 'Killed' OR (status = 'Failed' AND attempts >= max_attempts))"
                } else {
                    " AND status <> 'Done'"
                };
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT job_type, status, CAST(attempts AS BIGINT) FROM {table} WHERE job_type LIKE 'cgs.%'{failed}"
                ));
                // A database the test took away (the chaos tests stop PostgreSQL) is not read.
                let rows: Vec<(String, String, i64)> = if url.starts_with("sqlite:") {
                    let Ok(mut c) = sqlx::SqliteConnection::connect(&url).await else { return Vec::new() };
                    sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
                } else {
                    let Ok(mut c) = sqlx::PgConnection::connect(&url).await else { return Vec::new() };
                    sqlx::query_as(sql).fetch_all(&mut c).await.unwrap()
                };
                rows.into_iter().filter(|(queue, _, _)| !expected.contains(&queue.as_str())).collect()
            })
        })
        .join()
        .unwrap()
    }

    /// Stops the app as SIGTERM would and waits until it has let go of its database.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Runs one SQL statement on the test's database (both backends take `$n`-free SQL here).
    pub async fn exec(&self, sql: &str) {
        use sqlx::Connection;
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        if self.db_url.starts_with("sqlite:") {
            let mut c = sqlx::SqliteConnection::connect(&self.db_url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        } else {
            let mut c = sqlx::PgConnection::connect(&self.db_url).await.unwrap();
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    }

    /// Runs one SQL query that answers a single integer.
    pub async fn scalar(&self, sql: &str) -> i64 {
        db_scalar(&self.db_url, sql).await
    }

    /// A UUID literal as the backend stores it.
    pub fn sql_uuid(&self, id: &str) -> String {
        if self.is_postgres() { format!("'{id}'") } else { format!("X'{}'", id.replace('-', "")) }
    }

    /// Sets a ticket's SLA due time `minutes` from now (negative: past), behind the API's back.
    pub async fn set_due(&self, id: &str, minutes: i64) {
        let at = (chrono::Utc::now() + chrono::Duration::minutes(minutes))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        self.exec(&format!("UPDATE tickets SET sla_due_at = '{at}' WHERE id = {}", self.sql_uuid(id))).await;
    }

    pub fn is_postgres(&self) -> bool {
        self.db_url.starts_with("postgres")
    }

    /// The job queue's table on this backend.
    pub fn jobs_table(&self) -> &'static str {
        if self.is_postgres() { "apalis.jobs" } else { "Jobs" }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        Self::answer(req.send().await.expect("request sent")).await
    }

    pub async fn answer(resp: reqwest::Response) -> Answer {
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, body, headers }
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.send(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.send(Method::DELETE, path, Some(token), None).await
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let a = self
            .send(Method::POST, "/v1/login", None, Some(json!({"email": email, "password": password})))
            .await;
        a.expect(200);
        a.body["data"]["token"].as_str().unwrap().to_owned()
    }

    /// Approves, as `token` (a NOC's), the latest request of ticket `id` that waits for the NOC.
    pub async fn approve_request(&self, token: &str, id: &str) {
        let d = self.get(&format!("/v1/tickets/{id}"), &self.admin).await.result().clone();
        let ev = d["ticketLogs"]
            .as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|l| l["cardType"] == "RequestValidationAction" || l["cardType"] == "FinishingAction")
            .unwrap_or_else(|| panic!("no request waits: {d}"))["evidenceId"]
            .as_str()
            .unwrap()
            .to_owned();
        self.send(Method::POST, &format!("/v1/tickets/{id}/validate/{ev}/true"), Some(token), None)
            .await
            .expect(200);
    }

    /// Creates an area as the admin; returns its id.
    pub async fn area(&self, region: Region, name: &str) -> String {
        let a = self
            .post(
                "/v1/areas",
                &self.admin,
                json!({"region": region, "name": name, "initial": &name[..3.min(name.len())]}),
            )
            .await;
        a.expect(201);
        a.id()
    }

    /// Creates a user of a role and region as the admin and logs it in: (id, token).
    pub async fn user(&self, role: Role, region: Region) -> (String, String) {
        self.user_mailed(role, region, &role.as_str().to_lowercase()).await
    }

    /// [`TestApp::user`] whose address starts with `prefix` and a dash.
    pub async fn user_mailed(&self, role: Role, region: Region, prefix: &str) -> (String, String) {
        let n = uuid::Uuid::new_v4().simple().to_string();
        let email = format!("{prefix}-{}@cgs.test", &n[..8]);
        let a = self
            .post(
                "/v1/users",
                &self.admin,
                json!({"email": email, "password": PASSWORD, "rePassword": PASSWORD, "nik": n,
                       "name": format!("{role} {region}"), "role": role, "region": region}),
            )
            .await;
        a.expect(201);
        let token = self.login(&email, PASSWORD).await;
        (a.id(), token)
    }
}

/// A free TCP port on the loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The `cgs-api` binary on `db`, listening on `port`, with the test admin; stdout discarded.
pub fn cgs_api_command(db: &str, port: u16) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cgs-api"));
    cmd.env("DATABASE_URL", db)
        .env("CGS_LISTEN", format!("127.0.0.1:{port}"))
        .env("CGS_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("CGS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(std::process::Stdio::null());
    cmd
}

/// A started binary or local peer, killed if the test ends before it stopped.
pub struct Running(pub std::process::Child);

impl Running {
    pub fn spawn(mut cmd: std::process::Command) -> Self {
        Running(cmd.spawn().expect("the binary starts"))
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let ok = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM");
    }

    /// Waits until the process exits; fails the test after `secs` seconds.
    pub async fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "the process did not stop within {secs} s");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Running {
    /// Kills it (again is harmless).
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until the server at `base` answers `/readyz` with 200.
pub async fn wait_ready(base: &str) {
    let client = reqwest::Client::new();
    wait_until(60, "cgs-api is ready", || async {
        client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
}

/// Logs the test admin in at `base`; returns the token.
pub async fn admin_login(client: &reqwest::Client, base: &str) -> String {
    let r: Value = client
        .post(format!("{base}/v1/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["data"]["token"].as_str().unwrap().to_owned()
}

/// Runs one SQL query that answers a single integer on the database at `url`.
pub async fn db_scalar(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut c).await.unwrap()
    }
}

/// A timestamp literal both backends store as the app does.
pub fn sql_time(t: chrono::DateTime<chrono::Utc>) -> String {
    format!("'{}'", t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
}

/// Polls `check` every 100 ms until it holds; fails the test after `secs` seconds.
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Runs each test on SQLite and on PostgreSQL, each in a runtime of its own, through the real
/// app. The forms:
///
/// - `on_both_backends! { async fn name(app) { … } … }`
/// - `on_both_backends! { with |s| { s.… = …; }; async fn name(app) { … } … }`: the app's
///   settings changed first;
/// - `on_both_backends! { fixture F; async fn name(app, a, b) { … } … }`: with a [`Fixture`]
///   started before the runtime (it may set the process's environment), whose parts the test
///   gets by name (`F` a tuple for two or more); `with` may follow `fixture` too.
#[macro_export]
macro_rules! on_both_backends {
    // The fixture kept for the whole test: by its parts, or whole when the test names none.
    (@bind $f:ident;) => {
        let _fixture = $f;
    };
    (@bind $f:ident; $($arg:ident),+) => {
        let ($(mut $arg),+) = $f;
    };
    ($(async fn $name:ident($app:ident) $body:block)*) => {
        $crate::on_both_backends! { fixture (); with |_s| {}; $(async fn $name($app) $body)* }
    };
    (with |$s:ident| $tweak:block; $(async fn $name:ident($app:ident) $body:block)*) => {
        $crate::on_both_backends! { fixture (); with |$s| $tweak; $(async fn $name($app) $body)* }
    };
    (fixture $fx:ty; $(async fn $name:ident($app:ident $(, $arg:ident)*) $body:block)*) => {
        $crate::on_both_backends! { fixture $fx; with |_s| {}; $(async fn $name($app $(, $arg)*) $body)* }
    };
    (fixture $fx:ty; with |$s:ident| $tweak:block; $(async fn $name:ident($app:ident $(, $arg:ident)*) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[allow(unused_mut, unused_parens, unused_variables, clippy::let_unit_value)]
            async fn run($app: $crate::helpers::TestApp, fixture: $fx) {
                $crate::on_both_backends!(@bind fixture; $($arg),*);
                $body
            }

            #[test]
            fn sqlite() {
                $crate::helpers::run_test::<$fx, _>($crate::helpers::Backend::Sqlite, |$s| $tweak, run)
            }

            #[test]
            fn postgres() {
                $crate::helpers::run_test::<$fx, _>($crate::helpers::Backend::Postgres, |$s| $tweak, run)
            }
        }
    )*};
}

/// What a test needs besides the app (a peer, a worker): started before the test's runtime,
/// and what it changes in the app's settings.
pub trait Fixture: Sized {
    fn start() -> Self;
    fn tweak(&self, _settings: &mut Settings) {}
}

impl Fixture for () {
    fn start() -> Self {}
}

/// The app runs its worker, publishing due drafts every second.
pub struct Worker;

impl Fixture for Worker {
    fn start() -> Self {
        Worker
    }

    fn tweak(&self, s: &mut Settings) {
        s.run_worker = true;
        s.publish_schedule = "* * * * * *".into();
    }
}

/// An SMTP sink of the test's own, the app's worker mailing to it.
impl Fixture for MailSink {
    fn start() -> Self {
        MailSink::start()
    }

    fn tweak(&self, s: &mut Settings) {
        s.run_worker = true;
        s.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{}", self.smtp)));
        s.app_url = Some("https://app.cgs.test/".into());
    }
}

/// A Telegram Bot API emulator of the test's own, the app's worker and bot pointed at it.
impl Fixture for TelegramApi {
    fn start() -> Self {
        TelegramApi::start()
    }

    fn tweak(&self, s: &mut Settings) {
        s.run_worker = true;
        s.telegram_bot_token = Some(Secret::new(self.token.clone()));
        s.telegram_api_url = self.url.clone();
    }
}

/// A Firestore emulator of the test's own and a project of the test's own, the app's worker
/// syncing to it. The emulator's address reaches the Firestore client through
/// `FIRESTORE_EMULATOR_HOST`, set before the runtime starts (each test is its own process).
impl Fixture for (Emulator, String) {
    fn start() -> Self {
        let emu = Emulator::start();
        // SAFETY: no other thread runs yet; the test's runtime is built after this.
        unsafe { std::env::set_var("FIRESTORE_EMULATOR_HOST", format!("127.0.0.1:{}", emu.grpc)) };
        (emu, format!("cgs-test-{}", uuid::Uuid::new_v4().simple()))
    }

    fn tweak(&self, s: &mut Settings) {
        s.run_worker = true;
        s.firestore_project_id = Some(self.1.clone());
        s.sync_reconcile_schedule = "* * * * * *".into();
        // The tests that sweep call the sweep themselves, at the moment they choose.
        s.sla_sweep_schedule = "0 0 0 1 1 *".into();
    }
}

/// Starts the fixture, then a runtime, then the app on `backend` (skipped where
/// [`spawn_app_with`] skips), and runs `test` with them.
pub fn run_test<X: Fixture, Fut: std::future::Future<Output = ()>>(
    backend: Backend,
    tweak: impl FnOnce(&mut Settings),
    test: impl FnOnce(TestApp, X) -> Fut,
) {
    let fixture = X::start();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let app = spawn_app_with(backend, |s| {
            fixture.tweak(s);
            tweak(s);
        })
        .await;
        if let Some(app) = app {
            test(app, fixture).await
        }
    });
}

/// Starts `node <script> <ports…>` in `tools/<tool>` (see the `peers` crate).
fn start_node_peer(tool: &str, script: &str, ports: &[u16]) -> peers::Peer {
    peers::Peer::start(tool, script, ports).unwrap_or_else(|e| panic!("{e:#}"))
}

/// An SMTP sink of this test's own (`tools/channel-peers/smtp-sink.js`) that answers what it
/// received; stopped on drop.
pub struct MailSink {
    _process: peers::Peer,
    pub smtp: u16,
    pub http: u16,
}

impl MailSink {
    /// Starts the sink on free ports (or on the given ones, to bring it back in place).
    pub fn start_on(smtp: u16, http: u16) -> Self {
        let process = start_node_peer("channel-peers", "smtp-sink.js", &[smtp, http]);
        Self { smtp: process.port("smtp").unwrap(), http: process.port("http").unwrap(), _process: process }
    }

    pub fn start() -> Self {
        Self::start_on(0, 0)
    }

    /// The mails received so far: `{from, to, subject, text, messageId, inReplyTo}`.
    pub async fn mails(&self) -> Vec<Value> {
        reqwest::get(format!("http://127.0.0.1:{}/", self.http)).await.unwrap().json().await.unwrap()
    }

    /// The recipients it refused so far: `{to, code}` (550 for a `gone-` address, 452 for a
    /// `full-` one).
    pub async fn refused(&self) -> Vec<Value> {
        reqwest::get(format!("http://127.0.0.1:{}/refused", self.http)).await.unwrap().json().await.unwrap()
    }
}

/// A Dovecot IMAP server of this test's own (Debian's `dovecot-imapd`, started directly on a
/// port of its own, no TLS, on the loopback only): user `cgs`, password `secret`, its Maildir in
/// a directory of the test's own; stopped on drop.
pub struct Imap {
    process: Option<Running>,
    pub dir: PathBuf,
    pub port: u16,
}

/// The uid Dovecot keeps the test mail under (it refuses root).
const MAIL_UID: u32 = 65534;

impl Imap {
    /// Prepares the server's directory and Maildir; `start` runs it.
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("cgs-imap-{}", uuid::Uuid::new_v4().simple()));
        for sub in ["run", "state", "mail/cgs/new", "mail/cgs/cur", "mail/cgs/tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("passwd"), "cgs:{PLAIN}secret::::::\n").unwrap();
        let port = free_port();
        let d = dir.display();
        std::fs::write(
            dir.join("dovecot.conf"),
            format!(
                "base_dir = {d}/run\nstate_dir = {d}/state\nprotocols = imap\nlisten = 127.0.0.1\n\
                 log_path = {d}/dovecot.log\nssl = no\ndisable_plaintext_auth = no\n\
                 auth_mechanisms = plain login\nauth_failure_delay = 0\nlogin_trusted_networks = 127.0.0.0/8\n\
                 mail_location = maildir:{d}/mail/%u\n\
                 passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n\
                 userdb {{\n  driver = static\n  args = uid={MAIL_UID} gid={MAIL_UID} home={d}/mail/%u\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n\
                 \x20 inet_listener imaps {{\n    port = 0\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let imap = Self { process: None, dir, port };
        imap.own();
        imap
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(&mut self) {
        let dovecot =
            ["/usr/sbin/dovecot", "/usr/bin/dovecot"].into_iter().find(|p| std::path::Path::new(p).exists());
        let dovecot =
            dovecot.expect("Dovecot is not installed: apt-get install dovecot-imapd (.ci/run does)");
        let child = std::process::Command::new(dovecot)
            .arg("-F")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dovecot runs");
        self.process = Some(Running(child));
        let port = self.port;
        wait_until(20, "Dovecot accepts connections", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await;
    }

    pub fn stop(&mut self) {
        self.process = None;
    }

    /// The Maildir's files and dirs belong to the mail uid.
    fn own(&self) {
        let status = std::process::Command::new("chown")
            .arg("-R")
            .arg(format!("{MAIL_UID}:{MAIL_UID}"))
            .arg(self.dir.join("mail"))
            .status()
            .unwrap();
        assert!(status.success());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Puts a mail into the inbox, as a delivery agent does.
    pub fn deliver(&self, name: &str, raw: &[u8]) {
        let tmp = self.dir.join("mail/cgs/tmp").join(name);
        std::fs::write(&tmp, raw).unwrap();
        std::fs::rename(&tmp, self.dir.join("mail/cgs/new").join(format!("{name}.cgs-test"))).unwrap();
        self.own();
    }

    /// The flags of the inbox's mails once read (`S` seen, `a`… keywords), by file name start.
    pub fn read_flags(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = std::fs::read_dir(self.dir.join("mail/cgs/cur"))
            .unwrap()
            .flatten()
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let (base, flags) = name.split_once(":2,").unwrap_or((&name, ""));
                (base.split('.').next().unwrap_or_default().to_owned(), flags.to_owned())
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for Imap {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Telegram Bot API emulator of this test's own (`tools/channel-peers/telegram-api.js`), for
/// one bot token; stopped on drop. Users are chats of their own id.
pub struct TelegramApi {
    process: peers::Peer,
    port: u16,
    pub url: String,
    pub token: String,
}

impl TelegramApi {
    pub fn start() -> Self {
        let port = free_port();
        let process = start_node_peer("channel-peers", "telegram-api.js", &[port]);
        let url = format!("http://127.0.0.1:{port}");
        Self { process, port, url, token: format!("{}:test", uuid::Uuid::new_v4().simple()) }
    }

    /// Takes the Bot API away (the bot's requests fail) until [`TelegramApi::restart`].
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Brings it back on the same address, empty (it keeps nothing).
    pub fn restart(&mut self) {
        self.process.stop();
        self.process = start_node_peer("channel-peers", "telegram-api.js", &[self.port]);
    }

    fn user(id: i64) -> Value {
        json!({"id": id, "first_name": format!("User {id}"), "is_bot": false})
    }

    /// A message in user `id`'s private chat with the bot.
    fn message(id: i64, text: &str) -> Value {
        json!({"from": Self::user(id), "date": chrono::Utc::now().timestamp(), "text": text,
               "chat": {"id": id, "type": "private", "first_name": format!("User {id}")}})
    }

    /// Posts to the emulator's user side (and its `/redeliver`).
    async fn user_side(&self, method: &str, mut body: Value) {
        body["botToken"] = json!(self.token);
        let r =
            reqwest::Client::new().post(format!("{}/{method}", self.url)).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{method}: {}", r.status());
    }

    /// User `id` writes `text` to the bot.
    pub async fn send(&self, id: i64, text: &str) {
        self.user_side("sendMessage", Self::message(id, text)).await;
    }

    /// User `id` writes `text` in the group chat `group` (a negative id) where the bot is.
    pub async fn send_in_group(&self, id: i64, group: i64, text: &str) {
        let mut m = Self::message(id, text);
        m["chat"] = json!({"id": group, "type": "group", "title": "NOC West"});
        self.user_side("sendMessage", m).await;
    }

    /// User `id` presses an inline button carrying `data`.
    pub async fn press(&self, id: i64, data: &str) {
        let body =
            json!({"from": Self::user(id), "data": data, "message": Self::message(id, "announcement")});
        self.user_side("sendCallback", body).await;
    }

    /// User `id` sends a photo with a caption.
    pub async fn send_photo(&self, id: i64, file_id: &str, caption: &str) {
        let mut m = Self::message(id, "");
        m.as_object_mut().unwrap().remove("text");
        m["caption"] = json!(caption);
        m["photo"] = json!([{"file_id": format!("{file_id}-small"), "file_unique_id": "s", "width": 90, "height": 90},
                            {"file_id": file_id, "file_unique_id": "l", "width": 800, "height": 600}]);
        self.user_side("sendMessage", m).await;
    }

    /// User `id` blocks the bot: the bot's messages to that chat are refused (403) from now on.
    pub async fn block(&self, id: i64) {
        self.user_side("block", json!({"chat": id})).await;
    }

    /// Hands the users' updates out again, as Telegram does until a bot acknowledges them.
    pub async fn redeliver(&self) {
        self.user_side("redeliver", json!({"token": self.token})).await;
    }

    /// What the bot sent to chat `id`, oldest first (`{chat_id, text, reply_markup}`).
    pub async fn sent_to(&self, id: i64) -> Vec<Value> {
        let history: Value = reqwest::Client::new()
            .post(format!("{}/getUpdatesHistory", self.url))
            .json(&json!({"token": self.token}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        history["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["message"].clone())
            .filter(|m| {
                m["chat_id"].as_i64() == Some(id) || m["chat_id"].as_str() == Some(id.to_string().as_str())
            })
            .collect()
    }
}

/// A Firestore emulator of this test's own (`tools/firestore-emulator`), stopped on drop; its
/// ports and `stop` are [`peers::FirestoreEmulator`]'s.
pub struct Emulator(peers::FirestoreEmulator);

impl std::ops::Deref for Emulator {
    type Target = peers::FirestoreEmulator;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Emulator {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Emulator {
    /// Starts the emulator on free ports (or on the given ones, to restart it in place).
    pub fn start_on(grpc: u16, http: u16) -> Self {
        Self(peers::FirestoreEmulator::start_on(grpc, http).unwrap_or_else(|e| panic!("{e:#}")))
    }

    pub fn start() -> Self {
        Self::start_on(0, 0)
    }

    /// How many documents `collection` of `project` holds.
    pub async fn count(&self, project: &str, collection: &str) -> usize {
        let state: Value =
            reqwest::get(format!("http://127.0.0.1:{}/", self.http)).await.unwrap().json().await.unwrap();
        state["projects"][project]["databases"]["(default)"]["collections"][collection]["documents"]
            .as_object()
            .map_or(0, |d| d.len())
    }

    /// The document `collection/id` of `project`, as plain JSON (`None` when absent).
    pub async fn document(&self, project: &str, collection: &str, id: &str) -> Option<Value> {
        let state: Value =
            reqwest::get(format!("http://127.0.0.1:{}/", self.http)).await.ok()?.json().await.ok()?;
        let fields = state
            .get("projects")?
            .get(project)?
            .get("databases")?
            .get("(default)")?
            .get("collections")?
            .get(collection)?
            .get("documents")?
            .get(id)?
            .get("fields")?;
        Some(Value::Object(fields.as_object()?.iter().map(|(k, v)| (k.clone(), plain(v))).collect()))
    }
}

/// The emulator's typed values (`{"type": "string_value", "value": "x"}`) as plain JSON.
pub fn plain(v: &Value) -> Value {
    let value = &v["value"];
    match v["type"].as_str().unwrap_or_default() {
        "null_value" => Value::Null,
        "integer_value" => json!(value.as_str().map(|s| s.parse::<i64>().unwrap()).or(value.as_i64())),
        "array_value" => {
            Value::Array(value.as_array().map(|a| a.iter().map(plain).collect()).unwrap_or_default())
        }
        "map_value" => Value::Object(
            value
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
                .unwrap_or_default(),
        ),
        // A Timestamp as RFC 3339 with nanoseconds, the form `instants` gives the API's dates.
        "timestamp_value" => {
            let seconds =
                value["seconds"].as_str().map(|s| s.parse::<i64>().unwrap()).or(value["seconds"].as_i64());
            let nanos = value["nanos"].as_u64().unwrap_or(0) as u32;
            let at =
                chrono::DateTime::from_timestamp(seconds.expect("a Timestamp has seconds"), nanos).unwrap();
            json!({ "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true) })
        }
        _ => value.clone(),
    }
}

/// A ticket document with its `Date` fields (`document::DATE_FIELDS`, and each log entry's
/// `LOG_DATE_FIELDS`) as `{"timestamp": <RFC 3339 with nanoseconds>}`: the API's strings and
/// Firestore's Timestamps (see [`plain`]) compare as instants, and a date Firestore held as a
/// string would not compare equal.
pub fn instants(mut doc: Value) -> Value {
    fn instant(v: &mut Value) {
        if let Some(s) = v.as_str() {
            let at = chrono::DateTime::parse_from_rfc3339(s).expect("an RFC 3339 date").to_utc();
            *v = json!({ "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true) });
        }
    }
    for key in common::document::DATE_FIELDS {
        doc.get_mut(key).into_iter().for_each(instant);
    }
    for entry in doc.get_mut("ticketLogs").and_then(Value::as_array_mut).into_iter().flatten() {
        for key in common::document::LOG_DATE_FIELDS {
            entry.get_mut(key).into_iter().for_each(instant);
        }
    }
    doc
}

/// The Python of the app clients' tools (`tools/app-clients`: Google's Firestore client and
/// the generated API client), installed by `scripts/test.sh`.
pub fn app_clients_python() -> PathBuf {
    let path = std::env::var_os("CGS_APP_CLIENTS_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/cgs-ticketing/app-clients/bin/python")
    });
    assert!(path.exists(), "{} is missing: scripts/test.sh installs tools/app-clients", path.display());
    path
}
