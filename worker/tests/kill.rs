//! A worker killed with SIGKILL in the middle of a stream of jobs, then restarted: every job
//! still runs; and one killed again and again during a stream of status transitions: Firestore
//! converges on every ticket's latest version. Against the Firestore emulator, on both backends.

mod support;

use std::time::{Duration, Instant};

use common::{
    config::Settings,
    db,
    domain::{
        Status,
        access::Actor,
        ticket::{Command as TicketCommand, Evidence},
    },
    service,
};
use support::*;

#[test]
fn on_postgres_a_worker_killed_mid_stream_loses_no_job() {
    let Some(server) = peers::test_postgres_server() else { return };
    killed_mid_stream(Some(server));
}

#[test]
fn on_sqlite_a_worker_killed_mid_stream_loses_no_job() {
    killed_mid_stream(None);
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
            tokio::time::sleep(Duration::from_millis(5)).await;
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
    let Some(server) = peers::test_postgres_server() else { return };
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
        // Every change enqueues its Firestore sync (the project is what turns it on).
        let settings =
            Settings { firestore_project_id: Some(project.clone()), ..Settings::with_database("") };
        let stream = {
            let (db, noc, foc, ids) = (f.db.clone(), f.noc.clone(), f.foc.clone(), f.tickets.clone());
            tokio::spawn(async move {
                let ev = || Evidence {
                    media_url: Some("https://m/p.jpg".into()),
                    remark: None,
                    location: Some("1,1".into()),
                    check: None,
                };
                let mut done = 0;
                for id in ids {
                    let mut run = async |actor: &Actor, cmd: TicketCommand| {
                        let mut tx = db.begin_write().await.unwrap();
                        let (row, _) = service::tickets::change(
                            &mut tx,
                            &settings,
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
