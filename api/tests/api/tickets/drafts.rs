//! Drafts: opened by hand or on schedule, edited only while they are drafts, by their region's
//! NOCs.

use super::*;

on_both_backends! {
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
}
