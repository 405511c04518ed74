//! The evidence checks: distance, EXIF facts, reuse, and the flags they raise.

use chrono::TimeZone;
use peers::photos::{PhotoExif, jpeg, png};

use super::*;
use crate::domain::Region;

const CUSTOMER: &str = "-6.914744,107.609810";
const POLICY: EvidencePolicy = EvidencePolicy { max_meters: 300, photo_max_age_minutes: 60 };

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, h, m, 0).unwrap()
}

fn facts<'a>(reported: Option<&'a str>) -> EvidenceFacts<'a> {
    EvidenceFacts {
        at_customer: true,
        client_coordinate: Some(Some(CUSTOMER)),
        reported,
        photo: PhotoFacts::default(),
        first_use: None,
        at: at(3, 0),
    }
}

#[test]
fn distances_are_great_circle_metres() {
    // One degree of latitude is about 111.2 km on the mean sphere.
    let d = distance_meters((0.0, 0.0), (1.0, 0.0));
    assert!((d - 111_195.0).abs() < 5.0, "{d}");
    // Bandung to Jakarta: 0.7147° of latitude and 0.7931° of longitude at 6.56° S, which the
    // flat-earth approximation over this short span puts at 1.0638° of arc, 118.29 km.
    let d = distance_meters((-6.914744, 107.609810), (-6.200000, 106.816666));
    assert!((118_200.0..118_400.0).contains(&d), "{d}");
    assert_eq!(distance_meters((10.0, 20.0), (10.0, 20.0)), 0.0);
    // Across the antimeridian the short way round.
    let d = distance_meters((0.0, 179.999), (0.0, -179.999));
    assert!(d < 300.0, "{d}");
}

#[test]
fn coordinates_parse_only_in_range() {
    assert_eq!(parse_coordinate(" -6.9 , 107.6 "), Some((-6.9, 107.6)));
    for bad in ["", "1", "91,0", "0,181", "a,b", "NaN,0", "inf,0"] {
        assert_eq!(parse_coordinate(bad), None, "{bad}");
    }
}

#[test]
fn the_distance_check_flags_a_position_beyond_the_limit() {
    // (reported position, metres expected about, flagged)
    let cases = [
        (CUSTOMER, 0, false),
        ("-6.914744,107.612500", 297, false), // about 297 m east
        ("-6.914744,107.612600", 308, true),  // about 308 m east
        ("-6.800000,107.609810", 12_759, true),
    ];
    for (reported, metres, flagged) in cases {
        let c = assess(&facts(Some(reported)), POLICY);
        let d = c.distance_meters.expect("measured");
        assert!((d - metres).abs() <= 2, "{reported}: {d} m");
        assert_eq!(c.flags.contains(&EvidenceFlag::FarFromCustomer), flagged, "{reported}");
        assert_eq!(c.distance_note, None);
    }
}

#[test]
fn no_distance_is_measured_without_a_client_or_a_coordinate_and_the_noc_is_told_why() {
    let mut f = facts(Some(CUSTOMER));
    f.client_coordinate = None;
    let c = assess(&f, POLICY);
    assert_eq!(
        (c.distance_meters, c.distance_note.as_deref()),
        (None, Some("not checked: the ticket has no client"))
    );
    f.client_coordinate = Some(None);
    let c = assess(&f, POLICY);
    assert_eq!(c.distance_note.as_deref(), Some("not checked: the client has no coordinate"));
    assert!(!c.is_flagged());
    // A task step away from the customer measures nothing and says nothing.
    let mut f = facts(Some("-7,110"));
    f.at_customer = false;
    assert_eq!(assess(&f, POLICY), EvidenceCheck::default());
}

#[test]
fn a_reused_photo_is_flagged_with_its_first_ticket() {
    let mut f = facts(Some(CUSTOMER));
    let first = FirstUse { ticket: Uuid::nil(), ticket_number: "CGS-202612-0001".into() };
    f.first_use = Some(first.clone());
    let c = assess(&f, POLICY);
    assert_eq!(c.flags, [EvidenceFlag::ReusedMedia]);
    assert_eq!(c.reused_from, Some(first));
}

