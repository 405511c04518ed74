//! The evidence checks through the ticket flow: distance from the customer, a photo used
//! again, the photo's own EXIF against the report, enforcement, who may see a stored photo, and
//! the NOC's validation queue with its figures.

use chrono::{Duration, Utc};
use peers::photos::{PhotoExif, jpeg};

use super::*;

/// About 12.7 km north of the test client's coordinate (`GPS`).
const FAR: &str = "-6.800000,107.609810";

/// Checks in on ticket `id` as `token` with the photo `media` at `location`.
async fn check_in(app: &TestApp, token: &str, id: &str, media: &str, location: &str) -> Answer {
    act(app, token, id, "ticketStatus/accept", None).await.expect(201);
    act(app, token, id, "ticketStatus/onTheWay", None).await.expect(201);
    let body = json!({"mediaUrl": media, "remark": "on site", "locationCoordinate": location});
    act(app, token, id, "ticketStatus/checkedIn", Some(body)).await
}

/// The log entry of the request waiting on ticket `id`.
async fn request_entry(app: &TestApp, id: &str) -> Value {
    let d = doc(app, id).await;
    d["ticketLogs"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|l| l["cardType"] == "RequestValidationAction")
        .unwrap()
        .clone()
}

/// A card's description field by name.
fn field<'a>(entry: &'a Value, name: &str) -> Option<&'a str> {
    entry["descriptionFields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .and_then(|f| f["text"].as_str())
}

/// Uploads a photo as `token`; answers its `mediaUrl`.
async fn stored(app: &TestApp, token: &str, photo: Vec<u8>) -> String {
    let a = app.upload(token, "image/jpeg", photo).await;
    a.expect(201);
    a.result()["mediaUrl"].as_str().unwrap().to_owned()
}

fn numbers(queue: &Answer) -> Vec<&str> {
    queue.result().as_array().unwrap().iter().map(|e| e["ticket"]["ticketId"].as_str().unwrap()).collect()
}

