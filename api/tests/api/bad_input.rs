//! Bad input: invalid, malformed and oversized bodies, bad paths and unknown routes answer 4xx in the envelope and change nothing.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{helpers::*, on_both_backends};

/// Each body-taking collection with a valid body, a required string field and an enum field.
fn bodies() -> Vec<(&'static str, Value, &'static str, Option<&'static str>)> {
    vec![
        (
            "/v1/users",
            json!({"email": "x@cgs.test", "password": PASSWORD, "rePassword": PASSWORD, "nik": "9", "name": "n", "role": "FOC", "region": "West"}),
            "name",
            Some("role"),
        ),
        ("/v1/areas", json!({"region": "West", "name": "A", "initial": "I"}), "name", Some("region")),
        ("/v1/main_splitters", json!({"name": "M", "coordinate": "1,1"}), "name", None),
        ("/v1/splitters", json!({"name": "S", "coordinate": "1,1"}), "name", None),
        ("/v1/isps", json!({"name": "I", "initial": "I", "brand": "B"}), "brand", None),
        ("/v1/indications", json!({"category": "Device", "indication": "x"}), "indication", Some("category")),
        (
            "/v1/clients",
            json!({"cid": "C", "customerType": "Broadband", "name": "N", "status": "Active", "region": "West"}),
            "cid",
            Some("customerType"),
        ),
    ]
}

async fn total(app: &TestApp, path: &str) -> i64 {
    app.get(path, &app.admin).await.body["data"]["meta"]["total"].as_i64().unwrap()
}

/// Variants of a valid body that must each be refused with 400.
fn invalid_variants(valid: &Value, string_field: &str, enum_field: Option<&str>) -> Vec<(String, Value)> {
    let mut out = vec![("empty object".to_owned(), json!({}))];
    let mut missing = valid.clone();
    missing.as_object_mut().unwrap().remove(string_field);
    out.push((format!("missing {string_field}"), missing));
    let mut wrong_type = valid.clone();
    wrong_type[string_field] = json!(42);
    out.push((format!("{string_field} as a number"), wrong_type));
    let mut too_long = valid.clone();
    too_long[string_field] = json!("x".repeat(2001));
    out.push((format!("{string_field} too long"), too_long));
    let mut blank = valid.clone();
    blank[string_field] = json!("   ");
    out.push((format!("{string_field} blank"), blank));
    out.push(("an array".to_owned(), json!([valid])));
    if let Some(e) = enum_field {
        let mut bad_enum = valid.clone();
        bad_enum[e] = json!("NotAValue");
        out.push((format!("unknown {e}"), bad_enum));
        let mut lower = valid.clone();
        lower[e] = json!(valid[e].as_str().unwrap().to_lowercase());
        out.push((format!("{e} in lower case"), lower));
    }
    out
}

