//! The Firestore sync against a real gRPC Firestore emulator (`tools/firestore-emulator`).

use common::domain::{Region, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{helpers::*, on_both_backends};

async fn api_doc(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/tickets/{id}"), &app.admin).await.result().clone()
}

/// Waits until Firestore holds the API's current version of the ticket, and returns both.
async fn synced(app: &TestApp, emu: &Emulator, project: &str, id: &str) -> (Value, Value) {
    let want = api_doc(app, id).await["version"].clone();
    wait_until(30, "Firestore has the ticket's latest version", || async {
        emu.document(project, "tickets", id).await.is_some_and(|d| d["version"] == want)
    })
    .await;
    (api_doc(app, id).await, emu.document(project, "tickets", id).await.unwrap())
}

/// The document without the durations that count up to the moment it was rendered, its dates
/// as instants.
fn timeless(d: Value) -> Value {
    let mut d = instants(d);
    for key in ["totalTime", "workDuration", "totalPendingDuration", "onTheWayDuration", "acceptedDuration"] {
        d.as_object_mut().unwrap().remove(key);
    }
    d
}

async fn step(app: &TestApp, token: &str, id: &str, path: &str, body: Option<Value>) {
    app.send(Method::POST, &format!("/v1/tickets/{id}/{path}"), Some(token), body).await.expect(201);
}

on_both_backends! {
    fixture (Emulator, String);
    async fn every_change_reaches_firestore_as_the_api_renders_it(app, emu, project) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let id = app.post("/v1/tickets", &noc, json!({"type": "Trouble", "source": "Telegram", "indicationCategory": "FiberCut",
            "networkSegment": "Access", "contactPerson": [{"name": "Budi", "phone": "0812"}]})).await.id();
        let (api, fs) = synced(&app, &emu, &project, &id).await;
        assert_eq!(timeless(fs), timeless(api));
        let evidence = json!({"mediaUrl": "https://m/p.jpg", "locationCoordinate": "-6.9,107.6"});
        for (path, body, needs_approval) in [
            ("ticketStatus/accept", None, false),
            ("ticketStatus/onTheWay", None, false),
            ("ticketStatus/checkedIn", Some(evidence.clone()), true),
            ("taskStatus/jointing", Some(json!({"remark": "splice"})), false),
            ("taskStatus/linkChecking", Some(evidence.clone()), true),
            ("taskStatus/finishing", Some(evidence.clone()), true),
        ] {
            step(&app, &foc, &id, path, body).await;
            let (api, fs) = synced(&app, &emu, &project, &id).await;
            assert_eq!(timeless(fs), timeless(api), "after {path}");
            if needs_approval {
                app.approve_request(&noc, &id).await;
                let (api, fs) = synced(&app, &emu, &project, &id).await;
                assert_eq!(timeless(fs), timeless(api), "after approving {path}");
            }
        }
        let (api, fs) = synced(&app, &emu, &project, &id).await;
        assert_eq!(api["latestStatus"], "Closed");
        assert_eq!(instants(fs), instants(api), "a closed ticket's document is identical, durations included");
        let month = chrono::Utc::now().format("%Y-%m").to_string();
        let count = emu.document(&project, "ticketcount", &month).await.expect("ticketcount");
        assert_eq!(count, json!({"count": 1, "month": chrono::Utc::now().format("%B").to_string(), "year": chrono::Utc::now().format("%Y").to_string().parse::<i64>().unwrap()}));
    }

    async fn changes_made_while_firestore_is_down_converge_when_it_is_back(app, emu, project) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let id = app.post("/v1/tickets", &noc, json!({"type": "Trouble", "source": "Phone", "indicationCategory": "Device", "networkSegment": "Access"})).await.id();
        synced(&app, &emu, &project, &id).await;
        let (grpc, http) = (emu.grpc, emu.http);
        emu.stop();
        // The API does not depend on Firestore: every change is accepted.
        step(&app, &foc, &id, "ticketStatus/accept", None).await;
        step(&app, &foc, &id, "ticketStatus/onTheWay", None).await;
        let second = app.post("/v1/tickets", &noc, json!({"type": "Maintenance", "source": "Email", "indicationCategory": "Bending", "networkSegment": "Backbone"})).await.id();
        // Wait until the sync of these changes has failed at least once against the dead emulator.
        let table = app.jobs_table();
        wait_until(30, "a sync attempt failed while Firestore was down", || async {
            app.scalar(&format!("SELECT COUNT(*) FROM {table} WHERE job_type = 'cgs.sync_ticket' AND status = 'Failed'")).await > 0
        })
        .await;
        // Back, empty (the emulator keeps nothing): both tickets converge to their latest state.
        let emu = Emulator::start_on(grpc, http);
        let (api, fs) = synced(&app, &emu, &project, &id).await;
        assert_eq!(api["latestStatus"], "OnTheWay");
        assert_eq!(timeless(fs), timeless(api));
        let (api, fs) = synced(&app, &emu, &project, &second).await;
        assert_eq!(timeless(fs), timeless(api));
    }

    async fn a_sync_that_fails_every_attempt_is_kept_listed_and_retried(app, emu, project) {
        app.expect_jobs(common::jobs::SyncTicket::QUEUE);
        app.expect_jobs(common::jobs::SyncAccess::QUEUE);
        let (grpc, http) = (emu.grpc, emu.http);
        emu.stop();
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let id = app.post("/v1/tickets", &noc, json!({"type": "Trouble", "source": "Phone", "indicationCategory": "Device", "networkSegment": "Access"})).await.id();
        let failed = || async { app.get("/v1/admin/jobs/failed?limit=100", &app.admin).await };
        // The new user's access sync fails too; the ticket's is the one followed here.
        let ticket_sync = |a: &Answer| a.result().as_array().unwrap().iter().find(|j| j["queue"] == "cgs.sync_ticket").cloned();
        wait_until(90, "a sync job has used up its attempts", || async { ticket_sync(&failed().await).is_some() }).await;
        let job = ticket_sync(&failed().await).unwrap();
        assert_eq!(job["queue"], "cgs.sync_ticket");
        assert_eq!(job["attempts"], job["maxAttempts"]);
        let payload: Value = serde_json::from_str(job["payload"].as_str().unwrap()).unwrap();
        assert_eq!(payload["ticket_id"], id.as_str());
        app.get("/v1/admin/jobs/failed", &noc).await.expect(403);
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(
            metrics.lines().any(|l| l.starts_with("cgs_jobs{queue=\"cgs.sync_ticket\",state=\"failed\"} ") && !l.ends_with(" 0")),
            "{metrics}"
        );
        // Firestore is back; the operator retries the failed job and it goes through.
        let emu = Emulator::start_on(grpc, http);
        let job_id = job["id"].as_str().unwrap();
        app.send(Method::POST, &format!("/v1/admin/jobs/{job_id}/retry"), Some(&noc), None).await.expect(403);
        app.send(Method::POST, &format!("/v1/admin/jobs/{job_id}/retry"), Some(&app.admin), None).await.expect(200);
        app.send(Method::POST, &format!("/v1/admin/jobs/{job_id}/retry"), Some(&app.admin), None).await.expect(404);
        synced(&app, &emu, &project, &id).await;
    }

    async fn an_sla_sweep_syncs_its_tickets_in_batches_and_failures_alone(app, emu, project) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let client = app.post("/v1/clients", &app.admin, crate::master_data::client_body(&app, "SLA-FS").await).await.id();
        let body = json!({"client": client, "type": "Trouble", "source": "Phone", "indicationCategory": "Device", "networkSegment": "Access"});
        let mut late = Vec::new();
        for _ in 0..3 {
            let id = app.post("/v1/tickets", &noc, body.clone()).await.id();
            app.set_due(&id, -5).await;
            late.push(id);
        }
        let on_time = app.post("/v1/tickets", &noc, body).await.id();
        let table = app.jobs_table();
        let jobs = |queue: &'static str, done: bool| {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE job_type = '{queue}' AND (status = 'Done') = {done}");
            let app = &app;
            async move { app.scalar(&sql).await }
        };
        wait_until(30, "the creations are synced", || async {
            jobs("cgs.sync_ticket", false).await == 0 && jobs("cgs.sync_tickets", false).await == 0
        })
        .await;
        let (singles, batches) = (jobs("cgs.sync_ticket", true).await, jobs("cgs.sync_tickets", true).await);
        // Firestore is down while the sweep marks the three: their batch fails, and hands each
        // ticket to a job of its own.
        let (grpc, http) = (emu.grpc, emu.http);
        emu.stop();
        let db = common::db::Db::connect(&app.db_url, 1).await.unwrap();
        let effects = common::jobs::Effects { sync_firestore: true, ..Default::default() };
        let now = common::db::now();
        let swept = common::service::sla::sweep_sla(&db, effects, now, now + chrono::Duration::minutes(30),
            common::db::tickets::SlaCursor::full(), common::service::sla::Batches { size: 100, walks: 2 }, 0).await.unwrap();
        assert_eq!(swept.breached, 3);
        wait_until(30, "the batch handed its tickets on", || async {
            jobs("cgs.sync_tickets", true).await == batches + 1 && jobs("cgs.sync_ticket", false).await == 3
        })
        .await;
        assert_eq!(jobs("cgs.sync_tickets", false).await, 0, "one batch job for the sweep's three tickets");
        // Back: each of the three converges through its own job, and says it is over its SLA.
        let emu = Emulator::start_on(grpc, http);
        for id in &late {
            wait_until(60, "Firestore says the ticket is over its SLA", || async {
                emu.document(&project, "tickets", id).await.is_some_and(|d| d["slaType"] == "OverSla")
            })
            .await;
        }
        // The document is written before its job is recorded done.
        wait_until(30, "the three single jobs are done", || async { jobs("cgs.sync_ticket", true).await == singles + 3 })
            .await;
        assert_eq!(jobs("cgs.sync_ticket", false).await, 0);
        assert!(emu.document(&project, "tickets", &on_time).await.is_none(), "the emulator restarted empty; an untouched ticket is not written again");
    }

    async fn duplicated_sync_jobs_give_the_same_document(app, emu, project) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let id = app.post("/v1/tickets", &noc, json!({"type": "Trouble", "source": "Phone", "indicationCategory": "Device", "networkSegment": "Access"})).await.id();
        let (_, first) = synced(&app, &emu, &project, &id).await;
        let db = common::db::Db::connect(&app.db_url, 1).await.unwrap();
        let mut tx = db.begin_write().await.unwrap();
        for _ in 0..5 {
            let job = common::jobs::SyncTicket { ticket_id: id.parse().unwrap() };
            common::jobs::Job::enqueue(&job, &mut tx).await.unwrap();
        }
        tx.commit().await.unwrap();
        let table = app.jobs_table();
        wait_until(30, "the duplicates ran", || async {
            app.scalar(&format!("SELECT COUNT(*) FROM {table} WHERE job_type = 'cgs.sync_ticket' AND status <> 'Done'")).await == 0
        })
        .await;
        let again = emu.document(&project, "tickets", &id).await.unwrap();
        assert_eq!(timeless(again), timeless(first));
    }
}

