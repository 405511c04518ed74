//! What the NOC is shown beside a technician's photo and position: the distance from the
//! customer, what the photo itself says (its EXIF position and capture time), and whether the
//! same photo was already used as evidence. Pure: the caller reads the stored facts and the time.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

/// Something about an evidence the NOC should look at twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(poem_openapi::Enum))]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", oai(rename_all = "camelCase"))]
pub enum EvidenceFlag {
    /// The reported position is farther from the customer than `CGS_CHECKIN_MAX_METERS`.
    FarFromCustomer,
    /// The same photo (same bytes, or the same external URL) is already evidence elsewhere.
    ReusedMedia,
    /// The photo's own GPS position is farther from the reported one than `CGS_CHECKIN_MAX_METERS`.
    PhotoFarFromReport,
    /// The photo was taken more than `CGS_EVIDENCE_PHOTO_MAX_AGE_MINUTES` before (or after) the request.
    PhotoTimeMismatch,
}

impl EvidenceFlag {
    pub const ALL: [EvidenceFlag; 4] =
        [Self::FarFromCustomer, Self::ReusedMedia, Self::PhotoFarFromReport, Self::PhotoTimeMismatch];

    /// The name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FarFromCustomer => "farFromCustomer",
            Self::ReusedMedia => "reusedMedia",
            Self::PhotoFarFromReport => "photoFarFromReport",
            Self::PhotoTimeMismatch => "photoTimeMismatch",
        }
    }

    /// Flags as stored: names joined by commas.
    pub fn join(flags: &[EvidenceFlag]) -> Option<String> {
        (!flags.is_empty()).then(|| flags.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(","))
    }

    /// Flags from their stored form; unknown names are skipped.
    pub fn split(stored: Option<&str>) -> Vec<EvidenceFlag> {
        stored
            .unwrap_or_default()
            .split(',')
            .filter_map(|name| Self::ALL.into_iter().find(|f| f.as_str() == name))
            .collect()
    }
}

impl std::fmt::Display for EvidenceFlag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The image types the media store accepts, told by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageType {
    Jpeg,
    Png,
    Webp,
    Heic,
}

impl ImageType {
    pub const ALL: [ImageType; 4] = [Self::Jpeg, Self::Png, Self::Webp, Self::Heic];

    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Heic => "image/heic",
        }
    }

    /// The type a `Content-Type` names (parameters ignored; `image/heif` is HEIC's container).
    pub fn from_mime(content_type: &str) -> Option<ImageType> {
        let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        match essence.as_str() {
            "image/jpeg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            "image/webp" => Some(Self::Webp),
            "image/heic" | "image/heif" => Some(Self::Heic),
            _ => None,
        }
    }

    /// The type the bytes are, by their magic numbers.
    pub fn sniff(bytes: &[u8]) -> Option<ImageType> {
        const HEIC_BRANDS: [&[u8; 4]; 8] =
            [b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"];
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else if bytes.len() >= 12
            && &bytes[4..8] == b"ftyp"
            && HEIC_BRANDS.iter().any(|b| &bytes[8..12] == *b)
        {
            Some(Self::Heic)
        } else {
            None
        }
    }
}

/// What a photo says about itself (EXIF), when it says it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhotoFacts {
    /// Latitude and longitude in decimal degrees.
    pub position: Option<(f64, f64)>,
    pub taken_at: Option<DateTime<Utc>>,
}

