//! The channels: open tickets announced to the field technicians of their region, by mail
//! against a real SMTP peer (`tools/channel-peers/smtp-sink.js`) and by Telegram against the Bot
//! API emulator, and reports that arrive by mail (a Dovecot IMAP server) or Telegram becoming
//! drafts, with the worker running in the app. Here the shared helpers and the intake limit;
//! `mail.rs` and `telegram.rs` each channel.

use std::collections::BTreeSet;

use common::domain::{Region, Role};
use serde_json::{Value, json};

use crate::{helpers::*, on_both_backends};

const TICKET: fn() -> Value = || {
    json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access",
           "indication": "Kabel putus", "address": "Jl. Merdeka 10"})
};

async fn email_of(app: &TestApp, id: &str) -> String {
    app.get(&format!("/v1/users/{id}"), &app.admin).await.result()["email"].as_str().unwrap().to_owned()
}

/// Waits until every announcement has ended: its broadcast and deliveries done (a delivery put
/// back for later is not).
async fn announced(app: &TestApp) {
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE job_type IN ('cgs.broadcast_open_ticket', 'cgs.deliver') AND status <> 'Done'",
        app.jobs_table()
    );
    wait_until(60, "every announcement was delivered or dropped", || async { app.scalar(&sql).await == 0 })
        .await;
}

/// The mails once every announcement has ended, which must be `n`.
async fn exactly(app: &TestApp, sink: &MailSink, n: usize) -> Vec<Value> {
    announced(app).await;
    let mails = sink.mails().await;
    assert_eq!(mails.len(), n, "{mails:#?}");
    mails
}

/// Waits until every notification due by now has ended: sent, or dropped (one held back for
/// later, in quiet hours, is not).
async fn notified(app: &TestApp) {
    let now = if app.is_postgres() { "now()" } else { "strftime('%s', 'now')" };
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE job_type = 'cgs.notify' AND status <> 'Done' AND run_at <= {now}",
        app.jobs_table()
    );
    wait_until(60, "every notification due was sent or dropped", || async { app.scalar(&sql).await == 0 })
        .await;
}

/// Takes a new ticket of `noc` as the technician of `foc` to a check-in waiting for the NOC;
/// answers (ticket id, its number).
async fn checked_in(app: &TestApp, noc: &str, foc: &str) -> (String, String) {
    let id = app.post("/v1/tickets", noc, TICKET()).await.id();
    for (step, body) in [
        ("accept", None),
        ("onTheWay", None),
        (
            "checkedIn",
            Some(json!({"mediaUrl": format!("https://m/{id}.jpg"), "locationCoordinate": "-6.9,107.6"})),
        ),
    ] {
        app.send(reqwest::Method::POST, &format!("/v1/tickets/{id}/ticketStatus/{step}"), Some(foc), body)
            .await
            .expect(201);
    }
    let number =
        app.get(&format!("/v1/tickets/{id}"), noc).await.result()["ticketId"].as_str().unwrap().to_owned();
    (id, number)
}

fn recipients(mails: &[Value]) -> BTreeSet<String> {
    mails
        .iter()
        .flat_map(|m| m["to"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()))
        .collect()
}

mod follow_ups;
mod mail;
mod outages;
mod telegram;

/// Links chat `chat` to the user of `token` the way a user does: a code from the API, sent to
/// the bot as `/start CODE`; waits for the bot's answer and returns it.
async fn link(app: &TestApp, tg: &TelegramApi, token: &str, chat: i64) -> String {
    let before = tg.sent_to(chat).await.len();
    let code = app.post("/v1/telegram/linkCode", token, json!({})).await;
    code.expect(201);
    let command = code.result()["command"].as_str().unwrap().to_owned();
    assert_eq!(command, format!("/start {}", code.result()["code"].as_str().unwrap()));
    tg.send(chat, &command).await;
    wait_until(30, "the bot answered /start", || async { tg.sent_to(chat).await.len() > before }).await;
    tg.sent_to(chat).await.last().unwrap()["text"].as_str().unwrap().to_owned()
}

