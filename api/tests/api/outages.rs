//! Outages through the API: reports of customers under one splitter become one outage (and
//! concurrent reports too), outages below merge into a main splitter's, closing an outage
//! closes its reports, unlinking and canceling give them back, the NOC declares one.

use common::domain::{Region, Role};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{helpers::*, master_data::client_body, on_both_backends};

const PHOTO: &str = "https://media.test/p.jpg";
const GPS: &str = "-6.914744,107.609810";

/// A main splitter and a splitter under it: (main splitter id, splitter id).
pub async fn network(app: &TestApp, name: &str) -> (String, String) {
    let ms = app
        .post("/v1/main_splitters", &app.admin, json!({"name": format!("MS-{name}"), "coordinate": "1,1"}))
        .await
        .id();
    let sp = app
        .post("/v1/splitters", &app.admin, json!({"name": format!("SP-{name}"), "coordinate": "2,2"}))
        .await
        .id();
    (ms, sp)
}

/// `n` customers under main splitter `ms` and splitter `sp`.
pub async fn customers(app: &TestApp, prefix: &str, n: usize, ms: &str, sp: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let mut body = client_body(app, &format!("{prefix}-{i}")).await;
        body["ms"] = json!(ms);
        body["splitter"] = json!(sp);
        ids.push(app.post("/v1/clients", &app.admin, body).await.id());
    }
    ids
}

pub fn report(client: &str) -> Value {
    json!({
        "client": client, "type": "Trouble", "source": "Whatsapp", "isDraft": false,
        "contactPerson": [{"name": "Budi", "phone": "0812345678"}], "indicationCategory": "FiberCut",
        "indication": "No signal", "networkSegment": "Access"
    })
}

async fn open(app: &TestApp, noc: &str, client: &str) -> String {
    let a = app.post("/v1/tickets", noc, report(client)).await;
    a.expect(201);
    a.id()
}

async fn doc(app: &TestApp, id: &str) -> Value {
    let a = app.get(&format!("/v1/tickets/{id}"), &app.admin).await;
    a.expect(200);
    a.result().clone()
}

async fn outages(app: &TestApp, token: &str) -> Vec<Value> {
    let a = app.get("/v1/outages", token).await;
    a.expect(200);
    a.result().as_array().unwrap().clone()
}

async fn act(app: &TestApp, token: &str, id: &str, path: &str, body: Option<Value>) -> Answer {
    app.send(Method::POST, &format!("/v1/tickets/{id}/{path}"), Some(token), body).await
}

/// The ids of the tickets linked to `outage`, by the list's filter.
async fn children(app: &TestApp, outage: &str) -> Vec<String> {
    let a = app.get(&format!("/v1/tickets?parentId={outage}&limit=100"), &app.admin).await;
    a.expect(200);
    let mut ids: Vec<String> =
        a.result().as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ids
}

/// Takes the ticket `id` from `Open` to `Closed` through its technician and the NOC.
async fn work_to_closed(app: &TestApp, foc: &str, noc: &str, id: &str) {
    act(app, foc, id, "ticketStatus/accept", None).await.expect(201);
    act(app, foc, id, "ticketStatus/onTheWay", None).await.expect(201);
    let site = Some(json!({"mediaUrl": PHOTO, "remark": "here", "locationCoordinate": GPS}));
    act(app, foc, id, "ticketStatus/checkedIn", site.clone()).await.expect(201);
    app.approve_request(noc, id).await;
    act(app, foc, id, "taskStatus/linkChecking", Some(json!({"mediaUrl": PHOTO}))).await.expect(201);
    app.approve_request(noc, id).await;
    act(app, foc, id, "taskStatus/finishing", site).await.expect(201);
    app.approve_request(noc, id).await;
}