#[test]
fn the_photo_position_and_time_are_compared_with_the_report() {
    // (photo position, minutes between capture and request, flags expected)
    let near = (-6.914744, 107.609810);
    let far = (-6.95, 107.609810); // about 3.9 km south
    type Case = (Option<(f64, f64)>, Option<i64>, &'static [EvidenceFlag]);
    let cases: [Case; 6] = [
        (Some(near), Some(5), &[]),
        (Some(far), Some(5), &[EvidenceFlag::PhotoFarFromReport]),
        (Some(near), Some(61), &[EvidenceFlag::PhotoTimeMismatch]),
        (Some(near), Some(-61), &[EvidenceFlag::PhotoTimeMismatch]),
        (None, Some(60), &[]),
        (Some(far), None, &[EvidenceFlag::PhotoFarFromReport]),
    ];
    for (position, minutes, flags) in cases {
        let mut f = facts(Some(CUSTOMER));
        f.photo = PhotoFacts { position, taken_at: minutes.map(|m| f.at - Duration::minutes(m)) };
        let c = assess(&f, POLICY);
        assert_eq!(c.flags, flags, "{position:?} {minutes:?}");
        assert_eq!(c.photo_coordinate.is_some(), position.is_some());
        assert_eq!(c.photo_taken_at, f.photo.taken_at);
    }
    // The photo's distance is measured from the reported position, not the customer's.
    let mut f = facts(Some("-6.95,107.609810"));
    f.photo.position = Some(far);
    let c = assess(&f, POLICY);
    assert_eq!(c.flags, [EvidenceFlag::FarFromCustomer]);
    assert_eq!(c.photo_distance_meters, Some(0));
}

#[test]
fn flags_are_stored_as_names_and_read_back() {
    let all = EvidenceFlag::ALL.to_vec();
    assert_eq!(EvidenceFlag::split(EvidenceFlag::join(&all).as_deref()), all);
    assert_eq!(EvidenceFlag::join(&[]), None);
    assert_eq!(EvidenceFlag::split(None), []);
    assert_eq!(serde_json::to_value(EvidenceFlag::FarFromCustomer).unwrap(), "farFromCustomer");
}

#[test]
fn images_are_told_by_their_first_bytes() {
    let heic = [&[0, 0, 0, 24][..], b"ftypheic", &[0; 12]].concat();
    let webp = [&b"RIFF"[..], &[0; 4], b"WEBPVP8 "].concat();
    let cases: [(&[u8], Option<ImageType>); 6] = [
        (&jpeg(None, "a"), Some(ImageType::Jpeg)),
        (&png("a"), Some(ImageType::Png)),
        (&webp, Some(ImageType::Webp)),
        (&heic, Some(ImageType::Heic)),
        (b"GIF89a....", None),
        (b"", None),
    ];
    for (bytes, expected) in cases {
        assert_eq!(ImageType::sniff(bytes), expected, "{:?}", &bytes[..bytes.len().min(12)]);
    }
    assert_eq!(ImageType::from_mime("Image/JPEG; q=1"), Some(ImageType::Jpeg));
    assert_eq!(ImageType::from_mime("image/heif"), Some(ImageType::Heic));
    assert_eq!(ImageType::from_mime("image/gif"), None);
}

#[test]
fn exif_gives_the_photo_position_and_capture_time() {
    let wib = Region::West.utc_offset();
    // With an offset the capture time is exact; the position keeps its hemispheres.
    let exif = PhotoExif {
        position: Some((-6.914744, 107.609810)),
        taken: Some("2026:12:02 10:42:07".into()),
        offset: Some("+08:00".into()),
    };
    let p = read_photo(&jpeg(Some(&exif), "x"), wib);
    let (lat, long) = p.position.unwrap();
    assert!((lat + 6.914744).abs() < 1e-6 && (long - 107.609810).abs() < 1e-6, "{lat},{long}");
    assert_eq!(p.taken_at, Some(Utc.with_ymd_and_hms(2026, 12, 2, 2, 42, 7).unwrap()));
    // Without an offset it is the uploader's local time (WIB is UTC+7); west and north signs.
    let exif =
        PhotoExif { position: Some((40.5, -74.25)), taken: Some("2026:12:02 10:42:07".into()), offset: None };
    let p = read_photo(&jpeg(Some(&exif), "y"), wib);
    assert_eq!(p.position, Some((40.5, -74.25)));
    assert_eq!(p.taken_at, Some(Utc.with_ymd_and_hms(2026, 12, 2, 3, 42, 7).unwrap()));
    // No EXIF, EXIF without GPS or time, and no image at all say nothing.
    assert_eq!(read_photo(&jpeg(None, "z"), wib), PhotoFacts::default());
    assert_eq!(read_photo(&jpeg(Some(&PhotoExif::default()), "z"), wib), PhotoFacts::default());
    assert_eq!(read_photo(b"not an image", wib), PhotoFacts::default());
    // A blank capture time is no time.
    let blank = PhotoExif { taken: Some("    :  :     :  :  ".into()), ..Default::default() };
    assert_eq!(read_photo(&jpeg(Some(&blank), "z"), wib).taken_at, None);
}

#[test]
fn media_urls_of_the_store_are_known_by_their_sha256() {
    let sha = "ab".repeat(32);
    for url in [
        format!("/v1/media/{sha}"),
        format!("https://api.cgs.test/v1/media/{sha}?download=1"),
        format!(" https://api.cgs.test/v1/media/{sha}/ "),
    ] {
        assert_eq!(stored_media(&url), Some(sha.as_str()), "{url}");
        assert_eq!(media_key(&url), sha);
    }
    for url in [
        format!("/v1/media/{}", &sha[1..]),
        format!("/v1/media/{}", sha.to_uppercase()),
        "https://x/p.jpg".into(),
    ] {
        assert_eq!(stored_media(&url), None, "{url}");
    }
    // An external address is known by its hash: the same address (blanks aside) is the same key.
    let key = media_key(" https://x/p.jpg ");
    assert_eq!(key, media_key("https://x/p.jpg"));
    assert!(key.starts_with("url:") && key.len() == 4 + 64, "{key}");
    assert_ne!(key, media_key("https://x/q.jpg"));
}
