//! The media store's records: each photo's content (by SHA-256) with its EXIF facts, who
//! uploaded it, and which tickets' evidence uses it (for the read rule and for reuse).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Tx, access::scope_sql, sql::Sql};
use crate::{
    db_run,
    domain::{
        access::Actor,
        evidence::{FirstUse, PhotoFacts},
    },
    error::DomainError,
};

/// A stored photo.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MediaRow {
    pub sha256: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub photo_latitude: Option<f64>,
    pub photo_longitude: Option<f64>,
    pub photo_taken_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl MediaRow {
    /// What the photo's EXIF said.
    pub fn facts(&self) -> PhotoFacts {
        PhotoFacts { position: self.photo_latitude.zip(self.photo_longitude), taken_at: self.photo_taken_at }
    }
}

/// Records a photo and its uploader; a photo stored before keeps its first record (the same
/// bytes say the same EXIF), and the uploader is added to it. Answers the record.
pub async fn record(
    tx: &mut Tx,
    sha256: &str,
    content_type: &str,
    size: i64,
    facts: PhotoFacts,
    uploader: Uuid,
    now: DateTime<Utc>,
) -> Result<MediaRow, DomainError> {
    let (lat, long) = facts.position.unzip();
    db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO media (sha256, content_type, size_bytes, photo_latitude, photo_longitude, photo_taken_at, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (sha256) DO NOTHING",
        )
        .bind(sha256)
        .bind(content_type)
        .bind(size)
        .bind(lat)
        .bind(long)
        .bind(facts.taken_at)
        .bind(now)
        .execute(&mut *c)
        .await?;
        sqlx::query(
            "INSERT INTO media_uploads (sha256, user_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (sha256, user_id) DO NOTHING",
        )
        .bind(sha256)
        .bind(uploader)
        .bind(now)
        .execute(&mut *c)
        .await?;
    });
    get(tx, sha256).await?.ok_or_else(|| DomainError::Internal(format!("media {sha256} not recorded")))
}

/// A stored photo's record.
pub async fn get(tx: &mut Tx, sha256: &str) -> Result<Option<MediaRow>, DomainError> {
    let mut sql = Sql::new(
        "SELECT sha256, content_type, size_bytes, photo_latitude, photo_longitude, photo_taken_at, created_at \
         FROM media WHERE sha256 = ",
    );
    sql.bind(sha256);
    sql.fetch_optional(tx).await
}

/// Whether `actor` may see the photo: its uploader, or a user who may see a ticket whose
/// evidence uses it (the ticket read rule).
pub async fn visible_to(tx: &mut Tx, sha256: &str, actor: &Actor) -> Result<bool, DomainError> {
    let mut sql = Sql::new("SELECT CAST(CASE WHEN EXISTS (SELECT 1 FROM media_uploads WHERE sha256 = ");
    sql.bind(sha256).push(" AND user_id = ").bind(actor.id);
    sql.push(
        ") OR EXISTS (SELECT 1 FROM ticket_logs l JOIN tickets t ON t.id = l.ticket_id WHERE l.media_key = ",
    );
    sql.bind(sha256).push(" AND ").append(&scope_sql(actor.ticket_scope(), "t"));
    sql.push(") THEN 1 ELSE 0 END AS BIGINT)");
    Ok(sql.fetch_count(tx).await? == 1)
}

/// The first evidence that used a photo (by its media key), other than `evidence`.
pub async fn first_use(tx: &mut Tx, key: &str, evidence: Uuid) -> Result<Option<FirstUse>, DomainError> {
    #[derive(sqlx::FromRow)]
    struct Use {
        ticket: Uuid,
        number: String,
    }
    let mut sql = Sql::new(
        "SELECT l.ticket_id AS ticket, t.ticket_id AS number FROM ticket_logs l JOIN tickets t ON t.id = l.ticket_id \
         WHERE l.media_key = ",
    );
    sql.bind(key).push(" AND (l.evidence_id IS NULL OR l.evidence_id <> ").bind(evidence);
    sql.push(") ORDER BY l.created_at, l.id LIMIT 1");
    Ok(sql.fetch_optional::<Use>(tx).await?.map(|u| FirstUse { ticket: u.ticket, ticket_number: u.number }))
}
