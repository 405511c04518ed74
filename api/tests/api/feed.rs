//! The live feed `GET /v1/tickets/stream`: who gets which events, and resuming.

use std::time::Duration;

use common::domain::{Region, Role};
use futures_util::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{helpers::*, master_data::client_body, on_both_backends};

/// One Server-Sent Event.
#[derive(Debug, Clone)]
struct Sse {
    id: Option<String>,
    event: String,
    data: Value,
}

/// A stream being read.
struct Feed {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Feed {
    /// Opens a stream. Like a browser's `EventSource` after a 429, it asks again after
    /// `Retry-After`: streams this test dropped hold their places until the server has written
    /// to them (which the refusal makes it do at once).
    async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> Feed {
        let mut attempts = 0;
        let resp = loop {
            let mut req = app.client.get(app.url("/v1/tickets/stream")).bearer_auth(token);
            if let Some(id) = last_event_id {
                req = req.header("Last-Event-ID", id);
            }
            let resp = req.send().await.unwrap();
            attempts += 1;
            if resp.status() != 429 || attempts == 5 {
                break resp;
            }
            let wait: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
            tokio::time::sleep(Duration::from_secs(wait)).await;
        };
        assert_eq!(resp.status(), 200);
        assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
        Feed { body: resp.bytes_stream().boxed(), buf: String::new() }
    }

