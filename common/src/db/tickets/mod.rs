//! Queries on `tickets`, `ticket_logs` and `ticket_counters`, by concern: the rows (here), the
//! write path, the log, the list and its reports, the SLA marks, and a ticket with all its
//! document names.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Conn, Page, PageRequest, Tx, access::rule_sql, like_pattern, sql::Sql};
use crate::{
    db_read, db_run, db_write,
    domain::{
        CancelCategory, CardType, CustomerType, IndicationCategory, NetworkSegment, PendingCategory, Region,
        SlaType, Status, TicketSource, TicketType,
        access::{self, Actor, TicketScope},
        evidence::{self, EvidenceFlag},
        report,
        ticket::{Evidence, LogUpdate, NewLog, TicketState},
    },
    error::DomainError,
};

mod list;
mod logs;
mod sla_marks;
mod view;
mod write;

pub use list::*;
pub use logs::*;
pub use sla_marks::*;
pub use view::*;
pub use write::*;

/// A ticket row, every column: the state the state machine works on, and the rest.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TicketRow {
    #[sqlx(flatten)]
    pub state: TicketState,
    pub ticket_id: String,
    pub version: i64,
    pub client_id: Option<Uuid>,
    pub end_user: String,
    pub customer_type: Option<CustomerType>,
    pub sla_hours: Option<i64>,
    pub sla_due_at: Option<DateTime<Utc>>,
    #[sqlx(rename = "type")]
    pub ticket_type: TicketType,
    pub source: TicketSource,
    pub network_segment: NetworkSegment,
    pub indication_category: IndicationCategory,
    pub indication: Option<String>,
    pub address: Option<String>,
    /// JSON array of `{name, phone}`.
    pub contact_person: String,
    pub remark: Option<String>,
    pub location_remark: Option<String>,
    pub ms_name: Option<String>,
    pub ms_location: Option<String>,
    pub splitter_name: Option<String>,
    pub splitter_location: Option<String>,
    pub noc_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// An outage's element: its level, key and name.
    pub outage_level: Option<crate::domain::OutageLevel>,
    pub outage_element: Option<String>,
    pub outage_name: Option<String>,
    /// The reports linked to an outage.
    pub child_count: i64,
}

impl TicketRow {
    pub fn sla_type(&self, now: DateTime<Utc>) -> SlaType {
        crate::domain::sla::sla_type(self.sla_hours, self.sla_due_at, self.state.closed_at, now)
    }
}

/// Reads a ticket's [`TicketState`] from the `tickets` columns of the same names.
macro_rules! state_from_row {
    ($($row:ty),+) => {$(
        impl<'r> sqlx::FromRow<'r, $row> for TicketState {
            fn from_row(row: &'r $row) -> Result<Self, sqlx::Error> {
                use sqlx::Row;
                Ok(Self {
                    id: row.try_get("id")?,
                    region: row.try_get("region")?,
                    status: row.try_get("status")?,
                    status_before: row.try_get("status_before")?,
                    need_validate: row.try_get("need_validate")?,
                    awaiting_evidence: row.try_get("awaiting_evidence")?,
                    foc_id: row.try_get("foc_id")?,
                    link_check_approved: row.try_get("link_check_approved")?,
                    canceled: row.try_get("canceled")?,
                    published_at: row.try_get("published_at")?,
                    accepted_at: row.try_get("accepted_at")?,
                    departure_at: row.try_get("departure_at")?,
                    check_in_at: row.try_get("check_in_at")?,
                    on_going_at: row.try_get("on_going_at")?,
                    closed_at: row.try_get("closed_at")?,
                    pending_evidence: row.try_get("pending_evidence")?,
                    pending_started_at: row.try_get("pending_started_at")?,
                    pending_minutes: row.try_get("pending_minutes")?,
                    pending_category: row.try_get("pending_category")?,
                    resume_status: row.try_get("resume_status")?,
                    total_pending_seconds: row.try_get("total_pending_seconds")?,
                    work_pending_seconds: row.try_get("work_pending_seconds")?,
                    parent_id: row.try_get("parent_id")?,
                    is_outage: row.try_get("is_outage")?,
                })
            }
        }
    )+};
}

state_from_row!(sqlx::sqlite::SqliteRow, sqlx::postgres::PgRow);

/// A ticket to insert; its state starts as given.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub id: Uuid,
    pub region: Region,
    pub client_id: Option<Uuid>,
    pub end_user: String,
    pub customer_type: Option<CustomerType>,
    pub sla_hours: Option<i64>,
    pub ticket_type: TicketType,
    pub source: TicketSource,
    pub network_segment: NetworkSegment,
    pub indication_category: IndicationCategory,
    pub indication: Option<String>,
    pub address: Option<String>,
    pub contact_person: String,
    pub remark: Option<String>,
    pub location_remark: Option<String>,
    pub ms_name: Option<String>,
    pub ms_location: Option<String>,
    pub splitter_name: Option<String>,
    pub splitter_location: Option<String>,
    pub noc_id: Uuid,
    pub status: Status,
    pub published_at: Option<DateTime<Utc>>,
    /// The network element of a new outage; `None` for a report.
    pub outage: Option<OutageMark>,
}

/// The element an outage ticket stands for: its level, its key (one open outage per key) and
/// its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutageMark {
    pub level: crate::domain::OutageLevel,
    pub key: String,
    pub name: String,
}

/// The columns of `tickets` a [`TicketRow`] reads (the load benchmark's replay of a transition
/// reads and returns the same).
pub const COLUMNS: &str = "id, ticket_id, version, region, client_id, end_user, customer_type, sla_hours, sla_due_at, \
     type, source, network_segment, indication_category, indication, address, contact_person, remark, \
     location_remark, ms_name, ms_location, splitter_name, splitter_location, noc_id, foc_id, status, \
     status_before, need_validate, awaiting_evidence, link_check_approved, canceled, published_at, accepted_at, \
     departure_at, check_in_at, on_going_at, closed_at, pending_evidence, pending_started_at, pending_minutes, \
     pending_category, resume_status, total_pending_seconds, work_pending_seconds, created_at, updated_at, \
     parent_id, is_outage, outage_level, outage_element, outage_name, child_count";

pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Option<TicketRow>, DomainError> {
    let sql = format!("SELECT {COLUMNS} FROM tickets WHERE id = $1");
    Ok(db_read!(tx, |c| sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// A ticket row, and whether any webhook is registered (a change of the ticket then has events
/// to emit), in one statement.
pub async fn get_watched(tx: &mut Tx, id: Uuid) -> Result<Option<(TicketRow, bool)>, DomainError> {
    #[derive(sqlx::FromRow)]
    struct Watched {
        #[sqlx(flatten)]
        row: TicketRow,
        webhooks: bool,
    }
    let sql = format!(
        "SELECT {COLUMNS}, EXISTS (SELECT 1 FROM webhooks WHERE deleted_at IS NULL) AS webhooks \
         FROM tickets WHERE id = $1"
    );
    let found = db_read!(tx, |c| sqlx::query_as::<_, Watched>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?);
    Ok(found.map(|w| (w.row, w.webhooks)))
}
