//! A ticket's log: its entries as stored, appending them, and the verdicts written back into them.

#[allow(unused_imports)]
use super::*;

/// A log entry as stored.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct LogRow {
    pub id: Uuid,
    pub seq: i64,
    pub card_type: CardType,
    pub status_name: Status,
    pub title: String,
    pub description: String,
    pub actor_id: Option<Uuid>,
    pub actor_name: String,
    pub actor_photo: Option<String>,
    pub evidence_id: Option<Uuid>,
    pub need_approval: bool,
    pub is_approved: Option<bool>,
    pub approval_remark: Option<String>,
    pub remark: Option<String>,
    pub location_coordinate: Option<String>,
    pub media_url: Option<String>,
    pub pending_minutes: Option<i64>,
    pub pending_category: Option<PendingCategory>,
    pub cancel_category: Option<CancelCategory>,
    pub is_resumed: Option<bool>,
    pub foc_before_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    #[sqlx(flatten)]
    #[serde(flatten)]
    pub check: StoredCheck,
}

/// The checks made when an evidence arrived (see `domain::evidence`), as its log entry keeps them.
#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct StoredCheck {
    pub distance_meters: Option<i64>,
    pub distance_note: Option<String>,
    pub photo_coordinate: Option<String>,
    pub photo_taken_at: Option<DateTime<Utc>>,
    pub photo_distance_meters: Option<i64>,
    pub reused_from: Option<Uuid>,
    pub reused_from_number: Option<String>,
    /// Flag names joined by commas.
    pub flags: Option<String>,
}

impl StoredCheck {
    /// The columns, for a `SELECT` from `ticket_logs` under the alias `l`.
    pub const COLUMNS: &str = "l.distance_meters, l.distance_note, l.photo_coordinate, l.photo_taken_at, \
         l.photo_distance_meters, l.reused_from, l.reused_from_number, l.flags";

    pub fn flags(&self) -> Vec<EvidenceFlag> {
        EvidenceFlag::split(self.flags.as_deref())
    }

    /// The ticket whose evidence used the same photo first.
    pub fn reused(&self) -> Option<(Uuid, String)> {
        self.reused_from.zip(self.reused_from_number.clone())
    }
}

const LOG_COLUMNS: &str = "id, seq, card_type, status_name, title, description, actor_id, actor_name, actor_photo, \
     evidence_id, need_approval, is_approved, approval_remark, remark, location_coordinate, media_url, \
     pending_minutes, pending_category, cancel_category, is_resumed, foc_before_id, created_at";

/// Appends log entries after the ticket's last one, each numbered in its own insert. Every
/// append goes with the version-guarded write of its ticket ([`save_state`], or its insert),
/// in the same statement or transaction: of two racing, one fails whole, so nobody appends in
/// between. The inserts are deferred writes ([`db_write!`](crate::db_write)).
pub async fn append_logs(
    tx: &mut Tx,
    ticket: Uuid,
    logs: &[NewLog],
    actor: &LogActor,
) -> Result<(), DomainError> {
    for l in logs {
        let Evidence { media_url, remark, location, check } = &l.evidence;
        let check = check.clone().unwrap_or_default();
        let (reused_from, reused_from_number) =
            check.reused_from.map(|f| (f.ticket, f.ticket_number)).unzip();
        let seq_after_last = tx.next_log_seq(ticket);
        db_write!(
            tx,
            "INSERT INTO ticket_logs (id, ticket_id, seq, card_type, status_name, title, description, actor_id, \
             actor_name, actor_photo, evidence_id, need_approval, is_approved, approval_remark, remark, \
             location_coordinate, media_url, pending_minutes, pending_category, cancel_category, is_resumed, \
             foc_before_id, created_at, media_key, distance_meters, distance_note, photo_coordinate, \
             photo_taken_at, photo_distance_meters, reused_from, reused_from_number, flags) \
             SELECT $1, $2, COALESCE(MAX(seq), 0) + $32, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31 \
             FROM ticket_logs WHERE ticket_id = $2",
            Uuid::now_v7(),
            ticket,
            l.card_type,
            l.status_name,
            &l.title,
            &l.description,
            actor.id,
            &actor.name,
            &actor.photo,
            l.evidence_id,
            l.need_approval,
            l.is_approved,
            &l.approval_remark,
            remark,
            location,
            media_url,
            l.pending_minutes,
            l.pending_category,
            l.cancel_category,
            l.is_resumed,
            l.foc_before,
            l.at,
            media_url.as_deref().map(evidence::media_key),
            check.distance_meters,
            &check.distance_note,
            &check.photo_coordinate,
            check.photo_taken_at,
            check.photo_distance_meters,
            reused_from,
            &reused_from_number,
            EvidenceFlag::join(&check.flags),
            seq_after_last,
        )?;
    }
    Ok(())
}

/// Who wrote a log entry: a user, or the system (no id).
#[derive(Debug, Clone)]
pub struct LogActor {
    pub id: Option<Uuid>,
    pub name: String,
    pub photo: Option<String>,
}

impl LogActor {
    pub fn system() -> Self {
        Self { id: None, name: "System".into(), photo: None }
    }
}

impl From<&Actor> for LogActor {
    fn from(a: &Actor) -> Self {
        Self { id: Some(a.id), name: a.name.clone(), photo: None }
    }
}

/// Applies verdicts and resumes to the log entries of an evidence.
pub async fn update_logs(tx: &mut Tx, ticket: Uuid, updates: &[LogUpdate]) -> Result<(), DomainError> {
    for u in updates {
        match u {
            LogUpdate::Validated { evidence_id, approved, remark } => db_write!(
                tx,
                "UPDATE ticket_logs SET is_approved = $3, approval_remark = $4 \
                 WHERE ticket_id = $1 AND evidence_id = $2",
                ticket,
                evidence_id,
                approved,
                remark,
            )?,
            LogUpdate::Resumed { evidence_id, minutes } => db_write!(
                tx,
                "UPDATE ticket_logs SET is_resumed = TRUE, pending_minutes = $3 \
                 WHERE ticket_id = $1 AND evidence_id = $2",
                ticket,
                evidence_id,
                minutes,
            )?,
        }
    }
    Ok(())
}

/// The statement of [`logs`], `$1` the ticket (the document's read takes it as a subquery).
pub fn logs_sql() -> String {
    format!(
        "SELECT {LOG_COLUMNS}, {} FROM ticket_logs l WHERE ticket_id = $1 ORDER BY seq",
        StoredCheck::COLUMNS
    )
}

/// A ticket's log, in order.
pub async fn logs(tx: &mut Tx, ticket: Uuid) -> Result<Vec<LogRow>, DomainError> {
    let sql = logs_sql();
    Ok(db_run!(tx, |c| sqlx::query_as::<_, LogRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(ticket)
        .fetch_all(&mut *c)
        .await?))
}

/// Whether a ticket's log knows an evidence id.
pub async fn has_evidence(tx: &mut Tx, ticket: Uuid, evidence: Uuid) -> Result<bool, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM ticket_logs WHERE ticket_id = $1 AND evidence_id = $2",
        )
        .bind(ticket)
        .bind(evidence)
        .fetch_one(&mut *c)
        .await?
            > 0
    }))
}
