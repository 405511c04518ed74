//! The NOC's validation queue: every technician's request whose evidence waits for a verdict,
//! with what the evidence checks found, oldest first; and its figures for `/metrics`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Page, PageRequest, Tx, sql::Sql, tickets::StoredCheck};
use crate::{
    domain::{Region, Status, evidence::EvidenceFlag},
    error::DomainError,
};

/// One evidence waiting for the NOC.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WaitingRow {
    pub ticket: Uuid,
    pub ticket_number: String,
    pub region: Region,
    pub end_user: String,
    pub status: Status,
    pub technician_id: Option<Uuid>,
    pub technician_name: String,
    pub evidence_id: Uuid,
    pub title: String,
    pub media_url: Option<String>,
    pub location_coordinate: Option<String>,
    pub remark: Option<String>,
    pub requested_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub check: StoredCheck,
}

/// The tickets whose request waits, each with the log entry of that request.
const WAITING: &str = "tickets t JOIN ticket_logs l ON l.ticket_id = t.id AND l.evidence_id = t.awaiting_evidence \
     AND l.card_type IN ('RequestValidationAction', 'FinishingAction')";

/// The queue's filters: a region (the NOC's own, or any for a SuperAdmin) and a flag.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueFilter {
    pub region: Option<Region>,
    pub flag: Option<EvidenceFlag>,
}

fn conditions(f: QueueFilter) -> Sql {
    let mut sql = Sql::new(" WHERE t.need_validate");
    sql.and_eq("t.region", f.region);
    if let Some(flag) = f.flag {
        sql.push(" AND (',' || l.flags || ',') LIKE ").bind(format!("%,{},%", flag.as_str()));
    }
    sql
}

/// The waiting evidence that matches `f`, oldest first.
pub async fn queue(tx: &mut Tx, f: QueueFilter, page: PageRequest) -> Result<Page<WaitingRow>, DomainError> {
    let select = format!(
        "SELECT t.id AS ticket, t.ticket_id AS ticket_number, t.region, t.end_user, t.status, \
         l.actor_id AS technician_id, l.actor_name AS technician_name, l.evidence_id, l.title, l.media_url, \
         l.location_coordinate, l.remark, l.created_at AS requested_at, {} FROM {WAITING}",
        StoredCheck::COLUMNS
    );
    super::sql::page(tx, &select, WAITING, &conditions(f), "l.created_at, t.id", page).await
}

/// The queue's figures: how much waits, since when, and how much of it (and of all evidence
/// ever) is flagged, by flag.
#[derive(Debug, Clone, Default)]
pub struct QueueStats {
    pub waiting: i64,
    pub oldest: Option<DateTime<Utc>>,
    /// (flag, waiting evidence with it, all evidence ever with it)
    pub flagged: Vec<(EvidenceFlag, i64, i64)>,
}

pub async fn stats(tx: &mut Tx) -> Result<QueueStats, DomainError> {
    #[derive(sqlx::FromRow)]
    struct Head {
        waiting: i64,
        oldest: Option<DateTime<Utc>>,
    }
    let head: Head = Sql::new(format!(
        "SELECT COUNT(*) AS waiting, MIN(l.created_at) AS oldest FROM {WAITING} WHERE t.need_validate"
    ))
    .fetch_one(tx)
    .await?;
    let mut flagged = Vec::new();
    for flag in EvidenceFlag::ALL {
        let pattern = format!("%,{},%", flag.as_str());
        let mut waiting = Sql::new(format!("SELECT COUNT(*) FROM {WAITING}"));
        waiting.append(&conditions(QueueFilter { region: None, flag: Some(flag) }));
        let mut ever = Sql::new(
            "SELECT COUNT(*) FROM ticket_logs l WHERE l.flags IS NOT NULL AND (',' || l.flags || ',') LIKE ",
        );
        ever.bind(pattern);
        flagged.push((flag, waiting.fetch_count(tx).await?, ever.fetch_count(tx).await?));
    }
    Ok(QueueStats { waiting: head.waiting, oldest: head.oldest, flagged })
}
