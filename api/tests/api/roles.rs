//! Who may do what: every write and every ticket operation against every role.

use common::domain::{Region, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{helpers::*, master_data::client_body, on_both_backends};

/// Every write operation with a valid body: (method, path, body).
async fn write_operations(app: &TestApp) -> Vec<(Method, String, Option<Value>)> {
    let (user, _) = app.user(Role::FOC, Region::West).await;
    let area = app.area(Region::West, "ROLEAREA").await;
    let ms =
        app.post("/v1/main_splitters", &app.admin, json!({"name": "MS", "coordinate": "1,1"})).await.id();
    let sp = app.post("/v1/splitters", &app.admin, json!({"name": "SP", "coordinate": "1,1"})).await.id();
    let isp =
        app.post("/v1/isps", &app.admin, json!({"name": "I", "initial": "ROLE", "brand": "B"})).await.id();
    let ind =
        app.post("/v1/indications", &app.admin, json!({"category": "Device", "indication": "x"})).await.id();
    let client_b = client_body(app, "ROLE-CID").await;
    let client = app.post("/v1/clients", &app.admin, client_b.clone()).await.id();
    let n = uuid::Uuid::new_v4().simple().to_string();
    let new_user = json!({"email": format!("{n}@cgs.test"), "password": PASSWORD, "rePassword": PASSWORD, "nik": n,
                          "name": "x", "role": "FOC", "region": "West"});
    let mut user_update = new_user.clone();
    user_update["email"] = json!(format!("u{n}@cgs.test"));
    user_update["nik"] = json!(format!("u{n}"));
    let mut client_new = client_b.clone();
    client_new["cid"] = json!("ROLE-CID-2");
    let area_b = json!({"region": "East", "name": "NEWAREA", "initial": "N"});
    let spl_b = json!({"name": "N", "coordinate": "3,3"});
    let isp_b = json!({"name": "N", "initial": "NEW", "brand": "B"});
    let ind_b = json!({"category": "Bending", "indication": "y"});
    vec![
        (Method::POST, "/v1/users".into(), Some(new_user)),
        (Method::PUT, format!("/v1/users/{user}"), Some(user_update)),
        (Method::POST, "/v1/areas".into(), Some(area_b.clone())),
        (
            Method::PUT,
            format!("/v1/areas/{area}"),
            Some(json!({"region": "West", "name": "ROLEAREA2", "initial": "R"})),
        ),
        (Method::POST, "/v1/main_splitters".into(), Some(spl_b.clone())),
        (Method::PUT, format!("/v1/main_splitters/{ms}"), Some(spl_b.clone())),
        (Method::POST, "/v1/splitters".into(), Some(spl_b.clone())),
        (Method::PUT, format!("/v1/splitters/{sp}"), Some(spl_b)),
        (Method::POST, "/v1/isps".into(), Some(isp_b)),
        (
            Method::PUT,
            format!("/v1/isps/{isp}"),
            Some(json!({"name": "I2", "initial": "ROLE", "brand": "B"})),
        ),
        (Method::POST, "/v1/indications".into(), Some(ind_b.clone())),
        (Method::PUT, format!("/v1/indications/{ind}"), Some(ind_b)),
        (Method::POST, "/v1/clients".into(), Some(client_new)),
        (Method::PUT, format!("/v1/clients/{client}"), Some(client_b)),
        // Deletes last: the client first, so that what it references is free.
        (Method::DELETE, format!("/v1/clients/{client}"), None),
        (Method::DELETE, format!("/v1/users/{user}"), None),
        (Method::DELETE, format!("/v1/main_splitters/{ms}"), None),
        (Method::DELETE, format!("/v1/splitters/{sp}"), None),
        (Method::DELETE, format!("/v1/isps/{isp}"), None),
        (Method::DELETE, format!("/v1/indications/{ind}"), None),
    ]
}

on_both_backends! {
    async fn only_a_super_admin_writes_users_and_master_data(app) {
        let ops = write_operations(&app).await;
        for role in [Role::NOC, Role::FOCSupervisor, Role::FOC] {
            let (_, token) = app.user(role, Region::West).await;
            for (method, path, body) in &ops {
                let a = app.send(method.clone(), path, Some(&token), body.clone()).await;
                a.expect(403);
                assert_eq!(a.code(), "forbidden", "{role} {method} {path}");
            }
        }
        // Nothing the refused calls tried is visible; the admin's calls then all succeed.
        assert_eq!(app.get("/v1/areas?q=newarea", &app.admin).await.body["data"]["meta"]["total"], 0);
        for (method, path, body) in &ops {
            let a = app.send(method.clone(), path, Some(&app.admin), body.clone()).await;
            let want = if *method == Method::POST { 201 } else { 200 };
            a.expect(want);
        }
    }

    async fn clients_are_read_by_region_and_by_the_super_admin_all(app) {
        let west = app.post("/v1/clients", &app.admin, crate::master_data::client_body(&app, "WEST-1").await).await.id();
        let mut body = crate::master_data::client_body(&app, "EAST-1").await;
        body["region"] = json!("East");
        body["city"] = json!(app.area(Region::East, "EAST-CITY").await);
        let east = app.post("/v1/clients", &app.admin, body).await.id();
        let ids = |a: &Answer| -> Vec<String> {
            a.result().as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect()
        };
        for role in Role::ALL {
            let (_, token) = app.user(*role, Region::West).await;
            let listed = app.get("/v1/clients", &token).await;
            listed.expect(200);
            let asked_east = app.get("/v1/clients?region=East", &token).await;
            app.get(&format!("/v1/clients/{west}"), &token).await.expect(200);
            if *role == Role::SuperAdmin {
                assert_eq!(ids(&listed).len(), 2, "{role}");
                assert_eq!(ids(&asked_east), vec![east.clone()], "{role}");
                app.get(&format!("/v1/clients/{east}"), &token).await.expect(200);
            } else {
                assert_eq!(ids(&listed), vec![west.clone()], "{role}");
                assert_eq!(listed.body["data"]["meta"]["total"], 1, "{role}");
                assert!(ids(&asked_east).is_empty(), "{role}");
                app.get(&format!("/v1/clients/{east}"), &token).await.expect(404);
            }
        }
    }

    async fn every_role_reads_master_data(app) {
        let area = app.area(Region::East, "READ").await;
        for role in Role::ALL {
            let (_, token) = app.user(*role, Region::West).await;
            for path in ["/v1/areas", "/v1/main_splitters", "/v1/splitters", "/v1/isps", "/v1/indications", "/v1/clients"] {
                app.get(path, &token).await.expect(200);
            }
            app.get(&format!("/v1/areas/{area}"), &token).await.expect(200);
        }
    }
}

/// The state a ticket operation needs before it is tried.
#[derive(Clone, Copy, Debug)]
enum Needs {
    Nothing,
    Draft,
    Open,
    /// Accepted by the West technician.
    Accepted,
    /// Checked in by the West technician, waiting for the NOC.
    CheckedIn,
    /// On going with the West technician.
    OnGoing,
}

/// The callers of the ticket role table, in its column order.
struct Callers {
    admin: String,
    noc: String,
    noc_east: String,
    supervisor: String,
    foc: String,
    foc_id: String,
    other_foc: String,
    foc_east: String,
}

const PHOTO_GPS: &str = r#"{"mediaUrl": "https://m/p.jpg", "locationCoordinate": "-6.9,107.6"}"#;

/// A West ticket brought to `needs` through the API; `None` for `Nothing`.
async fn ticket_in(app: &TestApp, c: &Callers, needs: Needs) -> Option<String> {
    let body = |draft: bool| json!({"type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access", "isDraft": draft});
    let act = |id: &str, path: &str, token: &str, body: Option<Value>| {
        let path = format!("/v1/tickets/{id}/{path}");
        let token = token.to_owned();
        async move { app.send(Method::POST, &path, Some(&token), body).await }
    };
    let id = match needs {
        Needs::Nothing => return None,
        Needs::Draft => return Some(app.post("/v1/tickets", &c.noc, body(true)).await.id()),
        _ => app.post("/v1/tickets", &c.noc, body(false)).await.id(),
    };
    if matches!(needs, Needs::Open) {
        return Some(id);
    }
    act(&id, "ticketStatus/accept", &c.foc, None).await.expect(201);
    if matches!(needs, Needs::Accepted) {
        return Some(id);
    }
    act(&id, "ticketStatus/onTheWay", &c.foc, None).await.expect(201);
    act(&id, "ticketStatus/checkedIn", &c.foc, Some(serde_json::from_str(PHOTO_GPS).unwrap()))
        .await
        .expect(201);
    if matches!(needs, Needs::CheckedIn) {
        return Some(id);
    }
    let doc = app.get(&format!("/v1/tickets/{id}"), &app.admin).await;
    let ev = doc.result()["ticketLogs"].as_array().unwrap().last().unwrap()["evidenceId"]
        .as_str()
        .unwrap()
        .to_owned();
    act(&id, &format!("validate/{ev}/true"), &c.noc, None).await.expect(200);
    Some(id)
}

on_both_backends! {
    async fn every_ticket_operation_against_every_role_follows_the_role_table(app) {
        app.expect_jobs(common::jobs::ExpirePending::QUEUE); // the pending's end, with no worker to run it
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, noc_east) = app.user(Role::NOC, Region::East).await;
        let (_, supervisor) = app.user(Role::FOCSupervisor, Region::West).await;
        let (foc_id, foc) = app.user(Role::FOC, Region::West).await;
        let (_, other_foc) = app.user(Role::FOC, Region::West).await;
        let (_, foc_east) = app.user(Role::FOC, Region::East).await;
        let c = Callers { admin: app.admin.clone(), noc, noc_east, supervisor, foc, foc_id, other_foc, foc_east };
        let evidence = || Some(serde_json::from_str::<Value>(PHOTO_GPS).unwrap());
        let assign = json!({"focId": c.foc_id});
        let pending = json!({"pendingCategory": "Weather", "pendingInterval": 30, "remark": "rain"});
        let cancel = json!({"cancelCategory": "CustomerRequest", "remark": "no"});
        let create = json!({"type": "Trouble", "source": "Phone", "region": "West", "indicationCategory": "FiberCut", "networkSegment": "Access"});
        // Expected status per caller: SuperAdmin, NOC West, NOC East, FOCSupervisor West,
        // the assigned FOC West, another FOC West, an FOC East. 404: the caller may not see the
        // ticket; 403: it sees it but may not do this.
        #[allow(clippy::type_complexity)]
        let table: Vec<(&str, Needs, Option<Value>, [u16; 7])> = vec![
            ("", Needs::Nothing, Some(create), [201, 201, 403, 403, 403, 403, 403]),
            ("publish", Needs::Draft, None, [201, 201, 404, 404, 404, 404, 404]),
            ("ticketStatus/accept", Needs::Open, None, [403, 403, 404, 201, 201, 201, 404]),
            ("assign", Needs::Open, Some(assign), [201, 201, 404, 201, 403, 403, 404]),
            ("ticketStatus/onTheWay", Needs::Accepted, None, [403, 403, 404, 403, 201, 404, 404]),
            ("ticketStatus/checkedIn", Needs::Accepted, evidence(), [403, 403, 404, 403, 409, 404, 404]),
            ("taskStatus/checking", Needs::OnGoing, evidence(), [403, 403, 404, 403, 201, 404, 404]),
            ("ticketStatus/pending", Needs::OnGoing, Some(pending), [201, 201, 404, 403, 201, 404, 404]),
            ("ticketStatus/cancel", Needs::OnGoing, Some(cancel), [201, 201, 404, 403, 201, 404, 404]),
            ("validate", Needs::CheckedIn, None, [200, 200, 404, 403, 403, 404, 404]),
        ];
        let callers = [&c.admin, &c.noc, &c.noc_east, &c.supervisor, &c.foc, &c.other_foc, &c.foc_east];
        let names = ["SuperAdmin", "NOC West", "NOC East", "FOCSupervisor West", "assigned FOC", "other FOC West", "FOC East"];
        let mut wrong = vec![];
        for (op, needs, body, expected) in &table {
            for (i, token) in callers.iter().enumerate() {
                // A fresh ticket per cell: a success changes the state the next caller needs.
                let id = ticket_in(&app, &c, *needs).await;
                let path = match (&id, *op) {
                    (None, _) => "/v1/tickets".to_owned(),
                    (Some(id), "validate") => {
                        let doc = app.get(&format!("/v1/tickets/{id}"), &app.admin).await;
                        let ev = doc.result()["ticketLogs"].as_array().unwrap().last().unwrap()["evidenceId"].as_str().unwrap().to_owned();
                        format!("/v1/tickets/{id}/validate/{ev}/true")
                    }
                    (Some(id), op) => format!("/v1/tickets/{id}/{op}"),
                };
                let got = app.send(Method::POST, &path, Some(token), body.clone()).await.status.as_u16();
                if got != expected[i] {
                    wrong.push(format!("{op} by {}: {got}, the table says {}", names[i], expected[i]));
                }
            }
        }
        // Editing a draft: its region's NOC and the SuperAdmin; nobody else sees a draft.
        let edit = json!({"type": "Maintenance", "source": "Phone", "indicationCategory": "Device", "networkSegment": "Access", "isDraft": true});
        for (i, token) in callers.iter().enumerate() {
            let id = ticket_in(&app, &c, Needs::Draft).await.unwrap();
            let got = app.send(Method::PUT, &format!("/v1/tickets/{id}"), Some(token), Some(edit.clone())).await.status.as_u16();
            let expected = [200, 200, 404, 404, 404, 404, 404][i];
            if got != expected {
                wrong.push(format!("edit a draft by {}: {got}, the table says {expected}", names[i]));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
        // Reads: the ticket of another region is invisible; one of the own region follows the rule.
        let open = ticket_in(&app, &c, Needs::Open).await.unwrap();
        let ongoing = ticket_in(&app, &c, Needs::OnGoing).await.unwrap();
        for (token, open_seen, ongoing_seen) in [
            (&c.admin, 200, 200),
            (&c.noc, 200, 200),
            (&c.noc_east, 404, 404),
            (&c.supervisor, 200, 200),
            (&c.foc, 200, 200),
            (&c.other_foc, 200, 404),
            (&c.foc_east, 404, 404),
        ] {
            assert_eq!(app.get(&format!("/v1/tickets/{open}"), token).await.status.as_u16(), open_seen);
            assert_eq!(app.get(&format!("/v1/tickets/{ongoing}"), token).await.status.as_u16(), ongoing_seen);
        }
    }
}
