//! Commands at once: one winner of many accepts, one verdict of many validations, distinct
//! numbers for concurrent creations; a retry with the same Idempotency-Key replays.

use super::*;

on_both_backends! {
    async fn twenty_technicians_accepting_at_once_give_one_winner(app) {
        let c = cast(&app).await;
        let id = open_ticket(&app, &c).await;
        let mut tokens = vec![];
        for _ in 0..20 {
            tokens.push(app.user(Role::FOC, Region::West).await.1);
        }
        let results = futures_join(tokens.iter().map(|t| act(&app, t, &id, "ticketStatus/accept", None))).await;
        let codes: Vec<u16> = results.iter().map(|a| a.status.as_u16()).collect();
        assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
        assert_eq!(codes.iter().filter(|c| **c == 409).count(), 19, "{codes:?}");
        // A loser read the ticket before the winner's write (its write was refused whole) or after.
        let lost: Vec<&str> = results.iter().filter(|a| a.status == 409).map(|a| a.code()).collect();
        assert!(lost.iter().all(|c| ["concurrent_change", "already_taken"].contains(c)), "{lost:?}");
        let d = doc(&app, &id).await;
        let accepted: Vec<&Value> = d["ticketLogs"].as_array().unwrap().iter().filter(|l| l["statusName"] == "Accepted").collect();
        assert_eq!(accepted.len(), 1);
    }

    async fn ten_validations_of_one_evidence_at_once_give_one_verdict(app) {
        let c = cast(&app).await;
        let (id, ev) = checked_in(&app, &c).await;
        let paths: Vec<String> = (0..10).map(|i| format!("/v1/tickets/{id}/validate/{ev}/{}", i % 2 == 0)).collect();
        let results = futures_join(paths.iter().map(|p| app.send(Method::POST, p, Some(&c.noc), None))).await;
        let codes: Vec<u16> = results.iter().map(|a| a.status.as_u16()).collect();
        assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
        assert_eq!(codes.iter().filter(|c| **c == 409).count(), 9, "{codes:?}");
        let lost: Vec<&str> = results.iter().filter(|a| a.status == 409).map(|a| a.code()).collect();
        assert!(lost.iter().all(|c| ["concurrent_change", "already_validated"].contains(c)), "{lost:?}");
        let d = doc(&app, &id).await;
        let verdicts = d["ticketLogs"].as_array().unwrap().iter().filter(|l| l["cardType"] == "RequestValidationDone").count();
        assert_eq!(verdicts, 1);
    }

    async fn fifty_creations_at_once_get_distinct_contiguous_numbers(app) {
        let c = cast(&app).await;
        let results = futures_join((0..50).map(|_| app.post("/v1/tickets", &c.noc, new_ticket(None)))).await;
        assert_eq!(created_numbers(&results), (1..=50).collect::<Vec<u32>>());
    }

    async fn creations_with_and_without_a_key_at_once_get_contiguous_numbers_and_like_documents(app) {
        // On PostgreSQL a creation without a key is one statement that commits by itself; one
        // with a key sends that statement in the transaction its claim began; one that a
        // webhook hears of is inserted, then numbered, before its delivery is written.
        let c = cast(&app).await;
        let create = |i: usize| {
            let mut req = app.client.post(app.url("/v1/tickets")).bearer_auth(&c.noc).json(&new_ticket(None));
            if i.is_multiple_of(2) {
                req = req.header("Idempotency-Key", format!("mixed-{i}"));
            }
            async move { TestApp::answer(req.send().await.unwrap()).await }
        };
        let results = futures_join((0..40).map(create)).await;
        assert_eq!(created_numbers(&results), (1..=40).collect::<Vec<u32>>());
        // Both ways write the same ticket: its document differs only in its id, number and times.
        fn strip(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    m.retain(|k, _| !matches!(k.as_str(), "id" | "ticketId" | "documentId" | "timestamp") && !k.ends_with("At"));
                    m.values_mut().for_each(strip);
                }
                Value::Array(a) => a.iter_mut().for_each(strip),
                _ => {}
            }
        }
        let hook = json!({"url": "http://8.8.8.8:8080/hook", "events": ["ticket.created"], "secret": "a-secret-of-enough-length"});
        app.post("/v1/webhooks", &app.admin, hook).await.expect(201);
        app.expect_jobs(common::jobs::DeliverWebhook::QUEUE); // its delivery, with no worker to run it
        let heard = app.post("/v1/tickets", &c.noc, new_ticket(None)).await;
        assert!(heard.expect(201).result()["ticketId"].as_str().unwrap().ends_with("-0041"));
        let mut docs = Vec::new();
        for id in [results[0].id(), results[1].id(), heard.id()] {
            let mut d = doc(&app, &id).await;
            assert_eq!(d["ticketLogs"].as_array().unwrap().len(), 1, "{d}");
            strip(&mut d);
            docs.push(d);
        }
        assert_eq!(docs[0], docs[1]);
        assert_eq!(docs[2], docs[1]);
        // And all are in the live feed's log, with the NOC's region and the ticket's status.
        assert_eq!(app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ticket_events").await, 41);
        let named = "SELECT CAST(COUNT(*) AS BIGINT) FROM ticket_events \
                     WHERE region = 'West' AND status = 'Open' AND foc_id IS NULL";
        assert_eq!(app.scalar(named).await, 41);
    }

    async fn a_retry_with_the_same_idempotency_key_replays_and_changes_nothing(app) {
        let c = cast(&app).await;
        let send = |key: &'static str, body: Value| {
            let req = app.client.post(app.url("/v1/tickets")).bearer_auth(&c.noc).header("Idempotency-Key", key).json(&body);
            async move { TestApp::answer(req.send().await.unwrap()).await }
        };
        let first = send("create-1", new_ticket(None)).await;
        first.expect(201);
        let again = send("create-1", new_ticket(None)).await;
        again.expect(201);
        assert_eq!(again.result(), first.result());
        assert_eq!(app.get("/v1/tickets", &app.admin).await.body["data"]["meta"]["total"], 1);
        let mut other = new_ticket(None);
        other["remark"] = json!("different");
        let clash = send("create-1", other).await;
        clash.expect(409);
        assert_eq!(clash.code(), "idempotency_key_reused");
        // Concurrent retries of one status change: one change, the same answer.
        let id = first.id();
        let accept = || {
            let req = app.client.post(app.url(&format!("/v1/tickets/{id}/ticketStatus/accept"))).bearer_auth(&c.foc).header("Idempotency-Key", "acc-1");
            async move { TestApp::answer(req.send().await.unwrap()).await }
        };
        let answers = futures_join((0..5).map(|_| accept())).await;
        for a in &answers {
            a.expect(201);
            assert_eq!(a.result(), answers[0].result());
        }
        let d = doc(&app, &id).await;
        assert_eq!(d["ticketLogs"].as_array().unwrap().len(), 2, "one Open and one Accepted entry");
        // Keys are per user: another user's same key is a new request (and the ticket is taken).
        let other = app.client.post(app.url(&format!("/v1/tickets/{id}/ticketStatus/accept"))).bearer_auth(&c.other_foc).header("Idempotency-Key", "acc-1").send().await.unwrap();
        TestApp::answer(other).await.expect(409);
        let long = app.client.post(app.url("/v1/tickets")).bearer_auth(&c.noc).header("Idempotency-Key", "k".repeat(201)).json(&new_ticket(None)).send().await.unwrap();
        TestApp::answer(long).await.expect(400);
    }
}

/// The counts in the numbers of the tickets `results` created (each a 201), in order.
fn created_numbers(results: &[Answer]) -> Vec<u32> {
    let mut numbers: Vec<u32> = results
        .iter()
        .map(|a| {
            a.expect(201);
            a.result()["ticketId"].as_str().unwrap().rsplit('-').next().unwrap().parse().unwrap()
        })
        .collect();
    numbers.sort();
    numbers
}

/// Runs the futures concurrently and returns their outputs in order.
async fn futures_join<F: std::future::Future<Output = Answer>>(
    futures: impl Iterator<Item = F>,
) -> Vec<Answer> {
    let handles: Vec<_> = futures.collect();
    let mut out = Vec::with_capacity(handles.len());
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = handles.into_iter().map(Box::pin).collect();
    let mut done: Vec<Option<Answer>> = (0..pinned.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in pinned.iter_mut().enumerate() {
            if done[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(a) => done[i] = Some(a),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.extend(done.into_iter().map(Option::unwrap));
    out
}