    /// The next event, skipping keep-alive comments; `None` when the stream ended, and a test
    /// failure after `secs` seconds without one.
    async fn next_within(&mut self, secs: u64) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut e = Sse { id: None, event: "message".into(), data: Value::Null };
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        e.id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        e.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                if data.is_empty() && e.id.is_none() {
                    continue; // a comment
                }
                e.data = serde_json::from_str(&data).unwrap_or(Value::String(data));
                return Some(e);
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .unwrap_or_else(|_| panic!("no event within {secs} s"));
            match chunk {
                Some(Ok(bytes)) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    async fn next(&mut self) -> Sse {
        self.next_within(10).await.expect("the stream goes on")
    }

    /// Fails when an event arrives within `ms` milliseconds.
    async fn quiet_for(&mut self, ms: u64) {
        let got = tokio::time::timeout(Duration::from_millis(ms), self.next_within(60)).await;
        assert!(got.is_err(), "unexpected event {:?}", got.unwrap());
    }
}

fn new_ticket(client: Option<&str>, region: Option<&str>) -> Value {
    json!({
        "client": client, "region": region, "type": "Trouble", "source": "Telegram",
        "contactPerson": [{"name": "Budi", "phone": "0812345678"}], "indicationCategory": "FiberCut",
        "networkSegment": "Access"
    })
}

async fn accept(app: &TestApp, token: &str, id: &str) {
    app.send(Method::POST, &format!("/v1/tickets/{id}/ticketStatus/accept"), Some(token), None)
        .await
        .expect(201);
}

on_both_backends! {
    async fn each_role_gets_exactly_the_changes_it_may_see(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let (_, other_foc) = app.user(Role::FOC, Region::West).await;
        let (_, foc_east) = app.user(Role::FOC, Region::East).await;
        let client = app.post("/v1/clients", &app.admin, client_body(&app, "F-CID").await).await.id();

        let mut noc_feed = Feed::open(&app, &noc, None).await;
        let mut foc_feed = Feed::open(&app, &foc, None).await;
        let mut east_feed = Feed::open(&app, &foc_east, None).await;
        for f in [&mut noc_feed, &mut foc_feed, &mut east_feed] {
            let ready = f.next().await;
            assert_eq!(ready.event, "ready");
            assert!(ready.id.is_some());
        }

        // An open ticket of the West: its NOC and technicians get the document.
        let t1 = app.post("/v1/tickets", &noc, new_ticket(Some(&client), None)).await.id();
        for f in [&mut noc_feed, &mut foc_feed] {
            let e = f.next().await;
            assert_eq!((e.event.as_str(), e.data["id"].as_str(), e.data["latestStatus"].as_str()), ("ticket", Some(t1.as_str()), Some("Open")), "{e:?}");
            assert_eq!(e.data["ticketLogs"].as_array().unwrap().len(), 1);
        }

        // Another technician takes it: the first one loses sight of it and is told so; the NOC
        // gets the new state.
        accept(&app, &other_foc, &t1).await;
        let e = foc_feed.next().await;
        assert_eq!((e.event.as_str(), e.data["id"].as_str()), ("removed", Some(t1.as_str())), "{e:?}");
        assert!(e.data["ticketId"].as_str().unwrap().starts_with("CGS-"));
        assert_eq!(e.data.as_object().unwrap().len(), 2, "a removal says nothing else: {e:?}");
        let e = noc_feed.next().await;
        assert_eq!((e.event.as_str(), e.data["latestStatus"].as_str(), e.data["foc"]["name"].as_str()), ("ticket", Some("Accepted"), Some("FOC West")));

        // An East ticket reaches the East technician, and it is the first thing it gets: none
        // of the West changes reached it.
        let t2 = app.post("/v1/tickets", &app.admin, new_ticket(None, Some("East"))).await.id();
        let e = east_feed.next().await;
        assert_eq!((e.event.as_str(), e.data["id"].as_str()), ("ticket", Some(t2.as_str())));
        // ...and neither West feed hears of it.
        let t3 = app.post("/v1/tickets", &noc, new_ticket(Some(&client), None)).await.id();
        assert_eq!(foc_feed.next().await.data["id"].as_str(), Some(t3.as_str()));
        assert_eq!(noc_feed.next().await.data["id"].as_str(), Some(t3.as_str()));
        east_feed.quiet_for(500).await;

        // Logging out ends the stream at the next change.
        app.send(Method::GET, "/v1/logout", Some(&foc), None).await.expect(200);
        app.post("/v1/tickets", &noc, new_ticket(Some(&client), None)).await.expect(201);
        assert!(foc_feed.next_within(10).await.is_none(), "the stream ends after logout");

        // No session, no stream.
        let resp = app.client.get(app.url("/v1/tickets/stream")).send().await.unwrap();
        assert_eq!(resp.status(), 401);
    }

    async fn a_client_resumes_after_the_last_event_it_got(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let client = app.post("/v1/clients", &app.admin, client_body(&app, "R-CID").await).await.id();

        let mut feed = Feed::open(&app, &noc, None).await;
        let start = feed.next().await.id.unwrap();
        drop(feed);

        // Changes while disconnected: created, then accepted.
        let t1 = app.post("/v1/tickets", &noc, new_ticket(Some(&client), None)).await.id();
        accept(&app, &foc, &t1).await;
        let t2 = app.post("/v1/tickets", &noc, new_ticket(Some(&client), None)).await.id();

        let mut feed = Feed::open(&app, &noc, Some(&start)).await;
        let ready = feed.next().await;
        assert_eq!((ready.event.as_str(), ready.id.as_deref()), ("ready", Some(start.as_str())));
        // Every missed ticket arrives as it is now, in the order of its last change.
        let mut got = vec![];
        let mut last = String::new();
        while got.last().map(|(id, _): &(String, String)| id.as_str()) != Some(t2.as_str()) {
            let e = feed.next().await;
            assert_eq!(e.event, "ticket");
            last = e.id.unwrap();
            got.push((e.data["id"].as_str().unwrap().to_owned(), e.data["latestStatus"].as_str().unwrap().to_owned()));
        }
        // Each event carries the ticket as it is now (a change read in another batch than the
        // next one of the same ticket shows the later state already), and no ticket is missed.
        assert!(got.iter().all(|e| *e == (t1.clone(), "Accepted".to_owned()) || *e == (t2.clone(), "Open".to_owned())), "{got:?}");
        assert!(got.contains(&(t1.clone(), "Accepted".to_owned())), "{got:?}");
        drop(feed);

        // Resuming from the last event gets only what came after it.
        feed = Feed::open(&app, &noc, Some(&last)).await;
        assert_eq!(feed.next().await.event, "ready");
        feed.quiet_for(500).await;
        app.send(Method::POST, &format!("/v1/tickets/{t1}/ticketStatus/onTheWay"), Some(&foc), None).await.expect(201);
        let e = feed.next().await;
        assert_eq!((e.data["id"].as_str(), e.data["latestStatus"].as_str()), (Some(t1.as_str()), Some("OnTheWay")));
        assert!(e.id.unwrap().parse::<i64>().unwrap() > last.parse::<i64>().unwrap());

        // An id this installation never gave (or one pruned away) asks the client to reload.
        feed = Feed::open(&app, &noc, Some("999999999")).await;
        assert_eq!(feed.next().await.event, "reset");
        app.exec("DELETE FROM ticket_events WHERE seq < (SELECT MAX(seq) FROM ticket_events)").await;
        feed = Feed::open(&app, &noc, Some(&start)).await;
        assert_eq!(feed.next().await.event, "reset");
        // Ids at the edges of the number range, or below any change, ask for a reload too.
        for id in [i64::MAX.to_string(), i64::MIN.to_string(), "-1".to_owned()] {
            let mut feed = Feed::open(&app, &noc, Some(&id)).await;
            assert_eq!(feed.next().await.event, "reset", "Last-Event-ID {id}");
        }
        // A malformed id is a bad request.
        let resp = app.client.get(app.url("/v1/tickets/stream")).bearer_auth(&noc).header("Last-Event-ID", "abc").send().await.unwrap();
        assert_eq!(resp.status(), 400);
    }
}

/// A stream ends by itself after `CGS_FEED_STREAM_SECONDS`, having told the client to come back
/// a second later, and the client resumes from its last event without losing a change.
async fn a_stream_ends_after_its_lifetime_and_resumes_without_a_gap(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |s| s.feed_stream_seconds = 1).await else { return };
    let (_, noc) = app.user(Role::NOC, Region::West).await;
    let ticket = json!({"type": "Trouble", "source": "Phone", "indicationCategory": "Device", "networkSegment": "Access"});
    let resp = app.client.get(app.url("/v1/tickets/stream")).bearer_auth(&noc).send().await.unwrap();
    let text = tokio::time::timeout(Duration::from_secs(10), resp.text())
        .await
        .expect("the stream ends within its lifetime")
        .unwrap();
    assert!(text.starts_with("retry: 1000\n\n"), "{text}");
    assert!(text.contains("event: ready"), "{text}");
    let ready_id = text.lines().find_map(|l| l.strip_prefix("id: ")).unwrap().to_owned();
    // Changes made while no stream is open come with the next one.
    let id = app.post("/v1/tickets", &noc, ticket).await.id();
    let mut feed = Feed::open(&app, &noc, Some(&ready_id)).await;
    assert_eq!(feed.next().await.event, "ready");
    let e = feed.next().await;
    assert_eq!((e.event.as_str(), e.data["id"].as_str()), ("ticket", Some(id.as_str())));
    assert!(feed.next_within(10).await.is_none(), "the second stream ends too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_after_its_lifetime_and_resumes_without_a_gap_sqlite() {
    a_stream_ends_after_its_lifetime_and_resumes_without_a_gap(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_after_its_lifetime_and_resumes_without_a_gap_postgres() {
    a_stream_ends_after_its_lifetime_and_resumes_without_a_gap(Backend::Postgres).await
}

on_both_backends! {
    async fn hostile_a_session_gets_four_streams_and_a_fifth_is_refused(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let mut open = Vec::new();
        for _ in 0..4 {
            let mut feed = Feed::open(&app, &noc, None).await;
            assert_eq!(feed.next().await.event, "ready");
            open.push(feed);
        }
        let fifth = app.send(Method::GET, "/v1/tickets/stream", Some(&noc), None).await;
        fifth.expect(429);
        assert_eq!(fifth.code(), "too_many_streams");
        assert!(fifth.headers.contains_key("retry-after"));
        // Another session has its own four.
        let (_, other) = app.user(Role::NOC, Region::West).await;
        let mut feed = Feed::open(&app, &other, None).await;
        assert_eq!(feed.next().await.event, "ready");
        // A stream its client dropped gives its place back: the refusals make the server write
        // to it, which fails.
        drop(open.pop());
        let mut feed = Feed::open(&app, &noc, None).await;
        assert_eq!(feed.next().await.event, "ready");
    }

    async fn hostile_a_stream_closes_soon_after_its_session_ends_with_no_change_coming(app) {
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let (foc_id, foc) = app.user(Role::FOC, Region::West).await;
        let mut noc_feed = Feed::open(&app, &noc, None).await;
        let mut foc_feed = Feed::open(&app, &foc, None).await;
        assert_eq!(noc_feed.next().await.event, "ready");
        assert_eq!(foc_feed.next().await.event, "ready");
        // Logout: the stream ends although no ticket changes (the sweep runs every 500 ms).
        let started = std::time::Instant::now();
        app.send(Method::GET, "/v1/logout", Some(&noc), None).await.expect(200);
        assert!(noc_feed.next_within(5).await.is_none(), "the stream ends after logout");
        eprintln!("the logged-out stream closed {:?} after the logout", started.elapsed());
        // Deactivation ends a stream the same way.
        app.delete(&format!("/v1/users/{foc_id}"), &app.admin).await.expect(200);
        assert!(foc_feed.next_within(5).await.is_none(), "the stream ends after deactivation");
    }
}
