//! An outage is announced once, by mail and in the linked chat with its Accept button, instead
//! of once per report: the reports before it formed were announced on their own, those linked
//! to it are not.

use super::*;
use crate::outages::{customers, network, report};

on_both_backends! {
    fixture (MailSink, TelegramApi);
    async fn the_technicians_hear_of_an_outage_once_instead_of_once_per_report(app, sink, tg) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (foc, foc_token) = app.user(Role::FOC, Region::West).await;
        link(&app, &tg, &foc_token, 7101).await;
        let foc_mail = email_of(&app, &foc).await;
        let (ms, sp) = network(&app, "G").await;
        let clients = customers(&app, "G", 6, &ms, &sp).await;
        for c in &clients[..2] {
            app.post("/v1/tickets", &noc, report(c)).await.expect(201);
        }
        let mails = exactly(&app, &sink, 2).await;
        assert!(mails.iter().all(|m| m["subject"].as_str().unwrap().starts_with("New ticket ")), "{mails:#?}");

        // The third customer under the splitter makes the outage: announced, its reports not.
        app.post("/v1/tickets", &noc, report(&clients[2])).await.expect(201);
        let outage = app.get("/v1/outages", &noc).await.result()[0].clone();
        let (id, number) = (outage["id"].as_str().unwrap().to_owned(), outage["ticketId"].as_str().unwrap().to_owned());
        let mails = exactly(&app, &sink, 3).await;
        let since = chrono::DateTime::parse_from_rfc3339(outage["since"].as_str().unwrap()).unwrap()
            .with_timezone(&Region::West.utc_offset()).format("%H:%M").to_string();
        let subject = format!("{number} Outage at splitter SP-G, 3 customers since {since} WIB");
        assert_eq!((mails[2]["to"][0].as_str(), mails[2]["subject"].as_str()), (Some(foc_mail.as_str()), Some(subject.as_str())));
        let text = mails[2]["text"].as_str().unwrap();
        assert!(text.contains("the customers' reports close with it"), "{text}");
        wait_until(30, "the chat got the outage", || async { tg.sent_to(7101).await.len() == 4 }).await;
        let m = tg.sent_to(7101).await[3].clone();
        assert!(m["text"].as_str().unwrap().contains("Outage at splitter SP-G"), "{m}");
        assert_eq!(m["reply_markup"]["inline_keyboard"][0][0]["callback_data"], format!("accept:{id}"));

        // Later reports join it quietly.
        for c in &clients[3..] {
            app.post("/v1/tickets", &noc, report(c)).await.expect(201);
        }
        exactly(&app, &sink, 3).await;
        assert_eq!(app.get(&format!("/v1/tickets/{id}"), &noc).await.result()["childCount"], 6);
        assert_eq!(tg.sent_to(7101).await.len(), 4, "nothing more in the chat");

        // The technician takes the outage from the chat.
        tg.press(7101, &format!("accept:{id}")).await;
        wait_until(30, "the press was answered", || async { tg.sent_to(7101).await.len() == 5 }).await;
        let doc = app.get(&format!("/v1/tickets/{id}"), &noc).await.result().clone();
        assert_eq!((doc["latestStatus"].as_str(), doc["foc"]["id"].as_str()), (Some("Accepted"), Some(foc.as_str())));
        let answer = tg.sent_to(7101).await[4]["text"].as_str().unwrap().to_owned();
        let told = format!(
            "You took outage {number} at splitter SP-G: 6 customers affected, whose reports close with it. \
             Go to the site when ready."
        );
        assert_eq!(answer, told);
    }
}
