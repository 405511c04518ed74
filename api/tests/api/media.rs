//! The media store through the API: uploads, their refusals, serving under the read rule with
//! caching headers; and the S3 store against a local S3-compatible server. The rule that a
//! ticket's evidence opens a photo to the ticket's readers is in `tickets/evidence.rs`.

use common::domain::{Region, Role};
use peers::photos::{PhotoExif, jpeg, png};
use reqwest::header;
use sha2::{Digest, Sha256};

use crate::{helpers::*, on_both_backends};

fn sha_of(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The photo at `path` as `token` sees it: status, bytes and headers.
async fn fetch(app: &TestApp, path: &str, token: &str) -> (u16, Vec<u8>, header::HeaderMap) {
    let r = app.client.get(app.url(path)).bearer_auth(token).send().await.unwrap();
    let (status, headers) = (r.status().as_u16(), r.headers().clone());
    (status, r.bytes().await.unwrap().to_vec(), headers)
}

on_both_backends! {
    async fn a_photo_is_stored_under_its_sha256_with_what_its_exif_says(app) {
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let exif = PhotoExif {
            position: Some((-6.914744, 107.60981)),
            taken: Some("2026:12:02 10:42:07".into()),
            offset: None,
        };
        let photo = jpeg(Some(&exif), "upload");
        let a = app.upload(&foc, "image/jpeg", photo.clone()).await;
        a.expect(201);
        let r = a.result();
        let sha = sha_of(&photo);
        assert_eq!(r["sha256"], sha);
        assert_eq!(r["mediaUrl"], format!("/v1/media/{sha}"));
        assert_eq!((r["contentType"].as_str(), r["sizeBytes"].as_i64()), (Some("image/jpeg"), Some(photo.len() as i64)));
        assert_eq!(r["exif"]["coordinate"], "-6.914744,107.609810");
        // No offset in the EXIF: the time is the West technician's local time (UTC+7).
        let taken = chrono::DateTime::parse_from_rfc3339(r["exif"]["takenAt"].as_str().unwrap()).unwrap();
        assert_eq!(taken, chrono::DateTime::parse_from_rfc3339("2026-12-02T03:42:07Z").unwrap());

        // The uploader reads it back, byte for byte, with headers that let it be kept.
        let (status, bytes, headers) = fetch(&app, &format!("/v1/media/{sha}"), &foc).await;
        assert_eq!((status, bytes == photo), (200, true));
        assert_eq!(headers[header::CONTENT_TYPE], "image/jpeg");
        assert_eq!(headers[header::CACHE_CONTROL], "private, max-age=31536000, immutable");
        assert_eq!(headers[header::ETAG], format!("\"{sha}\""));
        let again = app
            .client
            .get(app.url(&format!("/v1/media/{sha}")))
            .bearer_auth(&foc)
            .header(header::IF_NONE_MATCH, format!("\"{sha}\""))
            .send()
            .await
            .unwrap();
        assert_eq!(again.status().as_u16(), 304);
        assert!(again.bytes().await.unwrap().is_empty());

        // The same bytes again, by another user: the same photo, stored once; a photo without
        // EXIF says nothing.
        let (_, noc) = app.user(Role::NOC, Region::West).await;
        let b = app.upload(&noc, "image/jpeg", photo.clone()).await;
        b.expect(201);
        assert_eq!((b.result()["sha256"].as_str(), b.result()["createdAt"].as_str()), (Some(sha.as_str()), r["createdAt"].as_str()));
        assert_eq!(app.scalar("SELECT COUNT(*) FROM media").await, 1);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM media_uploads").await, 2);
        let plain = app.upload(&noc, "image/*", png("plain")).await;
        plain.expect(201);
        assert!(plain.result()["exif"].is_null(), "{}", plain.body);
        assert_eq!(plain.result()["contentType"], "image/png");
    }

    async fn a_photo_nobody_shared_is_not_found_for_others(app) {
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let (_, other) = app.user(Role::FOC, Region::West).await;
        let photo = jpeg(None, "private");
        let sha = sha_of(&photo);
        app.upload(&foc, "image/jpeg", photo).await.expect(201);
        // Another technician, even the SuperAdmin: no ticket uses it yet.
        for token in [&other, &app.admin] {
            app.get(&format!("/v1/media/{sha}"), token).await.expect(404);
        }
        app.get(&format!("/v1/media/{}", "0".repeat(64)), &foc).await.expect(404);
        let bad = app.get("/v1/media/ABC", &foc).await;
        bad.expect(400);
        assert_eq!(bad.body["details"][0]["field"], "sha256");
        // Not logged in.
        let r = app.client.get(app.url(&format!("/v1/media/{sha}"))).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }

    async fn what_is_not_a_photo_is_refused_and_nothing_is_stored(app) {
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        // Bytes that are no image, nothing at all, a type that is not taken.
        let a = app.upload(&foc, "image/jpeg", b"<html>not a photo</html>".to_vec()).await;
        a.expect(400);
        assert_eq!(a.body["details"][0]["field"], "body");
        app.upload(&foc, "image/jpeg", Vec::new()).await.expect(400);
        app.upload(&foc, "image/gif", b"GIF89a".to_vec()).await.expect(415);
        app.upload(&foc, "application/json", b"{}".to_vec()).await.expect(415);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM media").await, 0);
        // The bytes decide the type (a phone labels its HEIC photos image/jpeg).
        let a = app.upload(&foc, "image/jpeg", png("labelled-jpeg")).await;
        a.expect(201);
        assert_eq!(a.result()["contentType"], "image/png");
    }
}

on_both_backends! {
    with |s| { s.media_max_bytes = 64 * 1024; };
    async fn a_photo_over_the_limit_answers_413_while_it_is_read(app) {
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let mut big = jpeg(None, "big");
        big.resize(64 * 1024 + 1, 0);
        let head = |framing: String| {
            format!("POST /v1/media HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {foc}\r\nContent-Type: image/jpeg\r\n{framing}\r\n")
        };
        for (what, head, body) in [
            ("declared", head(format!("Content-Length: {}\r\n", big.len())), Vec::new()),
            ("sent with its length", head(format!("Content-Length: {}\r\n", big.len())), big.clone()),
            ("sent chunked", head("Transfer-Encoding: chunked\r\n".into()), chunked(&big)),
        ] {
            let answer = raw_exchange(app.addr, head, body).await;
            assert!(answer.starts_with("HTTP/1.1 413"), "{what}: {answer}");
            assert!(answer.contains("\"code\":\"payload_too_large\""), "{what}: {answer}");
        }
        // At the limit it is taken; JSON elsewhere keeps its own 1 MiB limit.
        big.truncate(64 * 1024);
        app.upload(&foc, "image/jpeg", big).await.expect(201);
        assert_eq!(app.scalar("SELECT COUNT(*) FROM media").await, 1);
    }
}

on_both_backends! {
    fixture S3Server;
    async fn photos_go_to_an_s3_bucket_when_one_is_set(app, s3) {
        let (_, foc) = app.user(Role::FOC, Region::West).await;
        let photo = jpeg(None, "to-the-bucket");
        let sha = sha_of(&photo);
        app.upload(&foc, "image/jpeg", photo.clone()).await.expect(201);
        // The object sits in the bucket under its hash (read back with the server's own API),
        // and the API serves it from there.
        let key = format!("{}/{sha}", &sha[..2]);
        assert_eq!(s3.object(&key), Some(photo.clone()));
        let (status, bytes, _) = fetch(&app, &format!("/v1/media/{sha}"), &foc).await;
        assert_eq!((status, bytes == photo), (200, true));
        // Nothing went to a directory: with a bucket the app makes none.
        assert!(!app.media_dir.exists(), "{}", app.media_dir.display());
    }
}