on_both_backends! {
    async fn invalid_bodies_answer_400_in_the_envelope_and_change_nothing(app) {
        for (path, valid, string_field, enum_field) in bodies() {
            let before = total(&app, path).await;
            for (what, body) in invalid_variants(&valid, string_field, enum_field) {
                let a = app.post(path, &app.admin, body.clone()).await;
                assert_eq!(a.status.as_u16(), 400, "POST {path} with {what}: {}", a.body);
                a.expect(400);
            }
            let id = app.post(path, &app.admin, valid.clone()).await.id();
            for (what, body) in invalid_variants(&valid, string_field, enum_field) {
                let a = app.put(&format!("{path}/{id}"), &app.admin, body).await;
                assert_eq!(a.status.as_u16(), 400, "PUT {path} with {what}: {}", a.body);
            }
            assert_eq!(total(&app, path).await, before + 1, "only the valid POST wrote to {path}");
            let after = app.get(&format!("{path}/{id}"), &app.admin).await;
            assert_eq!(after.result()[string_field], valid[string_field], "PUTs changed nothing");
        }
    }

    async fn malformed_json_and_wrong_content_types_answer_4xx(app) {
        for (path, _, _, _) in bodies() {
            let resp = app.client.post(app.url(path)).bearer_auth(&app.admin).header("content-type", "application/json").body("{\"name\": ").send().await.unwrap();
            TestApp::answer(resp).await.expect(400);
            let resp = app.client.post(app.url(path)).bearer_auth(&app.admin).header("content-type", "text/plain").body("name=x").send().await.unwrap();
            let a = TestApp::answer(resp).await;
            assert!(a.status.is_client_error(), "{path}: {}", a.status);
            a.expect(a.status.as_u16());
            let resp = app.client.post(app.url(path)).bearer_auth(&app.admin).send().await.unwrap();
            let a = TestApp::answer(resp).await;
            assert!(a.status.is_client_error(), "{path} without a body: {}", a.status);
        }
    }

    async fn bad_uuids_in_paths_answer_400_and_unknown_ones_404(app) {
        for path in ["/v1/users", "/v1/areas", "/v1/main_splitters", "/v1/splitters", "/v1/isps", "/v1/indications", "/v1/clients"] {
            let a = app.get(&format!("{path}/not-a-uuid"), &app.admin).await;
            a.expect(400);
            assert_eq!(a.body["details"][0]["field"], "path");
            app.delete(&format!("{path}/1234"), &app.admin).await.expect(400);
            app.get(&format!("{path}/{}", uuid::Uuid::new_v4()), &app.admin).await.expect(404);
        }
        let mut client = json!({"cid": "C", "customerType": "Broadband", "name": "N", "status": "Active", "region": "West"});
        client["isp"] = json!("not-a-uuid");
        app.post("/v1/clients", &app.admin, client).await.expect(400);
    }

    async fn bodies_over_one_mebibyte_answer_413(app) {
        let head = |framing: String| {
            format!(
                "POST /v1/areas HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\n{framing}\r\n",
                app.admin
            )
        };
        let big = json!({"region": "West", "name": "x".repeat(1024 * 1024 + 10), "initial": "I"});
        let bytes = serde_json::to_vec(&big).unwrap();
        // A declared length over the limit is refused before the body is read; a body sent in
        // full, with its length or chunked, once the limit is passed. Nothing is written.
        let over = 1024 * 1024 + 1;
        for (what, head, body) in [
            ("declared", head(format!("Content-Length: {over}\r\n")), Vec::new()),
            ("sent with its length", head(format!("Content-Length: {}\r\n", bytes.len())), bytes.clone()),
            ("sent chunked", head("Transfer-Encoding: chunked\r\n".into()), chunked(&bytes)),
        ] {
            let answer = raw_exchange(app.addr, head, body).await;
            assert!(answer.starts_with("HTTP/1.1 413"), "{what}: {answer}");
            assert!(answer.contains("\"code\":\"payload_too_large\""), "{what}: {answer}");
        }
        assert_eq!(total(&app, "/v1/areas").await, 0);
    }

    async fn unknown_routes_and_methods_answer_in_the_envelope(app) {
        let a = app.get("/v1/nothing-here", &app.admin).await;
        a.expect(404);
        let a = app.send(Method::PATCH, "/v1/areas", Some(&app.admin), None).await;
        a.expect(405);
        assert_eq!(a.code(), "method_not_allowed");
        assert_eq!(a.headers["allow"], "GET, POST", "a 405 names the route's methods");
        // A body without a JSON content type.
        let resp = app.client.post(app.url("/v1/areas")).bearer_auth(&app.admin).body("{}").send().await.unwrap();
        let a = TestApp::answer(resp).await;
        a.expect(415);
        assert_eq!(a.code(), "unsupported_media_type");
    }

    async fn unicode_and_sql_metacharacters_are_stored_intact(app) {
        let name = "Bandung 🚀 'quoted' \"double\"; DROP TABLE areas; -- ü";
        let a = app.post("/v1/areas", &app.admin, json!({"region": "West", "name": name, "initial": "%_\\"})).await;
        a.expect(201);
        let g = app.get(&format!("/v1/areas/{}", a.id()), &app.admin).await;
        assert_eq!(g.result()["name"], name);
        assert_eq!(g.result()["initial"], "%_\\");
        assert_eq!(app.get("/v1/areas?q=%F0%9F%9A%80", &app.admin).await.body["data"]["meta"]["total"], 1);
    }
}