on_both_backends! {
    async fn twenty_reports_at_once_under_one_splitter_make_one_outage_with_twenty_children(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (ms, sp) = network(&app, "A").await;
        let clients = customers(&app, "A", 20, &ms, &sp).await;
        let answers = futures_util::future::join_all(clients.iter().map(|c| app.post("/v1/tickets", &noc, report(c)))).await;
        let mut reports: Vec<String> = answers.iter().map(|a| { a.expect(201); a.id() }).collect();
        reports.sort();
        let open = outages(&app, &noc).await;
        assert_eq!(open.len(), 1, "{open:?}");
        let o = &open[0];
        assert_eq!((o["level"].as_str(), o["element"].as_str(), o["customersAffected"].as_i64()), (Some("Splitter"), Some("SP-A"), Some(20)));
        let outage = o["id"].as_str().unwrap().to_owned();
        assert_eq!(children(&app, &outage).await, reports, "every report linked once");
        let d = doc(&app, &outage).await;
        assert_eq!((d["isOutage"].as_bool(), d["childCount"].as_i64(), d["latestStatus"].as_str()), (Some(true), Some(20), Some("Open")));
        assert_eq!(d["outage"], json!({"level": "Splitter", "name": "SP-A"}));
        assert!(d["parentId"].is_null());
        for r in &reports {
            let c = doc(&app, r).await;
            assert_eq!((c["parentId"].as_str(), c["isOutage"].as_bool(), c["latestStatus"].as_str()), (Some(outage.as_str()), Some(false), Some("Open")), "{r}");
            let linked = c["ticketLogs"].as_array().unwrap().iter().filter(|l| l["title"] == "Linked to an outage").count();
            assert_eq!(linked, 1, "{r}");
        }
        // Nothing else opened: twenty reports and one outage.
        assert_eq!(app.scalar("SELECT count(*) FROM tickets").await, 21);
    }

    async fn a_linked_report_is_not_accepted_on_its_own_and_closes_with_its_outage(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (foc_id, foc) = app.user(Role::FOC, Region::West).await;
        let (ms, sp) = network(&app, "B").await;
        let clients = customers(&app, "B", 3, &ms, &sp).await;
        let mut reports = Vec::new();
        for c in &clients {
            reports.push(open(&app, &noc, c).await);
        }
        let outage = outages(&app, &noc).await[0]["id"].as_str().unwrap().to_owned();
        let refused = act(&app, &foc, &reports[0], "ticketStatus/accept", None).await;
        refused.expect(409);
        assert_eq!(refused.code(), "part_of_outage");
        assert!(refused.body["message"].as_str().unwrap().contains(&outage), "{:?}", refused.body);
        let assign = act(&app, &noc, &reports[1], "assign", Some(json!({"focId": foc_id}))).await;
        assign.expect(409);
        assert_eq!(assign.code(), "part_of_outage");
        // The technician sees the reports and the outage among the open tickets.
        let seen = app.get("/v1/tickets?latestStatus=Open", &foc).await;
        assert_eq!(seen.body["data"]["meta"]["total"], 4);

        work_to_closed(&app, &foc, &noc, &outage).await;
        let o = doc(&app, &outage).await;
        assert_eq!(o["latestStatus"], "Closed");
        let closed_at = o["closedTime"].as_str().unwrap().to_owned();
        for r in &reports {
            let c = doc(&app, r).await;
            assert_eq!((c["latestStatus"].as_str(), c["isCanceled"].as_bool()), (Some("Closed"), Some(false)), "{r}");
            assert_eq!(c["closedTime"].as_str(), Some(closed_at.as_str()));
            let last = c["ticketLogs"].as_array().unwrap().last().unwrap().clone();
            assert_eq!(last["statusName"], "Closed");
            assert_eq!(last["description"], format!("closed with outage {}", o["ticketId"].as_str().unwrap()));
            let published = chrono::DateTime::parse_from_rfc3339(c["publishedAt"].as_str().unwrap()).unwrap();
            let closed = chrono::DateTime::parse_from_rfc3339(&closed_at).unwrap();
            assert_eq!(c["totalTime"].as_i64(), Some((closed - published).num_seconds()), "published to the outage's close");
            assert_eq!(c["slaType"], "UnderSla");
            assert!(c["foc"].is_null(), "worked through the outage");
        }
        assert!(outages(&app, &noc).await.is_empty());
    }

    async fn unlinking_and_canceling_give_reports_back_to_be_accepted(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let (ms, sp) = network(&app, "C").await;
        let clients = customers(&app, "C", 4, &ms, &sp).await;
        let mut reports = Vec::new();
        for c in &clients {
            reports.push(open(&app, &noc, c).await);
        }
        let outage = outages(&app, &noc).await[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(doc(&app, &outage).await["childCount"], 4);
        // A technician does not unlink.
        act(&app, &foc, &reports[0], "unlink", None).await.expect(403);
        act(&app, &noc, &reports[0], "unlink", None).await.expect(201);
        let back = doc(&app, &reports[0]).await;
        assert!(back["parentId"].is_null());
        assert_eq!(doc(&app, &outage).await["childCount"], 3);
        assert_eq!(act(&app, &noc, &reports[0], "unlink", None).await.code(), "not_linked");
        // The NOC links it again, then gives it back once more; it is accepted on its own.
        act(&app, &noc, &reports[0], "link", Some(json!({"parentId": outage}))).await.expect(201);
        assert_eq!(act(&app, &noc, &reports[0], "link", Some(json!({"parentId": outage}))).await.code(), "already_linked");
        assert_eq!(act(&app, &noc, &reports[1], "link", Some(json!({"parentId": reports[2]}))).await.code(), "not_an_open_outage");
        act(&app, &noc, &reports[0], "unlink", None).await.expect(201);
        act(&app, &foc, &reports[0], "ticketStatus/accept", None).await.expect(201);

        let cancel = json!({"cancelCategory": "Duplicate", "remark": "one customer's fault after all"});
        act(&app, &noc, &outage, "ticketStatus/cancel", Some(cancel)).await.expect(201);
        let o = doc(&app, &outage).await;
        assert_eq!((o["latestStatus"].as_str(), o["isCanceled"].as_bool(), o["childCount"].as_i64()), (Some("Closed"), Some(true), Some(0)));
        for r in &reports[1..] {
            let c = doc(&app, r).await;
            assert_eq!((c["latestStatus"].as_str(), c["parentId"].is_null()), (Some("Open"), true), "{r}");
        }
        act(&app, &foc, &reports[1], "ticketStatus/accept", None).await.expect(201);
        assert!(outages(&app, &noc).await.is_empty());
    }

    async fn the_noc_declares_an_outage_that_takes_the_reports_under_its_element(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, noc_east) = app.user(Role::NOC, Region::East).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let (ms, sp) = network(&app, "D").await;
        let clients = customers(&app, "D", 2, &ms, &sp).await;
        let mut reports = Vec::new();
        for c in &clients {
            reports.push(open(&app, &noc, c).await);
        }
        assert!(outages(&app, &noc).await.is_empty(), "two customers are under the threshold");
        let body = json!({"level": "MainSplitter", "elementId": ms});
        app.post("/v1/outages", &foc, body.clone()).await.expect(403);
        app.post("/v1/outages", &noc_east, json!({"level": "MainSplitter", "elementId": ms, "region": "West"})).await.expect(403);
        app.post("/v1/outages", &noc, json!({"level": "Pop", "elementId": ms})).await.expect(400);
        app.post("/v1/outages", &noc, json!({"level": "Splitter"})).await.expect(400);
        app.post("/v1/outages", &noc, json!({"level": "Splitter", "elementId": uuid::Uuid::now_v7()})).await.expect(400);
        let declared = app.post("/v1/outages", &noc, body.clone()).await;
        declared.expect(201);
        let outage = declared.id();
        let again = app.post("/v1/outages", &noc, body).await;
        again.expect(409);
        assert_eq!(again.code(), "outage_open");
        let mut want = reports.clone();
        want.sort();
        assert_eq!(children(&app, &outage).await, want);
        let d = doc(&app, &outage).await;
        assert_eq!((d["source"].as_str(), d["outage"]["level"].as_str(), d["outage"]["name"].as_str()), (Some("DeviceLog"), Some("MainSplitter"), Some("MS-D")));
        // A report under the main splitter joins it at creation.
        let late = customers(&app, "D2", 1, &ms, &sp).await;
        let r = open(&app, &noc, &late[0]).await;
        assert_eq!(doc(&app, &r).await["parentId"].as_str(), Some(outage.as_str()));
        let listed = outages(&app, &foc).await;
        assert_eq!((listed.len(), listed[0]["customersAffected"].as_i64()), (1, Some(3)));
        assert!(outages(&app, &noc_east).await.is_empty(), "another region's NOC sees none");
        // A POP outage by name.
        app.post("/v1/outages", &noc, json!({"level": "Pop", "pop": "POP-9"})).await.expect(201);
    }
}

