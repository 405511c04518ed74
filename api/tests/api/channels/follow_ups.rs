//! Follow-ups nobody may miss, through the SMTP sink and the Bot API emulator: a ticket nobody
//! accepts is escalated (and one accepted first is not), an SLA warning and a breach reach the
//! technician, the supervisor and the NOC once each, a request waiting for the NOC reminds the
//! region's NOCs, and quiet hours hold back all but a breach. Due times are moved in the
//! database; nothing sleeps for minutes.

use super::*;

/// Waits until `n` follow-ups have run, then until what they told has been sent.
async fn followed_up(app: &TestApp, n: i64) {
    let sql = format!(
        "SELECT COUNT(*) FROM {} WHERE job_type = 'cgs.escalate' AND status = 'Done'",
        app.jobs_table()
    );
    wait_until(60, "the follow-ups ran", || async { app.scalar(&sql).await >= n }).await;
    announced(app).await;
    notified(app).await;
}

/// The mails since the first `skip`, as (recipient, subject).
async fn sent(sink: &MailSink, skip: usize) -> BTreeSet<(String, String)> {
    let mails = sink.mails().await;
    mails
        .iter()
        .skip(skip)
        .map(|m| (m["to"][0].as_str().unwrap().to_owned(), m["subject"].as_str().unwrap().to_owned()))
        .collect()
}

async fn number_of(app: &TestApp, id: &str) -> String {
    app.get(&format!("/v1/tickets/{id}"), &app.admin).await.result()["ticketId"].as_str().unwrap().to_owned()
}

async fn accept(app: &TestApp, id: &str, foc: &str) {
    app.send(reqwest::Method::POST, &format!("/v1/tickets/{id}/ticketStatus/accept"), Some(foc), None)
        .await
        .expect(201);
}

on_both_backends! {
    fixture MailSink;
    // Not accepted in time: announced again to the region's technicians, the supervisors and
    // the ticket's NOC are told; after as long again, the region's NOCs. A ticket accepted
    // first, and the other region, hear nothing.
    async fn an_open_ticket_nobody_accepts_is_escalated_and_one_accepted_first_is_not(app, sink) {
        let (noc_id, noc) = app.user(Role::NOC, Region::West).await;
        let (other_noc, _) = app.user(Role::NOC, Region::West).await;
        let (foc, foc_token) = app.user(Role::FOC, Region::West).await;
        let (supervisor, _) = app.user(Role::FOCSupervisor, Region::West).await;
        app.user(Role::NOC, Region::East).await;
        app.user(Role::FOCSupervisor, Region::East).await;
        let waiting = app.post("/v1/tickets", &noc, TICKET()).await.id();
        let taken = app.post("/v1/tickets", &noc, TICKET()).await.id();
        accept(&app, &taken, &foc_token).await;
        announced(&app).await;
        let before = sink.mails().await.len();
        let since = (chrono::Utc::now() - chrono::Duration::minutes(15)).to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        app.exec(&format!("UPDATE tickets SET published_at = '{since}' WHERE id = {}", app.sql_uuid(&waiting))).await;

        app.due_now(common::jobs::Escalate::QUEUE).await;
        followed_up(&app, 2).await;
        let number = number_of(&app, &waiting).await;
        let (foc_mail, supervisor_mail, noc_mail, other_mail) = (
            email_of(&app, &foc).await, email_of(&app, &supervisor).await,
            email_of(&app, &noc_id).await, email_of(&app, &other_noc).await,
        );
        let late = format!("{number} Non SLA: not accepted for 15 min");
        let again = format!("New ticket {number}: Non SLA");
        let want: BTreeSet<(String, String)> = [
            (foc_mail.clone(), again.clone()),
            (supervisor_mail.clone(), again.clone()),
            (supervisor_mail.clone(), late.clone()),
            (noc_mail.clone(), late.clone()),
        ].into();
        assert_eq!(sent(&sink, before).await, want);
        assert_eq!(sink.mails().await.len(), before + 4, "once each");
        let text = sink.mails().await.into_iter().find(|m| m["subject"] == late.as_str()).unwrap()["text"].as_str().unwrap().to_owned();
        for part in ["in West has waited 15 minutes and no technician accepted it", "Next: assign it", &format!("https://app.cgs.test/tickets/{waiting}")] {
            assert!(text.contains(part), "{part} missing in {text}");
        }

        // The second level: the region's NOCs.
        let before = sink.mails().await.len();
        app.due_now(common::jobs::Escalate::QUEUE).await;
        followed_up(&app, 3).await;
        assert_eq!(sent(&sink, before).await, [(noc_mail.clone(), late.clone()), (other_mail, late.clone())].into());
        assert_eq!(sink.mails().await.len(), before + 2);

        // Accepted after all: the last level has nothing left to do, and nothing comes again.
        accept(&app, &waiting, &foc_token).await;
        let left = format!("SELECT COUNT(*) FROM {} WHERE job_type = 'cgs.escalate' AND status <> 'Done'", app.jobs_table());
        assert_eq!(app.scalar(&left).await, 0, "two levels, no third");
        assert_eq!(app.scalar("SELECT COUNT(*) FROM notifications WHERE kind = 'unaccepted'").await, 4, "claimed once per user and level");
    }
}

