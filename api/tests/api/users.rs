//! User accounts: registration, updates, passwords, uniqueness, scoping and lists.

use common::domain::{Region, Role};
use serde_json::json;

use crate::{helpers::*, on_both_backends};

fn body(email: &str, nik: &str, role: &str, region: &str) -> serde_json::Value {
    json!({"email": email, "password": PASSWORD, "rePassword": PASSWORD, "nik": nik, "name": "NOC User One",
           "role": role, "region": region, "area": "BANDUNG", "profilePhoto": "https://x.test/p.jpg", "phoneNumber": "0812345678"})
}

on_both_backends! {
    async fn a_super_admin_registers_reads_updates_and_deletes_a_user(app) {
        let area = app.area(Region::West, "BANDUNG").await;
        let a = app.post("/v1/users", &app.admin, body("Noc1@CGS.test", "12345678910", "NOC", "West")).await;
        a.expect(201);
        let u = a.result();
        assert_eq!(u["email"], "noc1@cgs.test", "emails are stored lower-cased");
        assert_eq!(u["area"], "BANDUNG");
        assert_eq!(u["areas"][0]["id"], area.as_str());
        assert_eq!(u["areas"][0]["initial"], "BAN");
        assert!(u.get("password").is_none() && u.get("passwordHash").is_none());
        for key in ["id", "createdAt", "updatedAt", "nik", "name", "role", "region", "profilePhoto", "phoneNumber"] {
            assert!(!u[key].is_null(), "{key} missing in {u}");
        }
        let id = a.id();
        let g = app.get(&format!("/v1/users/{id}"), &app.admin).await;
        g.expect(200);
        assert_eq!(g.result(), u);

        let mut update = body("noc1@cgs.test", "12345678910", "FOCSupervisor", "West");
        update["name"] = json!("Renamed");
        update.as_object_mut().unwrap().remove("password");
        update.as_object_mut().unwrap().remove("rePassword");
        let p = app.put(&format!("/v1/users/{id}"), &app.admin, update).await;
        p.expect(200);
        assert_eq!(p.result()["name"], "Renamed");
        assert_eq!(p.result()["role"], "FOCSupervisor");
        app.login("noc1@cgs.test", PASSWORD).await;

        let d = app.delete(&format!("/v1/users/{id}"), &app.admin).await;
        d.expect(200);
        assert_eq!(d.result()["id"], id.as_str());
        app.get(&format!("/v1/users/{id}"), &app.admin).await.expect(404);
        app.delete(&format!("/v1/users/{id}"), &app.admin).await.expect(404);
        // The email and nik are free again for a new account.
        app.post("/v1/users", &app.admin, body("noc1@cgs.test", "12345678910", "NOC", "West")).await.expect(201);
    }

    async fn a_password_change_ends_the_users_sessions(app) {
        let (id, token) = app.user(Role::FOC, Region::West).await;
        let current = app.get(&format!("/v1/users/{id}"), &app.admin).await.result().clone();
        let mut update = json!({"email": current["email"], "nik": current["nik"], "name": "x", "role": "FOC", "region": "West"});
        update["password"] = json!("new-password-1");
        update["rePassword"] = json!("new-password-1");
        app.put(&format!("/v1/users/{id}"), &app.admin, update).await.expect(200);
        app.get(&format!("/v1/users/{id}"), &token).await.expect(401);
        app.login(current["email"].as_str().unwrap(), "new-password-1").await;
    }

    async fn duplicate_email_or_nik_answers_409(app) {
        app.area(Region::West, "BANDUNG").await;
        app.post("/v1/users", &app.admin, body("a@cgs.test", "1", "NOC", "West")).await.expect(201);
        let dup_email = app.post("/v1/users", &app.admin, body("A@cgs.test", "2", "NOC", "West")).await;
        dup_email.expect(409);
        assert!(dup_email.body["message"].as_str().unwrap().contains("email"), "{}", dup_email.body);
        let dup_nik = app.post("/v1/users", &app.admin, body("b@cgs.test", "1", "NOC", "West")).await;
        dup_nik.expect(409);
        assert!(dup_nik.body["message"].as_str().unwrap().contains("nik"));
    }

    async fn a_password_must_be_long_enough_and_repeated(app) {
        app.area(Region::West, "BANDUNG").await;
        let mut b = body("a@cgs.test", "1", "NOC", "West");
        b["password"] = json!("short");
        b["rePassword"] = json!("short");
        let a = app.post("/v1/users", &app.admin, b.clone()).await;
        a.expect(400);
        assert_eq!(a.body["details"][0]["field"], "password");
        b["password"] = json!("long-enough-1");
        b["rePassword"] = json!("long-enough-2");
        let a = app.post("/v1/users", &app.admin, b).await;
        a.expect(400);
        assert_eq!(a.body["details"][0]["field"], "rePassword");
    }

    async fn an_area_must_exist_in_the_users_region(app) {
        app.area(Region::East, "BANDUNG").await;
        let a = app.post("/v1/users", &app.admin, body("a@cgs.test", "1", "NOC", "West")).await;
        a.expect(400);
        assert_eq!(a.body["details"][0]["field"], "area");
    }

    async fn the_user_list_is_scoped_by_role_and_region(app) {
        let (noc_w, noc_w_t) = app.user(Role::NOC, Region::West).await;
        let (foc_w, foc_w_t) = app.user(Role::FOC, Region::West).await;
        let (sup_e, sup_e_t) = app.user(Role::FOCSupervisor, Region::East).await;
        let (foc_e, _) = app.user(Role::FOC, Region::East).await;
        let ids = |a: &Answer| -> Vec<String> {
            a.result().as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()).collect()
        };
        let all = app.get("/v1/users?limit=100", &app.admin).await;
        all.expect(200);
        assert_eq!(all.body["data"]["meta"]["total"], 5, "admin + 4");
        let west = ids(&app.get("/v1/users", &noc_w_t).await);
        assert!(west.contains(&noc_w) && west.contains(&foc_w) && !west.contains(&sup_e) && !west.contains(&foc_e));
        let east = ids(&app.get("/v1/users", &sup_e_t).await);
        assert!(east.contains(&sup_e) && east.contains(&foc_e) && !east.contains(&noc_w));
        assert_eq!(ids(&app.get("/v1/users", &foc_w_t).await), vec![foc_w.clone()]);
        app.get(&format!("/v1/users/{foc_w}"), &foc_w_t).await.expect(200);
        app.get(&format!("/v1/users/{noc_w}"), &foc_w_t).await.expect(404);
        app.get(&format!("/v1/users/{foc_e}"), &noc_w_t).await.expect(404);
        app.get(&format!("/v1/users/{foc_w}"), &noc_w_t).await.expect(200);
    }

    async fn the_user_list_orders_filters_and_pages(app) {
        for name in ["Charlie", "alpha", "Bravo"] {
            let n = uuid::Uuid::new_v4().simple().to_string();
            app.post("/v1/users", &app.admin, json!({"email": format!("{n}@cgs.test"), "password": PASSWORD, "rePassword": PASSWORD,
                "nik": n, "name": name, "role": "FOC", "region": "Central"})).await.expect(201);
        }
        let names = |a: &Answer| -> Vec<String> {
            a.result().as_array().unwrap().iter().map(|u| u["name"].as_str().unwrap().to_owned()).collect()
        };
        let a = app.get("/v1/users?orderBy=name&sortBy=desc&region=Central", &app.admin).await;
        a.expect(200);
        assert_eq!(names(&a), ["Charlie", "Bravo", "alpha"], "case-insensitive, descending");
        let a = app.get("/v1/users?orderBy=name&sortBy=asc&role=FOC&limit=2&offset=1", &app.admin).await;
        assert_eq!(names(&a), ["Bravo", "Charlie"]);
        assert_eq!(a.body["data"]["meta"], json!({"total": 3, "limit": 2, "offset": 1, "totalExact": true}));
        let a = app.get("/v1/users?q=ALPH", &app.admin).await;
        assert_eq!(names(&a), ["alpha"]);
        let a = app.get("/v1/users?q=%25", &app.admin).await;
        assert_eq!(a.body["data"]["meta"]["total"], 0, "LIKE wildcards in q are literal");
        app.get("/v1/users?orderBy=password", &app.admin).await.expect(400);
        app.get("/v1/users?sortBy=up", &app.admin).await.expect(400);
        app.get("/v1/users?limit=101", &app.admin).await.expect(400);
        app.get("/v1/users?limit=0", &app.admin).await.expect(400);
        app.get("/v1/users?offset=-1", &app.admin).await.expect(400);
    }

    async fn a_super_admin_cannot_delete_itself(app) {
        let me = app.get("/v1/users?role=SuperAdmin", &app.admin).await.result()[0]["id"].as_str().unwrap().to_owned();
        app.delete(&format!("/v1/users/{me}"), &app.admin).await.expect(409);
    }

    async fn the_last_super_admin_keeps_its_role(app) {
        let me = app.get("/v1/users?role=SuperAdmin", &app.admin).await.result()[0].clone();
        let id = me["id"].as_str().unwrap();
        let demote = json!({"email": me["email"], "nik": me["nik"], "name": "Me", "role": "FOC", "region": "East"});
        let a = app.put(&format!("/v1/users/{id}"), &app.admin, demote.clone()).await;
        a.expect(409);
        assert_eq!(a.code(), "last_super_admin");
        app.get("/v1/users?role=SuperAdmin", &app.admin).await.expect(200);
        // With a second SuperAdmin, the first may step down.
        app.area(Region::West, "BANDUNG").await;
        app.post("/v1/users", &app.admin, body("second@cgs.test", "99999999", "SuperAdmin", "West")).await.expect(201);
        app.put(&format!("/v1/users/{id}"), &app.admin, demote).await.expect(200);
    }
}