on_both_backends! {
    async fn a_far_check_in_is_flagged_with_its_distance_for_the_noc(app) {
        let c = cast(&app).await;
        let far = open_ticket(&app, &c).await;
        check_in(&app, &c.foc, &far, "https://media.test/far.jpg", FAR).await.expect(201);
        let e = request_entry(&app, &far).await;
        let metres = e["distanceMeters"].as_i64().unwrap();
        assert!((12_700..12_800).contains(&metres), "{e}");
        assert_eq!(e["flags"], json!(["farFromCustomer"]));
        assert_eq!(field(&e, "Distance from customer"), Some("12.8 km"));
        assert_eq!(field(&e, "Flags"), Some("farFromCustomer"));
        // The check does not block: the request waits for the NOC, who decides.
        assert_eq!(doc(&app, &far).await["latestStatus"], "CheckedIn");

        // At the customer's coordinate: measured, nothing flagged. Without a client: the NOC
        // reads why nothing was measured.
        let near = open_ticket(&app, &c).await;
        check_in(&app, &c.other_foc, &near, "https://media.test/near.jpg", GPS).await.expect(201);
        let e = request_entry(&app, &near).await;
        assert_eq!((e["distanceMeters"].as_i64(), e["flags"].clone()), (Some(0), json!([])));
        assert_eq!(field(&e, "Distance from customer"), Some("0 m"));
        let no_client = app.post("/v1/tickets", &c.noc, new_ticket(None)).await.id();
        check_in(&app, &c.foc, &no_client, "https://media.test/nc.jpg", FAR).await.expect(201);
        let e = request_entry(&app, &no_client).await;
        assert!(e["distanceMeters"].is_null(), "{e}");
        assert_eq!(field(&e, "Distance from customer"), Some("not checked: the ticket has no client"));
        // Task steps away from the customer carry no distance.
        validate(&app, &c.noc, &near, true).await.expect(200);
        act(&app, &c.other_foc, &near, "taskStatus/checking", Some(json!({"remark": "ok", "locationCoordinate": FAR}))).await.expect(201);
        let last = doc(&app, &near).await["ticketLogs"].as_array().unwrap().last().unwrap().clone();
        assert!(last["distanceMeters"].is_null() && last["flags"] == json!([]), "{last}");
    }

    async fn a_reused_photo_is_flagged_with_the_ticket_it_came_from(app) {
        let c = cast(&app).await;
        let photo = stored(&app, &c.foc, jpeg(None, "reused")).await;
        let first = open_ticket(&app, &c).await;
        check_in(&app, &c.foc, &first, &photo, GPS).await.expect(201);
        assert_eq!(request_entry(&app, &first).await["flags"], json!([]));
        let first_number = doc(&app, &first).await["ticketId"].as_str().unwrap().to_owned();
        // The same stored photo on another ticket, by another technician, under an absolute address.
        let second = open_ticket(&app, &c).await;
        let absolute = format!("https://api.cgs.test{photo}");
        check_in(&app, &c.other_foc, &second, &absolute, GPS).await.expect(201);
        let e = request_entry(&app, &second).await;
        assert_eq!(e["flags"], json!(["reusedMedia"]));
        assert_eq!(e["reusedFrom"], json!({"id": first, "ticketId": first_number}));
        assert_eq!(field(&e, "Same photo as"), Some(first_number.as_str()));
        // An external address used twice is the same photo too, however long the address (here
        // 2000 characters, 3980 bytes: more than an index entry takes).
        let long = format!("https://storage.test/{}", "é".repeat(2000 - 21));
        let third = open_ticket(&app, &c).await;
        let fourth = open_ticket(&app, &c).await;
        let (_, foc3) = app.user(Role::FOC, Region::West).await;
        check_in(&app, &foc3, &third, &long, GPS).await.expect(201);
        let (_, foc4) = app.user(Role::FOC, Region::West).await;
        check_in(&app, &foc4, &fourth, &long, GPS).await.expect(201);
        assert_eq!(request_entry(&app, &fourth).await["reusedFrom"]["id"], json!(third));
    }

    async fn the_photo_says_where_and_when_it_was_taken_and_that_is_checked(app) {
        let c = cast(&app).await;
        // Taken 3 hours ago, about 3.9 km south of the customer.
        let taken = Utc::now() - Duration::hours(3);
        let exif = PhotoExif {
            position: Some((-6.95, 107.60981)),
            taken: Some(taken.format("%Y:%m:%d %H:%M:%S").to_string()),
            offset: Some("+00:00".into()),
        };
        let photo = stored(&app, &c.foc, jpeg(Some(&exif), "old-and-elsewhere")).await;
        let id = open_ticket(&app, &c).await;
        check_in(&app, &c.foc, &id, &photo, GPS).await.expect(201);
        let e = request_entry(&app, &id).await;
        assert_eq!(e["flags"], json!(["photoFarFromReport", "photoTimeMismatch"]));
        assert_eq!(e["photoCoordinate"], "-6.950000,107.609810");
        let metres = e["photoDistanceMeters"].as_i64().unwrap();
        assert!((3_900..4_000).contains(&metres), "{e}");
        let at = chrono::DateTime::parse_from_rfc3339(e["photoTakenAt"].as_str().unwrap()).unwrap();
        assert_eq!(at.timestamp(), taken.timestamp());
        assert!(field(&e, "Photo taken").unwrap().contains("minutes before the request"), "{e}");
        assert!(field(&e, "Photo position").unwrap().ends_with("km from the reported position"), "{e}");
    }

    async fn a_stored_photo_is_served_to_who_may_see_its_ticket(app) {
        let c = cast(&app).await;
        let photo = stored(&app, &c.foc, jpeg(None, "shared")).await;
        let noc_of_west = c.noc.clone();
        // Before a ticket uses it, only its uploader sees it.
        app.get(&photo, &noc_of_west).await.expect(404);
        let id = open_ticket(&app, &c).await;
        check_in(&app, &c.foc, &id, &photo, GPS).await.expect(201);
        let seen = |token: String| {
            let app = &app;
            let photo = photo.clone();
            async move { app.client.get(app.url(&photo)).bearer_auth(token).send().await.unwrap().status().as_u16() }
        };
        for (who, token, status) in [
            ("the technician", c.foc.clone(), 200),
            ("the NOC of the region", c.noc.clone(), 200),
            ("the supervisor of the region (an on-going ticket)", c.supervisor.clone(), 200),
            ("the SuperAdmin", app.admin.clone(), 200),
            ("another technician of the region (not his ticket)", c.other_foc.clone(), 404),
            ("the NOC of another region", c.noc_east.clone(), 404),
            ("a technician of another region", c.foc_east.clone(), 404),
        ] {
            assert_eq!(seen(token).await, status, "{who}");
        }
    }

    async fn a_media_address_of_this_store_must_name_a_stored_photo(app) {
        let c = cast(&app).await;
        let id = open_ticket(&app, &c).await;
        let a = check_in(&app, &c.foc, &id, &format!("/v1/media/{}", "0".repeat(64)), GPS).await;
        a.expect(400);
        assert_eq!(a.body["details"][0]["field"], "mediaUrl");
        assert_eq!(doc(&app, &id).await["latestStatus"], "OnTheWay");
    }

    async fn the_validation_queue_lists_waiting_evidence_oldest_first_with_its_flags(app) {
        let c = cast(&app).await;
        let far = open_ticket(&app, &c).await;
        check_in(&app, &c.foc, &far, "https://media.test/q1.jpg", FAR).await.expect(201);
        let near = open_ticket(&app, &c).await;
        check_in(&app, &c.other_foc, &near, "https://media.test/q2.jpg", GPS).await.expect(201);
        let east = app.post("/v1/tickets", &c.noc_east, new_ticket(None)).await.id();
        check_in(&app, &c.foc_east, &east, "https://media.test/q3.jpg", GPS).await.expect(201);
        let number = |id: String| {
            let app = &app;
            async move { doc(app, &id).await["ticketId"].as_str().unwrap().to_owned() }
        };
        let (n_far, n_near, n_east) = (number(far.clone()).await, number(near.clone()).await, number(east.clone()).await);

        let all = app.get("/v1/validations", &app.admin).await;
        all.expect(200);
        assert_eq!(numbers(&all), [n_far.as_str(), n_near.as_str(), n_east.as_str()]);
        assert_eq!(all.body["data"]["meta"]["total"], 3);
        let first = &all.result()[0];
        assert_eq!(first["flags"], json!(["farFromCustomer"]));
        assert_eq!(first["ticket"]["latestStatus"], "CheckedIn");
        assert_eq!(first["technician"]["name"], "FOC West");
        assert_eq!(first["locationCoordinate"], FAR);
        assert!(first["waitingSeconds"].as_i64().unwrap() >= 0 && first["distanceMeters"].as_i64().unwrap() > 12_000);
        assert_eq!(first["evidenceId"], request_entry(&app, &far).await["evidenceId"]);

        // The NOC sees its region; filters by flag and region; the field sees no queue.
        let west = app.get("/v1/validations", &c.noc).await;
        assert_eq!(numbers(&west), [n_far.as_str(), n_near.as_str()]);
        assert_eq!(numbers(&app.get("/v1/validations?flag=farFromCustomer", &c.noc).await), [n_far.as_str()]);
        assert_eq!(numbers(&app.get("/v1/validations?region=East", &c.noc).await), Vec::<&str>::new());
        assert_eq!(numbers(&app.get("/v1/validations?region=East", &app.admin).await), [n_east.as_str()]);
        assert_eq!(numbers(&app.get("/v1/validations", &c.noc_east).await), [n_east.as_str()]);
        assert_eq!(numbers(&app.get("/v1/validations?limit=1&offset=1", &app.admin).await), [n_near.as_str()]);
        app.get("/v1/validations", &c.foc).await.expect(403);
        app.get("/v1/validations", &c.supervisor).await.expect(403);
        app.get("/v1/validations?flag=nope", &c.noc).await.expect(400);

        // A verdict takes the evidence off the queue; /metrics counts what waits and what was flagged.
        validate(&app, &c.noc, &far, false).await.expect(200);
        assert_eq!(numbers(&app.get("/v1/validations", &c.noc).await), [n_near.as_str()]);
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        for line in [
            "cgs_evidence_waiting 2",
            "cgs_evidence_waiting_flagged{flag=\"farFromCustomer\"} 0",
            "cgs_evidence_flagged_total{flag=\"farFromCustomer\"} 1",
            "cgs_evidence_flagged_total{flag=\"reusedMedia\"} 0",
        ] {
            assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
        }
        let oldest = metrics.lines().find_map(|l| l.strip_prefix("cgs_evidence_waiting_oldest_seconds ")).unwrap();
        assert!(oldest.parse::<i64>().unwrap() >= 0);
    }
}

