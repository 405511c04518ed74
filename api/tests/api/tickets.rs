use std::collections::HashSet;

use common::domain::{Region, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{helpers::*, master_data::client_body, on_both_backends};

const PHOTO: &str = "https://media.test/p.jpg";
const GPS: &str = "-6.914744,107.609810";

/// Everyone a ticket test needs, in the West region unless said otherwise.
struct Cast {
    noc: String,
    foc_id: String,
    foc: String,
    other_foc_id: String,
    other_foc: String,
    supervisor: String,
    noc_east: String,
    foc_east: String,
    client: String,
}

async fn cast(app: &TestApp) -> Cast {
    let (_, noc) = app.user(Role::NOC, Region::West).await;
    let (foc_id, foc) = app.user(Role::FOC, Region::West).await;
    let (other_foc_id, other_foc) = app.user(Role::FOC, Region::West).await;
    let (_, supervisor) = app.user(Role::FOCSupervisor, Region::West).await;
    let (_, noc_east) = app.user(Role::NOC, Region::East).await;
    let (_, foc_east) = app.user(Role::FOC, Region::East).await;
    let client = app.post("/v1/clients", &app.admin, client_body(app, "T-CID").await).await.id();
    Cast { noc, foc_id, foc, other_foc_id, other_foc, supervisor, noc_east, foc_east, client }
}

fn new_ticket(client: Option<&str>) -> Value {
    json!({
        "client": client, "type": "Trouble", "source": "Whatsapp", "isDraft": false,
        "contactPerson": [{"name": "Budi", "phone": "0812345678"}], "indicationCategory": "FiberCut",
        "indication": "Kabel putus", "networkSegment": "Access", "remark": "urgent"
    })
}

async fn open_ticket(app: &TestApp, c: &Cast) -> String {
    let a = app.post("/v1/tickets", &c.noc, new_ticket(Some(&c.client))).await;
    a.expect(201);
    a.id()
}

async fn act(app: &TestApp, token: &str, id: &str, path: &str, body: Option<Value>) -> Answer {
    app.send(Method::POST, &format!("/v1/tickets/{id}/{path}"), Some(token), body).await
}

async fn doc(app: &TestApp, id: &str) -> Value {
    let a = app.get(&format!("/v1/tickets/{id}"), &app.admin).await;
    a.expect(200);
    a.result().clone()
}

/// The evidence id of the request waiting for validation.
async fn awaiting(app: &TestApp, id: &str) -> String {
    let d = doc(app, id).await;
    assert_eq!(d["needValidate"], true, "{d}");
    let log = d["ticketLogs"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|l| l["needApproval"] == true && l["isApproved"].is_null());
    log.unwrap()["evidenceId"].as_str().unwrap().to_owned()
}

async fn validate(app: &TestApp, token: &str, id: &str, approved: bool) -> Answer {
    let ev = awaiting(app, id).await;
    app.send(
        Method::POST,
        &format!("/v1/tickets/{id}/validate/{ev}/{approved}"),
        Some(token),
        Some(json!({"approvalRemark": "checked"})),
    )
    .await
}

fn evidence(with_gps: bool) -> Option<Value> {
    let mut e = json!({"mediaUrl": PHOTO, "remark": "done"});
    if with_gps {
        e["locationCoordinate"] = json!(GPS);
    }
    Some(e)
}

fn status(d: &Value) -> &str {
    d["latestStatus"].as_str().unwrap()
}

/// Brings a fresh ticket to `OnGoing` with `c.foc` assigned.
async fn on_going(app: &TestApp, c: &Cast) -> String {
    let id = open_ticket(app, c).await;
    act(app, &c.foc, &id, "ticketStatus/accept", None).await.expect(201);
    act(app, &c.foc, &id, "ticketStatus/onTheWay", None).await.expect(201);
    act(app, &c.foc, &id, "ticketStatus/checkedIn", evidence(true)).await.expect(201);
    validate(app, &c.noc, &id, true).await.expect(200);
    id
}

on_both_backends! {
    async fn a_ticket_runs_from_creation_to_closed_with_every_duration(app) {
        let c = cast(&app).await;
        let created = app.post("/v1/tickets", &c.noc, new_ticket(Some(&c.client))).await;
        created.expect(201);
        let r = created.result();
        let month = chrono::Utc::now().format("%Y%m").to_string();
        assert_eq!(r["ticketId"], format!("CGS-{month}-0001"));
        assert_eq!((r["region"].as_str(), r["endUser"].as_str(), r["lastStatus"].as_str()), (Some("West"), Some("PT Client T-CID"), Some("Open")));
        let keys: HashSet<&str> = r.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, HashSet::from(["id", "ticketId", "region", "endUser", "lastStatus", "createdAt", "updatedAt"]));
        let id = created.id();
        act(&app, &c.foc, &id, "ticketStatus/accept", None).await.expect(201);
        act(&app, &c.foc, &id, "ticketStatus/onTheWay", None).await.expect(201);
        act(&app, &c.foc, &id, "ticketStatus/checkedIn", evidence(true)).await.expect(201);
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["needValidate"].as_bool(), d["action"].as_str()), ("CheckedIn", Some(true), Some("validate")));
        validate(&app, &c.noc, &id, true).await.expect(200);
        assert_eq!(status(&doc(&app, &id).await), "OnGoing");
        for step in ["checking", "pullingCable", "jointing", "tidying", "jointing"] {
            let a = act(&app, &c.foc, &id, &format!("taskStatus/{step}"), evidence(false)).await;
            a.expect(201);
        }
        assert_eq!(status(&doc(&app, &id).await), "Jointing");
        act(&app, &c.foc, &id, "taskStatus/finishing", evidence(true)).await.expect(409);
        act(&app, &c.foc, &id, "taskStatus/Lequired", evidence(false)).await.expect(400);
        act(&app, &c.foc, &id, "taskStatus/linkChecking", Some(json!({"remark": "no photo"}))).await.expect(400);
        act(&app, &c.foc, &id, "taskStatus/linkChecking", evidence(false)).await.expect(201);
        validate(&app, &c.noc, &id, true).await.expect(200);
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["isLastLinkChecking"].as_bool()), ("LinkChecking", Some(true)));
        act(&app, &c.foc, &id, "taskStatus/finishing", evidence(true)).await.expect(201);
        let v = validate(&app, &c.noc, &id, true).await;
        v.expect(200);
        assert_eq!(v.result()["lastStatus"], "Closed");

        let d = doc(&app, &id).await;
        assert_eq!(status(&d), "Closed");
        assert_eq!(d["isCanceled"], false);
        for key in ["acceptedTime", "departureTime", "checkInTime", "onGoingTime", "closedTime", "publishedAt"] {
            assert!(d[key].is_string(), "{key} missing: {d}");
        }
        for key in ["acceptedDuration", "onTheWayDuration", "workDuration", "totalPendingDuration", "totalTime"] {
            assert!(d[key].as_i64().is_some_and(|v| v >= 0), "{key}: {}", d[key]);
        }
        assert_eq!(d["sla"], 4, "a Dedicated client has 4 hours");
        assert_eq!(d["slaType"], "UnderSla");
        assert_eq!(d["foc"]["id"], c.foc_id.as_str());
        assert_eq!(d["noc"]["role"], "NOC");
        assert_eq!(d["client"]["cid"], "T-CID");
        assert_eq!(d["client"]["isp"]["initial"], "I-T-CID");
        assert_eq!(d["client"]["ms"]["name"], "MS", "the ticket takes the client's main splitter");
        assert_eq!(d["contactPerson"], json!([{"name": "Budi", "phone": "0812345678"}]));
        let logs = d["ticketLogs"].as_array().unwrap();
        let names: Vec<&str> = logs.iter().map(|l| l["statusName"].as_str().unwrap()).collect();
        assert_eq!(names, ["Open", "Accepted", "OnTheWay", "CheckedIn", "CheckedIn", "OnGoing", "Checking", "PullingCable",
            "Jointing", "Tidying", "Jointing", "LinkChecking", "LinkChecking", "Finishing", "Closed"]);
        let check_in = &logs[3];
        assert_eq!(check_in["cardType"], "RequestValidationAction");
        assert_eq!((check_in["needApproval"].as_bool(), check_in["isApproved"].as_bool()), (Some(true), Some(true)));
        assert_eq!((check_in["mediaUrl"].as_str(), check_in["locationCoordinate"].as_str()), (Some(PHOTO), Some(GPS)));
        assert_eq!(check_in["approvalRemark"], "checked");
        assert_eq!(logs[4]["cardType"], "RequestValidationDone");
        assert_eq!(logs[4]["evidenceId"], check_in["evidenceId"]);
        assert_eq!(logs[6]["needApproval"], false);
        assert!(logs[6]["evidenceId"].is_string(), "task steps carry an evidence id");
        assert_eq!(logs[13]["cardType"], "FinishingAction");
        assert_eq!(logs[1]["bubbleOption"]["name"], "FOC West");
        // The client is in use by the ticket.
        let del = app.delete(&format!("/v1/clients/{}", c.client), &app.admin).await;
        del.expect(409);
        assert_eq!(del.code(), "in_use");
        // Closed: every change is refused now.
        act(&app, &c.foc, &id, "taskStatus/checking", evidence(false)).await.expect(409);
        act(&app, &c.noc, &id, "ticketStatus/cancel", Some(json!({"cancelCategory": "Other"}))).await.expect(409);
    }

    async fn rejected_requests_return_to_the_status_before_them(app) {
        let c = cast(&app).await;
        let id = open_ticket(&app, &c).await;
        act(&app, &c.foc, &id, "ticketStatus/accept", None).await.expect(201);
        act(&app, &c.foc, &id, "ticketStatus/onTheWay", None).await.expect(201);
        act(&app, &c.foc, &id, "ticketStatus/checkedIn", evidence(true)).await.expect(201);
        act(&app, &c.foc, &id, "ticketStatus/pending", Some(json!({"pendingCategory": "Weather", "pendingInterval": 30}))).await.expect(409);
        validate(&app, &c.noc, &id, false).await.expect(200);
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["needValidate"].as_bool()), ("OnTheWay", Some(false)));
        let logs = d["ticketLogs"].as_array().unwrap();
        assert_eq!(logs[3]["isApproved"], false);
        act(&app, &c.foc, &id, "ticketStatus/checkedIn", evidence(true)).await.expect(201);
        validate(&app, &c.noc, &id, true).await.expect(200);
        act(&app, &c.foc, &id, "taskStatus/tidying", evidence(false)).await.expect(201);
        act(&app, &c.foc, &id, "taskStatus/linkChecking", evidence(false)).await.expect(201);
        validate(&app, &c.noc, &id, false).await.expect(200);
        assert_eq!(status(&doc(&app, &id).await), "Tidying");
        act(&app, &c.foc, &id, "taskStatus/linkChecking", evidence(false)).await.expect(201);
        validate(&app, &c.noc, &id, true).await.expect(200);
        act(&app, &c.foc, &id, "taskStatus/finishing", evidence(true)).await.expect(201);
        validate(&app, &c.noc, &id, false).await.expect(200);
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["isLastLinkChecking"].as_bool()), ("LinkChecking", Some(true)));
        act(&app, &c.foc, &id, "ticketStatus/cancel", Some(json!({"cancelCategory": "NoFaultFound", "remark": "fine"}))).await.expect(201);
        validate(&app, &c.noc, &id, false).await.expect(200);
        assert_eq!(status(&doc(&app, &id).await), "LinkChecking");
        act(&app, &c.foc, &id, "ticketStatus/pending", Some(json!({"pendingCategory": "AccessDenied", "pendingInterval": 15}))).await.expect(201);
        validate(&app, &c.noc, &id, false).await.expect(200);
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["totalPendingDuration"].as_i64()), ("LinkChecking", Some(0)));
        act(&app, &c.foc, &id, "ticketStatus/resume", None).await.expect(409);
    }

    async fn an_evidence_is_validated_once_and_only_by_the_regions_noc(app) {
        let c = cast(&app).await;
        let id = open_ticket(&app, &c).await;
        act(&app, &c.foc, &id, "ticketStatus/accept", None).await.expect(201);
        act(&app, &c.foc, &id, "ticketStatus/onTheWay", None).await.expect(201);
        act(&app, &c.foc, &id, "ticketStatus/checkedIn", evidence(true)).await.expect(201);
        let ev = awaiting(&app, &id).await;
        let path = format!("/v1/tickets/{id}/validate/{ev}/true");
        app.send(Method::POST, &path, Some(&c.foc), None).await.expect(403);
        app.send(Method::POST, &path, Some(&c.supervisor), None).await.expect(403);
        app.send(Method::POST, &path, Some(&c.noc_east), None).await.expect(404);
        app.send(Method::POST, &format!("/v1/tickets/{id}/validate/{}/true", uuid::Uuid::new_v4()), Some(&c.noc), None).await.expect(404);
        app.send(Method::POST, &format!("/v1/tickets/{id}/validate/{ev}/maybe"), Some(&c.noc), None).await.expect(400);
        app.send(Method::POST, &path, Some(&c.noc), None).await.expect(200);
        let again = app.send(Method::POST, &path, Some(&c.noc), None).await;
        again.expect(409);
        assert_eq!(again.code(), "already_validated");
    }

    async fn a_pending_is_requested_approved_and_resumed_with_its_real_length(app) {
        app.expect_jobs(common::jobs::ExpirePending::QUEUE); // the pending's end, with no worker to run it
        let c = cast(&app).await;
        let id = on_going(&app, &c).await;
        let working = std::time::Instant::now();
        act(&app, &c.foc, &id, "ticketStatus/resume", None).await.expect(409);
        act(&app, &c.foc, &id, "ticketStatus/pending", Some(json!({"pendingCategory": "WaitingForMaterial", "pendingInterval": 0}))).await.expect(400);
        act(&app, &c.foc, &id, "ticketStatus/pending", Some(json!({"pendingCategory": "Nope", "pendingInterval": 10}))).await.expect(400);
        act(&app, &c.foc, &id, "ticketStatus/pending", Some(json!({"pendingCategory": "WaitingForMaterial", "pendingInterval": 120, "remark": "no splicer"}))).await.expect(201);
        act(&app, &c.foc, &id, "ticketStatus/resume", None).await.expect(409);
        validate(&app, &c.noc, &id, true).await.expect(200);
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["needValidate"].as_bool()), ("Pending", Some(false)));
        act(&app, &c.foc, &id, "taskStatus/checking", evidence(false)).await.expect(409);
        // Twenty minutes later (the clock is moved by editing the start).
        let start = (chrono::Utc::now() - chrono::Duration::minutes(20)).to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        let moved = std::time::Instant::now();
        app.exec(&format!("UPDATE tickets SET pending_started_at = '{start}'")).await;
        act(&app, &c.foc, &id, "ticketStatus/resume", None).await.expect(201);
        // The pending lasted its twenty minutes and the time this test took since (a slow
        // machine's seconds), not a second more.
        let since = moved.elapsed().as_secs() as i64 + 1;
        let d = doc(&app, &id).await;
        assert_eq!(status(&d), "OnGoing", "work goes on where it was");
        let pending = d["ticketLogs"].as_array().unwrap().iter().find(|l| l["statusName"] == "Pending").unwrap().clone();
        assert_eq!((pending["isResumed"].as_bool(), pending["pendingInterval"].as_i64()), (Some(true), Some(20)), "{pending}");
        assert_eq!(pending["pendingCategory"], "WaitingForMaterial");
        let total = d["totalPendingDuration"].as_i64().unwrap();
        assert!((1200..=1200 + since).contains(&total), "{total} (the test took {since} s since)");
        let work = d["workDuration"].as_i64().unwrap();
        assert!(work <= working.elapsed().as_secs() as i64 + 1, "pending is not work: {work}");
    }

    async fn a_pending_resumed_after_its_interval_counts_the_interval_only(app) {
        app.expect_jobs(common::jobs::ExpirePending::QUEUE); // the pending's end, with no worker to run it
        let c = cast(&app).await;
        let id = on_going(&app, &c).await;
        act(&app, &c.noc, &id, "ticketStatus/pending", Some(json!({"pendingCategory": "Weather", "pendingInterval": 30}))).await.expect(201);
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["needValidate"].as_bool()), ("Pending", Some(false)), "the NOC's pending starts at once");
        let start = (chrono::Utc::now() - chrono::Duration::hours(3)).to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        app.exec(&format!("UPDATE tickets SET pending_started_at = '{start}'")).await;
        act(&app, &c.foc, &id, "ticketStatus/resume", None).await.expect(201);
        let d = doc(&app, &id).await;
        assert_eq!(d["totalPendingDuration"], 1800);
        let pending = d["ticketLogs"].as_array().unwrap().iter().find(|l| l["statusName"] == "Pending").unwrap().clone();
        assert_eq!(pending["pendingInterval"], 30);
        assert_eq!(pending["isApproved"], true);
    }

    async fn the_noc_cancels_at_once_and_an_focs_cancel_waits_for_approval(app) {
        let c = cast(&app).await;
        let draft = app.post("/v1/tickets", &c.noc, json!({"type": "Maintenance", "source": "Phone", "isDraft": true,
            "indicationCategory": "Device", "networkSegment": "Backbone"})).await.id();
        act(&app, &c.noc, &draft, "ticketStatus/cancel", Some(json!({"cancelCategory": "Duplicate"}))).await.expect(201);
        let d = doc(&app, &draft).await;
        assert_eq!((status(&d), d["isCanceled"].as_bool()), ("Closed", Some(true)));
        assert_eq!(d["ticketLogs"].as_array().unwrap().last().unwrap()["statusName"], "Canceled", "the record says canceled");

        let id = on_going(&app, &c).await;
        act(&app, &c.other_foc, &id, "ticketStatus/cancel", Some(json!({"cancelCategory": "WrongReport"}))).await.expect(404);
        act(&app, &c.foc, &id, "ticketStatus/cancel", Some(json!({"cancelCategory": "WrongReport", "mediaUrl": PHOTO}))).await.expect(201);
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["needValidate"].as_bool()), ("Canceled", Some(true)));
        validate(&app, &c.noc, &id, true).await.expect(200);
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["isCanceled"].as_bool()), ("Closed", Some(true)));
        let last = d["ticketLogs"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["statusName"].as_str(), last["cancelCategory"].as_str()), (Some("Canceled"), None));
        let request = d["ticketLogs"].as_array().unwrap().iter().find(|l| l["cancelCategory"] == "WrongReport").unwrap().clone();
        assert_eq!(request["isApproved"], true);
    }

    async fn drafts_open_when_published_by_hand_and_future_tickets_wait(app) {
        let c = cast(&app).await;
        let mut body = new_ticket(None);
        body["isDraft"] = json!(true);
        let id = app.post("/v1/tickets", &c.noc, body).await.id();
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["isDraft"].as_bool(), d["slaType"].as_str(), d["client"]["name"].as_str()), ("Draft", Some(true), Some("NonSla"), Some("Non SLA")));
        act(&app, &c.foc, &id, "ticketStatus/accept", None).await.expect(409);
        act(&app, &c.foc, &id, "publish", None).await.expect(404);
        act(&app, &c.noc_east, &id, "publish", None).await.expect(404);
        act(&app, &c.supervisor, &id, "publish", None).await.expect(404);
        act(&app, &c.noc, &id, "publish", None).await.expect(201);
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["isDraft"].as_bool()), ("Open", Some(false)));
        assert!(d["publishedAt"].is_string());
        act(&app, &c.noc, &id, "publish", None).await.expect(409);

        let later = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
        let mut body = new_ticket(Some(&c.client));
        body["publishedAt"] = json!(later);
        let id = app.post("/v1/tickets", &c.noc, body).await.id();
        let d = doc(&app, &id).await;
        assert_eq!(status(&d), "Draft", "a future publishedAt keeps it a draft until then");
        assert_eq!(chrono::DateTime::parse_from_rfc3339(d["publishedAt"].as_str().unwrap()).unwrap().timestamp(), chrono::DateTime::parse_from_rfc3339(&later).unwrap().timestamp());
    }

    async fn assignment_and_reassignment_are_logged(app) {
        let c = cast(&app).await;
        let id = open_ticket(&app, &c).await;
        let (noc_id, _) = app.user(Role::NOC, Region::West).await;
        let (east_foc_id, _) = app.user(Role::FOC, Region::East).await;
        for bad in [noc_id.as_str(), east_foc_id.as_str(), &uuid::Uuid::new_v4().to_string()] {
            let a = act(&app, &c.supervisor, &id, "assign", Some(json!({"focId": bad}))).await;
            a.expect(400);
            assert_eq!(a.body["details"][0]["field"], "focId");
        }
        act(&app, &c.foc, &id, "assign", Some(json!({"focId": c.other_foc_id}))).await.expect(403);
        act(&app, &c.noc_east, &id, "assign", Some(json!({"focId": c.foc_id}))).await.expect(404);
        act(&app, &c.supervisor, &id, "assign", Some(json!({"focId": c.foc_id}))).await.expect(201);
        let d = doc(&app, &id).await;
        assert_eq!((status(&d), d["foc"]["id"].as_str()), ("Accepted", Some(c.foc_id.as_str())));
        act(&app, &c.noc, &id, "assign", Some(json!({"focId": c.foc_id}))).await.expect(409);
        act(&app, &c.noc, &id, "assign", Some(json!({"focId": c.other_foc_id}))).await.expect(201);
        let d = doc(&app, &id).await;
        assert_eq!(d["foc"]["id"], c.other_foc_id.as_str());
        let last = d["ticketLogs"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["cardType"], "ReassignAction");
        assert_eq!(last["focBeforeReassigned"]["id"], c.foc_id.as_str());
        assert_eq!(last["focBeforeReassigned"]["role"], "FOC");
        assert!(last["evidenceId"].is_string());
        // The old FOC no longer sees it, the new one works on it.
        app.get(&format!("/v1/tickets/{id}"), &c.foc).await.expect(404);
        act(&app, &c.other_foc, &id, "ticketStatus/onTheWay", None).await.expect(201);
        // A deactivated FOC keeps its name on the ticket, which now needs reassigning.
        assert_eq!(doc(&app, &id).await["needReassign"], false);
        app.delete(&format!("/v1/users/{}", c.other_foc_id), &app.admin).await.expect(200);
        let d = doc(&app, &id).await;
        assert_eq!((d["needReassign"].as_bool(), d["foc"]["name"].as_str()), (Some(true), Some("FOC West")));
        act(&app, &c.noc, &id, "assign", Some(json!({"focId": c.foc_id}))).await.expect(201);
        assert_eq!(doc(&app, &id).await["needReassign"], false);
    }

    async fn a_draft_is_edited_by_the_nocs_of_its_region_while_it_is_a_draft(app) {
        let c = cast(&app).await;
        let mut body = json!({"type": "Trouble", "source": "Telegram", "isDraft": true,
            "indicationCategory": "Device", "networkSegment": "Access", "remark": "Internet mati"});
        let id = app.post("/v1/tickets", &c.noc, body.clone()).await.id();
        let first = doc(&app, &id).await;
        let put = |token: &str, body: Value| {
            let (path, token) = (format!("/v1/tickets/{id}"), token.to_owned());
            let app = &app;
            async move { app.send(Method::PUT, &path, Some(&token), Some(body)).await }
        };
        // The NOC classifies the report and links the client.
        let mut edit = new_ticket(Some(&c.client));
        edit["isDraft"] = json!(true);
        edit["type"] = json!("Maintenance");
        edit["networkSegment"] = json!("Backbone");
        edit["source"] = json!("Telegram");
        let a = put(&c.noc, edit.clone()).await;
        a.expect(200);
        assert_eq!(a.result()["ticketId"], first["ticketId"]);
        let d = doc(&app, &id).await;
        assert_eq!((d["latestStatus"].as_str(), d["type"].as_str(), d["networkSegment"].as_str()), (Some("Draft"), Some("Maintenance"), Some("Backbone")));
        assert_eq!((d["indicationCategory"].as_str(), d["indication"].as_str(), d["remark"].as_str()), (Some("FiberCut"), Some("Kabel putus"), Some("urgent")));
        assert_eq!(d["client"]["id"], c.client.as_str());
        assert_ne!(d["client"]["name"], first["client"]["name"]);
        assert_eq!(d["version"].as_i64(), first["version"].as_i64().map(|v| v + 1));
        // The search finds the draft by its new end user, not by its old one.
        let found = |name: &Value| {
            let path = format!("/v1/tickets?endUser={}", name.as_str().unwrap().replace(' ', "%20"));
            let app = &app;
            let (token, id) = (c.noc.clone(), id.clone());
            async move {
                let a = app.get(&path, &token).await;
                a.result().as_array().unwrap().iter().any(|t| t["id"] == id.as_str())
            }
        };
        assert!(found(&d["client"]["name"]).await, "found by {}", d["client"]["name"]);
        assert!(!found(&first["client"]["name"]).await, "not by {}", first["client"]["name"]);
        assert_eq!((d["noc"]["id"].as_str(), d["ticketLogs"].as_array().unwrap().len()), (first["noc"]["id"].as_str(), 1));
        // Opening is publish's job; bad input and strangers change nothing.
        body["isDraft"] = json!(false);
        put(&c.noc, body.clone()).await.expect(400);
        put(&c.noc_east, edit.clone()).await.expect(404);
        put(&c.foc, edit.clone()).await.expect(404);
        put(&c.supervisor, edit.clone()).await.expect(404);
        let mut bad = edit.clone();
        bad["networkSegment"] = json!("Nowhere");
        put(&c.noc, bad).await.expect(400);
        assert_eq!(doc(&app, &id).await["version"], d["version"]);
        // A future publication time schedules it; published, it is no longer edited.
        let later = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
        let mut scheduled = edit.clone();
        scheduled["isDraft"] = json!(false);
        scheduled["publishedAt"] = json!(later);
        put(&app.admin, scheduled).await.expect(200);
        let d = doc(&app, &id).await;
        assert_eq!((d["latestStatus"].as_str(), d["publishedAt"].is_string()), (Some("Draft"), true));
        act(&app, &c.noc, &id, "publish", None).await.expect(201);
        let a = put(&c.noc, edit).await;
        a.expect(409);
        assert_eq!(a.code(), "not_a_draft");
    }

    async fn lists_are_scoped_by_role_and_filtered(app) {
        let c = cast(&app).await;
        let open = open_ticket(&app, &c).await;
        let mine = on_going(&app, &c).await;
        let draft = app.post("/v1/tickets", &c.noc, json!({"type": "Maintenance", "source": "Email", "isDraft": true,
            "indicationCategory": "Device", "networkSegment": "Fishbone"})).await.id();
        let east = app.post("/v1/tickets", &c.noc_east, json!({"type": "Trouble", "source": "Phone",
            "indicationCategory": "Bending", "networkSegment": "Access"})).await.id();
        let ids = |a: &Answer| -> HashSet<String> {
            a.result().as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
        };
        let set = |v: &[&String]| -> HashSet<String> { v.iter().map(|s| s.to_string()).collect() };
        assert_eq!(ids(&app.get("/v1/tickets", &app.admin).await), set(&[&open, &mine, &draft, &east]));
        assert_eq!(ids(&app.get("/v1/tickets", &c.noc).await), set(&[&open, &mine, &draft]));
        assert_eq!(ids(&app.get("/v1/tickets", &c.supervisor).await), set(&[&open, &mine]));
        assert_eq!(ids(&app.get("/v1/tickets", &c.foc).await), set(&[&open, &mine]));
        assert_eq!(ids(&app.get("/v1/tickets", &c.other_foc).await), set(&[&open]));
        assert_eq!(ids(&app.get("/v1/tickets", &c.foc_east).await), set(&[&east]));
        // The list and the single read agree.
        for (token, hidden) in [(&c.other_foc, &mine), (&c.foc_east, &open), (&c.supervisor, &draft), (&c.noc, &east)] {
            app.get(&format!("/v1/tickets/{hidden}"), token).await.expect(404);
        }
        let newest = app.get("/v1/tickets", &app.admin).await;
        assert_eq!(newest.result()[0]["id"], east.as_str(), "newest first");
        assert_eq!(ids(&app.get("/v1/tickets?latestStatus=OnGoing", &app.admin).await), set(&[&mine]));
        assert_eq!(ids(&app.get("/v1/tickets?type=Maintenance", &app.admin).await), set(&[&draft]));
        assert_eq!(ids(&app.get("/v1/tickets?region=East", &app.admin).await), set(&[&east]));
        assert_eq!(ids(&app.get("/v1/tickets?endUser=client%20t-cid", &app.admin).await), set(&[&open, &mine]));
        assert_eq!(ids(&app.get("/v1/tickets?area=CITY-T-CID", &app.admin).await), set(&[&open, &mine]));
        assert_eq!(ids(&app.get("/v1/tickets?agingTime=non", &app.admin).await), set(&[&draft, &east]));
        assert_eq!(ids(&app.get("/v1/tickets?agingTime=under", &app.admin).await), set(&[&open, &mine]));
        assert!(ids(&app.get("/v1/tickets?agingTime=over", &app.admin).await).is_empty());
        // Five hours later the Dedicated client's 4-hour SLA is over.
        let past = (chrono::Utc::now() - chrono::Duration::hours(5)).to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        app.exec(&format!("UPDATE tickets SET sla_due_at = '{past}' WHERE id = {}", app.sql_uuid(&open))).await;
        assert_eq!(ids(&app.get("/v1/tickets?agingTime=over", &app.admin).await), set(&[&open]));
        assert_eq!(doc(&app, &open).await["slaType"], "OverSla");
        let page = app.get("/v1/tickets?limit=2&offset=1", &app.admin).await;
        assert_eq!(page.body["data"]["meta"], json!({"total": 4, "limit": 2, "offset": 1, "totalExact": true}));
        app.get("/v1/tickets?agingTime=late", &app.admin).await.expect(400);
        app.get("/v1/tickets?latestStatus=Done", &app.admin).await.expect(400);
    }

    async fn the_end_user_search_pages_newest_first_within_the_callers_scope(app) {
        let c = cast(&app).await;
        let a = app.post("/v1/clients", &app.admin, client_body(&app, "SR-1").await).await.id();
        let b = app.post("/v1/clients", &app.admin, client_body(&app, "SR-2").await).await.id();
        // Two customers of the West and tickets without a client ("Non SLA") in both regions.
        for client in [Some(&a), Some(&b), None, Some(&a), Some(&c.client), None, Some(&b), Some(&a)] {
            app.post("/v1/tickets", &c.noc, new_ticket(client.map(String::as_str))).await.expect(201);
        }
        for _ in 0..3 {
            app.post("/v1/tickets", &c.noc_east, new_ticket(None)).await.expect(201);
        }
        let on_going = on_going(&app, &c).await;
        // What each caller's search must answer: its whole list, newest first, filtered here.
        let ids = |a: &Answer| -> Vec<String> {
            a.expect(200);
            a.result().as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect()
        };
        let searches = [
            ("client%20sr", "client sr", ""),
            ("PT%20CLIENT", "pt client", ""),
            ("non%20sla", "non sla", ""),
            ("non%20sla", "non sla", "&region=East"),
            ("sr-2", "sr-2", "&region=West"),
            ("client", "client", "&latestStatus=OnGoing"),
            ("%25", "%", ""),
        ];
        for (token, who) in [(&app.admin, "admin"), (&c.noc, "noc"), (&c.noc_east, "noc east"), (&c.foc, "foc")] {
            for (query, needle, more) in searches {
                let all = app.get(&format!("/v1/tickets?limit=100{more}"), token).await;
                let expected: Vec<String> = all
                    .result()
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|t| t["endUser"].as_str().unwrap().to_lowercase().contains(needle))
                    .map(|t| t["id"].as_str().unwrap().to_owned())
                    .collect();
                let mut got = Vec::new();
                for offset in (0..=expected.len()).step_by(3) {
                    let page = app.get(&format!("/v1/tickets?endUser={query}{more}&limit=3&offset={offset}"), token).await;
                    let meta = json!({"total": expected.len(), "limit": 3, "offset": offset, "totalExact": true});
                    assert_eq!(page.body["data"]["meta"], meta, "{who} {query}{more}");
                    got.extend(ids(&page));
                }
                assert_eq!(got, expected, "{who} searching {query}{more}");
            }
        }
        let west_ongoing = app.get("/v1/tickets?endUser=client%20t-cid&latestStatus=OnGoing", &c.noc).await;
        assert_eq!(ids(&west_ongoing), vec![on_going]);
        // A search finds nothing of another region's, and a draft moved to another region moves.
        assert!(ids(&app.get("/v1/tickets?endUser=client%20sr", &c.noc_east).await).is_empty());
        let mut draft = new_ticket(None);
        draft["isDraft"] = json!(true);
        draft["region"] = json!("West");
        let moved = app.post("/v1/tickets", &app.admin, draft.clone()).await.id();
        let found_by = |token: String| {
            let (app, moved) = (&app, moved.clone());
            async move { ids(&app.get("/v1/tickets?endUser=non%20sla&limit=100", &token).await).contains(&moved) }
        };
        assert_eq!((found_by(c.noc.clone()).await, found_by(c.noc_east.clone()).await), (true, false));
        draft["region"] = json!("East");
        app.send(Method::PUT, &format!("/v1/tickets/{moved}"), Some(&app.admin), Some(draft)).await.expect(200);
        assert_eq!((found_by(c.noc.clone()).await, found_by(c.noc_east.clone()).await), (false, true));
    }

    async fn only_the_nocs_create_tickets_and_of_their_own_region(app) {
        let c = cast(&app).await;
        for token in [&c.foc, &c.supervisor] {
            app.post("/v1/tickets", token, new_ticket(None)).await.expect(403);
        }
        app.post("/v1/tickets", &c.noc_east, new_ticket(Some(&c.client))).await.expect(403);
        let mut body = new_ticket(None);
        body["region"] = json!("East");
        app.post("/v1/tickets", &c.noc, body.clone()).await.expect(403);
        app.post("/v1/tickets", &app.admin, new_ticket(None)).await.expect(400);
        let a = app.post("/v1/tickets", &app.admin, body).await;
        a.expect(201);
        assert_eq!(a.result()["region"], "East");
        let mut bad = new_ticket(Some(&uuid::Uuid::new_v4().to_string()));
        bad["contactPerson"] = json!([{"name": "", "phone": "1"}]);
        let a = app.post("/v1/tickets", &c.noc, bad).await;
        a.expect(400);
        let fields: Vec<&str> = a.body["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["contactPerson[0].name", "client"]);
        for (field, value) in [("type", json!("Fire")), ("source", json!("Fax")), ("networkSegment", json!(1)), ("isDraft", json!("yes"))] {
            let mut b = new_ticket(None);
            b[field] = value;
            app.post("/v1/tickets", &c.noc, b).await.expect(400);
        }
        assert_eq!(app.get("/v1/tickets", &app.admin).await.body["data"]["meta"]["total"], 1);
    }

    async fn steps_need_their_evidence(app) {
        let c = cast(&app).await;
        let id = open_ticket(&app, &c).await;
        act(&app, &c.foc, &id, "ticketStatus/accept", None).await.expect(201);
        act(&app, &c.foc, &id, "ticketStatus/onTheWay", None).await.expect(201);
        for body in [json!({"mediaUrl": PHOTO}), json!({"locationCoordinate": GPS}), json!({"mediaUrl": PHOTO, "locationCoordinate": "north"})] {
            act(&app, &c.foc, &id, "ticketStatus/checkedIn", Some(body)).await.expect(400);
        }
        assert_eq!(status(&doc(&app, &id).await), "OnTheWay");
    }

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
        let d = doc(&app, &id).await;
        let accepted: Vec<&Value> = d["ticketLogs"].as_array().unwrap().iter().filter(|l| l["statusName"] == "Accepted").collect();
        assert_eq!(accepted.len(), 1);
    }

    async fn ten_validations_of_one_evidence_at_once_give_one_verdict(app) {
        let c = cast(&app).await;
        let id = open_ticket(&app, &c).await;
        act(&app, &c.foc, &id, "ticketStatus/accept", None).await.expect(201);
        act(&app, &c.foc, &id, "ticketStatus/onTheWay", None).await.expect(201);
        act(&app, &c.foc, &id, "ticketStatus/checkedIn", evidence(true)).await.expect(201);
        let ev = awaiting(&app, &id).await;
        let paths: Vec<String> = (0..10).map(|i| format!("/v1/tickets/{id}/validate/{ev}/{}", i % 2 == 0)).collect();
        let results = futures_join(paths.iter().map(|p| app.send(Method::POST, p, Some(&c.noc), None))).await;
        let codes: Vec<u16> = results.iter().map(|a| a.status.as_u16()).collect();
        assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
        assert_eq!(codes.iter().filter(|c| **c == 409).count(), 9, "{codes:?}");
        let d = doc(&app, &id).await;
        let verdicts = d["ticketLogs"].as_array().unwrap().iter().filter(|l| l["cardType"] == "RequestValidationDone").count();
        assert_eq!(verdicts, 1);
    }

    async fn fifty_creations_at_once_get_distinct_contiguous_numbers(app) {
        let c = cast(&app).await;
        let results = futures_join((0..50).map(|_| app.post("/v1/tickets", &c.noc, new_ticket(None)))).await;
        let mut numbers: Vec<u32> = results
            .iter()
            .map(|a| {
                a.expect(201);
                a.result()["ticketId"].as_str().unwrap().rsplit('-').next().unwrap().parse().unwrap()
            })
            .collect();
        numbers.sort();
        assert_eq!(numbers, (1..=50).collect::<Vec<u32>>());
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

    async fn an_foc_sees_open_tickets_of_its_region_and_its_own_only(app) {
        let c = cast(&app).await;
        let id = open_ticket(&app, &c).await;
        app.get(&format!("/v1/tickets/{id}"), &c.foc).await.expect(200);
        app.get(&format!("/v1/tickets/{id}"), &c.foc_east).await.expect(404);
        act(&app, &c.foc_east, &id, "ticketStatus/accept", None).await.expect(404);
        act(&app, &c.noc, &id, "ticketStatus/accept", None).await.expect(403);
        act(&app, &c.foc, &id, "ticketStatus/accept", None).await.expect(201);
        let taken = act(&app, &c.other_foc, &id, "ticketStatus/accept", None).await;
        taken.expect(409);
        assert_eq!(taken.code(), "already_taken");
        act(&app, &c.other_foc, &id, "ticketStatus/onTheWay", None).await.expect(404);
        act(&app, &c.supervisor, &id, "ticketStatus/onTheWay", None).await.expect(403);
        app.get(&format!("/v1/tickets/{id}"), &c.supervisor).await.expect(200);
    }
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

/// Past `CGS_LIST_COUNT_BOUND` matches beyond the offset the list stops counting and says so;
/// below it the total is exact, filters and scope applied before the bound.
async fn the_list_count_is_exact_up_to_its_bound(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| s.list_count_bound = 3).await else { return };
    let c = cast(&app).await;
    for _ in 0..5 {
        open_ticket(&app, &c).await;
    }
    app.post(
        "/v1/tickets",
        &c.noc_east,
        json!({"type": "Trouble", "source": "Phone",
        "indicationCategory": "Bending", "networkSegment": "Access"}),
    )
    .await
    .expect(201);
    let meta = |a: &Answer| a.body["data"]["meta"].clone();
    let all = app.get("/v1/tickets?limit=2", &app.admin).await;
    assert_eq!(meta(&all), json!({"total": 3, "limit": 2, "offset": 0, "totalExact": false}));
    assert_eq!(all.result().as_array().unwrap().len(), 2);
    // The bound counts from the offset: a later page still knows there is more.
    let later = app.get("/v1/tickets?limit=2&offset=2", &app.admin).await;
    assert_eq!(meta(&later), json!({"total": 5, "limit": 2, "offset": 2, "totalExact": false}));
    let east = app.get("/v1/tickets", &c.noc_east).await;
    assert_eq!(meta(&east), json!({"total": 1, "limit": 20, "offset": 0, "totalExact": true}));
    let west_offset = app.get("/v1/tickets?offset=3", &c.noc).await;
    assert_eq!(meta(&west_offset), json!({"total": 5, "limit": 20, "offset": 3, "totalExact": true}));
    assert_eq!(west_offset.result().as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_count_is_exact_up_to_its_bound_sqlite() {
    the_list_count_is_exact_up_to_its_bound(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_count_is_exact_up_to_its_bound_postgres() {
    the_list_count_is_exact_up_to_its_bound(Backend::Postgres).await
}