on_both_backends! {
    with |s| { s.outage_threshold = 2; };
    async fn a_second_splitter_outage_under_one_main_splitter_moves_it_up_and_merges_the_first(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (ms, s1) = network(&app, "E1").await;
        let s2 = app.post("/v1/splitters", &app.admin, json!({"name": "SP-E2", "coordinate": "3,3"})).await.id();
        let first = customers(&app, "E1", 2, &ms, &s1).await;
        let second = customers(&app, "E2", 2, &ms, &s2).await;
        let mut reports = Vec::new();
        for c in &first {
            reports.push(open(&app, &noc, c).await);
        }
        let below = outages(&app, &noc).await;
        assert_eq!((below.len(), below[0]["level"].as_str()), (1, Some("Splitter")));
        let below = below[0]["id"].as_str().unwrap().to_owned();
        reports.push(open(&app, &noc, &second[0]).await);
        assert_eq!(outages(&app, &noc).await.len(), 1, "one customer under the second splitter is no outage");
        reports.push(open(&app, &noc, &second[1]).await);
        let open_now = outages(&app, &noc).await;
        assert_eq!(open_now.len(), 1, "{open_now:?}");
        let up = &open_now[0];
        assert_eq!((up["level"].as_str(), up["element"].as_str(), up["customersAffected"].as_i64()), (Some("MainSplitter"), Some("MS-E1"), Some(4)));
        let up = up["id"].as_str().unwrap().to_owned();
        reports.sort();
        assert_eq!(children(&app, &up).await, reports);
        let merged = doc(&app, &below).await;
        assert_eq!((merged["latestStatus"].as_str(), merged["isCanceled"].as_bool()), (Some("Closed"), Some(true)));
        assert_eq!(merged["ticketLogs"].as_array().unwrap().last().unwrap()["title"], "Outage merged");
        assert!(children(&app, &below).await.is_empty());
    }
}

