//! The status flow's corner cases through the HTTP app: the NOC's own cancel and pending while a
//! technician's request waits, log entries that carry the keys of their status, and the routes
//! that answer the same with a trailing slash.

use common::domain::{Region, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{helpers::*, on_both_backends};

const EVIDENCE: &str =
    r#"{"mediaUrl": "https://media.test/p.jpg", "locationCoordinate": "-6.914744,107.609810"}"#;

fn evidence() -> Value {
    serde_json::from_str(EVIDENCE).unwrap()
}

async fn act(app: &TestApp, token: &str, id: &str, path: &str, body: Option<Value>) -> Answer {
    app.send(Method::POST, &format!("/v1/tickets/{id}/{path}"), Some(token), body).await
}

async fn doc(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/tickets/{id}"), &app.admin).await.result().clone()
}

/// A West ticket accepted by a fresh FOC, on the way: (NOC token, FOC token, ticket id).
async fn on_the_way(app: &TestApp) -> (String, String, String) {
    let (_, noc) = app.user(Role::NOC, Region::West).await;
    let (_, foc) = app.user(Role::FOC, Region::West).await;
    let id = app
        .post("/v1/tickets", &noc, json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"}))
        .await
        .id();
    act(app, &foc, &id, "ticketStatus/accept", None).await.expect(201);
    act(app, &foc, &id, "ticketStatus/onTheWay", None).await.expect(201);
    (noc, foc, id)
}

/// The log entry of the request that `evidence` names.
fn entry<'a>(d: &'a Value, evidence: &str, card: &str) -> &'a Value {
    d["ticketLogs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["evidenceId"] == evidence && l["cardType"] == card)
        .unwrap_or_else(|| panic!("no {card} entry for {evidence}: {d}"))
}

/// Checks every log entry of a document for the keys the contract says its status must carry.
fn assert_entries_carry_their_keys(d: &Value) {
    for l in d["ticketLogs"].as_array().unwrap() {
        let status = l["statusName"].as_str().unwrap();
        let (evidence, approval, pending) = match status {
            "CheckedIn" | "Closed" | "Canceled" | "Finishing" | "LinkChecking" => (true, true, false),
            "Checking" | "PullingCable" | "Jointing" | "Tidying" => (true, false, false),
            "Pending" => (true, true, true),
            _ => (false, false, false),
        };
        assert_eq!(l["needApproval"], approval, "{status}: {l}");
        if evidence {
            assert!(l["evidenceId"].is_string(), "{status} has an evidenceId: {l}");
        }
        if pending {
            assert!(
                l["pendingInterval"].is_i64()
                    && l["pendingCategory"].is_string()
                    && l["isResumed"].is_boolean(),
                "{l}"
            );
        }
        for key in [
            "evidenceId",
            "needApproval",
            "isApproved",
            "remark",
            "approvalRemark",
            "locationCoordinate",
            "mediaUrl",
            "pendingInterval",
            "pendingCategory",
            "isResumed",
        ] {
            assert!(l.get(key).is_some(), "every entry has `{key}` (null where it does not apply): {l}");
        }
    }
    assert!(d["noc"].is_object(), "the ticket's NOC is always set");
}

on_both_backends! {
    async fn the_nocs_cancel_supersedes_a_waiting_check_in(app) {
        let (noc, foc, id) = on_the_way(&app).await;
        act(&app, &foc, &id, "ticketStatus/checkedIn", Some(evidence())).await.expect(201);
        let waiting = doc(&app, &id).await["ticketLogs"].as_array().unwrap().last().unwrap()["evidenceId"].as_str().unwrap().to_owned();
        // The technician's own requests still wait their turn.
        let a = act(&app, &foc, &id, "ticketStatus/cancel", Some(json!({"cancelCategory": "Duplicate"}))).await;
        a.expect(409);
        assert_eq!(a.code(), "awaiting_validation");
        act(&app, &noc, &id, "ticketStatus/cancel", Some(json!({"cancelCategory": "Duplicate", "remark": "double report"}))).await.expect(201);
        let d = doc(&app, &id).await;
        assert_eq!((d["latestStatus"].as_str(), d["needValidate"].as_bool(), d["isCanceled"].as_bool()), (Some("Closed"), Some(false), Some(true)));
        let request = entry(&d, &waiting, "RequestValidationAction");
        assert_eq!(request["isApproved"], false, "the waiting check-in is closed");
        assert_eq!(request["approvalRemark"], "superseded by the NOC's cancel");
        // The superseded evidence can no longer be validated.
        app.send(Method::POST, &format!("/v1/tickets/{id}/validate/{waiting}/true"), Some(&noc), None).await.expect(409);
        assert_entries_carry_their_keys(&d);
    }

    async fn the_nocs_pending_supersedes_a_waiting_link_check_and_work_resumes_before_it(app) {
        app.expect_jobs(common::jobs::ExpirePending::QUEUE); // the pending's end, with no worker to run it
        let (noc, foc, id) = on_the_way(&app).await;
        act(&app, &foc, &id, "ticketStatus/checkedIn", Some(evidence())).await.expect(201);
        let d = doc(&app, &id).await;
        let ev = d["ticketLogs"].as_array().unwrap().last().unwrap()["evidenceId"].as_str().unwrap().to_owned();
        app.send(Method::POST, &format!("/v1/tickets/{id}/validate/{ev}/true"), Some(&noc), None).await.expect(200);
        act(&app, &foc, &id, "taskStatus/jointing", Some(evidence())).await.expect(201);
        act(&app, &foc, &id, "taskStatus/linkChecking", Some(evidence())).await.expect(201);
        let waiting = doc(&app, &id).await["ticketLogs"].as_array().unwrap().last().unwrap()["evidenceId"].as_str().unwrap().to_owned();
        act(&app, &noc, &id, "ticketStatus/pending", Some(json!({"pendingCategory": "Weather", "pendingInterval": 30}))).await.expect(201);
        let d = doc(&app, &id).await;
        assert_eq!((d["latestStatus"].as_str(), d["needValidate"].as_bool()), (Some("Pending"), Some(false)));
        let request = entry(&d, &waiting, "RequestValidationAction");
        assert_eq!((request["isApproved"].as_bool(), request["approvalRemark"].as_str()), (Some(false), Some("superseded by the NOC's pending")));
        act(&app, &noc, &id, "ticketStatus/resume", None).await.expect(201);
        assert_eq!(doc(&app, &id).await["latestStatus"], "Jointing", "work resumes where it was before the link check");
        assert_entries_carry_their_keys(&doc(&app, &id).await);
    }

    async fn every_entry_of_a_full_flow_carries_the_keys_of_its_status(app) {
        app.expect_jobs(common::jobs::ExpirePending::QUEUE); // the pending's end, with no worker to run it
        let (noc, foc, id) = on_the_way(&app).await;
        let (other_id, _) = app.user(Role::FOC, Region::West).await;
        act(&app, &foc, &id, "ticketStatus/checkedIn", Some(evidence())).await.expect(201);
        // Reassigned while the check-in waits: the entry names the waiting evidence.
        act(&app, &noc, &id, "assign", Some(json!({"focId": other_id}))).await.expect(201);
        let d = doc(&app, &id).await;
        let logs = d["ticketLogs"].as_array().unwrap();
        let (request, reassign) = (&logs[logs.len() - 2], &logs[logs.len() - 1]);
        assert_eq!((reassign["cardType"].as_str(), reassign["evidenceId"].clone()), (Some("ReassignAction"), request["evidenceId"].clone()));
        app.approve_request(&noc, &id).await;
        let d = doc(&app, &id).await;
        assert!(d["ticketLogs"].as_array().unwrap().iter().filter(|l| l["evidenceId"] == request["evidenceId"]).all(|l| l["isApproved"] == true));
        let foc = app.login(d["foc"]["email"].as_str().unwrap(), PASSWORD).await;
        act(&app, &foc, &id, "taskStatus/checking", Some(evidence())).await.expect(201);
        act(&app, &foc, &id, "ticketStatus/pending", Some(json!({"pendingCategory": "WaitingForMaterial", "pendingInterval": 60}))).await.expect(201);
        app.approve_request(&noc, &id).await;
        act(&app, &foc, &id, "ticketStatus/resume", None).await.expect(201);
        act(&app, &foc, &id, "taskStatus/linkChecking", Some(evidence())).await.expect(201);
        app.approve_request(&noc, &id).await;
        act(&app, &noc, &id, "ticketStatus/pending", Some(json!({"pendingCategory": "Weather", "pendingInterval": 5}))).await.expect(201);
        act(&app, &foc, &id, "ticketStatus/resume", None).await.expect(201);
        act(&app, &foc, &id, "taskStatus/finishing", Some(evidence())).await.expect(201);
        app.approve_request(&noc, &id).await;
        let d = doc(&app, &id).await;
        assert_eq!(d["latestStatus"], "Closed");
        let statuses: std::collections::HashSet<&str> = d["ticketLogs"].as_array().unwrap().iter().map(|l| l["statusName"].as_str().unwrap()).collect();
        for s in ["Open", "Accepted", "OnTheWay", "CheckedIn", "OnGoing", "Checking", "Pending", "LinkChecking", "Finishing", "Closed"] {
            assert!(statuses.contains(s), "the flow wrote a {s} entry");
        }
        assert_entries_carry_their_keys(&d);
    }

    async fn every_route_answers_the_same_with_a_trailing_slash(app) {
        app.post("/v1/indications", &app.admin, json!({"category": "FiberCut", "indication": "Kabel putus"})).await.expect(201);
        let plain = app.get("/v1/indications?category=FiberCut", &app.admin).await;
        let slashed = app.get("/v1/indications/?category=FiberCut", &app.admin).await;
        slashed.expect(200);
        assert_eq!(slashed.body, plain.body, "the contract's own spelling");
        assert_eq!(slashed.result().as_array().unwrap().len(), 1);
        let id = app.post("/v1/tickets/", &app.admin, json!({"type": "Trouble", "source": "Phone", "indicationCategory": "Device",
            "networkSegment": "Access", "region": "West"})).await.id();
        for path in ["/v1/areas", "/v1/main_splitters", "/v1/splitters", "/v1/isps", "/v1/clients", "/v1/users", "/v1/tickets",
            &format!("/v1/tickets/{id}"), "/v1/admin/jobs/failed"] {
            let (a, b) = (app.get(path, &app.admin).await, app.get(&format!("{path}/"), &app.admin).await);
            assert_eq!((b.status, &b.body), (a.status, &a.body), "{path}/");
            assert_eq!(a.status, 200, "{path}");
        }
        let period = "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z";
        let (a, b) = (app.get(&format!("/v1/reports/sla?{period}"), &app.admin).await, app.get(&format!("/v1/reports/sla/?{period}"), &app.admin).await);
        a.expect(200);
        assert_eq!(b.body, a.body, "/v1/reports/sla/");
        let health = app.client.get(app.url("/healthz/")).send().await.unwrap();
        assert_eq!(health.status(), 200);
        let login = app.client.post(app.url("/v1/login/")).json(&json!({"email": "nobody@cgs.test", "password": "wrong-password"})).send().await.unwrap();
        assert_eq!(login.status(), 401, "a login at /v1/login/ is a login");
    }
}
