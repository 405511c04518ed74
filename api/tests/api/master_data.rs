//! The catalogue and clients: CRUD, references, unique keys, deletes of referenced rows, lists.

use common::domain::Region;
use serde_json::{Value, json};

use crate::{helpers::*, on_both_backends};

/// A resource path, a body to create it and a body to update it.
fn resources() -> Vec<(&'static str, Value, Value)> {
    vec![
        (
            "/v1/areas",
            json!({"region": "West", "name": "BANDUNG", "initial": "BDG"}),
            json!({"region": "West", "name": "CIMAHI", "initial": "CMH"}),
        ),
        (
            "/v1/main_splitters",
            json!({"name": "MAKMUR", "coordinate": "1.23124123151,-0.32413123"}),
            json!({"name": "MAKMUR 2", "coordinate": "-6.9,107.6"}),
        ),
        (
            "/v1/splitters",
            json!({"name": "PALLADIUM", "coordinate": "1.23124123151,-0.32413123"}),
            json!({"name": "PALLADIUM 2", "coordinate": "-6.9,107.6"}),
        ),
        (
            "/v1/isps",
            json!({"name": "ADIDAYA INFOCOM LESTARI, PT / AIL / WIZNET", "initial": "AIL", "brand": "WIZNET"}),
            json!({"name": "PALLADIUM", "initial": "AIL", "brand": "WIZNET"}),
        ),
        (
            "/v1/indications",
            json!({"category": "FiberCut", "indication": "Ketabrak truk"}),
            json!({"category": "FiberCut", "indication": "Ketabrak singa"}),
        ),
    ]
}

/// Creates the rows a client references and returns a full client body.
pub async fn client_body(app: &TestApp, cid: &str) -> Value {
    let city = app.area(Region::West, &format!("CITY-{cid}")).await;
    let isp = app
        .post("/v1/isps", &app.admin, json!({"name": "ISP", "initial": format!("I-{cid}"), "brand": "B"}))
        .await
        .id();
    let ms =
        app.post("/v1/main_splitters", &app.admin, json!({"name": "MS", "coordinate": "1,1"})).await.id();
    let sp = app.post("/v1/splitters", &app.admin, json!({"name": "SP", "coordinate": "2,2"})).await.id();
    json!({
        "cid": cid, "customerType": "Dedicated", "pop": "POP-1", "name": format!("PT Client {cid}"), "userCode": "U1",
        "isp": isp, "status": "Active", "region": "West", "city": city, "address": "Jl. Merdeka 1",
        "coordinate": "-6.914744,107.609810", "activeDate": "2026-01-02T03:04:05Z", "service": "FTTX",
        "bandwidth": 100.5, "bandwidthUnit": "Mbps", "ms": ms, "splitter": sp, "deviceType": "ONT",
        "macAddress": "00:11:22:33:44:55", "signal": "-20 dBm", "vlan": "100", "ipMonitoring": "10.0.0.1",
        "epon": "EPON-1", "remark": "VIP"
    })
}

/// Every key of `sent` comes back with the same value (references come back as objects).
fn assert_echoes(sent: &Value, got: &Value) {
    for (k, v) in sent.as_object().unwrap() {
        let back = &got[k];
        if back.is_object() && v.is_string() {
            assert_eq!(back["id"], *v, "{k}");
        } else if k == "activeDate" {
            let a = chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
            let b = chrono::DateTime::parse_from_rfc3339(back.as_str().unwrap()).unwrap();
            assert_eq!(a, b, "{k}");
        } else {
            assert_eq!(back, v, "{k} in {got}");
        }
    }
}

