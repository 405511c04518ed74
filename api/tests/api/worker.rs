//! The background worker, in-process: pending expiry and scheduled publishing on both backends.

use common::domain::{Region, Role};
use reqwest::Method;
use serde_json::json;

use crate::{helpers::*, on_both_backends};

fn jobs_sql(app: &TestApp, what: &str) -> String {
    let table = app.jobs_table();
    format!("SELECT {what} FROM {table} WHERE job_type = 'cgs.expire_pending'")
}

/// Every queued job is due now.
async fn jobs_due_now(app: &TestApp) {
    let sql = if app.is_postgres() {
        "UPDATE apalis.jobs SET run_at = now()"
    } else {
        "UPDATE Jobs SET run_at = strftime('%s', 'now')"
    };
    app.exec(sql).await;
}

/// Moves the clock: the ticket's pending started two hours ago, and its expiry job is due now.
async fn pending_two_hours_old(app: &TestApp) {
    let start = (chrono::Utc::now() - chrono::Duration::hours(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    app.exec(&format!("UPDATE tickets SET pending_started_at = '{start}'")).await;
    jobs_due_now(app).await;
}

async fn status(app: &TestApp, id: &str) -> serde_json::Value {
    app.get(&format!("/v1/tickets/{id}"), &app.admin).await.result().clone()
}

on_both_backends! {
    fixture Worker;
    async fn a_pending_resumes_by_itself_when_its_interval_is_over(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let id = app.post("/v1/tickets", &noc, json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"})).await.id();
        app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/accept"), Some(&foc), None).await.expect(201);
        // A technician's request schedules nothing until the NOC approves it.
        app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/pending"), Some(&foc),
            Some(json!({"pendingCategory": "Weather", "pendingInterval": 45}))).await.expect(201);
        assert_eq!(app.scalar(&jobs_sql(&app, "COUNT(*)")).await, 0);
        let d = status(&app, &id).await;
        let ev = d["ticketLogs"].as_array().unwrap().last().unwrap()["evidenceId"].as_str().unwrap().to_owned();
        let before = chrono::Utc::now().timestamp();
        app.send(Method::POST, &format!("/v1/tickets/{id}/validate/{ev}/true"), Some(&noc), None).await.expect(200);
        // The approval and its expiry job were written together.
        assert_eq!(app.scalar(&jobs_sql(&app, "COUNT(*)")).await, 1);
        let run_at = if app.is_postgres() {
            app.scalar(&jobs_sql(&app, "CAST(EXTRACT(EPOCH FROM run_at) AS BIGINT)")).await
        } else {
            app.scalar(&jobs_sql(&app, "run_at")).await
        };
        assert!((before + 45 * 60..=before + 45 * 60 + 5).contains(&run_at), "due in 45 minutes: {run_at} vs {before}");
        // Move the clock: the pending started two hours ago and its job is due now.
        pending_two_hours_old(&app).await;
        wait_until(20, "the worker resumes the ticket", || async { status(&app, &id).await["latestStatus"] == "Accepted" }).await;
        let d = status(&app, &id).await;
        assert_eq!(d["totalPendingDuration"], 45 * 60, "the interval, not the two hours");
        let pending = d["ticketLogs"].as_array().unwrap().iter().find(|l| l["statusName"] == "Pending").unwrap().clone();
        assert_eq!((pending["isResumed"].as_bool(), pending["pendingInterval"].as_i64()), (Some(true), Some(45)));
        assert_eq!(d["ticketLogs"].as_array().unwrap().last().unwrap()["bubbleOption"]["name"], "System");
        app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/onTheWay"), Some(&foc), None).await.expect(201);
    }

    async fn a_pending_resumed_by_hand_is_left_alone_by_its_expiry_job(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let id = app.post("/v1/tickets", &noc, json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"})).await.id();
        app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/accept"), Some(&foc), None).await.expect(201);
        app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/pending"), Some(&noc),
            Some(json!({"pendingCategory": "Other", "pendingInterval": 10}))).await.expect(201);
        app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/resume"), Some(&foc), None).await.expect(201);
        let version = status(&app, &id).await["version"].clone();
        jobs_due_now(&app).await;
        let done = "status = 'Done'";
        wait_until(20, "the expiry job ran", || async { app.scalar(&format!("{} AND {done}", jobs_sql(&app, "COUNT(*)"))).await == 1 }).await;
        assert_eq!(status(&app, &id).await["version"], version, "nothing changed");
    }

    async fn a_pending_whose_time_runs_out_while_a_cancel_waits_resumes_when_the_cancel_is_rejected(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let id = app.post("/v1/tickets", &noc, json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"})).await.id();
        app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/accept"), Some(&foc), None).await.expect(201);
        app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/pending"), Some(&noc),
            Some(json!({"pendingCategory": "Weather", "pendingInterval": 10}))).await.expect(201);
        app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/cancel"), Some(&foc),
            Some(json!({"cancelCategory": "CustomerRequest"}))).await.expect(201);
        let cancel = status(&app, &id).await["ticketLogs"].as_array().unwrap().last().unwrap()["evidenceId"].as_str().unwrap().to_owned();
        // The pending's time runs out while the cancel waits: its expiry job meets the request.
        pending_two_hours_old(&app).await;
        wait_until(20, "the expiry job ran", || async { app.scalar(&format!("{} AND status = 'Done'", jobs_sql(&app, "COUNT(*)"))).await >= 1 }).await;
        assert_eq!(status(&app, &id).await["latestStatus"], "Canceled", "the request still waits for the NOC");
        // Rejected: back to a pending whose time is up, which ends at once.
        app.send(Method::POST, &format!("/v1/tickets/{id}/validate/{cancel}/false"), Some(&noc), None).await.expect(200);
        let d = status(&app, &id).await;
        assert_eq!(d["latestStatus"], "Accepted", "work resumes");
        assert_eq!(d["totalPendingDuration"], 10 * 60, "the pending counts its interval");
        let pending = d["ticketLogs"].as_array().unwrap().iter().find(|l| l["statusName"] == "Pending").unwrap().clone();
        assert_eq!(pending["isResumed"], true);
        app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/onTheWay"), Some(&foc), None).await.expect(201);
    }

    async fn a_ticket_scheduled_for_later_opens_when_its_time_comes(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let at = chrono::Utc::now() + chrono::Duration::seconds(2);
        let id = app.post("/v1/tickets", &noc, json!({"type": "Maintenance", "source": "Phone", "indicationCategory": "Device",
            "networkSegment": "Backbone", "publishedAt": at.to_rfc3339()})).await.id();
        assert_eq!(status(&app, &id).await["latestStatus"], "Draft");
        wait_until(20, "the schedule publishes the ticket", || async { status(&app, &id).await["latestStatus"] == "Open" }).await;
        let d = status(&app, &id).await;
        assert_eq!(d["isDraft"], false);
        assert_eq!(d["ticketLogs"].as_array().unwrap().last().unwrap()["title"], "Ticket published");
    }
}

/// What the SLA sweep says of a ticket: 0 in time, 1 warned, 2 breached.
async fn sla_state(app: &TestApp, id: &str) -> i64 {
    let sql = format!(
        "SELECT CAST(CASE WHEN m.state IS NULL THEN 0 WHEN m.state = 'Warned' THEN 1 ELSE 2 END AS BIGINT) \
         FROM tickets t LEFT JOIN ticket_sla_marks m ON m.ticket_id = t.id WHERE t.id = {}",
        app.sql_uuid(id)
    );
    app.scalar(&sql).await
}

/// Moves a ticket's due time to `minutes` from now, behind the sweep's back.
mod sla_sweep {
    use super::*;

    fn tweak(s: &mut common::config::Settings) {
        s.run_worker = true;
        s.sla_warning_minutes = 30;
        sweep_every_second(s);
    }

    async fn run(app: TestApp) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let client = app
            .post("/v1/clients", &app.admin, crate::master_data::client_body(&app, "SLA-1").await)
            .await
            .id();
        let body = json!({"client": client, "type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"});
        let late = app.post("/v1/tickets", &noc, body.clone()).await.id();
        let close = app.post("/v1/tickets", &noc, body.clone()).await.id();
        let fine = app.post("/v1/tickets", &noc, body).await.id();
        app.set_due(&late, -5).await;
        app.set_due(&close, 10).await;
        wait_until(20, "the sweep marks both", || async {
            sla_state(&app, &late).await == 2 && sla_state(&app, &close).await == 1
        })
        .await;
        assert_eq!(sla_state(&app, &fine).await, 0, "a ticket with hours left is left alone");
        assert_eq!(status(&app, &late).await["slaType"], "OverSla");
        // Time given back (say by a pending) clears the mark.
        app.set_due(&late, 120).await;
        wait_until(20, "the sweep clears it", || async { sla_state(&app, &late).await == 0 }).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        run(spawn_app_with(Backend::Sqlite, tweak).await.unwrap()).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) = spawn_app_with(Backend::Postgres, tweak).await {
            run(app).await
        }
    }
}

