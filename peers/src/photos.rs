//! Photos made for tests: small JPEGs with or without EXIF (GPS position, capture time), written
//! with kamadak-exif's own writer, so the reader under test meets EXIF it did not make itself.

use exif::{Field, In, Rational, Tag, Value};

/// What a test photo's EXIF says.
#[derive(Debug, Clone, Default)]
pub struct PhotoExif {
    /// Latitude and longitude in decimal degrees.
    pub position: Option<(f64, f64)>,
    /// `DateTimeOriginal`, as a camera writes it: `2026:12:02 10:42:00` (local time).
    pub taken: Option<String>,
    /// `OffsetTimeOriginal`, e.g. `+07:00`.
    pub offset: Option<String>,
}

fn dms(decimal: f64) -> Vec<Rational> {
    let abs = decimal.abs();
    let degrees = abs.trunc();
    let minutes = ((abs - degrees) * 60.0).trunc();
    let seconds = ((abs - degrees) * 60.0 - minutes) * 60.0;
    vec![
        Rational { num: degrees as u32, denom: 1 },
        Rational { num: minutes as u32, denom: 1 },
        Rational { num: (seconds * 10_000.0).round() as u32, denom: 10_000 },
    ]
}

fn ascii(tag: Tag, text: &str) -> Field {
    Field { tag, ifd_num: In::PRIMARY, value: Value::Ascii(vec![text.as_bytes().to_vec()]) }
}

/// The EXIF block (a TIFF structure) of `exif`.
pub fn exif_tiff(exif: &PhotoExif) -> Vec<u8> {
    let mut fields = vec![ascii(Tag::Make, "CGS test camera")];
    if let Some((lat, long)) = exif.position {
        fields.push(ascii(Tag::GPSLatitudeRef, if lat < 0.0 { "S" } else { "N" }));
        fields.push(Field { tag: Tag::GPSLatitude, ifd_num: In::PRIMARY, value: Value::Rational(dms(lat)) });
        fields.push(ascii(Tag::GPSLongitudeRef, if long < 0.0 { "W" } else { "E" }));
        fields.push(Field {
            tag: Tag::GPSLongitude,
            ifd_num: In::PRIMARY,
            value: Value::Rational(dms(long)),
        });
    }
    if let Some(taken) = &exif.taken {
        fields.push(ascii(Tag::DateTimeOriginal, taken));
    }
    if let Some(offset) = &exif.offset {
        fields.push(ascii(Tag::OffsetTimeOriginal, offset));
    }
    let mut writer = exif::experimental::Writer::new();
    for f in &fields {
        writer.push_field(f);
    }
    let mut out = std::io::Cursor::new(Vec::new());
    writer.write(&mut out, false).expect("EXIF writes to memory");
    out.into_inner()
}

fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len() + 2).expect("a JPEG segment is under 64 KiB");
    let mut s = vec![0xFF, marker];
    s.extend_from_slice(&len.to_be_bytes());
    s.extend_from_slice(payload);
    s
}

/// A JPEG whose bytes differ by `salt` (a comment segment), with an EXIF segment when given.
/// Only its segments are real: enough for type sniffing and EXIF readers, not for a viewer.
pub fn jpeg(exif: Option<&PhotoExif>, salt: &str) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8];
    if let Some(e) = exif {
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(exif_tiff(e));
        out.extend(segment(0xE1, &app1));
    }
    out.extend(segment(0xFE, salt.as_bytes()));
    out.extend([0xFF, 0xD9]);
    out
}

/// A PNG signature followed by `salt`: a PNG to type sniffing, without EXIF.
pub fn png(salt: &str) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    out.extend(salt.as_bytes());
    out
}