/// Reads `tickets/{id}` with Google's Firestore client library (Python) from the test's
/// emulator, with the Python type of every value, and the ids an app's `createdAt >= since`
/// query finds.
fn read_with_google_client(emu: &Emulator, project: &str, id: &str, since: &str) -> Value {
    let out = std::process::Command::new(app_clients_python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../tools/app-clients/read_firestore.py"))
        .args([project, "tickets", id, since])
        .env("FIRESTORE_EMULATOR_HOST", format!("127.0.0.1:{}", emu.grpc))
        .output()
        .expect("running the Firestore client");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the reader prints JSON")
}

/// Checks that `typed` (the Python client's view) holds `api` (the API's JSON) value for value,
/// each with the type an app gets: the contract's `Date` fields as Timestamps of the same
/// instant, everything else as the JSON type says (the `*Time` fields stay strings).
fn assert_typed_as_the_contract_says(api: &Value, typed: &Value, path: &str, date: bool) {
    let (kind, value) = (typed["type"].as_str().unwrap(), &typed["value"]);
    if date && !api.is_null() {
        assert_eq!(kind, "DatetimeWithNanoseconds", "{path} is a Timestamp");
        let want = chrono::DateTime::parse_from_rfc3339(api.as_str().unwrap()).unwrap();
        let got = chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap();
        assert_eq!(got, want, "{path}: the same instant as the API shows");
        return;
    }
    match api {
        Value::Null => assert_eq!(kind, "NoneType", "{path} is null"),
        Value::Bool(_) => assert_eq!((kind, value), ("bool", api), "{path}"),
        Value::Number(_) => assert_eq!((kind, value), ("int", api), "{path}"),
        Value::String(_) => assert_eq!((kind, value), ("str", api), "{path}"),
        Value::Array(items) => {
            assert_eq!(kind, "list", "{path}");
            assert_eq!(items.len(), value.as_array().unwrap().len(), "{path}");
            for (i, (a, t)) in items.iter().zip(value.as_array().unwrap()).enumerate() {
                assert_typed_as_the_contract_says(a, t, &format!("{path}[{i}]"), false);
            }
        }
        Value::Object(fields) => {
            assert_eq!(kind, "dict", "{path}");
            let got = value.as_object().unwrap();
            assert_eq!(fields.keys().collect::<Vec<_>>().len(), got.len(), "{path}: the same keys");
            let in_log = path.starts_with("ticketLogs[");
            for (k, a) in fields {
                let t = got.get(k).unwrap_or_else(|| panic!("{path}.{k} is missing in Firestore"));
                let date = if path.is_empty() {
                    common::document::DATE_FIELDS.contains(&k.as_str())
                } else {
                    in_log && !path.contains('.') && common::document::LOG_DATE_FIELDS.contains(&k.as_str())
                };
                let sub = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                assert_typed_as_the_contract_says(a, t, &sub, date);
            }
        }
    }
}

on_both_backends! {
    fixture (Emulator, String);
    async fn the_apps_read_the_contracts_dates_as_timestamps_with_googles_client(app, emu, project) {
        let since = (chrono::Utc::now() - chrono::Duration::minutes(1)).to_rfc3339();
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let client = app.post("/v1/clients", &app.admin, crate::master_data::client_body(&app, "TS-1").await).await.id();
        let id = app.post("/v1/tickets", &noc, json!({"client": client, "type": "Trouble", "source": "Phone",
            "indicationCategory": "FiberCut", "networkSegment": "Access", "contactPerson": [{"name": "Budi", "phone": "0812"}]})).await.id();
        step(&app, &foc, &id, "ticketStatus/accept", None).await;
        step(&app, &foc, &id, "ticketStatus/onTheWay", None).await;
        // A stored photo whose EXIF has a position and a capture time: the checks' fields reach
        // Firestore with the entry, the capture time as a Timestamp.
        let exif = peers::photos::PhotoExif {
            position: Some((-6.9, 107.6)),
            taken: Some(chrono::Utc::now().format("%Y:%m:%d %H:%M:%S").to_string()),
            offset: Some("+00:00".into()),
        };
        let photo = app.upload(&foc, "image/jpeg", peers::photos::jpeg(Some(&exif), &id)).await;
        photo.expect(201);
        let media_url = photo.result()["mediaUrl"].clone();
        step(&app, &foc, &id, "ticketStatus/checkedIn", Some(json!({"mediaUrl": media_url, "locationCoordinate": "-6.9,107.6"}))).await;
        let (api, _) = synced(&app, &emu, &project, &id).await;
        let read = read_with_google_client(&emu, &project, &id, &since);
        assert_eq!(read["exists"], true);
        let fields = json!({"type": "dict", "value": read["fields"]});
        assert_typed_as_the_contract_says(&api, &fields, "", false);
        // Spot checks of what an app does with them.
        let f = &read["fields"];
        for key in ["createdAt", "updatedAt", "publishedAt", "slaDueAt"] {
            assert_eq!(f[key]["type"], "DatetimeWithNanoseconds", "{key}");
        }
        for key in ["acceptedTime", "departureTime", "checkInTime"] {
            assert_eq!(f[key]["type"], "str", "{key} stays a string, as the contract types it");
        }
        assert!(f["ticketLogs"]["value"].as_array().unwrap().iter().all(|l| l["value"]["timestamp"]["type"] == "DatetimeWithNanoseconds"));
        let request = f["ticketLogs"]["value"].as_array().unwrap().iter().find(|l| l["value"]["evidenceId"]["type"] == "str" && l["value"]["photoTakenAt"]["type"] != "NoneType").expect("the check-in's entry");
        assert_eq!(request["value"]["photoTakenAt"]["type"], "DatetimeWithNanoseconds");
        assert_eq!((request["value"]["distanceMeters"]["type"].as_str(), request["value"]["flags"]["type"].as_str()), (Some("int"), Some("list")));
        assert_eq!(f["noc"]["type"], "dict", "the ticket's NOC is always there");
        assert_eq!(read["queried"], json!([id]), "an app's query on createdAt finds the ticket");
    }
}

// Every user has an `access/{uid}` document the rules check on each read; deactivating, moving
// or demoting a user rewrites it within the worker's sync (seconds), so the user's old Firebase
// token no longer matches it.
on_both_backends! {
    fixture (Emulator, String);
    async fn hostile_a_deactivated_or_demoted_users_firestore_access_ends_with_the_sync(app, emu, project) {
        let access = |id: String| {
            let (emu, project) = (&emu, &project);
            async move { emu.document(project, "access", &id).await }
        };
        let admits = |doc: &Value, role: &str, region: &str| {
            doc["active"] == true && doc["role"] == role && doc["region"] == region
        };
        let (foc, _) = app.user(Role::FOC, Region::West).await;
        wait_until(30, "the new user's access document is written", || async {
            access(foc.clone()).await.is_some_and(|d| admits(&d, "FOC", "West"))
        })
        .await;
        // The first SuperAdmin's too.
        let me = app.get("/v1/users?role=SuperAdmin", &app.admin).await.result()[0]["id"].as_str().unwrap().to_owned();
        wait_until(30, "the admin's access document is written", || async {
            access(me.clone()).await.is_some_and(|d| admits(&d, "SuperAdmin", "West"))
        })
        .await;

        let (supervisor, _) = app.user(Role::FOCSupervisor, Region::West).await;
        let user = app.get(&format!("/v1/users/{supervisor}"), &app.admin).await.result().clone();
        let mut changed = json!({"email": user["email"], "nik": user["nik"], "name": user["name"], "role": "FOC", "region": "East"});
        changed["phoneNumber"] = user["phoneNumber"].clone();
        app.put(&format!("/v1/users/{supervisor}"), &app.admin, changed).await.expect(200);
        app.delete(&format!("/v1/users/{foc}"), &app.admin).await.expect(200);
        let started = std::time::Instant::now();
        wait_until(30, "the deactivated user's access document says so", || async {
            access(foc.clone()).await.is_some_and(|d| d["active"] == false)
        })
        .await;
        eprintln!("access ended {:?} after the deactivation", started.elapsed());
        let moved = access(supervisor.clone()).await.unwrap();
        wait_until(30, "the moved user's access document follows", || async {
            access(supervisor.clone()).await.is_some_and(|d| admits(&d, "FOC", "East"))
        })
        .await;
        assert!(!admits(&access(supervisor).await.unwrap(), "FOCSupervisor", "West"), "{moved}");
    }
}

on_both_backends! {
    fixture (Emulator, String);
    // An outage and its reports reach Firestore as the API renders them: parentId, isOutage,
    // childCount and the element, when they link, when one is given back and when they close.
    async fn an_outage_and_its_reports_reach_firestore_as_the_api_renders_them(app, emu, project) {
        use crate::outages::{customers, network, report};
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (ms, sp) = network(&app, "FS").await;
        let clients = customers(&app, "FS", 3, &ms, &sp).await;
        let mut ids = Vec::new();
        for c in &clients {
            ids.push(app.post("/v1/tickets", &noc, report(c)).await.id());
        }
        let outage = app.get("/v1/outages", &noc).await.result()[0]["id"].as_str().unwrap().to_owned();
        let all: Vec<String> = ids.iter().cloned().chain([outage.clone()]).collect();
        for id in &all {
            let (api, fs) = synced(&app, &emu, &project, id).await;
            assert_eq!(timeless(fs), timeless(api), "{id}");
        }
        let (api, _) = synced(&app, &emu, &project, &outage).await;
        assert_eq!((api["isOutage"].as_bool(), api["childCount"].as_i64(), api["outage"]["name"].as_str()), (Some(true), Some(3), Some("SP-FS")));
        let (api, _) = synced(&app, &emu, &project, &ids[0]).await;
        assert_eq!(api["parentId"].as_str(), Some(outage.as_str()));

        step(&app, &noc, &ids[0], "unlink", None).await;
        let cancel = json!({"cancelCategory": "Duplicate"});
        step(&app, &noc, &outage, "ticketStatus/cancel", Some(cancel)).await;
        for id in &all {
            let (api, fs) = synced(&app, &emu, &project, id).await;
            assert_eq!(timeless(fs.clone()), timeless(api), "{id} after the cancel");
            assert!(fs["parentId"].is_null(), "{id}");
        }
    }
}
