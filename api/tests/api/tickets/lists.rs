//! The ticket list: scope by role, filters, the end-user search, the bounded count.

use super::*;

on_both_backends! {
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
