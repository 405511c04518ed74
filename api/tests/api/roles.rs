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
