//! Webhooks, against a local HTTP receiver (`tools/channel-peers/webhook-receiver.js`): signed
//! events in order per ticket, a receiver answering 500 retried without delaying another
//! webhook, the deliveries listed for the SuperAdmin, and addresses a webhook may not reach.

use common::domain::{Region, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{helpers::*, on_both_backends};

const SECRET: &str = "s3cret-of-the-monitoring-system";
const OTHER_SECRET: &str = "another-secret-for-billing";

async fn register(app: &TestApp, url: &str, events: Value, secret: &str) -> String {
    let a =
        app.post("/v1/webhooks", &app.admin, json!({"url": url, "events": events, "secret": secret})).await;
    a.expect(201);
    assert!(a.result().get("secret").is_none(), "the secret is never shown: {}", a.body);
    a.id()
}

async fn step(app: &TestApp, id: &str, token: &str, step: &str, body: Option<Value>) {
    app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/{step}"), Some(token), body)
        .await
        .expect(201);
}

/// The (event, command) of each body received, in order.
fn events_of(received: &[Value]) -> Vec<(String, String)> {
    received
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            (body["event"].as_str().unwrap().to_owned(), body["command"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

on_both_backends! {
    fixture HookReceiver;
    async fn a_webhook_receives_signed_events_in_order_and_a_failing_one_is_retried_without_delaying_it(app, hooks) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let all = json!(["ticket.created", "ticket.changed", "evidence.validated"]);
        let monitoring = register(&app, &hooks.url("monitoring"), all.clone(), SECRET).await;
        let broken = register(&app, &hooks.url("fail-billing"), json!(["ticket.created"]), OTHER_SECRET).await;
        let flaky = register(&app, &hooks.url("flaky-chat"), json!(["ticket.created"]), OTHER_SECRET).await;

        let id = app.post("/v1/tickets", &noc, json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"})).await.id();
        step(&app, &id, &foc, "accept", None).await;
        step(&app, &id, &foc, "onTheWay", None).await;
        step(&app, &id, &foc, "checkedIn", Some(json!({"mediaUrl": format!("https://m/{id}.jpg"), "locationCoordinate": "-6.9,107.6"}))).await;
        app.decide_request(&noc, &id, false, Some("blurry")).await;

        let want: Vec<(String, String)> = [
            ("ticket.created", ""), ("ticket.changed", "accept"), ("ticket.changed", "onTheWay"),
            ("ticket.changed", "checkedIn"), ("ticket.changed", "validate"), ("evidence.validated", ""),
        ].iter().map(|(e, c)| (e.to_string(), c.to_string())).collect();
        wait_until(30, "the monitoring webhook received every event", || async { hooks.received("monitoring", SECRET).await.len() >= want.len() }).await;
        let got = hooks.received("monitoring", SECRET).await;
        assert_eq!(events_of(&got), want, "in order, each once");
        for r in &got {
            assert_eq!(r["signatureValid"], true, "the signature checks with the secret: {r}");
            assert_eq!(r["contentType"], "application/json");
            let body: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            assert_eq!(body["ticket"]["id"], id.as_str());
            assert_eq!(r["event"], body["event"]);
            assert!(body["at"].is_string());
        }
        // The body carries the document as the API served it then.
        let last: Value = serde_json::from_str(got[4]["body"].as_str().unwrap()).unwrap();
        let now = app.get(&format!("/v1/tickets/{id}"), &noc).await.result().clone();
        assert_eq!(last["ticket"]["latestStatus"], now["latestStatus"]);
        assert_eq!(last["ticket"]["ticketLogs"], now["ticketLogs"]);
        let verdict: Value = serde_json::from_str(got[5]["body"].as_str().unwrap()).unwrap();
        assert_eq!(verdict["evidence"]["approved"], false);
        // Under another secret, nothing checks.
        assert!(hooks.received("monitoring", "wrong").await.iter().all(|r| r["signatureValid"] == false));

        // The failing one is tried again and again; the flaky one gets through on its third try.
        wait_until(30, "retries", || async {
            hooks.received("fail-billing", OTHER_SECRET).await.len() >= 3 && hooks.received("flaky-chat", OTHER_SECRET).await.len() >= 3
        }).await;
        let tries = hooks.received("fail-billing", OTHER_SECRET).await;
        assert!(tries.iter().all(|r| r["delivery"] == tries[0]["delivery"] && r["signatureValid"] == true), "the same delivery each time: {tries:#?}");
        let deliveries = |hook: String| {
            let app = &app;
            async move { app.get(&format!("/v1/webhooks/{hook}/deliveries"), &app.admin).await.result().as_array().unwrap().clone() }
        };
        wait_until(10, "the flaky one delivered", || async { deliveries(flaky.clone()).await[0]["state"] == "Delivered" }).await;
        let b = deliveries(broken.clone()).await;
        assert_eq!((b.len(), b[0]["state"].as_str(), b[0]["lastStatus"].as_i64()), (1, Some("Waiting"), Some(500)), "{b:#?}");
        assert!(b[0]["attempts"].as_i64().unwrap() >= 3, "{b:#?}");
        let m = deliveries(monitoring.clone()).await;
        assert_eq!(m.len(), 6);
        assert!(m.iter().all(|d| d["state"] == "Delivered" && d["lastStatus"] == 200 && d["attempts"] == 1), "{m:#?}");
        assert_eq!(m[0]["event"], "evidence.validated", "newest first");
        assert_eq!(got[0]["delivery"], m[5]["id"], "X-CGS-Delivery names the delivery");

        let metric = |series: &'static str| app.metric(series);
        assert_eq!(metric(r#"cgs_webhook_deliveries{event="ticket.changed",state="Delivered"}"#).await, Some(4.0));
        assert_eq!(metric(r#"cgs_webhook_deliveries{event="ticket.created",state="Waiting"}"#).await, Some(1.0), "the failing one");
        // Deleted: nothing more, and what waited is given up.
        app.delete(&format!("/v1/webhooks/{broken}"), &app.admin).await.expect(200);
        app.get(&format!("/v1/webhooks/{broken}"), &app.admin).await.expect(404);
        let listed: Vec<String> = app.get("/v1/webhooks", &app.admin).await.result().as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(listed, [monitoring.clone(), flaky.clone()]);
        app.expect_jobs(common::jobs::DeliverWebhook::QUEUE);
    }
}

on_both_backends! {
    // Only a SuperAdmin registers webhooks, only for http(s) URLs that resolve to public
    // addresses; every refusal is a 4xx that registers nothing.
    async fn a_webhook_to_a_private_address_or_from_anyone_but_the_super_admin_is_refused(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let body = |url: &str| json!({"url": url, "events": ["ticket.created"], "secret": SECRET});
        app.post("/v1/webhooks", &noc, body("https://example.com/hook")).await.expect(403);
        app.get("/v1/webhooks", &noc).await.expect(403);
        for url in [
            "http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.0.0.8/hook", "http://169.254.169.254/latest/meta-data",
            "http://[::1]/hook", "http://[fd00:ec2::254]/", "http://100.64.1.1/", "ftp://example.com/hook", "not a url",
            "http://user:pw@8.8.8.8/hook", "file:///etc/passwd",
        ] {
            let a = app.post("/v1/webhooks", &app.admin, body(url)).await;
            a.expect(400);
            assert!(a.body.to_string().contains("url"), "{url}: {}", a.body);
        }
        for bad in [
            json!({"url": "http://8.8.8.8/hook", "events": [], "secret": SECRET}),
            json!({"url": "http://8.8.8.8/hook", "events": ["ticket.created"], "secret": "short"}),
            json!({"url": "http://8.8.8.8/hook", "events": ["ticket.deleted"], "secret": SECRET}),
        ] {
            let a = app.post("/v1/webhooks", &app.admin, bad.clone()).await;
            assert!(a.status.is_client_error(), "{bad}: {}", a.status);
        }
        assert_eq!(app.get("/v1/webhooks", &app.admin).await.result().as_array().unwrap().len(), 0);
        // A public address registers (nothing is sent until an event).
        let ok = app.post("/v1/webhooks", &app.admin, body("http://8.8.8.8:8080/hook")).await;
        ok.expect(201);
        assert_eq!(ok.result()["events"], json!(["ticket.created"]));
    }
}

on_both_backends! {
    fixture HookReceiver;
    with |s| { sweep_every_second(s); };
    // The sweep's warning and breach reach a webhook that follows them, once each.
    async fn a_webhook_hears_of_an_sla_warning_and_a_breach_once_each(app, hooks) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        register(&app, &hooks.url("sla"), json!(["ticket.sla_warning", "ticket.sla_breached"]), SECRET).await;
        let id = app.sla_ticket(&noc, "SLA-W1").await;
        app.set_due(&id, 10).await;
        wait_until(30, "the warning arrived", || async { hooks.received("sla", SECRET).await.len() == 1 }).await;
        app.set_due(&id, -5).await;
        wait_until(30, "the breach arrived", || async { hooks.received("sla", SECRET).await.len() == 2 }).await;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let got = hooks.received("sla", SECRET).await;
        assert_eq!(events_of(&got), [("ticket.sla_warning".to_owned(), String::new()), ("ticket.sla_breached".to_owned(), String::new())]);
        let breach: Value = serde_json::from_str(got[1]["body"].as_str().unwrap()).unwrap();
        assert_eq!((breach["ticket"]["id"].as_str(), breach["ticket"]["slaType"].as_str()), (Some(id.as_str()), Some("OverSla")));
        assert!(got.iter().all(|r| r["signatureValid"] == true));
    }
}

on_both_backends! {
    fixture HookReceiver;
    // Without mail or Telegram, a webhook that follows escalations still hears of a ticket
    // nobody accepts, level by level; one accepted first is not escalated.
    async fn a_webhook_hears_of_a_ticket_nobody_accepts_level_by_level(app, hooks) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        register(&app, &hooks.url("escalations"), json!(["ticket.escalated"]), SECRET).await;
        let body = json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"});
        let waiting = app.post("/v1/tickets", &noc, body.clone()).await.id();
        let taken = app.post("/v1/tickets", &noc, body).await.id();
        step(&app, &taken, &foc, "accept", None).await;
        for level in 1..=2 {
            app.due_now(common::jobs::Escalate::QUEUE).await;
            wait_until(30, "the escalation arrived", || async { hooks.received("escalations", SECRET).await.len() == level }).await;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let got = hooks.received("escalations", SECRET).await;
        assert_eq!(got.len(), 2, "two levels, nothing for the ticket accepted: {got:#?}");
        for (r, level) in got.iter().zip(1..) {
            let b: Value = serde_json::from_str(r["body"].as_str().unwrap()).unwrap();
            assert_eq!((b["event"].as_str(), b["level"].as_i64(), b["ticket"]["id"].as_str()), (Some("ticket.escalated"), Some(level), Some(waiting.as_str())));
            assert_eq!(b["ticket"]["latestStatus"], "Open");
        }
    }
}
