//! A worker killed with SIGKILL in the middle of a stream of jobs, then restarted: every job
//! still runs. On PostgreSQL (the multi-process deployment), against the Firestore emulator.

use std::{
    io::BufRead,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use common::{
    db::{self, Db, tickets, users},
    domain::{IndicationCategory, NetworkSegment, Region, Role, Status, TicketSource, TicketType},
    jobs::Effects,
    service,
};
use sqlx::Connection;

const TICKETS: usize = 60;

struct Emulator(Child, u16);

impl Emulator {
    fn start() -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/firestore-emulator");
        let mut child = Command::new("node")
            .args(["server.js", "0", "0"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let ports: serde_json::Value = serde_json::from_str(&line).unwrap();
        let grpc = ports["grpc"].as_u64().unwrap() as u16;
        Self(child, grpc)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

fn worker(url: &str, emulator: u16, project: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cgs-worker"))
        .env("DATABASE_URL", url)
        .env("FIRESTORE_EMULATOR_HOST", format!("127.0.0.1:{emulator}"))
        .env("FIRESTORE_PROJECT_ID", project)
        // Only the jobs themselves may bring the documents in: no reconcile during the test.
        .env("CGS_SYNC_RECONCILE_SCHEDULE", "0 0 0 1 1 *")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("cgs-worker starts")
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
    let Ok(server) = std::env::var("CGS_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: this test needs CGS_TEST_POSTGRES_URL");
        return;
    };
    killed_mid_stream(Some(server));
}

#[test]
fn on_sqlite_a_worker_killed_mid_stream_loses_no_job() {
    killed_mid_stream(None);
}

fn killed_mid_stream(postgres: Option<String>) {
    let emulator = Emulator::start();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let name = format!("cgs_test_kill_{}", uuid::Uuid::new_v4().simple());
        let (url, mut admin) = match &postgres {
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
        let noc = users::insert(
            &mut tx,
            &users::UserFields {
                email: "noc@cgs.test".into(),
                nik: "1".into(),
                name: "NOC".into(),
                role: Role::NOC,
                region: Region::West,
                area_id: None,
                profile_photo: None,
                phone_number: None,
            },
            "x",
            now,
        )
        .await
        .unwrap();
        let who = tickets::LogActor { id: Some(noc.id), name: "NOC".into(), photo: None };
        for _ in 0..TICKETS {
            let t = tickets::NewTicket {
                id: uuid::Uuid::now_v7(),
                ticket_id: service::next_ticket_id(&mut tx, "CGS", now).await.unwrap(),
                region: Region::West,
                client_id: None,
                end_user: "Non SLA".into(),
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
            service::create(&mut tx, Effects { sync_firestore: true }, &t, &who, now).await.unwrap();
        }
        tx.commit().await.unwrap();

        let project = format!("cgs-kill-{}", uuid::Uuid::new_v4().simple());
        let mut first = worker(&url, emulator.1, &project);
        let started = Instant::now();
        while synced(&db).await < 10 {
            assert!(started.elapsed() < Duration::from_secs(60), "the worker synced nothing");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        first.kill().unwrap(); // SIGKILL: no graceful shutdown
        first.wait().unwrap();
        let at_kill = synced(&db).await;
        assert!(at_kill < TICKETS as i64, "killed after the stream ended: {at_kill}");
        let mut second = worker(&url, emulator.1, &project);
        let restarted = Instant::now();
        while synced(&db).await < TICKETS as i64 {
            assert!(
                restarted.elapsed() < Duration::from_secs(90),
                "jobs lost: {} of {TICKETS} synced",
                synced(&db).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        second.kill().unwrap();
        second.wait().unwrap();
        eprintln!(
            "killed at {at_kill}/{TICKETS} synced; all {TICKETS} after restart in {:?}",
            restarted.elapsed()
        );
        db.close().await;
        match admin.as_mut() {
            Some(admin) => {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
                    .execute(admin)
                    .await;
            }
            None => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(std::env::temp_dir().join(format!("{name}.db{suffix}")));
                }
            }
        }
    });
}
