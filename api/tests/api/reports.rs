//! `GET /v1/reports/sla`: a known fixture gives known figures, as JSON and as CSV.

use chrono::{Duration, Utc};
use common::domain::{Region, Role};
use serde_json::{Value, json};

use crate::{helpers::*, master_data::client_body, on_both_backends};

fn new_ticket(client: Option<&str>, region: Option<&str>) -> Value {
    json!({
        "client": client, "region": region, "type": "Trouble", "source": "Phone",
        "indicationCategory": "FiberCut", "networkSegment": "Access"
    })
}

on_both_backends! {
    async fn the_sla_report_of_a_known_fixture(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, noc_east) = app.user(Role::NOC, Region::East).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let client = app.post("/v1/clients", &app.admin, client_body(&app, "S-CID").await).await.id();
        let mut ids = vec![];
        for _ in 0..4 {
            ids.push(app.post("/v1/tickets", &noc, new_ticket(Some(&client), None)).await.id());
        }
        let no_client = app.post("/v1/tickets", &noc, new_ticket(None, None)).await.id();
        let east = app.post("/v1/tickets", &app.admin, new_ticket(None, Some("East"))).await.id();
        let draft = app.post("/v1/tickets", &noc, json!({"isDraft": true, "client": client, "type": "Trouble", "source": "Phone", "indicationCategory": "FiberCut", "networkSegment": "Access"})).await.id();

        // The fixture, a day ago: the Dedicated client's SLA is 4 h.
        let p = Utc::now() - Duration::days(1);
        let set = |id: &str, closed_after_min: Option<i64>, pending_min: i64, canceled: bool| {
            let closed = closed_after_min.map(|m| sql_time(p + Duration::minutes(m))).unwrap_or_else(|| "NULL".into());
            let status = if closed_after_min.is_some() { "Closed" } else { "OnGoing" };
            format!(
                "UPDATE tickets SET published_at = {}, sla_due_at = {}, closed_at = {closed}, status = '{status}', \
                 total_pending_seconds = {}, canceled = {} WHERE id = {}",
                sql_time(p),
                sql_time(p + Duration::minutes(240 + pending_min)),
                pending_min * 60,
                if canceled { "TRUE" } else { "FALSE" },
                app.sql_uuid(id),
            )
        };
        // Closed in 2 h: under. Closed after 6 h with 1 h pending (5 h of work): over. Open for
        // a day: over. Canceled after 1 h: under, no resolution time.
        app.exec(&set(&ids[0], Some(120), 0, false)).await;
        app.exec(&set(&ids[1], Some(360), 60, false)).await;
        app.exec(&set(&ids[2], None, 30, false)).await;
        app.exec(&set(&ids[3], Some(60), 0, true)).await;
        app.exec(&format!("UPDATE tickets SET published_at = {} WHERE id = {}", sql_time(p), app.sql_uuid(&no_client))).await;
        app.exec(&format!("UPDATE tickets SET published_at = {} WHERE id = {}", sql_time(p), app.sql_uuid(&east))).await;
        let _ = draft; // never published: not in any report

        let from = (p - Duration::hours(1)).to_rfc3339().replace('+', "%2B");
        let a = app.get(&format!("/v1/reports/sla?from={from}"), &app.admin).await;
        a.expect(200);
        let r = a.result();
        let groups = r["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 3, "{r}");
        // West without a client, West of the client's ISP, East: ordered by region, then ISP.
        let client_group = groups.iter().find(|g| g["isp"] == "ISP").unwrap();
        assert_eq!(client_group["region"], "West");
        assert_eq!(client_group["customerType"], "Dedicated");
        let figures = |g: &Value| {
            ["tickets", "closed", "canceled", "underSla", "overSla", "nonSla"].map(|k| g[k].as_i64().unwrap())
        };
        assert_eq!(figures(client_group), [4, 3, 1, 2, 2, 0], "{client_group}");
        // Resolution of the two finished ones: 120 and 300 minutes.
        assert_eq!(client_group["meanResolutionMinutes"], 210.0);
        assert_eq!(client_group["p90ResolutionMinutes"], 300.0);
        assert_eq!(client_group["pendingMinutes"], 90.0);
        assert_eq!(client_group["meanPendingMinutes"], 22.5);
        let bare = groups.iter().find(|g| g["region"] == "West" && g["isp"].is_null()).unwrap();
        assert_eq!(figures(bare), [1, 0, 0, 0, 0, 1]);
        assert!(bare["meanResolutionMinutes"].is_null());
        assert_eq!(figures(&r["total"]), [6, 3, 1, 2, 2, 2]);

        // A NOC gets its own region; another region's is refused; technicians get none.
        let a = app.get(&format!("/v1/reports/sla?from={from}"), &noc).await;
        a.expect(200);
        assert_eq!(a.result()["region"], "West");
        assert_eq!(figures(&a.result()["total"]), [5, 3, 1, 2, 2, 1]);
        app.get(&format!("/v1/reports/sla?from={from}&region=West"), &noc_east).await.expect(403);
        app.get("/v1/reports/sla", &foc).await.expect(403);
        let a = app.get(&format!("/v1/reports/sla?from={from}&region=East"), &app.admin).await;
        assert_eq!(figures(&a.result()["total"]), [1, 0, 0, 0, 0, 1]);
        // A period before the fixture holds nothing.
        let a = app.get("/v1/reports/sla?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z", &app.admin).await;
        assert_eq!(figures(&a.result()["total"]), [0, 0, 0, 0, 0, 0]);
        // Bad periods.
        app.get("/v1/reports/sla?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", &app.admin).await.expect(400);
        app.get("/v1/reports/sla?from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z", &app.admin).await.expect(400);
        app.get("/v1/reports/sla?from=yesterday", &app.admin).await.expect(400);

        // The same as CSV.
        let resp = app.client.get(app.url(&format!("/v1/reports/sla?from={from}&region=West")))
            .bearer_auth(&app.admin).header("Accept", "text/csv").send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        let csv = resp.text().await.unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], "region,isp,customerType,tickets,closed,canceled,underSla,overSla,nonSla,meanResolutionMinutes,p90ResolutionMinutes,pendingMinutes,meanPendingMinutes");
        assert!(lines.contains(&"West,ISP,Dedicated,4,3,1,2,2,0,210,300,90,22.5"), "{csv}");
        assert!(lines.contains(&"West,,,1,0,0,0,0,1,,,0,0"), "{csv}");
        assert_eq!(lines.last(), Some(&"total,,,5,3,1,2,2,1,210,300,90,18"));
    }
}
