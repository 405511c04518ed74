//! Telegram: chats linked by one-time codes, announcements with an Accept button, reports,
//! a chat that blocked the bot, the Bot API down and back.

use super::*;

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

on_both_backends! {
    fixture TelegramApi;
    async fn the_technicians_linked_chat_is_told_the_verdict(app, tg) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc_token) = app.user(Role::FOC, Region::West).await;
        let chat = 7_300_001;
        link(&app, &tg, &foc_token, chat).await;
        let (id, number) = checked_in(&app, &noc, &foc_token).await;
        announced(&app).await;
        let before = tg.sent_to(chat).await.len();
        app.decide_request(&noc, &id, false, Some("not the customer's ONT")).await;
        notified(&app).await;
        let said: Vec<String> =
            tg.sent_to(chat).await.iter().skip(before).map(|m| m["text"].as_str().unwrap().to_owned()).collect();
        assert_eq!(said.len(), 1, "{said:#?}");
        assert!(said[0].starts_with(&format!("{number} Non SLA: check-in rejected")), "{}", said[0]);
        assert!(said[0].contains("The NOC's remark: not the customer's ONT"), "{}", said[0]);
    }
}
