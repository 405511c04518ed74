//! A worker killed with SIGKILL in the middle of a stream of jobs, then restarted: every job
//! still runs; one killed again and again during a stream of status transitions: Firestore
//! converges on every ticket's latest version; and one stopped with SIGTERM mid-stream: the jobs
//! it runs finish before it exits. Against the Firestore emulator, on both backends.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{
    db::{self, Db, tickets, users},
    domain::{
        IndicationCategory, NetworkSegment, Region, Role, Status, TicketSource, TicketType,
        access::Actor,
        ticket::{Command as TicketCommand, Evidence},
    },
    jobs::Effects,
    service,
};
use sqlx::Connection;

const TICKETS: usize = 60;

fn worker(url: &str, emulator: u16, project: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cgs-worker"))
        .env("DATABASE_URL", url)
        .env("FIRESTORE_EMULATOR_HOST", format!("127.0.0.1:{emulator}"))
        .env("FIRESTORE_PROJECT_ID", project)
        // Only the jobs themselves may bring the documents in: no reconcile during the test.
        .env("CGS_SYNC_RECONCILE_SCHEDULE", "0 0 0 1 1 *")
        .env("RUST_LOG", std::env::var("CGS_KILL_LOG").unwrap_or_else(|_| "warn".into()))
        .stdout(Stdio::null())
        .spawn()
        .expect("cgs-worker starts")
}

/// Kills a worker with SIGKILL (no graceful shutdown) and asserts that the signal ended it,
/// not an exit of its own.
fn kill(mut w: Child) {
    use std::os::unix::process::ExitStatusExt;
    w.kill().unwrap();
    let status = w.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "the worker was to be killed, but ended with {status}");
}

/// The PostgreSQL server of the tests; `None` (the test is skipped) when none is configured,
/// which CI (`CI=true`) does not accept.
fn postgres_server() -> Option<String> {
    let url = std::env::var("CGS_TEST_POSTGRES_URL").ok();
    if url.is_none() {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true needs CGS_TEST_POSTGRES_URL");
        eprintln!("SKIPPED: this test needs CGS_TEST_POSTGRES_URL");
    }
    url
}

