//! The ticket flow through the API: creation to closing, requests and verdicts, pending, cancel,
//! reassignment; `drafts.rs` drafts and their publication, `lists.rs` the list and its search,
//! `races.rs` concurrent commands and idempotency, `evidence.rs` the checks of evidence and the
//! NOC's validation queue.

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

/// A new ticket its technician accepted, travelled to and checked in on: (ticket id, the
/// check-in's evidence id, waiting for the NOC).
async fn checked_in(app: &TestApp, c: &Cast) -> (String, String) {
    let id = open_ticket(app, c).await;
    act(app, &c.foc, &id, "ticketStatus/accept", None).await.expect(201);
    act(app, &c.foc, &id, "ticketStatus/onTheWay", None).await.expect(201);
    act(app, &c.foc, &id, "ticketStatus/checkedIn", evidence(true)).await.expect(201);
    let ev = awaiting(app, &id).await;
    (id, ev)
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

mod drafts;
mod evidence;
mod lists;
mod races;

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
        let (id, ev) = checked_in(&app, &c).await;
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

/// On PostgreSQL a document's ticket and log are read in one statement, the log put together by
/// the database as JSON; SQLite reads them statement by statement. Both readings of one ticket,
/// with a client, a reassignment, a verdict, a pending and a photo used before, render the same
/// document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_whose_log_is_read_as_json_is_the_one_read_statement_by_statement() {
    use common::{db::tickets, document};
    let Some(app) = spawn_app(Backend::Postgres).await else { return };
    app.expect_jobs(common::jobs::ExpirePending::QUEUE); // the pending's end, with no worker to run it
    let c = cast(&app).await;
    on_going(&app, &c).await;
    let id = on_going(&app, &c).await; // its check-in's photo was the first ticket's
    act(&app, &c.noc, &id, "assign", Some(json!({"focId": c.other_foc_id}))).await.expect(201);
    act(
        &app,
        &c.noc,
        &id,
        "ticketStatus/pending",
        Some(json!({"pendingCategory": "Weather", "pendingInterval": 30, "remark": "rain"})),
    )
    .await
    .expect(201);

    let db = common::db::Db::connect(&app.db_url, 2).await.unwrap();
    let mut tx = db.read().await.unwrap();
    let uuid: uuid::Uuid = id.parse().unwrap();
    let one = tickets::with_log(&mut tx, uuid).await.unwrap().expect("the ticket");
    let parts = tickets::with_log_by_statements(&mut tx, uuid).await.unwrap().expect("the ticket");
    assert!(tickets::with_log(&mut tx, uuid::Uuid::new_v4()).await.unwrap().is_none());
    tx.commit().await.unwrap();
    db.close().await;

    let now = chrono::Utc::now();
    let render = |w: tickets::WithLog| document::render(&document::TicketView::from(w), now);
    let (one, parts) = (render(one), render(parts));
    assert_eq!(one, parts);
    assert!(one.client.cid.is_some() && one.foc.is_some(), "{one:?}");
    let logs = &one.ticket_logs;
    assert!(logs.iter().any(|l| l.foc_before_reassigned.is_some()), "{logs:?}");
    assert!(logs.iter().any(|l| l.reused_from.is_some()), "{logs:?}");
    assert!(logs.iter().any(|l| l.approval_remark.as_deref() == Some("checked")), "{logs:?}");
    assert!(logs.iter().any(|l| l.pending_category.is_some()), "{logs:?}");
}