on_both_backends! {
    async fn the_outage_report_counts_minutes_down_and_customer_minutes_per_element(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, noc_east) = app.user(Role::NOC, Region::East).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let (ms, sp) = network(&app, "R").await;
        for c in &customers(&app, "R", 3, &ms, &sp).await {
            open(&app, &noc, c).await;
        }
        let outage = outages(&app, &noc).await[0]["id"].as_str().unwrap().to_owned();
        work_to_closed(&app, &foc, &noc, &outage).await;
        let closed = chrono::DateTime::parse_from_rfc3339(doc(&app, &outage).await["closedTime"].as_str().unwrap()).unwrap();
        let since = (closed - chrono::Duration::minutes(90)).with_timezone(&chrono::Utc);
        let since = since.to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        app.exec(&format!("UPDATE tickets SET published_at = '{since}' WHERE id = {}", app.sql_uuid(&outage))).await;
        // A canceled outage does not count.
        app.post("/v1/outages", &noc, json!({"level": "Pop", "pop": "POP-R"})).await.expect(201);
        let pop = outages(&app, &noc).await[0]["id"].as_str().unwrap().to_owned();
        act(&app, &noc, &pop, "ticketStatus/cancel", Some(json!({"cancelCategory": "Duplicate"}))).await.expect(201);

        let r = app.get("/v1/reports/outages", &noc).await;
        r.expect(200);
        let figures = json!({"outages": 1, "minutesDown": 90, "customersAffected": 3, "customerMinutes": 270});
        let mut element = json!({"region": "West", "level": "Splitter", "element": "SP-R"});
        element.as_object_mut().unwrap().extend(figures.as_object().unwrap().clone());
        assert_eq!(r.result()["elements"], json!([element]));
        assert_eq!(r.result()["total"], figures);
        let east = app.get("/v1/reports/outages", &noc_east).await;
        assert_eq!(east.result()["elements"], json!([]));
        app.get("/v1/reports/outages?region=West", &noc_east).await.expect(403);
        app.get("/v1/reports/outages", &foc).await.expect(403);
        app.get("/v1/reports/outages?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", &noc).await.expect(400);

        let csv = app.client.get(app.url("/v1/reports/outages")).bearer_auth(&noc).header("Accept", "text/csv").send().await.unwrap();
        assert_eq!(csv.status(), 200);
        assert!(csv.headers()["content-disposition"].to_str().unwrap().contains("outage-report.csv"));
        let text = csv.text().await.unwrap();
        assert_eq!(text, "region,level,element,outages,minutesDown,customersAffected,customerMinutes\r\n\
                          West,Splitter,SP-R,1,90,3,270\r\ntotal,,,1,90,3,270\r\n");
    }
}