/// Stops a worker with SIGTERM and asserts that it exited by itself, with success, within the
/// drain bound (15 s for jobs in flight) and some slack.
fn terminate(mut w: Child) {
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
async fn jobs(db: &Db, queue: &str, status: &str) -> i64 {
    let table = match db.backend() {
        db::Backend::Postgres => "apalis.jobs",
        db::Backend::Sqlite => "Jobs",
    };
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE job_type = $1 AND status = $2");
    let mut tx = db.begin().await.unwrap();
    let n = match &mut tx {
        db::Tx::Postgres(t) => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(queue)
            .bind(status)
            .fetch_one(&mut **t)
            .await
            .unwrap(),
        db::Tx::Sqlite(t) => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(queue)
            .bind(status)
            .fetch_one(&mut **t)
            .await
            .unwrap(),
    };
    tx.commit().await.unwrap();
    n
}

/// Each ticket document's `version` field as the emulator holds it for `project`.
async fn versions_in_firestore(
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
async fn versions_in_db(db: &Db) -> std::collections::HashMap<String, i64> {
    const SQL: &str = "SELECT id, version FROM tickets";
    let mut tx = db.begin().await.unwrap();
    let rows: Vec<(uuid::Uuid, i64)> = match &mut tx {
        db::Tx::Postgres(t) => sqlx::query_as(SQL).fetch_all(&mut **t).await.unwrap(),
        db::Tx::Sqlite(t) => sqlx::query_as(SQL).fetch_all(&mut **t).await.unwrap(),
    };
    tx.commit().await.unwrap();
    rows.into_iter().map(|(id, v)| (id.to_string(), v)).collect()
}

/// The ticket documents the emulator holds for `project`, read from the emulator itself (its
/// state over HTTP), not from the app's own bookkeeping.
async fn documents_in_firestore(emulator: &peers::FirestoreEmulator, project: &str) -> usize {
    let state: serde_json::Value =
        reqwest::get(format!("http://127.0.0.1:{}/", emulator.http)).await.unwrap().json().await.unwrap();
    state["projects"][project]["databases"]["(default)"]["collections"]["tickets"]["documents"]
        .as_object()
        .map_or(0, |d| d.len())
}

async fn synced(db: &Db) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM tickets WHERE synced_version = version";
    let mut tx = db.begin().await.unwrap();
    let n = match &mut tx {
        db::Tx::Postgres(t) => sqlx::query_scalar::<_, i64>(SQL).fetch_one(&mut **t).await.unwrap(),
        db::Tx::Sqlite(t) => sqlx::query_scalar::<_, i64>(SQL).fetch_one(&mut **t).await.unwrap(),
    };
    tx.commit().await.unwrap();
    n
}

#[test]
fn on_postgres_a_worker_killed_mid_stream_loses_no_job() {
    let Some(server) = postgres_server() else { return };
    killed_mid_stream(Some(server));
}

#[test]
fn on_sqlite_a_worker_killed_mid_stream_loses_no_job() {
    killed_mid_stream(None);
}

/// A database of the test's own with a NOC, a technician and `n` open tickets (each enqueued
/// for sync), dropped at the end.
struct Fixture {
    url: String,
    name: String,
    admin: Option<sqlx::PgConnection>,
    db: Db,
    noc: Actor,
    foc: Actor,
    tickets: Vec<uuid::Uuid>,
}

fn user(email: &str, role: Role) -> users::UserFields {
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
    async fn new(postgres: &Option<String>, n: usize) -> Self {
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
                ticket_id: service::tickets::next_ticket_id(&mut tx, "CGS", now).await.unwrap(),
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
            };
            service::tickets::insert(
                &mut tx,
                Effects { sync_firestore: true, ..Effects::default() },
                &t,
                &(&noc).into(),
                now,
            )
            .await
            .unwrap();
            ids.push(t.id);
        }
        tx.commit().await.unwrap();
        Fixture { url, name, admin, db, noc, foc, tickets: ids }
    }

    async fn drop_database(mut self) {
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

fn killed_mid_stream(postgres: Option<String>) {
    let emulator = peers::FirestoreEmulator::start().expect("the Firestore emulator starts");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let f = Fixture::new(&postgres, TICKETS).await;
        let (url, db) = (&f.url, &f.db);
        let project = format!("cgs-kill-{}", uuid::Uuid::new_v4().simple());
        let first = worker(url, emulator.grpc, &project);
        let started = Instant::now();
        while synced(db).await < 10 {
            assert!(started.elapsed() < Duration::from_secs(60), "the worker synced nothing");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        kill(first);
        let at_kill = synced(db).await;
        assert!(at_kill < TICKETS as i64, "killed after the stream ended: {at_kill}");
        let second = worker(url, emulator.grpc, &project);
        let restarted = Instant::now();
        while synced(db).await < TICKETS as i64 {
            assert!(
                restarted.elapsed() < Duration::from_secs(90),
                "jobs lost: {} of {TICKETS} synced",
                synced(db).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            documents_in_firestore(&emulator, &project).await,
            TICKETS,
            "every ticket is in Firestore"
        );
        kill(second);
        eprintln!(
            "killed at {at_kill}/{TICKETS} synced; all {TICKETS} after restart in {:?}",
            restarted.elapsed()
        );
        f.drop_database().await;
    });
}

#[test]
fn on_postgres_a_worker_killed_repeatedly_during_transitions_converges() {
    let Some(server) = postgres_server() else { return };
    killed_repeatedly(Some(server));
}

#[test]
fn on_sqlite_a_worker_killed_repeatedly_during_transitions_converges() {
    killed_repeatedly(None);
}

/// Eight transitions on each of 20 tickets (accept to the last task step, with the NOC's
/// validation of the check-in), while the worker is killed with SIGKILL and restarted every
/// 400 ms; afterwards every ticket's Firestore copy is its latest version.
fn killed_repeatedly(postgres: Option<String>) {
    const N: usize = 20;
    let emulator = peers::FirestoreEmulator::start().expect("the Firestore emulator starts");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let f = Fixture::new(&postgres, N).await;
        let project = format!("cgs-kill-{}", uuid::Uuid::new_v4().simple());
        let effects = Effects { sync_firestore: true, ..Effects::default() };
        let stream = {
            let (db, noc, foc, ids) = (f.db.clone(), f.noc.clone(), f.foc.clone(), f.tickets.clone());
            tokio::spawn(async move {
                let ev = || Evidence {
                    media_url: Some("https://m/p.jpg".into()),
                    remark: None,
                    location: Some("1,1".into()),
                };
                let mut done = 0;
                for id in ids {
                    let mut run = async |actor: &Actor, cmd: TicketCommand| {
                        let mut tx = db.begin_write().await.unwrap();
                        let (row, _) = service::tickets::change(
                            &mut tx,
                            effects,
                            actor,
                            &actor.into(),
                            id,
                            &cmd,
                            db::now(),
                        )
                        .await
                        .unwrap_or_else(|e| panic!("{}: {e}", cmd.name()));
                        tx.commit().await.unwrap();
                        done += 1;
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        row
                    };
                    run(&foc, TicketCommand::Accept).await;
                    run(&foc, TicketCommand::OnTheWay).await;
                    let row = run(&foc, TicketCommand::CheckIn(ev())).await;
                    let evidence_id = row.state.awaiting_evidence.expect("a check-in waits for the NOC");
                    run(&noc, TicketCommand::Validate { evidence_id, approved: true, remark: None }).await;
                    for step in [Status::Checking, Status::PullingCable, Status::Jointing, Status::Tidying] {
                        run(&foc, TicketCommand::Task(step, ev())).await;
                    }
                }
                done
            })
        };
        let mut kills = 0;
        while !stream.is_finished() {
            let w = worker(&f.url, emulator.grpc, &project);
            tokio::time::sleep(Duration::from_millis(400)).await;
            kill(w);
            kills += 1;
        }
        let transitions = stream.await.unwrap();
        assert_eq!(transitions, N * 8);
        let last = worker(&f.url, emulator.grpc, &project);
        let restarted = Instant::now();
        while synced(&f.db).await < N as i64 {
            assert!(
                restarted.elapsed() < Duration::from_secs(120),
                "not converged: {} of {N} tickets hold their latest version in Firestore",
                synced(&f.db).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(documents_in_firestore(&emulator, &project).await, N, "every ticket is in Firestore");
        assert_eq!(
            versions_in_firestore(&emulator, &project).await,
            versions_in_db(&f.db).await,
            "every ticket's document in Firestore is its latest version"
        );
        kill(last);
        eprintln!(
            "{transitions} transitions, worker killed {kills} times; converged {:?} after the last restart",
            restarted.elapsed()
        );
        f.drop_database().await;
    });
}

#[test]
fn on_postgres_a_worker_stopped_by_sigterm_mid_stream_finishes_its_jobs() {
    let Some(server) = postgres_server() else { return };
    terminated_mid_stream(Some(server));
}

#[test]
fn on_sqlite_a_worker_stopped_by_sigterm_mid_stream_finishes_its_jobs() {
    terminated_mid_stream(None);
}

/// SIGTERM while the worker syncs a stream of tickets: it exits 0 by itself within the drain
/// bound; every job it marked done did its work, and a job whose work is done but whose end was
/// not recorded is among those left `Running`, which a second worker takes over once the
/// first's heartbeats have stopped (the queue, apalis 1.0, can hold up the records of a burst of
/// jobs that end together, see `worker/src/jobs/stopping.rs`); the second worker converges.
fn terminated_mid_stream(postgres: Option<String>) {
    let emulator = peers::FirestoreEmulator::start().expect("the Firestore emulator starts");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let f = Fixture::new(&postgres, TICKETS).await;
        let (url, db) = (&f.url, &f.db);
        let project = format!("cgs-term-{}", uuid::Uuid::new_v4().simple());
        let queue = <common::jobs::SyncTicket as common::jobs::Job>::QUEUE;
        let first = worker(url, emulator.grpc, &project);
        let started = Instant::now();
        while synced(db).await < 5 {
            assert!(started.elapsed() < Duration::from_secs(60), "the worker synced nothing");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        terminate(first);
        let (at_stop, done, running) =
            (synced(db).await, jobs(db, queue, "Done").await, jobs(db, queue, "Running").await);
        assert!(done <= at_stop, "{done} jobs marked done but only {at_stop} tickets synced");
        assert!(
            at_stop - done <= running,
            "{} synced tickets have neither a done job nor a running one ({running} running)",
            at_stop - done
        );
        assert_eq!(documents_in_firestore(&emulator, &project).await as i64, at_stop);
        let second = worker(url, emulator.grpc, &project);
        let restarted = Instant::now();
        while synced(db).await < TICKETS as i64 || jobs(db, queue, "Done").await < TICKETS as i64 {
            assert!(
                restarted.elapsed() < Duration::from_secs(90),
                "jobs lost: {} synced, {} done",
                synced(db).await,
                jobs(db, queue, "Done").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            versions_in_firestore(&emulator, &project).await,
            versions_in_db(db).await,
            "every ticket's document is its latest version"
        );
        terminate(second);
        eprintln!(
            "stopped at {at_stop}/{TICKETS} synced, {running} left running; all done {:?} after restart",
            restarted.elapsed()
        );
        f.drop_database().await;
    });
}
