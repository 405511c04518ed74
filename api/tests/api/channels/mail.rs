//! Mail: broadcasts through the SMTP sink, and reports read from an IMAP inbox.

use super::*;

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
    // The outage: the mailbox's port closes every connection at once; three polls come and fail.
    let down = tokio::net::TcpListener::bind(("127.0.0.1", imap.port)).await.unwrap();
    for poll in 1..=3 {
        let accepted = tokio::time::timeout(std::time::Duration::from_secs(20), down.accept()).await;
        drop(accepted.unwrap_or_else(|_| panic!("poll {poll} did not come within 20 s")).unwrap());
    }
    drop(down);
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
    fixture MailSink;
    // The technician learns each verdict on his requests by mail, once, with the NOC's remark
    // and what to do next; nobody else is told.
    async fn the_technician_is_mailed_each_verdict_on_his_requests_once(app, sink) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (foc, foc_token) = app.user(Role::FOC, Region::West).await;
        let (id, number) = checked_in(&app, &noc, &foc_token).await;
        announced(&app).await;
        let before = sink.mails().await.len();
        app.decide_request(&noc, &id, false, Some("photo is blurry")).await;
        // (A verdict still waiting when a later one comes is dropped: wait for it first.)
        notified(&app).await;
        let body = json!({"mediaUrl": format!("https://m/{id}-2.jpg"), "locationCoordinate": "-6.9,107.6"});
        app.send(reqwest::Method::POST, &format!("/v1/tickets/{id}/ticketStatus/checkedIn"), Some(&foc_token), Some(body)).await.expect(201);
        app.decide_request(&noc, &id, true, None).await;
        notified(&app).await;
        let mails: Vec<Value> = sink.mails().await.into_iter().skip(before).collect();
        assert_eq!(mails.len(), 2, "{mails:#?}");
        assert_eq!(recipients(&mails), [email_of(&app, &foc).await].into());
        let by_subject = |verdict: &str| {
            let subject = format!("{number} Non SLA: check-in {verdict}");
            mails.iter().find(|m| m["subject"] == subject.as_str()).unwrap_or_else(|| panic!("no {subject}: {mails:#?}")).clone()
        };
        let (rejected, approved) = (by_subject("rejected"), by_subject("approved"));
        let text = rejected["text"].as_str().unwrap();
        for part in [
            "The NOC rejected your check-in",
            "The NOC's remark: photo is blurry",
            "Next: Send the check-in again with a clear photo taken on site.",
            &format!("https://app.cgs.test/tickets/{id}"),
        ] {
            assert!(text.contains(part), "{part} missing in {text}");
        }
        assert!(approved["text"].as_str().unwrap().contains("Next: Work can start"), "{}", approved["text"]);
        // Each verdict is claimed once per user and channel.
        assert_eq!(app.scalar("SELECT COUNT(*) FROM notifications WHERE channel = 'Mail'").await, 2);
    }
}

on_both_backends! {
    fixture MailSink;
    async fn an_assignment_is_mailed_to_the_technician_it_names_and_the_one_it_replaces(app, sink) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (first, _) = app.user(Role::FOC, Region::West).await;
        let (second, _) = app.user(Role::FOC, Region::West).await;
        let id = app.post("/v1/tickets", &noc, TICKET()).await.id();
        announced(&app).await;
        let before = sink.mails().await.len();
        app.post(&format!("/v1/tickets/{id}/assign"), &noc, json!({"focId": first})).await.expect(201);
        // (A notice still waiting when its assignment is undone is dropped: wait for it first.)
        notified(&app).await;
        app.post(&format!("/v1/tickets/{id}/assign"), &noc, json!({"focId": second})).await.expect(201);
        notified(&app).await;
        let number = app.get(&format!("/v1/tickets/{id}"), &noc).await.result()["ticketId"].as_str().unwrap().to_owned();
        let mails: Vec<Value> = sink.mails().await.into_iter().skip(before).collect();
        let to = |email: &str, subject: &str| {
            mails.iter().filter(|m| m["to"][0] == email && m["subject"] == format!("{number} Non SLA: {subject}")).count()
        };
        let (first_mail, second_mail) = (email_of(&app, &first).await, email_of(&app, &second).await);
        assert_eq!(mails.len(), 3, "{mails:#?}");
        assert_eq!(to(&first_mail, "assigned to you"), 1, "{mails:#?}");
        assert_eq!(to(&first_mail, "reassigned"), 1, "{mails:#?}");
        assert_eq!(to(&second_mail, "assigned to you"), 1, "{mails:#?}");
        let yours = mails.iter().find(|m| m["to"][0] == second_mail.as_str()).unwrap()["text"].as_str().unwrap().to_owned();
        assert!(yours.contains("Address: Jl. Merdeka 10") && yours.contains(&format!("https://app.cgs.test/tickets/{id}")), "{yours}");
    }
}
