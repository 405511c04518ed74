//! A worker stopped with SIGTERM in the middle of a stream of jobs: it finishes what it runs and
//! exits; another takes over the rest. Against the Firestore emulator, on both backends.

mod support;

use std::time::{Duration, Instant};

use support::*;

#[test]
fn on_postgres_a_worker_stopped_by_sigterm_mid_stream_finishes_its_jobs() {
    let Some(server) = peers::test_postgres_server() else { return };
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