/// A user's full update body with a new role.
fn with_role(u: &serde_json::Value, role: Role) -> serde_json::Value {
    json!({"email": u["email"], "nik": u["nik"], "name": u["name"], "role": role, "region": u["region"]})
}

on_both_backends! {
    async fn the_last_two_super_admins_cannot_demote_each_other_at_once(app) {
        let count = "SELECT COUNT(*) FROM users WHERE role = 'SuperAdmin' AND active";
        let (admin_id, _) = (app.get("/v1/users?limit=100", &app.admin).await.result().as_array().unwrap().iter()
            .find(|u| u["role"] == "SuperAdmin").unwrap()["id"].as_str().unwrap().to_owned(), ());
        let (other_id, other) = app.user(Role::SuperAdmin, Region::West).await;
        let mut refused = 0;
        for round in 0..8 {
            assert_eq!(app.scalar(count).await, 2, "round {round} starts with two SuperAdmins");
            let admin_row = app.get(&format!("/v1/users/{admin_id}"), &app.admin).await.result().clone();
            let other_row = app.get(&format!("/v1/users/{other_id}"), &app.admin).await.result().clone();
            let (other_path, admin_path) = (format!("/v1/users/{other_id}"), format!("/v1/users/{admin_id}"));
            let (a, b) = tokio::join!(
                app.put(&other_path, &app.admin, with_role(&other_row, Role::NOC)),
                app.put(&admin_path, &other, with_role(&admin_row, Role::NOC)),
            );
            let codes = [a.status.as_u16(), b.status.as_u16()];
            assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "round {round}: exactly one demotion passes: {codes:?} {} {}", a.body, b.body);
            for refusal in [&a, &b].into_iter().filter(|x| x.status != 200) {
                // Refused as the last SuperAdmin, or (when the other demotion committed before
                // this request was authorized) as no SuperAdmin any more.
                assert!(matches!(refusal.code(), "last_super_admin" | "forbidden"), "{}", refusal.body);
                refused += 1;
            }
            assert_eq!(app.scalar(count).await, 1, "round {round}: one SuperAdmin remains");
            // The one who remains promotes the other back.
            let (keeper, demoted, row) = if a.status == 200 { (&app.admin, &other_id, &other_row) } else { (&other, &admin_id, &admin_row) };
            app.put(&format!("/v1/users/{demoted}"), keeper, with_role(row, Role::SuperAdmin)).await.expect(200);
        }
        assert_eq!(refused, 8);
    }
}
