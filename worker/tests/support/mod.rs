//! What the tests of a killed or stopped `cgs-worker` share: the binary, a database of the
//! test's own with tickets enqueued for sync, and readings of the queue and of the emulator.

#![allow(dead_code)]

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{
    db::{self, Db, sql::Sql, tickets, users},
    domain::{
        IndicationCategory, NetworkSegment, Region, Role, Status, TicketSource, TicketType, access::Actor,
    },
    jobs::Effects,
    service,
};
use sqlx::Connection;

pub const TICKETS: usize = 60;

/// A `cgs-worker` on `url` writing to the emulator's `project`; `CGS_WORKER_TEST_LOG` sets its
/// `RUST_LOG` (default `warn`).
pub fn worker(url: &str, emulator: u16, project: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cgs-worker"))
        .env("DATABASE_URL", url)
        .env("FIRESTORE_EMULATOR_HOST", format!("127.0.0.1:{emulator}"))
        .env("FIRESTORE_PROJECT_ID", project)
        // Only the jobs themselves may bring the documents in: no reconcile during the test.
        .env("CGS_SYNC_RECONCILE_SCHEDULE", "0 0 0 1 1 *")
        .env("RUST_LOG", std::env::var("CGS_WORKER_TEST_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(Stdio::null())
        .spawn()
        .expect("cgs-worker starts")
}

/// Kills a worker with SIGKILL (no graceful shutdown) and asserts that the signal ended it,
/// not an exit of its own.
pub fn kill(mut w: Child) {
    use std::os::unix::process::ExitStatusExt;
    w.kill().unwrap();
    let status = w.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "the worker was to be killed, but ended with {status}");
}

/// Stops a worker with SIGTERM and asserts that it exited by itself, with success, within the
/// drain bound (15 s for jobs in flight) and some slack.
pub fn terminate(mut w: Child) {
    let pid = w.id().to_string();
    let sent = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(sent.success(), "kill -TERM {pid}");
    let since = Instant::now();
    let status = loop {
        if let Some(status) = w.try_wait().unwrap() {
            break status;
        }
        assert!(since.elapsed() < Duration::from_secs(30), "the worker did not stop within 30 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "a worker stopped by SIGTERM exits 0, but ended with {status}");
}

/// Jobs of `queue` by state, read from the queue's own table.
pub async fn jobs(db: &Db, queue: &str, status: &str) -> i64 {
    let table = match db.backend() {
        db::Backend::Postgres => "apalis.jobs",
        db::Backend::Sqlite => "Jobs",
    };
    let mut sql = Sql::new(format!("SELECT COUNT(*) FROM {table} WHERE job_type = "));
    sql.bind(queue).push(" AND status = ").bind(status);
    read(db, async |tx| sql.fetch_count(tx).await).await
}

/// Runs `query` in a read transaction of its own.
async fn read<T>(db: &Db, query: impl AsyncFnOnce(&mut db::Tx) -> Result<T, common::DomainError>) -> T {
    let mut tx = db.begin().await.unwrap();
    let out = query(&mut tx).await.unwrap();
    tx.commit().await.unwrap();
    out
}

/// Each ticket document's `version` field as the emulator holds it for `project`.
pub async fn versions_in_firestore(
    emulator: &peers::FirestoreEmulator,
    project: &str,
) -> std::collections::HashMap<String, i64> {
    let state: serde_json::Value =
        reqwest::get(format!("http://127.0.0.1:{}/", emulator.http)).await.unwrap().json().await.unwrap();
    let docs = &state["projects"][project]["databases"]["(default)"]["collections"]["tickets"]["documents"];
    docs.as_object()
        .into_iter()
        .flatten()
        .map(|(id, d)| {
            let v = &d["fields"]["version"]["value"];
            let version = v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
            (id.clone(), version.unwrap_or_else(|| panic!("document {id} has no integer version: {d}")))
        })
        .collect()
}

/// Each ticket's version in the database.
pub async fn versions_in_db(db: &Db) -> std::collections::HashMap<String, i64> {
    let sql = Sql::new("SELECT id, version FROM tickets");
    let rows: Vec<(uuid::Uuid, i64)> = read(db, async |tx| sql.fetch_all(tx).await).await;
    rows.into_iter().map(|(id, v)| (id.to_string(), v)).collect()
}

/// The ticket documents the emulator holds for `project`, read from the emulator itself (its
/// state over HTTP), not from the app's own bookkeeping.
pub async fn documents_in_firestore(emulator: &peers::FirestoreEmulator, project: &str) -> usize {
    let state: serde_json::Value =
        reqwest::get(format!("http://127.0.0.1:{}/", emulator.http)).await.unwrap().json().await.unwrap();
    state["projects"][project]["databases"]["(default)"]["collections"]["tickets"]["documents"]
        .as_object()
        .map_or(0, |d| d.len())
}

pub async fn synced(db: &Db) -> i64 {
    let sql = Sql::new("SELECT COUNT(*) FROM tickets WHERE synced_version = version");
    read(db, async |tx| sql.fetch_count(tx).await).await
}

/// A database of the test's own with a NOC, a technician and `n` open tickets (each enqueued
/// for sync), dropped at the end.
pub struct Fixture {
    pub url: String,
    name: String,
    admin: Option<sqlx::PgConnection>,
    pub db: Db,
    pub noc: Actor,
    pub foc: Actor,
    pub tickets: Vec<uuid::Uuid>,
}

pub fn user(email: &str, role: Role) -> users::UserFields {
    users::UserFields {
        email: email.into(),
        nik: email.into(),
        name: email.into(),
        role,
        region: Region::West,
        area_id: None,
        profile_photo: None,
        phone_number: None,
    }
}

impl Fixture {
    pub async fn new(postgres: &Option<String>, n: usize) -> Self {
        let name = format!("cgs_test_kill_{}", uuid::Uuid::new_v4().simple());
        let (url, admin) = match postgres {
            Some(server) => {
                let mut admin = sqlx::PgConnection::connect(server).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                (format!("{}/{name}", server.rsplit_once('/').unwrap().0), Some(admin))
            }
            None => (format!("sqlite://{}/{name}.db?mode=rwc", std::env::temp_dir().display()), None),
        };
        let db = Db::connect(&url, 4).await.unwrap();
        db.migrate().await.unwrap();
        let now = db::now();
        let mut tx = db.begin_write().await.unwrap();
        let noc = users::insert(&mut tx, &user("noc@cgs.test", Role::NOC), "x", now).await.unwrap();
        let foc = users::insert(&mut tx, &user("foc@cgs.test", Role::FOC), "x", now).await.unwrap();
        let actor =
            |u: &users::UserRow| Actor { id: u.id, role: u.role, region: u.region, name: u.name.clone() };
        let (noc, foc) = (actor(&noc), actor(&foc));
        let mut ids = Vec::new();
        for _ in 0..n {
            let t = tickets::NewTicket {
                id: uuid::Uuid::now_v7(),
                region: Region::West,
                client_id: None,
                end_user: common::domain::NON_SLA.into(),
                customer_type: None,
                sla_hours: None,
                ticket_type: TicketType::Trouble,
                source: TicketSource::Phone,
                network_segment: NetworkSegment::Access,
                indication_category: IndicationCategory::Device,
                indication: None,
                address: None,
                contact_person: "[]".into(),
                remark: None,
                location_remark: None,
                ms_name: None,
                ms_location: None,
                splitter_name: None,
                splitter_location: None,
                noc_id: noc.id,
                status: Status::Open,
                published_at: Some(now),
                outage: None,
            };
            service::tickets::insert(
                &mut tx,
                Effects { sync_firestore: true, ..Effects::default() },
                &t,
                &(&noc).into(),
                "CGS",
                now,
            )
            .await
            .unwrap();
            ids.push(t.id);
        }
        tx.commit().await.unwrap();
        Fixture { url, name, admin, db, noc, foc, tickets: ids }
    }

    pub async fn drop_database(mut self) {
        self.db.close().await;
        match self.admin.as_mut() {
            Some(admin) => {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {} WITH (FORCE)", self.name)))
                    .execute(admin)
                    .await;
            }
            None => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ =
                        std::fs::remove_file(std::env::temp_dir().join(format!("{}.db{suffix}", self.name)));
                }
            }
        }
    }
}