on_both_backends! {
    async fn each_master_data_collection_supports_create_get_list_update_delete(app) {
        for (path, create, update) in resources() {
            let c = app.post(path, &app.admin, create.clone()).await;
            c.expect(201);
            assert_echoes(&create, c.result());
            assert!(c.result()["createdAt"].is_string() && c.result()["updatedAt"].is_string(), "{path}");
            let id = c.id();
            let g = app.get(&format!("{path}/{id}"), &app.admin).await;
            g.expect(200);
            assert_eq!(g.result(), c.result(), "{path}");
            let l = app.get(path, &app.admin).await;
            l.expect(200);
            assert_eq!(l.body["data"]["meta"]["total"], 1, "{path}");
            assert_eq!(l.result()[0]["id"], id.as_str());
            let u = app.put(&format!("{path}/{id}"), &app.admin, update.clone()).await;
            u.expect(200);
            assert_echoes(&update, u.result());
            let d = app.delete(&format!("{path}/{id}"), &app.admin).await;
            d.expect(200);
            assert_eq!(d.result()["id"], id.as_str());
            app.get(&format!("{path}/{id}"), &app.admin).await.expect(404);
            app.put(&format!("{path}/{id}"), &app.admin, update).await.expect(404);
            app.delete(&format!("{path}/{id}"), &app.admin).await.expect(404);
        }
    }

    async fn a_client_embeds_what_it_references(app) {
        let body = client_body(&app, "CID-1").await;
        let c = app.post("/v1/clients", &app.admin, body.clone()).await;
        c.expect(201);
        let r = c.result();
        assert_echoes(&body, r);
        assert_eq!(r["isp"]["initial"], "I-CID-1");
        assert_eq!(r["city"]["name"], "CITY-CID-1");
        assert_eq!(r["city"]["region"], "West");
        assert_eq!(r["ms"]["coordinate"], "1,1");
        assert_eq!(r["splitter"]["name"], "SP");
        let id = c.id();
        app.get(&format!("/v1/clients/{id}"), &app.admin).await.expect(200);
        let mut changed = body.clone();
        changed["status"] = json!("Dismantle");
        changed["isp"] = Value::Null;
        let u = app.put(&format!("/v1/clients/{id}"), &app.admin, changed).await;
        u.expect(200);
        assert_eq!(u.result()["status"], "Dismantle");
        assert!(u.result()["isp"].is_null());
        app.delete(&format!("/v1/clients/{id}"), &app.admin).await.expect(200);
    }

    async fn a_client_needs_existing_references_in_its_region(app) {
        let mut body = client_body(&app, "CID-2").await;
        body["isp"] = json!(uuid::Uuid::new_v4());
        body["ms"] = json!(uuid::Uuid::new_v4());
        body["region"] = json!("East");
        let a = app.post("/v1/clients", &app.admin, body).await;
        a.expect(400);
        let fields: Vec<&str> = a.body["details"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["isp", "city", "ms"]);
        assert_eq!(app.get("/v1/clients", &app.admin).await.body["data"]["meta"]["total"], 0, "nothing was written");
    }

    async fn unique_keys_answer_409(app) {
        app.post("/v1/areas", &app.admin, json!({"region": "West", "name": "BANDUNG", "initial": "BDG"})).await.expect(201);
        let dup = app.post("/v1/areas", &app.admin, json!({"region": "West", "name": "BANDUNG", "initial": "X"})).await;
        dup.expect(409);
        assert_eq!(dup.code(), "duplicate");
        app.post("/v1/areas", &app.admin, json!({"region": "East", "name": "BANDUNG", "initial": "BDG"})).await.expect(201);
        app.post("/v1/isps", &app.admin, json!({"name": "A", "initial": "AIL", "brand": "W"})).await.expect(201);
        app.post("/v1/isps", &app.admin, json!({"name": "B", "initial": "AIL", "brand": "W"})).await.expect(409);
        let body = client_body(&app, "CID-3").await;
        app.post("/v1/clients", &app.admin, body.clone()).await.expect(201);
        let again = app.post("/v1/clients", &app.admin, body).await;
        again.expect(409);
        assert!(again.body["message"].as_str().unwrap().contains("cid"));
    }

    async fn deleting_a_referenced_row_answers_409_and_keeps_it(app) {
        let body = client_body(&app, "CID-4").await;
        let client = app.post("/v1/clients", &app.admin, body.clone()).await.id();
        for (path, key) in [("/v1/areas", "city"), ("/v1/isps", "isp"), ("/v1/main_splitters", "ms"), ("/v1/splitters", "splitter")] {
            let id = body[key].as_str().unwrap();
            let a = app.delete(&format!("{path}/{id}"), &app.admin).await;
            a.expect(409);
            assert_eq!(a.code(), "in_use");
            app.get(&format!("{path}/{id}"), &app.admin).await.expect(200);
        }
        let area = app.area(Region::West, "USED").await;
        let n = uuid::Uuid::new_v4().simple().to_string();
        app.post("/v1/users", &app.admin, json!({"email": format!("{n}@cgs.test"), "password": PASSWORD, "rePassword": PASSWORD,
            "nik": n, "name": "x", "role": "FOC", "region": "West", "area": "USED"})).await.expect(201);
        app.delete(&format!("/v1/areas/{area}"), &app.admin).await.expect(409);
        app.delete(&format!("/v1/clients/{client}"), &app.admin).await.expect(200);
    }

    async fn master_data_lists_filter_and_page(app) {
        for (region, name) in [("West", "BANDUNG"), ("West", "BOGOR"), ("East", "SURABAYA")] {
            app.post("/v1/areas", &app.admin, json!({"region": region, "name": name, "initial": "X"})).await.expect(201);
        }
        let a = app.get("/v1/areas?region=West", &app.admin).await;
        assert_eq!(a.body["data"]["meta"]["total"], 2);
        let a = app.get("/v1/areas?q=bog", &app.admin).await;
        assert_eq!(a.result()[0]["name"], "BOGOR");
        let a = app.get("/v1/areas?limit=1&offset=1", &app.admin).await;
        assert_eq!(a.body["data"]["meta"], json!({"total": 3, "limit": 1, "offset": 1, "totalExact": true}));
        assert_eq!(a.result().as_array().unwrap().len(), 1);
        for (cat, text) in [("FiberCut", "Ketabrak truk"), ("Device", "ONT mati"), ("FiberCut", "Digigit tikus")] {
            app.post("/v1/indications", &app.admin, json!({"category": cat, "indication": text})).await.expect(201);
        }
        let a = app.get("/v1/indications?category=FiberCut", &app.admin).await;
        assert_eq!(a.body["data"]["meta"]["total"], 2);
        let a = app.get("/v1/indications?category=Device&q=ont", &app.admin).await;
        assert_eq!(a.result()[0]["indication"], "ONT mati");
        app.get("/v1/indications?category=Nope", &app.admin).await.expect(400);
        let body = client_body(&app, "CID-5").await;
        app.post("/v1/clients", &app.admin, body).await.expect(201);
        assert_eq!(app.get("/v1/clients?region=West&status=Active&customerType=Dedicated&q=cid-5", &app.admin).await.body["data"]["meta"]["total"], 1);
        assert_eq!(app.get("/v1/clients?region=East", &app.admin).await.body["data"]["meta"]["total"], 0);
    }
}

on_both_backends! {
    async fn of_two_deletes_of_one_row_at_once_one_answers_404(app) {
        for round in 0..5 {
            let id = app.area(Region::West, &format!("Race{round}")).await;
            let path = format!("/v1/areas/{id}");
            let (a, b) = tokio::join!(app.delete(&path, &app.admin), app.delete(&path, &app.admin));
            let mut codes = [a.status.as_u16(), b.status.as_u16()];
            codes.sort();
            assert_eq!(codes, [200, 404], "round {round}: {} {}", a.body, b.body);
            app.get(&path, &app.admin).await.expect(404);
        }
    }
}