/// Reads a photo's GPS position and capture time from its EXIF data (JPEG, PNG, WebP, HEIC). A
/// photo without EXIF, or with broken EXIF, says nothing; a capture time without an offset is
/// taken in `local`.
pub fn read_photo(bytes: &[u8], local: FixedOffset) -> PhotoFacts {
    let Ok(exif) = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)) else {
        return PhotoFacts::default();
    };
    let ascii = |tag| match exif.get_field(tag, exif::In::PRIMARY).map(|f| &f.value) {
        Some(exif::Value::Ascii(v)) => v.first().cloned(),
        _ => None,
    };
    let degrees = |tag| match exif.get_field(tag, exif::In::PRIMARY).map(|f| &f.value) {
        Some(exif::Value::Rational(v)) if v.len() == 3 && v.iter().all(|r| r.denom != 0) => {
            Some(v[0].to_f64() + v[1].to_f64() / 60.0 + v[2].to_f64() / 3600.0)
        }
        _ => None,
    };
    let signed = |value: Option<f64>, reference: exif::Tag, negative: &[u8]| {
        let v = value?;
        Some(if ascii(reference).is_some_and(|r| r.as_slice() == negative) { -v } else { v })
    };
    let lat = signed(degrees(exif::Tag::GPSLatitude), exif::Tag::GPSLatitudeRef, b"S");
    let long = signed(degrees(exif::Tag::GPSLongitude), exif::Tag::GPSLongitudeRef, b"W");
    let position = lat.zip(long).filter(|(la, lo)| la.abs() <= 90.0 && lo.abs() <= 180.0);
    let taken_at =
        ascii(exif::Tag::DateTimeOriginal).and_then(|raw| {
            let mut dt = exif::DateTime::from_ascii(&raw).ok()?;
            if let Some(offset) = ascii(exif::Tag::OffsetTimeOriginal) {
                let _ = dt.parse_offset(&offset);
            }
            let naive = NaiveDate::from_ymd_opt(dt.year.into(), dt.month.into(), dt.day.into())?
                .and_hms_opt(dt.hour.into(), dt.minute.into(), dt.second.into())?;
            let zone = match dt.offset {
                Some(minutes) => FixedOffset::east_opt(i32::from(minutes) * 60)?,
                None => local,
            };
            zone.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
        });
    PhotoFacts { position, taken_at }
}

/// The SHA-256 a media URL of this system names (`…/v1/media/<sha256>`), if it is one.
pub fn stored_media(url: &str) -> Option<&str> {
    let url = url.trim();
    let path = url.split(['?', '#']).next().unwrap_or_default();
    let sha = path.strip_suffix('/').unwrap_or(path).rsplit_once("/v1/media/")?.1;
    (sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))).then_some(sha)
}

/// What identifies a photo across evidence: the SHA-256 of stored media, else `url:` and the
/// SHA-256 of the address (an address may be 2000 characters, more than an index entry takes).
pub fn media_key(url: &str) -> String {
    use sha2::{Digest, Sha256};
    match stored_media(url) {
        Some(sha) => sha.to_owned(),
        None => {
            let digest = Sha256::digest(url.trim().as_bytes());
            format!("url:{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
        }
    }
}

/// A `latitude,longitude` text as numbers; `None` when it is not one.
pub fn parse_coordinate(text: &str) -> Option<(f64, f64)> {
    let (lat, long) = text.split_once(',')?;
    let (lat, long) = (lat.trim().parse::<f64>().ok()?, long.trim().parse::<f64>().ok()?);
    (lat.is_finite() && long.is_finite() && lat.abs() <= 90.0 && long.abs() <= 180.0).then_some((lat, long))
}

/// A position as the API writes coordinates (`lat,long`, six decimals: about 0.1 m).
pub fn format_coordinate((lat, long): (f64, f64)) -> String {
    format!("{lat:.6},{long:.6}")
}

/// Great-circle distance in metres (haversine, on a sphere of the Earth's mean radius).
pub fn distance_meters(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_M: f64 = 6_371_008.8;
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let d_lat = (b.0 - a.0).to_radians();
    let d_long = (b.1 - a.1).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_long / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// The evidence that first used a photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirstUse {
    pub ticket: Uuid,
    /// Its human-readable number.
    pub ticket_number: String,
}

/// Why the distance from the customer was not measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoDistance {
    /// The step is not one at the customer's place (only check-in and finishing are).
    NotThisStep,
    NoClient,
    NoClientCoordinate,
    NoReportedPosition,
}