on_both_backends! {
    // Reports keep coming while the NOC closes the outage: every answer is a success, and no
    // open report is left linked to a closed outage.
    async fn reports_arriving_while_the_outage_closes_never_join_a_closed_outage(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let (ms, sp) = network(&app, "H").await;
        let clients = customers(&app, "H", 13, &ms, &sp).await;
        for c in &clients[..3] {
            open(&app, &noc, c).await;
        }
        let outage = outages(&app, &noc).await[0]["id"].as_str().unwrap().to_owned();
        act(&app, &foc, &outage, "ticketStatus/accept", None).await.expect(201);
        act(&app, &foc, &outage, "ticketStatus/onTheWay", None).await.expect(201);
        let site = Some(json!({"mediaUrl": PHOTO, "remark": "here", "locationCoordinate": GPS}));
        act(&app, &foc, &outage, "ticketStatus/checkedIn", site.clone()).await.expect(201);
        app.approve_request(&noc, &outage).await;
        act(&app, &foc, &outage, "taskStatus/linkChecking", Some(json!({"mediaUrl": PHOTO}))).await.expect(201);
        app.approve_request(&noc, &outage).await;
        act(&app, &foc, &outage, "taskStatus/finishing", site).await.expect(201);

        let close = app.approve_request(&noc, &outage);
        let reports = futures_util::future::join_all(clients[3..].iter().map(|c| app.post("/v1/tickets", &noc, report(c))));
        let ((), answers) = tokio::join!(close, reports);
        for a in &answers {
            a.expect(201);
        }
        assert_eq!(doc(&app, &outage).await["latestStatus"], "Closed");
        let list = app.get("/v1/tickets?limit=100", &app.admin).await;
        for t in list.result().as_array().unwrap() {
            let d = doc(&app, t["id"].as_str().unwrap()).await;
            if let (Some(parent), "Open") = (d["parentId"].as_str(), d["latestStatus"].as_str().unwrap()) {
                assert_eq!(doc(&app, parent).await["latestStatus"], "Open", "{} is linked to a closed outage", d["ticketId"]);
            }
        }
        // The three that were linked closed with it; the ten later ones joined it before it
        // closed (and closed with it) or came after and are on their own or in a new outage.
        let closed_with = children(&app, &outage).await.len();
        assert!(closed_with >= 3, "{closed_with}");
    }
}

on_both_backends! {
    with |s| { s.outage_threshold = 2; };
    async fn two_splitter_outages_merge_into_the_main_splitters_when_a_third_splitter_fails(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (ms, s1) = network(&app, "K1").await;
        let s2 = app.post("/v1/splitters", &app.admin, json!({"name": "SP-K2", "coordinate": "3,3"})).await.id();
        let s3 = app.post("/v1/splitters", &app.admin, json!({"name": "SP-K3", "coordinate": "4,4"})).await.id();
        // A splitter outage from its reports, and one the NOC declares (from a device alarm).
        let mut reports = Vec::new();
        for c in &customers(&app, "K1", 2, &ms, &s1).await {
            reports.push(open(&app, &noc, c).await);
        }
        let declared = app.post("/v1/outages", &noc, json!({"level": "Splitter", "elementId": s2})).await;
        declared.expect(201);
        let below: Vec<String> = outages(&app, &noc).await.iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(below.len(), 2);
        let late = customers(&app, "K2", 1, &ms, &s2).await;
        reports.push(open(&app, &noc, &late[0]).await);
        assert_eq!(doc(&app, &reports[2]).await["parentId"].as_str(), Some(declared.id().as_str()));
        // Reports under a third splitter of the main splitter: one outage for the three.
        for c in &customers(&app, "K3", 2, &ms, &s3).await {
            reports.push(open(&app, &noc, c).await);
        }
        let open_now = outages(&app, &noc).await;
        assert_eq!(open_now.len(), 1, "{open_now:?}");
        assert_eq!((open_now[0]["level"].as_str(), open_now[0]["customersAffected"].as_i64()), (Some("MainSplitter"), Some(5)));
        let up = open_now[0]["id"].as_str().unwrap().to_owned();
        reports.sort();
        assert_eq!(children(&app, &up).await, reports);
        for old in &below {
            let d = doc(&app, old).await;
            assert_eq!((d["latestStatus"].as_str(), d["isCanceled"].as_bool(), d["childCount"].as_i64()), (Some("Closed"), Some(true), Some(0)), "{old}");
        }
    }
}
