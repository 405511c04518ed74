//! Broadcasts of open tickets to the field technicians of their region, by mail against a real
//! SMTP peer (`tools/channel-peers/smtp-sink.js`), with the worker running in the app.

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

fn recipients(mails: &[Value]) -> BTreeSet<String> {
    mails
        .iter()
        .flat_map(|m| m["to"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_owned()))
        .collect()
}

on_both_backends! {
    fixture MailSink;
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
        let broadcasts = format!("SELECT COUNT(*) FROM {} WHERE job_type = 'cgs.broadcast_open_ticket'", app.jobs_table());
        assert_eq!(app.scalar(&broadcasts).await, 0, "a draft is not announced");
        app.post(&format!("/v1/tickets/{id}/publish"), &noc, json!({})).await.expect(201);

        let mails = exactly(&app, &sink, 2).await;
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

on_both_backends! {
    fixture MailSink;
    // A recipient the mail server refuses for good (550, no such user) is not tried again: its
    // delivery is kept as failed after its one try. One it refuses for now (452, mailbox full) is
    // tried again and again, and is not listed as failed while it has tries left; the mail to
    // the recipient it accepts arrives.
    async fn a_refusal_for_good_is_not_tried_again_and_one_for_now_is(app, sink) {
        app.expect_jobs(common::jobs::Deliver::QUEUE);
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (gone, _) = app.user_mailed(Role::FOC, Region::West, "gone").await;
        let (full, _) = app.user_mailed(Role::FOC, Region::West, "full").await;
        let (fine, _) = app.user(Role::FOC, Region::West).await;
        app.post("/v1/tickets", &noc, TICKET()).await.expect(201);
        wait_until(60, "the mailbox-full delivery was tried three times", || async {
            sink.refused().await.iter().filter(|r| r["code"] == 452).count() >= 3
        })
        .await;
        let refused = sink.refused().await;
        let gone_mail = email_of(&app, &gone).await;
        assert_eq!(refused.iter().filter(|r| r["code"] == 550).count(), 1, "{refused:#?}");
        assert!(refused.iter().any(|r| r["code"] == 550 && r["to"] == gone_mail.as_str()), "{refused:#?}");
        let mails = sink.mails().await;
        assert_eq!(recipients(&mails), [email_of(&app, &fine).await].into(), "{mails:#?}");
        let failed = app.get("/v1/admin/jobs/failed?limit=100", &app.admin).await.result().clone();
        let failed = failed.as_array().unwrap();
        assert_eq!(failed.len(), 1, "{failed:#?}");
        assert_eq!(failed[0]["queue"], "cgs.deliver");
        assert_eq!(failed[0]["attempts"], 1);
        assert_eq!(failed[0]["maxAttempts"], 15);
        assert!(failed[0]["lastResult"].as_str().unwrap().contains("550"), "{failed:#?}");
        let payload: Value = serde_json::from_str(failed[0]["payload"].as_str().unwrap()).unwrap();
        assert_eq!(payload["user_id"], gone.as_str());
        let table = app.jobs_table();
        let retrying = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM {table} WHERE job_type = 'cgs.deliver' AND status NOT IN ('Killed', 'Done') \
                 AND attempts >= 2 AND attempts < max_attempts"
            ))
            .await;
        assert_eq!(retrying, 1, "the mailbox-full delivery still has tries left ({full})");
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
    let table = app.jobs_table();
    // Each of the four deliveries (two tickets, two recipients) fails and is tried again later.
    wait_until(60, "deliveries failed twice while the mail server was down", || async {
        app.scalar(&format!("SELECT COUNT(*) FROM {table} WHERE job_type = 'cgs.deliver' AND attempts >= 2"))
            .await
            == 4
    })
    .await;
    app.post(&format!("/v1/tickets/{taken}/ticketStatus/accept"), &foc, json!({})).await.expect(201);
    let sink = MailSink::start_on(smtp, http);
    let mails = exactly(&app, &sink, 2).await;
    let want: BTreeSet<String> = [email_of(&app, &a).await, email_of(&app, &b).await].into();
    assert_eq!(recipients(&mails), want);
    let number =
        app.get(&format!("/v1/tickets/{open}"), &noc).await.result()["ticketId"].as_str().unwrap().to_owned();
    assert!(mails.iter().all(|m| m["subject"].as_str().unwrap().contains(&number)), "{mails:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_server_down_then_back_delivers_what_is_still_open_once_sqlite() {
    mail_down_then_back(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_server_down_then_back_delivers_what_is_still_open_once_postgres() {
    mail_down_then_back(Backend::Postgres).await
}

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

on_both_backends! {
    fixture TelegramApi;
    async fn a_chat_is_linked_with_a_one_time_code(app, tg) {
        let (foc_id, foc) = app.user(Role::FOC, Region::West).await;
        let answer = link(&app, &tg, &foc, 4242).await;
        assert!(answer.starts_with("Linked: you are FOC West (FOC, West)"), "{answer}");
        let sql_id = app.sql_uuid(&foc_id);
        assert_eq!(app.scalar(&format!("SELECT telegram_chat_id FROM users WHERE id = {sql_id}")).await, 4242);
        // A code works once, and a new code replaces the old one.
        let first = app.post("/v1/telegram/linkCode", &foc, json!({})).await.result()["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let second = app.post("/v1/telegram/linkCode", &foc, json!({})).await.result()["code"]
            .as_str()
            .unwrap()
            .to_owned();
        tg.send(777, &format!("/start {first}")).await;
        wait_until(30, "the bot refused the replaced code", || async { !tg.sent_to(777).await.is_empty() }).await;
        assert!(tg.sent_to(777).await[0]["text"].as_str().unwrap().contains("unknown, used or expired"));
        // Linking another chat moves the link there.
        tg.send(5151, &format!("/start {second}")).await;
        wait_until(30, "the bot linked the new chat", || async { !tg.sent_to(5151).await.is_empty() }).await;
        assert_eq!(app.scalar(&format!("SELECT telegram_chat_id FROM users WHERE id = {sql_id}")).await, 5151);
        tg.send(5151, "/start").await;
        wait_until(30, "the bot explained itself", || async { tg.sent_to(5151).await.len() == 2 }).await;
        assert!(tg.sent_to(5151).await[1]["text"].as_str().unwrap().contains("/start CODE"));
        app.post("/v1/telegram/linkCode", "not-a-token", json!({})).await.expect(401);
        // A group chat cannot be linked: its members would all read one person's announcements.
        let code = app.post("/v1/telegram/linkCode", &foc, json!({})).await.result()["code"]
            .as_str()
            .unwrap()
            .to_owned();
        tg.send_in_group(5151, -100777, &format!("/start {code}")).await;
        wait_until(30, "the bot answered in the group", || async { !tg.sent_to(-100777).await.is_empty() }).await;
        assert!(tg.sent_to(-100777).await[0]["text"].as_str().unwrap().contains("private chat"));
        assert_eq!(
            app.scalar(&format!("SELECT telegram_chat_id FROM users WHERE id = {sql_id}")).await,
            5151,
            "still the private chat"
        );
        // The code still works where it should.
        tg.send(6161, &format!("/start {code}")).await;
        wait_until(30, "the bot linked the private chat", || async { !tg.sent_to(6161).await.is_empty() }).await;
        assert_eq!(app.scalar(&format!("SELECT telegram_chat_id FROM users WHERE id = {sql_id}")).await, 6161);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_bot_there_is_no_link_code() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let (_, foc) = app.user(Role::FOC, Region::West).await;
    let a = app.post("/v1/telegram/linkCode", &foc, json!({})).await;
    a.expect(409);
    assert_eq!(a.code(), "telegram_off");
}

on_both_backends! {
    fixture TelegramApi;
    // Linked technicians of the region get the announcement with an Accept button; two of them
    // press it at once and a third accepts in the app at the same moment: one wins, the others are
    // told who took it.
    async fn the_first_accept_wins_across_chat_and_app(app, tg) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let mut focs = Vec::new();
        for chat in [3001, 3002] {
            let (id, token) = app.user(Role::FOC, Region::West).await;
            link(&app, &tg, &token, chat).await;
            focs.push((id, token, chat));
        }
        let (_, app_foc) = app.user(Role::FOC, Region::West).await;
        let (_, east) = app.user(Role::FOC, Region::East).await;
        link(&app, &tg, &east, 3999).await;

        let id = app.post("/v1/tickets", &noc, TICKET()).await.id();
        for (_, _, chat) in &focs {
            wait_until(30, "the announcement reached the chat", || async { tg.sent_to(*chat).await.len() == 2 })
                .await;
            let m = &tg.sent_to(*chat).await[1];
            assert!(m["text"].as_str().unwrap().contains("Jl. Merdeka 10"), "{m}");
            assert_eq!(m["reply_markup"]["inline_keyboard"][0][0]["callback_data"], format!("accept:{id}"));
        }
        announced(&app).await;
        assert_eq!(tg.sent_to(3999).await.len(), 1, "another region's technician hears nothing");

        let data = format!("accept:{id}");
        let path = format!("/v1/tickets/{id}/ticketStatus/accept");
        let (_, _, http) =
            tokio::join!(tg.press(3001, &data), tg.press(3002, &data), app.post(&path, &app_foc, json!({})));
        let doc = app.get(&format!("/v1/tickets/{id}"), &noc).await.result().clone();
        assert_eq!(doc["latestStatus"], "Accepted");
        let winner = doc["foc"]["id"].as_str().unwrap().to_owned();
        for (user, _, chat) in &focs {
            wait_until(30, "the press was answered", || async { tg.sent_to(*chat).await.len() == 3 }).await;
            let answer = tg.sent_to(*chat).await[2]["text"].as_str().unwrap().to_owned();
            if *user == winner {
                assert!(answer.starts_with("You took ticket"), "{answer}");
            } else {
                assert!(answer.contains("was already taken by FOC West"), "{answer}");
            }
        }
        let by_chat = focs.iter().any(|(user, _, _)| *user == winner);
        // Exactly one of the three wins; the app's request, when it loses, is refused with 409,
        // never a server error.
        http.expect(if by_chat { 409 } else { 201 });
        let accepted =
            doc["ticketLogs"].as_array().unwrap().iter().filter(|l| l["statusName"] == "Accepted").count();
        assert_eq!(accepted, 1);
    }
}

on_both_backends! {
    fixture TelegramApi;
    // A customer writes to the bot: a `Draft` with source `Telegram`, the sender as contact, the
    // text (and photo reference) as remark, answered with the ticket number; the same updates
    // delivered again create nothing more. A NOC member's report is the NOC's own draft.
    async fn a_telegram_report_becomes_one_draft(app, tg) {
        let (noc_id, noc) = app.user(Role::NOC, Region::West).await;
        let (east_noc_id, east_noc) = app.user(Role::NOC, Region::East).await;
        tg.send(6001, "Internet mati sejak pagi di Jl. Asia Afrika 8").await;
        tg.send_photo(6002, "photo-123", "Kabel putus di tiang").await;
        link(&app, &tg, &east_noc, 6003).await;
        tg.send(6003, "ODP Cimahi 3 down").await;
        for chat in [6001, 6002] {
            wait_until(30, "the reporter got a ticket number", || async { !tg.sent_to(chat).await.is_empty() })
                .await;
        }
        wait_until(30, "the NOC got a ticket number", || async { tg.sent_to(6003).await.len() == 2 }).await;
        let list = app.get("/v1/tickets?latestStatus=Draft", &app.admin).await;
        assert_eq!(list.body["data"]["meta"]["total"], 3, "{}", list.body);
        let mut by_chat = std::collections::HashMap::new();
        for item in list.result().as_array().unwrap() {
            let d = app
                .get(&format!("/v1/tickets/{}", item["id"].as_str().unwrap()), &app.admin)
                .await
                .result()
                .clone();
            by_chat.insert(d["contactPerson"][0]["phone"].as_str().unwrap().to_owned(), d);
        }
        let first = &by_chat["telegram:6001"];
        assert_eq!((first["source"].as_str(), first["region"].as_str()), (Some("Telegram"), Some("West")));
        assert_eq!(first["contactPerson"][0]["name"], "User 6001");
        assert_eq!(first["remark"], "Internet mati sejak pagi di Jl. Asia Afrika 8");
        assert_eq!(first["noc"]["id"], noc_id.as_str(), "an outsider's report goes to the region's NOC");
        let reply = tg.sent_to(6001).await[0]["text"].as_str().unwrap().to_owned();
        assert!(reply.contains(first["ticketId"].as_str().unwrap()), "{reply}");
        assert_eq!(by_chat["telegram:6002"]["remark"], "Kabel putus di tiang\n[media] telegram-file:photo-123");
        let own = &by_chat["telegram:6003"];
        assert_eq!(
            (own["region"].as_str(), own["noc"]["id"].as_str()),
            (Some("East"), Some(east_noc_id.as_str()))
        );
        app.get(&format!("/v1/tickets/{}", own["id"].as_str().unwrap()), &noc).await.expect(404);

        tg.redeliver().await;
        // The bot handles updates in order: once a report sent after the redelivery is answered,
        // the redelivered ones have been handled.
        tg.send(6009, "Sentinel").await;
        wait_until(30, "the later report was answered", || async { !tg.sent_to(6009).await.is_empty() }).await;
        let again = app.get("/v1/tickets?latestStatus=Draft", &app.admin).await;
        assert_eq!(
            again.body["data"]["meta"]["total"], 4,
            "a redelivered update creates nothing (the later report one)"
        );
        assert_eq!(tg.sent_to(6001).await.len(), 1, "and is not answered twice");
    }
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

/// Each new mail becomes one `Draft` with source `Email`, answered with its number; the same
/// Message-ID twice makes one ticket; a huge and a broken mail are set aside and do not stop
/// the mails after them.
async fn mail_intake(backend: Backend) {
    let sink = MailSink::start();
    let mut imap = Imap::new();
    let report = mail(
        "<m1@example.com>",
        "Budi Santoso <budi@example.com>",
        "Internet mati",
        "Sejak pagi di Jl. Braga 5.",
    );
    imap.deliver("1-first", &report);
    imap.deliver("2-again", &report);
    let huge = "x".repeat(20_000);
    imap.deliver("3-huge", &mail("<m3@example.com>", "big@example.com", "Log", &huge));
    imap.deliver("4-broken", b"\x00\x01 not a mail at all");
    imap.deliver("5-second", &mail("<m5@example.com>", "siti@example.com", "ODP rusak", "Tiang roboh."));
    imap.deliver("6-nul", &mail("<m6@example.com>", "Andi <andi@example.com>", "Kabel", "Putus\u{0} total."));
    imap.start().await;
    let Some(app) = with_mailbox(backend, &imap, &sink).await else { return };
    app.user(Role::NOC, Region::West).await;
    wait_until(30, "every mail was read", || async {
        imap.read_flags().iter().filter(|(_, f)| f.contains('S')).count() == 6
    })
    .await;
    let tickets = drafts(&app).await;
    assert_eq!(tickets.len(), 3, "{tickets:#?}");
    let andi =
        tickets.iter().find(|t| t["contactPerson"][0]["phone"] == "andi@example.com").expect("Andi's ticket");
    let remark = andi["remark"].as_str().unwrap();
    assert!(
        remark.starts_with("Kabel\n\nPutus") && remark.ends_with(" total.") && !remark.contains('\0'),
        "{remark:?}"
    );
    let budi =
        tickets.iter().find(|t| t["contactPerson"][0]["phone"] == "budi@example.com").expect("Budi's ticket");
    assert_eq!((budi["source"].as_str(), budi["region"].as_str()), (Some("Email"), Some("West")));
    assert_eq!(budi["contactPerson"][0]["name"], "Budi Santoso");
    assert_eq!(budi["remark"], "Internet mati\n\nSejak pagi di Jl. Braga 5.");
    let siti =
        tickets.iter().find(|t| t["contactPerson"][0]["phone"] == "siti@example.com").expect("Siti's ticket");
    assert_eq!(siti["contactPerson"][0]["name"], "siti@example.com");
    // Set aside: flagged with the keyword (Dovecot's first keyword letter), the rest only seen.
    for (name, flags) in imap.read_flags() {
        let aside = name.starts_with("3-") || name.starts_with("4-");
        assert_eq!(flags.contains('a'), aside, "{name}: {flags}");
    }
    // Each reporter is answered with the number, in reply to the mail.
    wait_until(30, "the three answers went out", || async { sink.mails().await.len() >= 3 }).await;
    let answers = sink.mails().await;
    assert_eq!(answers.len(), 3, "{answers:#?}");
    for (t, to) in [(budi, "budi@example.com"), (siti, "siti@example.com")] {
        let a = answers.iter().find(|m| m["to"][0] == to).expect("an answer");
        assert!(a["subject"].as_str().unwrap().contains(t["ticketId"].as_str().unwrap()), "{a}");
    }
    let to_budi = answers.iter().find(|m| m["to"][0] == "budi@example.com").unwrap();
    assert_eq!(to_budi["inReplyTo"], "<m1@example.com>");
    // The same mail delivered once more, later: still one ticket.
    imap.deliver("7-late", &report);
    wait_until(30, "the late copy was read", || async {
        let flags = imap.read_flags();
        flags.len() == 7 && flags.iter().all(|(_, f)| f.contains('S'))
    })
    .await;
    assert_eq!(drafts(&app).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_reports_become_one_draft_each_and_bad_mail_is_set_aside_sqlite() {
    mail_intake(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_reports_become_one_draft_each_and_bad_mail_is_set_aside_postgres() {
    mail_intake(Backend::Postgres).await
}

/// Mail written by a machine (an auto-reply, a mailing list's mail, a bounce, our own) makes no
/// ticket and gets no answer, so two auto-responders cannot make tickets forever; a person's
/// report is answered with `Auto-Submitted: auto-replied`.
async fn generated_mail(backend: Backend) {
    let sink = MailSink::start();
    let mut imap = Imap::new();
    let with = |headers: &str, id: &str, from: &str| {
        let mut raw = headers.as_bytes().to_vec();
        raw.extend(mail(id, from, "Re: Internet mati", "I am out of the office until Monday."));
        raw
    };
    imap.deliver(
        "1-autoreply",
        &with("Auto-Submitted: auto-replied\r\n", "<g1@example.com>", "budi@example.com"),
    );
    imap.deliver(
        "2-list",
        &with(
            "List-Id: NOC talk <noc.lists.example.com>\r\nPrecedence: list\r\n",
            "<g2@example.com>",
            "list@example.com",
        ),
    );
    imap.deliver(
        "3-bounce",
        &with("", "<g3@example.com>", "Mail Delivery System <MAILER-DAEMON@mx.example.com>"),
    );
    imap.deliver("4-ours", &with("", "<g4@example.com>", "tickets@localhost"));
    imap.deliver(
        "5-person",
        &mail("<g5@example.com>", "Siti <siti@example.com>", "ODP rusak", "Tiang roboh."),
    );
    imap.start().await;
    let Some(app) = with_mailbox(backend, &imap, &sink).await else { return };
    app.user(Role::NOC, Region::West).await;
    wait_until(30, "every mail was read", || async {
        imap.read_flags().iter().filter(|(_, f)| f.contains('S')).count() == 5
    })
    .await;
    let tickets = drafts(&app).await;
    assert_eq!(tickets.len(), 1, "only the person's report is a ticket: {tickets:#?}");
    assert_eq!(tickets[0]["contactPerson"][0]["phone"], "siti@example.com");
    // The machines' mails carry the keyword (Dovecot's first keyword letter); the person's not.
    for (name, flags) in imap.read_flags() {
        assert_eq!(flags.contains('a'), !name.starts_with("5-"), "{name}: {flags}");
    }
    // A mail is flagged seen only after its answer was accepted by the sink: every answer the
    // five mails get is there now.
    let answers = sink.mails().await;
    assert_eq!(answers.len(), 1, "no machine is answered: {answers:#?}");
    assert_eq!(
        (answers[0]["to"][0].as_str(), answers[0]["autoSubmitted"].as_str()),
        (Some("siti@example.com"), Some("auto-replied")),
        "{answers:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_mail_written_by_a_machine_makes_no_ticket_and_gets_no_answer_sqlite() {
    generated_mail(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_mail_written_by_a_machine_makes_no_ticket_and_gets_no_answer_postgres() {
    generated_mail(Backend::Postgres).await
}

/// The IMAP server down: polls fail and go on; when it is up, the mails waiting there become
/// tickets.
async fn mailbox_down_then_back(backend: Backend) {
    let sink = MailSink::start();
    let mut imap = Imap::new();
    let Some(app) = with_mailbox(backend, &imap, &sink).await else { return };
    app.user(Role::NOC, Region::West).await;
    imap.deliver("1", &mail("<d1@example.com>", "a@example.com", "Mati", "Total."));
    imap.deliver("2", &mail("<d2@example.com>", "b@example.com", "Lambat", "Sore hari."));
    // The outage: three polls (one a second) fail meanwhile.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(drafts(&app).await.is_empty());
    imap.start().await;
    wait_until(30, "the waiting mails became tickets", || async { drafts(&app).await.len() == 2 }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_that_was_down_is_read_when_back_sqlite() {
    mailbox_down_then_back(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_that_was_down_is_read_when_back_postgres() {
    mailbox_down_then_back(Backend::Postgres).await
}

on_both_backends! {
    fixture TelegramApi;
    // A user who blocked the bot: the announcement to that chat is refused for good and kept as
    // failed after one try, while the other chat gets its own.
    async fn a_chat_that_blocked_the_bot_is_not_tried_again(app, tg) {
        app.expect_jobs(common::jobs::Deliver::QUEUE);
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (blocker, foc) = app.user(Role::FOC, Region::West).await;
        let (_, other) = app.user(Role::FOC, Region::West).await;
        link(&app, &tg, &foc, 8101).await;
        link(&app, &tg, &other, 8102).await;
        tg.block(8101).await;
        app.post("/v1/tickets", &noc, TICKET()).await.expect(201);
        wait_until(60, "the other chat got the announcement", || async { tg.sent_to(8102).await.len() == 2 })
            .await;
        let failed = || async { app.get("/v1/admin/jobs/failed?limit=100", &app.admin).await.result().clone() };
        wait_until(60, "the blocked chat's delivery is kept as failed", || async {
            failed().await.as_array().unwrap().iter().any(|j| j["queue"] == "cgs.deliver")
        })
        .await;
        let failed = failed().await;
        let telegram: Vec<&Value> = failed
            .as_array()
            .unwrap()
            .iter()
            .filter(|j| j["payload"].as_str().unwrap().contains("Telegram"))
            .collect();
        assert_eq!(telegram.len(), 1, "{failed:#?}");
        assert_eq!(telegram[0]["attempts"], 1, "refused for good: not tried again");
        assert!(telegram[0]["lastResult"].as_str().unwrap().contains("blocked"), "{failed:#?}");
        let payload: Value = serde_json::from_str(telegram[0]["payload"].as_str().unwrap()).unwrap();
        assert_eq!(payload["user_id"], blocker.as_str());
        assert_eq!(tg.sent_to(8101).await.len(), 1, "only the link's answer reached the blocked chat");
    }
}

on_both_backends! {
    fixture TelegramApi;
    // Telegram down when a ticket opens: the announcement is tried again later and arrives once
    // the Bot API is back; the poller recovers too (a press then still works).
    async fn telegram_down_then_back_delivers_and_polls_again(app, tg) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        link(&app, &tg, &foc, 8001).await;
        tg.stop();
        let id = app.post("/v1/tickets", &noc, TICKET()).await.id();
        let table = app.jobs_table();
        wait_until(60, "the announcement failed and was tried again", || async {
            app.scalar(&format!("SELECT COUNT(*) FROM {table} WHERE job_type = 'cgs.deliver' AND attempts >= 2"))
                .await
                == 1
        })
        .await;
        tg.restart();
        wait_until(60, "the announcement arrived", || async { !tg.sent_to(8001).await.is_empty() }).await;
        let sent = tg.sent_to(8001).await;
        assert_eq!(sent.len(), 1, "{sent:#?}");
        assert_eq!(sent[0]["reply_markup"]["inline_keyboard"][0][0]["callback_data"], format!("accept:{id}"));
        tg.press(8001, &format!("accept:{id}")).await;
        wait_until(30, "the press was answered", || async { tg.sent_to(8001).await.len() == 2 }).await;
        assert_eq!(app.get(&format!("/v1/tickets/{id}"), &noc).await.result()["latestStatus"], "Accepted");
    }
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