crate::on_both_backends! {
    async fn a_mass_breach_is_swept_in_batches_and_reported_once(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let body = json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"});
        let mut late = Vec::new();
        for _ in 0..5 {
            late.push(app.post("/v1/tickets", &noc, body.clone()).await.id());
        }
        let soon = app.post("/v1/tickets", &noc, body.clone()).await.id();
        for (id, minutes) in late.iter().map(|id| (id, -5)).chain([(&soon, 10)]) {
            app.set_due(id, minutes).await;
        }
        let db = common::db::Db::connect(&app.db_url, 2).await.unwrap();
        let now = common::db::now();
        let warn_until = now + chrono::Duration::minutes(30);
        let effects = common::jobs::Effects::default();
        let events = || app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ticket_events");
        let before = events().await;
        use common::db::tickets::SlaCursor;
        let sweep = |now, cursor| {
            let db = db.clone();
            async move {
                let batches = common::service::sla::Batches { size: 2, walks: 1 };
                common::service::sla::sweep_sla(&db, effects, now, now + chrono::Duration::minutes(30), cursor, batches, 3)
                    .await
                    .unwrap()
            }
        };
        let first = sweep(now, SlaCursor::full()).await;
        assert_eq!((first.breached, first.warned, first.cleared), (5, 1, 0));
        assert_eq!(first.batches, 3, "2 + 2 + 1 breaches");
        assert_eq!((first.first_breached.len(), first.first_warned.len()), (3, 1));
        assert!(first.first_breached.iter().all(|id| late.contains(&id.to_string())));
        assert_eq!(events().await - before, 6, "a live-feed row per ticket whose slaType changed");
        assert_eq!(app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ticket_sla_marks WHERE state = 'Breached'").await, 5);
        // A minute later nothing came within reach: one transaction, nothing reported.
        let later = now + chrono::Duration::minutes(1);
        let next = sweep(later, SlaCursor::since(now, warn_until)).await;
        assert_eq!((next.breached, next.warned, next.cleared, next.batches), (0, 0, 0, 1));
        // A due time set in the past behind the sweep's back (the worker published a scheduled
        // ticket hours late, say), and time given back without a change: the hourly full sweep
        // sees both, a following sweep neither.
        let backdated = app.post("/v1/tickets", &noc, body.clone()).await.id();
        app.set_due(&backdated, -120).await;
        app.set_due(&late[0], 120).await;
        let next = sweep(later, SlaCursor::since(now, warn_until)).await;
        assert_eq!((next.breached, next.warned, next.cleared), (0, 0, 0));
        let full = sweep(later, SlaCursor::full()).await;
        assert_eq!((full.breached, full.warned, full.cleared), (1, 0, 1));
        assert_eq!(full.first_breached.first().map(|id| id.to_string()), Some(backdated));
        // A change that leaves a ticket's due time alone leaves its mark; one that moves it (here
        // the due time the SLA gives, back from the one set above) removes it.
        let client = app
            .post("/v1/clients", &app.admin, crate::master_data::client_body(&app, "SLA-MARK").await)
            .await
            .id();
        let mut with_sla = body.clone();
        with_sla["client"] = json!(client);
        let kept = app.post("/v1/tickets", &noc, with_sla).await.id();
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        for id in [&kept, &late[1]] {
            app.exec(&format!("INSERT INTO ticket_sla_marks (ticket_id, state) VALUES ({}, 'Warned') \
                ON CONFLICT (ticket_id) DO UPDATE SET state = 'Warned'", app.sql_uuid(id))).await;
            app.post(&format!("/v1/tickets/{id}/ticketStatus/accept"), &foc, json!({})).await.expect(201);
        }
        assert_eq!(sla_state(&app, &kept).await, 1, "the due time stayed: still warned");
        assert_eq!(sla_state(&app, &late[1]).await, 0, "the due time moved: no mark");
        db.close().await;
    }
}

crate::on_both_backends! {
    // A mass breach whose first batch is full: on PostgreSQL the rest is walked as two halves of
    // due time at once; each ticket is marked and reported once all the same.
    async fn a_mass_breach_walked_in_two_halves_at_once_reports_each_ticket_once(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let body = json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"});
        let mut late = Vec::new();
        for minutes in (1..=9).map(|k| -5 * k - 5) {
            let id = app.post("/v1/tickets", &noc, body.clone()).await.id();
            app.set_due(&id, minutes).await;
            late.push(id);
        }
        let soon = app.post("/v1/tickets", &noc, body.clone()).await.id();
        app.set_due(&soon, 10).await;
        let db = common::db::Db::connect(&app.db_url, 2).await.unwrap();
        let events = || app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ticket_events");
        let before = events().await;
        let batches = common::service::sla::Batches { size: 2, walks: 2 };
        let sweep = |cursor| {
            let db = db.clone();
            async move {
                let now = common::db::now();
                let effects = common::jobs::Effects::default();
                common::service::sla::sweep_sla(&db, effects, now, now + chrono::Duration::minutes(30), cursor, batches, 3)
                    .await
                    .unwrap()
            }
        };
        use common::db::tickets::SlaCursor;
        let first = sweep(SlaCursor::full()).await;
        assert_eq!((first.breached, first.warned, first.cleared), (9, 1, 0));
        // The first batch (2 breaches, the warning); then on PostgreSQL the halves before and
        // after 22.5 minutes ago, 2 + 2 + 0 and 2 + 1 breaches; on SQLite one walk, 2 + 2 + 2 + 1.
        assert_eq!(first.batches, if app.is_postgres() { 6 } else { 5 });
        assert_eq!((first.first_breached.len(), first.first_warned.len()), (3, 1));
        assert!(first.first_breached.iter().all(|id| late.contains(&id.to_string())));
        assert_eq!(events().await - before, 10, "a live-feed row per ticket whose slaType changed");
        let marked = "SELECT CAST(COUNT(*) AS BIGINT) FROM ticket_sla_marks WHERE state = 'Breached'";
        assert_eq!(app.scalar(marked).await, 9);
        let again = sweep(SlaCursor::full()).await;
        assert_eq!((again.breached, again.warned, again.cleared), (0, 0, 0), "nothing is reported twice");
        db.close().await;
    }
}

/// A job a test leaves behind without saying so fails that test when its app is dropped; one it
/// expects does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_that_leaves_jobs_it_did_not_expect_fails() {
    let enqueue = async |app: &TestApp| {
        let db = common::db::Db::connect(&app.db_url, 1).await.unwrap();
        let mut tx = db.begin_write().await.unwrap();
        let job = common::jobs::ExpirePending {
            ticket_id: uuid::Uuid::now_v7(),
            evidence_id: uuid::Uuid::now_v7(),
        };
        Job::enqueue(&job, &mut tx).await.unwrap();
        tx.commit().await.unwrap();
    };
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    enqueue(&app).await;
    // The app's worker may have claimed it meanwhile (`Queued`); it has not run it yet.
    let left = app.left_over_jobs();
    assert!(
        matches!(&left[..], [(queue, status, 0)] if queue == "cgs.expire_pending" && ["Pending", "Queued"].contains(&status.as_str())),
        "{left:?}"
    );
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(app)));
    let message = dropped.expect_err("dropping an app with unexpected jobs fails the test");
    let message = message.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("cgs.expire_pending"), "{message}");

    let app = spawn_app(Backend::Sqlite).await.unwrap();
    enqueue(&app).await;
    app.expect_jobs(common::jobs::ExpirePending::QUEUE);
    assert!(app.left_over_jobs().is_empty());
}