on_both_backends! {
    with |s| { s.evidence_enforce = true; };
    async fn with_enforcement_a_flagged_check_in_is_refused_and_changes_nothing(app) {
        let c = cast(&app).await;
        let id = open_ticket(&app, &c).await;
        let before = doc(&app, &id).await;
        let a = check_in(&app, &c.foc, &id, "https://media.test/enforced.jpg", FAR).await;
        a.expect(422);
        assert_eq!(a.code(), "evidence_flagged");
        assert!(a.body["message"].as_str().unwrap().contains("farFromCustomer"), "{}", a.body);
        let after = doc(&app, &id).await;
        assert_eq!(after["latestStatus"], "OnTheWay");
        assert_eq!(after["ticketLogs"].as_array().unwrap().len(), before["ticketLogs"].as_array().unwrap().len() + 2);
        assert_eq!(app.get("/v1/validations", &c.noc).await.body["data"]["meta"]["total"], 0);
        // From the customer's place it goes through.
        let body = json!({"mediaUrl": "https://media.test/enforced-2.jpg", "locationCoordinate": GPS});
        act(&app, &c.foc, &id, "ticketStatus/checkedIn", Some(body)).await.expect(201);
        assert_eq!(doc(&app, &id).await["latestStatus"], "CheckedIn");
    }
}