impl NoDistance {
    /// What the NOC reads instead of a distance (`None`: nothing worth saying).
    pub fn note(self) -> Option<&'static str> {
        match self {
            Self::NotThisStep | Self::NoReportedPosition => None,
            Self::NoClient => Some("not checked: the ticket has no client"),
            Self::NoClientCoordinate => Some("not checked: the client has no coordinate"),
        }
    }
}

/// The limits the checks apply (`CGS_CHECKIN_MAX_METERS`, `CGS_EVIDENCE_PHOTO_MAX_AGE_MINUTES`).
#[derive(Debug, Clone, Copy)]
pub struct EvidencePolicy {
    pub max_meters: i64,
    pub photo_max_age_minutes: i64,
}

/// What is known when an evidence arrives.
#[derive(Debug, Clone)]
pub struct EvidenceFacts<'a> {
    /// Check-in or finishing: the technician should stand at the customer's.
    pub at_customer: bool,
    /// The ticket's client: `None` without one, `Some(None)` when it has no coordinate.
    pub client_coordinate: Option<Option<&'a str>>,
    /// The position the technician reported.
    pub reported: Option<&'a str>,
    /// What the photo says of itself (stored media only).
    pub photo: PhotoFacts,
    /// An earlier evidence with the same photo.
    pub first_use: Option<FirstUse>,
    /// When the request arrived.
    pub at: DateTime<Utc>,
}

/// What the checks found; stored with the log entry the evidence makes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvidenceCheck {
    /// From the customer's coordinate to the reported position, in whole metres.
    pub distance_meters: Option<i64>,
    /// Why there is no distance, when the NOC should know.
    pub distance_note: Option<String>,
    /// The photo's own GPS position (`lat,long`).
    pub photo_coordinate: Option<String>,
    pub photo_taken_at: Option<DateTime<Utc>>,
    /// From the photo's position to the reported one, in whole metres.
    pub photo_distance_meters: Option<i64>,
    pub reused_from: Option<FirstUse>,
    pub flags: Vec<EvidenceFlag>,
}

impl EvidenceCheck {
    pub fn is_flagged(&self) -> bool {
        !self.flags.is_empty()
    }
}

/// Runs every check on an arriving evidence.
pub fn assess(facts: &EvidenceFacts<'_>, policy: EvidencePolicy) -> EvidenceCheck {
    let mut check = EvidenceCheck::default();
    let reported = facts.reported.and_then(parse_coordinate);
    let customer = match (facts.at_customer, facts.client_coordinate, reported) {
        (false, _, _) => Err(NoDistance::NotThisStep),
        (true, None, _) => Err(NoDistance::NoClient),
        (true, Some(c), _) if c.and_then(parse_coordinate).is_none() => Err(NoDistance::NoClientCoordinate),
        (true, _, None) => Err(NoDistance::NoReportedPosition),
        (true, Some(c), Some(r)) => {
            Ok(distance_meters(c.and_then(parse_coordinate).expect("checked above"), r))
        }
    };
    match customer {
        Ok(m) => {
            check.distance_meters = Some(m.round() as i64);
            if m > policy.max_meters as f64 {
                check.flags.push(EvidenceFlag::FarFromCustomer);
            }
        }
        Err(why) => check.distance_note = why.note().map(str::to_owned),
    }
    if let Some(first) = &facts.first_use {
        check.reused_from = Some(first.clone());
        check.flags.push(EvidenceFlag::ReusedMedia);
    }
    if let Some(photo) = facts.photo.position {
        check.photo_coordinate = Some(format_coordinate(photo));
        if let Some(r) = reported {
            let m = distance_meters(photo, r);
            check.photo_distance_meters = Some(m.round() as i64);
            if m > policy.max_meters as f64 {
                check.flags.push(EvidenceFlag::PhotoFarFromReport);
            }
        }
    }
    if let Some(taken) = facts.photo.taken_at {
        check.photo_taken_at = Some(taken);
        if (facts.at - taken).abs() > Duration::minutes(policy.photo_max_age_minutes) {
            check.flags.push(EvidenceFlag::PhotoTimeMismatch);
        }
    }
    check
}

#[cfg(test)]
#[path = "evidence_tests.rs"]
mod tests;
