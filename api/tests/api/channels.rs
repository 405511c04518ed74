//! Broadcasts of open tickets to the field technicians of their region, by mail against a real
//! SMTP peer (`tools/channel-peers/smtp-sink.js`), with the worker running in the app.

use std::collections::BTreeSet;

use common::domain::{Region, Role};
use serde_json::{Value, json};

use crate::helpers::*;

/// Runs a test with an SMTP sink of its own and the app's mail pointed at it, on SQLite and
/// PostgreSQL. `$down`: the sink is started only after the app (the test brings it up itself).
macro_rules! with_mail {
    ($(async fn $name:ident($app:ident, $sink:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: TestApp, $sink: MailSink) $body

            async fn go(backend: Backend) {
                let sink = MailSink::start();
                let url = format!("smtp://127.0.0.1:{}", sink.smtp);
                let app = spawn_app_with(backend, move |s| {
                    s.run_worker = true;
                    s.smtp_url = Some(common::config::Secret::new(url));
                    s.app_url = Some("https://app.cgs.test/".into());
                })
                .await;
                if let Some(app) = app {
                    run(app, sink).await
                }
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                go(Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                go(Backend::Postgres).await
            }
        }
    )*};
}

const TICKET: fn() -> Value = || {
    json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access",
           "indication": "Kabel putus", "address": "Jl. Merdeka 10"})
};

async fn email_of(app: &TestApp, id: &str) -> String {
    app.get(&format!("/v1/users/{id}"), &app.admin).await.result()["email"].as_str().unwrap().to_owned()
}

/// Waits until the sink holds `n` mails, then a little longer to see that no more come.
async fn exactly(sink: &MailSink, n: usize) -> Vec<Value> {
    wait_until(30, &format!("{n} mails arrived"), || async { sink.mails().await.len() >= n }).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mails = sink.mails().await;
    assert_eq!(mails.len(), n, "{mails:#?}");
    mails
}

fn recipients(mails: &[Value]) -> BTreeSet<String> {
    mails
        .iter()
        .flat_map(|m| m["to"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()))
        .collect()
}

with_mail! {
    async fn an_open_ticket_is_mailed_to_exactly_the_regions_active_technicians(app, sink) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (foc, _) = app.user(Role::FOC, Region::West).await;
        let (supervisor, _) = app.user(Role::FOCSupervisor, Region::West).await;
        let (gone, _) = app.user(Role::FOC, Region::West).await;
        app.delete(&format!("/v1/users/{gone}"), &app.admin).await.expect(200);
        app.user(Role::FOC, Region::East).await;
        app.user(Role::NOC, Region::West).await;
        let want: BTreeSet<String> = [email_of(&app, &foc).await, email_of(&app, &supervisor).await].into();

        // A draft is nobody's business yet; publishing it opens it.
        let mut draft = TICKET();
        draft["isDraft"] = json!(true);
        let id = app.post("/v1/tickets", &noc, draft).await.id();
        tokio::time::sleep(std::time::Duration::from_millis(1000)).await;
        assert!(sink.mails().await.is_empty());
        app.post(&format!("/v1/tickets/{id}/publish"), &noc, json!({})).await.expect(201);

        let mails = exactly(&sink, 2).await;
        assert_eq!(recipients(&mails), want);
        let number = app.get(&format!("/v1/tickets/{id}"), &noc).await.result()["ticketId"].as_str().unwrap().to_owned();
        for m in &mails {
            assert_eq!(m["subject"], format!("New ticket {number}: Non SLA"));
            let text = m["text"].as_str().unwrap();
            for part in [number.as_str(), "Jl. Merdeka 10", "FiberCut (Kabel putus)", "West"] {
                assert!(text.contains(part), "{part} missing in {text}");
            }
            assert!(text.contains(&format!("https://app.cgs.test/tickets/{id}")), "{text}");
            assert_eq!(m["from"], "tickets@localhost");
            assert!(m["messageId"].as_str().unwrap().contains(&id), "stable Message-ID: {m}");
        }
    }
}

/// Mail server down when tickets open: the deliveries fail and are retried, and once it is back
/// every mail of a ticket still open arrives, once; the mails of a ticket taken meanwhile are
/// dropped (nobody needs to hear of it any more).
async fn mail_down_then_back(backend: Backend) {
    let (smtp, http) = (free_port(), free_port());
    let app = spawn_app_with(backend, move |s| {
        s.run_worker = true;
        s.smtp_url = Some(common::config::Secret::new(format!("smtp://127.0.0.1:{smtp}")));
    })
    .await;
    let Some(app) = app else { return };
    let (_, noc) = app.user(Role::NOC, Region::West).await;
    let (a, foc) = app.user(Role::FOC, Region::West).await;
    let (b, _) = app.user(Role::FOCSupervisor, Region::West).await;
    let taken = app.post("/v1/tickets", &noc, TICKET()).await.id();
    let open = app.post("/v1/tickets", &noc, TICKET()).await.id();
    let table = if app.is_postgres() { "apalis.jobs" } else { "Jobs" };
    // Each failed delivery is put back for later: four tries, four more to come.
    wait_until(60, "deliveries failed while the mail server was down", || async {
        app.scalar(&format!("SELECT COUNT(*) FROM {table} WHERE job_type = 'cgs.deliver_mail'")).await >= 8
    })
    .await;
    app.post(&format!("/v1/tickets/{taken}/ticketStatus/accept"), &foc, json!({})).await.expect(201);
    let sink = MailSink::start_on(smtp, http);
    let mails = exactly(&sink, 2).await;
    let want: BTreeSet<String> = [email_of(&app, &a).await, email_of(&app, &b).await].into();
    assert_eq!(recipients(&mails), want);
    let number =
        app.get(&format!("/v1/tickets/{open}"), &noc).await.result()["ticketId"].as_str().unwrap().to_owned();
    assert!(mails.iter().all(|m| m["subject"].as_str().unwrap().contains(&number)), "{mails:#?}");
    wait_until(60, "every delivery job ended", || async {
        app.scalar(&format!(
            "SELECT COUNT(*) FROM {table} WHERE job_type = 'cgs.deliver_mail' AND status <> 'Done'"
        ))
        .await
            == 0
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_server_down_then_back_delivers_what_is_still_open_once_sqlite() {
    mail_down_then_back(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_server_down_then_back_delivers_what_is_still_open_once_postgres() {
    mail_down_then_back(Backend::Postgres).await
}