on_both_backends! {
    fixture (MailSink, TelegramApi);
    with |s| { sweep_every_second(s); };
    // The early warning and the breach each reach the technician (by mail and in the linked
    // chat), the region's supervisor and the ticket's NOC, once, however many sweeps pass.
    async fn an_sla_warning_and_a_breach_reach_the_technician_the_supervisor_and_the_noc_once_each(app, sink, tg) {
        let (noc_id, noc) = app.user(Role::NOC, Region::West).await;
        let (foc, foc_token) = app.user(Role::FOC, Region::West).await;
        let (supervisor, _) = app.user(Role::FOCSupervisor, Region::West).await;
        app.user(Role::FOC, Region::West).await;
        app.user(Role::NOC, Region::West).await;
        app.user(Role::FOCSupervisor, Region::East).await;
        link(&app, &tg, &foc_token, 7001).await;
        let id = app.sla_ticket(&noc, "SLA-F1").await;
        accept(&app, &id, &foc_token).await;
        announced(&app).await;
        let before = sink.mails().await.len();
        let chat_before = tg.sent_to(7001).await.len();
        let claims = |kind: &'static str| {
            let app = &app;
            async move { app.scalar(&format!("SELECT COUNT(*) FROM notifications WHERE kind = '{kind}'")).await }
        };

        app.set_due(&id, 10).await;
        wait_until(30, "the warning is claimed", || async { claims("sla_warning").await == 6 }).await;
        notified(&app).await;
        app.set_due(&id, -5).await;
        wait_until(30, "the breach is claimed", || async { claims("sla_breached").await == 6 }).await;
        // More sweeps pass; nobody is told again.
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
        notified(&app).await;

        let number = number_of(&app, &id).await;
        let mut want = BTreeSet::new();
        for user in [&foc, &supervisor, &noc_id] {
            let email = email_of(&app, user).await;
            want.insert((email.clone(), format!("{number} PT Client SLA-F1: SLA breached")));
        }
        let got = sent(&sink, before).await;
        assert_eq!(sink.mails().await.len(), before + 6, "{got:#?}");
        let warnings: BTreeSet<String> = got.iter().filter(|(_, s)| s.contains("SLA runs out at") && s.ends_with(" WIB")).map(|(to, _)| to.clone()).collect();
        assert_eq!(warnings, want.iter().map(|(to, _)| to.clone()).collect());
        assert!(want.is_subset(&got), "{got:#?}");
        let chat: Vec<String> = tg.sent_to(7001).await.into_iter().skip(chat_before).map(|m| m["text"].as_str().unwrap().to_owned()).collect();
        assert_eq!(chat.len(), 2, "{chat:#?}");
        assert!(chat[0].contains("SLA runs out at") && chat[1].contains("SLA breached"), "{chat:#?}");
        assert!(chat[1].contains("Next: finish the work"), "{chat:#?}");
        // By mail to the three, in the chat to the technician; the others have no chat linked.
        assert_eq!(app.metric(r#"cgs_notifications{kind="sla_breached",state="Sent"}"#).await, Some(4.0));
        assert_eq!(app.metric(r#"cgs_notifications{kind="sla_breached",state="Dropped"}"#).await, Some(2.0));
    }
}

on_both_backends! {
    fixture MailSink;
    // A request waiting past its time reminds the region's NOCs once; one decided in time
    // reminds nobody.
    async fn a_request_waiting_for_the_noc_reminds_the_regions_nocs(app, sink) {
        let (noc_id, noc) = app.user(Role::NOC, Region::West).await;
        let (other_noc, _) = app.user(Role::NOC, Region::West).await;
        app.user(Role::NOC, Region::East).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let (waiting, number) = checked_in(&app, &noc, &foc).await;
        let (decided, _) = checked_in(&app, &noc, &foc).await;
        app.decide_request(&noc, &decided, true, None).await;
        announced(&app).await;
        notified(&app).await;
        let before = sink.mails().await.len();
        app.due_now(common::jobs::Escalate::QUEUE).await;
        followed_up(&app, 2).await;
        let subject = format!("{number} Non SLA: check-in waiting for validation");
        let want: BTreeSet<_> = [(email_of(&app, &noc_id).await, subject.clone()), (email_of(&app, &other_noc).await, subject)].into();
        assert_eq!(sent(&sink, before).await, want);
        assert_eq!(sink.mails().await.len(), before + 2);
        let _ = waiting;
    }
}

on_both_backends! {
    fixture MailSink;
    with |s| { sweep_every_second(s); };
    // A technician in quiet hours hears of the breach at once, of the warning when the quiet
    // hours end; the others hear of both at once. Settings are the user's own.
    async fn quiet_hours_hold_back_all_but_a_breach(app, sink) {
        let (noc_id, noc) = app.user(Role::NOC, Region::West).await;
        let (foc, foc_token) = app.user(Role::FOC, Region::West).await;
        let id = app.sla_ticket(&noc, "SLA-Q1").await;
        accept(&app, &id, &foc_token).await;
        announced(&app).await;

        let defaults = app.get("/v1/users/me/notifications", &foc_token).await;
        defaults.expect(200);
        assert_eq!(defaults.result()["quietHours"], Value::Null);
        assert_eq!(defaults.result()["channels"], json!(["Mail", "Telegram"]));
        assert_eq!(defaults.result()["timeZone"], "WIB (UTC+07:00)");
        // Quiet from an hour ago to two hours on, on the West's clock.
        let local = chrono::Utc::now().with_timezone(&Region::West.utc_offset());
        let (from, to) = ((local - chrono::Duration::hours(1)).format("%H:%M").to_string(), (local + chrono::Duration::hours(2)).format("%H:%M").to_string());
        let body = json!({"kinds": ["SlaWarning", "SlaBreached", "Verdict", "SlaWarning"], "channels": ["Mail"], "quietHours": {"from": from, "to": to}});
        let saved = app.put("/v1/users/me/notifications", &foc_token, body).await;
        saved.expect(200);
        assert_eq!(saved.result()["kinds"], json!(["Verdict", "SlaWarning", "SlaBreached"]));
        assert_eq!(app.get("/v1/users/me/notifications", &foc_token).await.result()["quietHours"], json!({"from": from, "to": to}));
        // Somebody else's settings are not touched.
        assert_eq!(app.get("/v1/users/me/notifications", &noc).await.result()["quietHours"], Value::Null);

        let before = sink.mails().await.len();
        app.set_due(&id, 10).await;
        wait_until(30, "the warning is claimed", || async { app.scalar("SELECT COUNT(*) FROM notifications WHERE kind = 'sla_warning'").await >= 2 }).await;
        notified(&app).await;
        app.set_due(&id, -5).await;
        wait_until(30, "the breach is claimed", || async { app.scalar("SELECT COUNT(*) FROM notifications WHERE kind = 'sla_breached'").await >= 2 }).await;
        notified(&app).await;

        let number = number_of(&app, &id).await;
        let (foc_mail, noc_mail) = (email_of(&app, &foc).await, email_of(&app, &noc_id).await);
        let got = sent(&sink, before).await;
        let mailed = |email: &str, what: &str| got.iter().filter(|(t, s)| t == email && s.contains(what)).count();
        assert_eq!((mailed(&foc_mail, "SLA breached"), mailed(&foc_mail, "SLA runs out")), (1, 0), "{got:#?}");
        assert_eq!((mailed(&noc_mail, "SLA breached"), mailed(&noc_mail, "SLA runs out")), (1, 1), "{got:#?}");
        assert_eq!(format!("{number} PT Client SLA-Q1: SLA breached"), got.iter().find(|(t, _)| *t == foc_mail).unwrap().1);
        // The warning waits for the end of the quiet hours.
        let held = format!("SELECT COUNT(*) FROM {} WHERE job_type = 'cgs.notify' AND status <> 'Done'", app.jobs_table());
        assert_eq!(app.scalar(&held).await, 1);

        // Bad settings are refused and change nothing.
        for bad in [
            json!({"kinds": [], "channels": [], "quietHours": {"from": "22:00", "to": "22:00"}}),
            json!({"kinds": [], "channels": [], "quietHours": {"from": "7pm", "to": "06:00"}}),
            json!({"kinds": ["Everything"], "channels": []}),
        ] {
            let a = app.put("/v1/users/me/notifications", &foc_token, bad.clone()).await;
            assert!(a.status.is_client_error(), "{bad}: {}", a.status);
        }
        assert_eq!(app.get("/v1/users/me/notifications", &foc_token).await.result()["quietHours"], json!({"from": from, "to": to}));
    }
}