fn mail(message_id: &str, from: &str, subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: noc@cgs.test\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n\
         Date: Sat, 28 Nov 2026 08:00:00 +0700\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

/// The app reading `imap`'s inbox every second (no TLS: the server is on the loopback), mails
/// larger than 10 kB set aside, answers by `sink`.
async fn with_mailbox(backend: Backend, imap: &Imap, sink: &MailSink) -> Option<TestApp> {
    let (port, smtp) = (imap.port, sink.smtp);
    spawn_app_with(backend, move |s| {
        read_mailbox(s, port, smtp);
        s.imap_max_bytes = 10_000;
    })
    .await
}

/// The worker reads the IMAP server on the loopback port `imap` every second (no TLS) and
/// answers by the SMTP sink on port `smtp`.
fn read_mailbox(s: &mut common::config::Settings, imap: u16, smtp: u16) {
    s.run_worker = true;
    s.smtp_url = Some(common::config::Secret::new(format!("smtp://127.0.0.1:{smtp}")));
    s.imap_host = Some("127.0.0.1".into());
    s.imap_port = imap;
    s.imap_tls = false;
    s.imap_user = Some("cgs".into());
    s.imap_password = Some(common::config::Secret::new("secret"));
    s.imap_poll_seconds = 1;
}

async fn drafts(app: &TestApp) -> Vec<Value> {
    let list = app.get("/v1/tickets?latestStatus=Draft&limit=100", &app.admin).await;
    let mut out = Vec::new();
    for item in list.result().as_array().unwrap() {
        out.push(
            app.get(&format!("/v1/tickets/{}", item["id"].as_str().unwrap()), &app.admin)
                .await
                .result()
                .clone(),
        );
    }
    out
}

/// A Telegram sender and a mail sender past `CGS_INTAKE_MAX_PER_HOUR` make no more drafts and
/// are told once; other senders are not affected.
async fn intake_limit(backend: Backend) {
    let tg = TelegramApi::start();
    let sink = MailSink::start();
    let mut imap = Imap::new();
    for i in 1..=4 {
        imap.deliver(
            &format!("{i}-flood"),
            &mail(&format!("<flood{i}@example.com>"), "Budi <budi@example.com>", "Internet mati", "Tolong."),
        );
    }
    imap.deliver(
        "5-other",
        &mail("<other@example.com>", "Siti <siti@example.com>", "ODP rusak", "Tiang roboh."),
    );
    imap.start().await;
    let (token, url, port, smtp) = (tg.token.clone(), tg.url.clone(), imap.port, sink.smtp);
    let Some(app) = spawn_app_with(backend, move |s| {
        read_mailbox(s, port, smtp);
        s.telegram_bot_token = Some(common::config::Secret::new(token));
        s.telegram_api_url = url;
        s.intake_max_per_hour = 2;
    })
    .await
    else {
        return;
    };
    app.user(Role::NOC, Region::West).await;
    for i in 1..=5 {
        tg.send(7001, &format!("Internet mati #{i}")).await;
    }
    tg.send(7002, "ODP Cimahi 3 down").await;
    // Updates are handled in order: once the other chat is answered, the flood has been.
    wait_until(30, "the other chat got its ticket number", || async { !tg.sent_to(7002).await.is_empty() })
        .await;
    wait_until(30, "every mail was read", || async {
        imap.read_flags().iter().filter(|(_, f)| f.contains('S')).count() == 5
    })
    .await;
    let answers: Vec<String> =
        tg.sent_to(7001).await.iter().map(|m| m["text"].as_str().unwrap().to_owned()).collect();
    assert_eq!(answers.len(), 3, "two ticket numbers, then one notice, then silence: {answers:#?}");
    assert!(answers[..2].iter().all(|a| a.starts_with("Thank you")), "{answers:#?}");
    assert!(answers[2].contains("2 reports within the hour"), "{answers:#?}");

    let tickets = drafts(&app).await;
    let from = |who: &str| tickets.iter().filter(|t| t["contactPerson"][0]["phone"] == who).count();
    assert_eq!(
        (from("telegram:7001"), from("telegram:7002"), from("budi@example.com"), from("siti@example.com")),
        (2, 1, 2, 1),
        "{tickets:#?}"
    );
    let mails = sink.mails().await;
    let to = |who: &str| -> Vec<String> {
        mails
            .iter()
            .filter(|m| m["to"][0] == who)
            .map(|m| m["text"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    let budi = to("budi@example.com");
    assert_eq!(budi.len(), 3, "two ticket numbers and one notice: {mails:#?}");
    assert_eq!(budi.iter().filter(|t| t.contains("2 reports within the hour")).count(), 1, "{budi:#?}");
    assert_eq!(to("siti@example.com").len(), 1);
    assert!(mails.iter().all(|m| m["autoSubmitted"] == "auto-replied"), "{mails:#?}");
    // The mails over the limit carry the keyword (Dovecot's first keyword letter).
    let flagged: Vec<String> =
        imap.read_flags().into_iter().filter(|(_, f)| f.contains('a')).map(|(n, _)| n).collect();
    assert_eq!(flagged.len(), 2, "{flagged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_a_sender_over_the_hourly_limit_makes_no_draft_and_is_told_once_sqlite() {
    intake_limit(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_a_sender_over_the_hourly_limit_makes_no_draft_and_is_told_once_postgres() {
    intake_limit(Backend::Postgres).await
}
