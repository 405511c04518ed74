//! Queries on `tickets`, `ticket_logs` and `ticket_counters`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Page, PageRequest, Tx, like_pattern};
use crate::{
    db_run,
    domain::{
        CancelCategory, CardType, CustomerType, IndicationCategory, NetworkSegment, PendingCategory, Region,
        Role, SlaType, Status, TicketSource, TicketType,
        access::{self, Actor, TicketScope},
        report, sla,
        ticket::{Evidence, LogUpdate, NewLog, TicketState},
    },
    error::DomainError,
};

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
}

impl TicketRow {
    pub fn sla_type(&self, now: DateTime<Utc>) -> SlaType {
        crate::domain::sla::sla_type(self.sla_hours, self.sla_due_at, self.state.closed_at, now)
    }
}

/// A ticket to insert; its state starts as given.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub id: Uuid,
    pub ticket_id: String,
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
}

/// A log entry as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
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
}

/// Filters of the ticket list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub region: Option<Region>,
    /// An area name: tickets of clients in that city.
    pub area: Option<String>,
    pub ticket_type: Option<TicketType>,
    pub end_user: Option<String>,
    pub status: Option<Status>,
    pub sla_type: Option<SlaType>,
}

/// The columns of `tickets` a [`TicketRow`] reads (the load benchmark's replay of a transition
/// reads and returns the same).
pub const COLUMNS: &str = "id, ticket_id, version, region, client_id, end_user, customer_type, sla_hours, sla_due_at, \
     type, source, network_segment, indication_category, indication, address, contact_person, remark, \
     location_remark, ms_name, ms_location, splitter_name, splitter_location, noc_id, foc_id, status, \
     status_before, need_validate, awaiting_evidence, link_check_approved, canceled, published_at, accepted_at, \
     departure_at, check_in_at, on_going_at, closed_at, pending_evidence, pending_started_at, pending_minutes, \
     pending_category, resume_status, total_pending_seconds, work_pending_seconds, created_at, updated_at";

const LOG_COLUMNS: &str = "id, seq, card_type, status_name, title, description, actor_id, actor_name, actor_photo, \
     evidence_id, need_approval, is_approved, approval_remark, remark, location_coordinate, media_url, \
     pending_minutes, pending_category, cancel_category, is_resumed, foc_before_id, created_at";

/// The next number of a month's counter (`yyyy-mm`), in the caller's transaction: concurrent
/// creations wait for each other, so numbers are never shared and a rollback gives its back.
pub async fn next_number(tx: &mut Tx, month: &str) -> Result<i64, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, i64>(
            "INSERT INTO ticket_counters (month, count) VALUES ($1, 1) \
             ON CONFLICT (month) DO UPDATE SET count = ticket_counters.count + 1 RETURNING count",
        )
        .bind(month)
        .fetch_one(&mut *c)
        .await?
    }))
}

/// The count of a month's tickets so far.
pub async fn month_count(tx: &mut Tx, month: &str) -> Result<i64, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, i64>("SELECT count FROM ticket_counters WHERE month = $1")
            .bind(month)
            .fetch_optional(&mut *c)
            .await?
            .unwrap_or(0)
    }))
}

/// Binds a new ticket's descriptive fields, in the order of [`DESCRIPTIVE`].
macro_rules! bind_descriptive {
    ($q:expr, $t:expr) => {
        $q.bind($t.region)
            .bind($t.client_id)
            .bind(&$t.end_user)
            .bind($t.customer_type)
            .bind($t.sla_hours)
            .bind($t.ticket_type)
            .bind($t.source)
            .bind($t.network_segment)
            .bind($t.indication_category)
            .bind(&$t.indication)
            .bind(&$t.address)
            .bind(&$t.contact_person)
            .bind(&$t.remark)
            .bind(&$t.location_remark)
            .bind(&$t.ms_name)
            .bind(&$t.ms_location)
            .bind(&$t.splitter_name)
            .bind(&$t.splitter_location)
    };
}

/// The columns [`bind_descriptive`] binds, from `$2`.
const DESCRIPTIVE: [&str; 18] = [
    "region",
    "client_id",
    "end_user",
    "customer_type",
    "sla_hours",
    "type",
    "source",
    "network_segment",
    "indication_category",
    "indication",
    "address",
    "contact_person",
    "remark",
    "location_remark",
    "ms_name",
    "ms_location",
    "splitter_name",
    "splitter_location",
];

pub async fn insert(
    tx: &mut Tx,
    t: &NewTicket,
    sla_due_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let params: Vec<String> = (2..2 + DESCRIPTIVE.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO tickets (id, {cols}, ticket_id, noc_id, status, published_at, sla_due_at, created_at, updated_at, \
         version, need_validate, link_check_approved, canceled, total_pending_seconds, work_pending_seconds) \
         VALUES ($1, {params}, $20, $21, $22, $23, $24, $25, $25, 1, FALSE, FALSE, FALSE, 0, 0)",
        cols = DESCRIPTIVE.join(", "),
        params = params.join(", "),
    );
    db_run!(tx, |c| {
        bind_descriptive!(sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).bind(t.id), t)
            .bind(&t.ticket_id)
            .bind(t.noc_id)
            .bind(t.status)
            .bind(t.published_at)
            .bind(sla_due_at)
            .bind(now)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Rewrites the descriptive fields of a draft (and its schedule) if it is still a draft at
/// `version`; the ticket as written, or `None` when it changed meanwhile or is no longer a draft.
pub async fn update_draft(
    tx: &mut Tx,
    t: &NewTicket,
    version: i64,
    sla_due_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<TicketRow>, DomainError> {
    let sets: Vec<String> =
        DESCRIPTIVE.iter().enumerate().map(|(i, c)| format!("{c} = ${}", i + 2)).collect();
    let sql = format!(
        "UPDATE tickets SET {sets}, published_at = $20, sla_due_at = $21, updated_at = $22, version = version + 1 \
         WHERE id = $1 AND version = $23 AND status = 'Draft' RETURNING {COLUMNS}",
        sets = sets.join(", "),
    );
    Ok(db_run!(tx, |c| {
        bind_descriptive!(sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql.as_str())).bind(t.id), t)
            .bind(t.published_at)
            .bind(sla_due_at)
            .bind(now)
            .bind(version)
            .fetch_optional(&mut *c)
            .await?
    }))
}

pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Option<TicketRow>, DomainError> {
    let sql = format!("SELECT {COLUMNS} FROM tickets WHERE id = $1");
    Ok(db_run!(tx, |c| sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// Writes the state a command decided, if the ticket is still at `version`, and returns the
/// ticket as written; `None` when another change won the race.
pub async fn save_state(
    tx: &mut Tx,
    s: &TicketState,
    version: i64,
    sla_due_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<TicketRow>, DomainError> {
    let sql = format!(
        "UPDATE tickets SET version = version + 1, status = $3, status_before = $4, need_validate = $5, \
             awaiting_evidence = $6, foc_id = $7, link_check_approved = $8, canceled = $9, published_at = $10, \
             accepted_at = $11, departure_at = $12, check_in_at = $13, on_going_at = $14, closed_at = $15, \
             pending_evidence = $16, pending_started_at = $17, pending_minutes = $18, resume_status = $19, \
             total_pending_seconds = $20, work_pending_seconds = $21, sla_due_at = $22, updated_at = $23, \
             pending_category = $24 \
             WHERE id = $1 AND version = $2 RETURNING {COLUMNS}"
    );
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(s.id)
            .bind(version)
            .bind(s.status)
            .bind(s.status_before)
            .bind(s.need_validate)
            .bind(s.awaiting_evidence)
            .bind(s.foc_id)
            .bind(s.link_check_approved)
            .bind(s.canceled)
            .bind(s.published_at)
            .bind(s.accepted_at)
            .bind(s.departure_at)
            .bind(s.check_in_at)
            .bind(s.on_going_at)
            .bind(s.closed_at)
            .bind(s.pending_evidence)
            .bind(s.pending_started_at)
            .bind(s.pending_minutes)
            .bind(s.resume_status)
            .bind(s.total_pending_seconds)
            .bind(s.work_pending_seconds)
            .bind(sla_due_at)
            .bind(now)
            .bind(s.pending_category)
            .fetch_optional(&mut *c)
            .await?
    }))
}

/// Appends log entries after `seq`, by `actor`.
/// Appends log entries after the ticket's last one, each numbered in its own insert (the caller
/// holds the ticket's row lock, so nobody appends in between).
pub async fn append_logs(
    tx: &mut Tx,
    ticket: Uuid,
    logs: &[NewLog],
    actor: &LogActor,
) -> Result<(), DomainError> {
    for l in logs {
        let Evidence { media_url, remark, location } = &l.evidence;
        db_run!(tx, |c| {
            sqlx::query(
                "INSERT INTO ticket_logs (id, ticket_id, seq, card_type, status_name, title, description, actor_id, \
                 actor_name, actor_photo, evidence_id, need_approval, is_approved, approval_remark, remark, \
                 location_coordinate, media_url, pending_minutes, pending_category, cancel_category, is_resumed, \
                 foc_before_id, created_at) SELECT $1, $2, COALESCE(MAX(seq), 0) + 1, $3, $4, $5, $6, $7, $8, $9, \
                 $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22 FROM ticket_logs WHERE ticket_id = $2",
            )
            .bind(Uuid::now_v7())
            .bind(ticket)
            .bind(l.card_type)
            .bind(l.status_name)
            .bind(&l.title)
            .bind(&l.description)
            .bind(actor.id)
            .bind(&actor.name)
            .bind(&actor.photo)
            .bind(l.evidence_id)
            .bind(l.need_approval)
            .bind(l.is_approved)
            .bind(&l.approval_remark)
            .bind(remark)
            .bind(location)
            .bind(media_url)
            .bind(l.pending_minutes)
            .bind(l.pending_category)
            .bind(l.cancel_category)
            .bind(l.is_resumed)
            .bind(l.foc_before)
            .bind(l.at)
            .execute(&mut *c)
            .await?;
        });
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
        db_run!(tx, |c| {
            match u {
                LogUpdate::Validated { evidence_id, approved, remark } => {
                    sqlx::query(
                        "UPDATE ticket_logs SET is_approved = $3, approval_remark = $4 \
                         WHERE ticket_id = $1 AND evidence_id = $2",
                    )
                    .bind(ticket)
                    .bind(evidence_id)
                    .bind(approved)
                    .bind(remark)
                    .execute(&mut *c)
                    .await?;
                }
                LogUpdate::Resumed { evidence_id, minutes } => {
                    sqlx::query(
                        "UPDATE ticket_logs SET is_resumed = TRUE, pending_minutes = $3 \
                         WHERE ticket_id = $1 AND evidence_id = $2",
                    )
                    .bind(ticket)
                    .bind(evidence_id)
                    .bind(minutes)
                    .execute(&mut *c)
                    .await?;
                }
            }
        });
    }
    Ok(())
}

/// A ticket's log, in order.
pub async fn logs(tx: &mut Tx, ticket: Uuid) -> Result<Vec<LogRow>, DomainError> {
    let sql = format!("SELECT {LOG_COLUMNS} FROM ticket_logs WHERE ticket_id = $1 ORDER BY seq");
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

/// Over its SLA at `$now`: a ticket with an SLA whose clock (stopped at closing) passed the due
/// time; `sla::sla_type` in SQL, for the list filter and the metrics. `$t` is the table prefix.
macro_rules! over_sla {
    ($t:literal, $now:literal) => {
        concat!($t, "sla_hours IS NOT NULL AND ", $t, "sla_due_at < COALESCE(", $t, "closed_at, ", $now, ")")
    };
}

/// The list's conditions on `tickets` (alias `t`) for the filters that are set but the end
/// user's, and nothing for those that are not (so each combination gets a plan of its own).
/// Parameters: `$1` the caller's region, `$2` the caller, `$3` region, `$4` area name, `$5`
/// type, `$6` end user pattern, `$7` status, `$8` now.
fn filter_sql(f: &TicketFilter) -> String {
    let mut sql = String::new();
    if f.region.is_some() {
        sql.push_str(" AND t.region = $3");
    }
    if f.area.is_some() {
        sql.push_str(" AND t.client_id IN (SELECT c.id FROM clients c JOIN areas a ON a.id = c.city_id WHERE a.name = $4)");
    }
    if f.ticket_type.is_some() {
        sql.push_str(" AND t.type = $5");
    }
    if f.status.is_some() {
        sql.push_str(" AND t.status = $7");
    }
    match f.sla_type {
        None => {}
        Some(SlaType::NonSla) => sql.push_str(" AND t.sla_hours IS NULL"),
        Some(SlaType::OverSla) => sql.push_str(concat!(" AND ", over_sla!("t.", "$8"))),
        Some(SlaType::UnderSla) => sql.push_str(
            " AND t.sla_hours IS NOT NULL AND (t.sla_due_at IS NULL OR t.sla_due_at >= COALESCE(t.closed_at, $8))",
        ),
    }
    sql
}

/// Tickets the scope sees, filtered, newest first. Matches are counted up to `count_bound` past
/// the offset; beyond that the total is that bound and not exact (`total_exact: false`), so a
/// list costs an index walk of bounded length however many tickets there are.
///
/// A search by end user reads the search table (`ticket_end_users`, alias `e`), whose entries
/// are indexed per name newest first and carry the ticket's region and creation time: the
/// tickets of a family name are one in forty, too many to read each and too few to find soon in
/// a walk of all tickets. When nothing but the region narrows the search (the read rule of a
/// NOC or the SuperAdmin, the region filter), the entries alone answer it; otherwise the
/// entries, in list order, lead to their tickets until a page of them passes the other filters.
pub async fn list(
    tx: &mut Tx,
    scope: TicketScope,
    f: &TicketFilter,
    page: PageRequest,
    count_bound: i64,
    now: DateTime<Utc>,
) -> Result<Page<TicketRow>, DomainError> {
    let (role, region, me) = match scope {
        TicketScope::All => (Role::SuperAdmin, None, None),
        TicketScope::Region(r) => (Role::NOC, Some(r), None),
        TicketScope::Supervisor { region, me } => (Role::FOCSupervisor, Some(region), Some(me)),
        TicketScope::Technician { region, me } => (Role::FOC, Some(region), Some(me)),
    };
    let pattern = like_pattern(f.end_user.as_deref());
    let rule = access::ticket_read_rule(role);
    let cols = COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
    let postgres = matches!(tx, Tx::Postgres(_));
    let (sql, count_sql) = if pattern.is_none() {
        let (scope_sql, filters) = (rule.to_sql("t"), filter_sql(f));
        (
            format!(
                "SELECT {cols} FROM tickets t WHERE {scope_sql}{filters} ORDER BY t.created_at DESC, t.id DESC LIMIT $9 OFFSET $10"
            ),
            format!("SELECT COUNT(*) FROM (SELECT 1 FROM tickets t WHERE {scope_sql}{filters} LIMIT $9) m"),
        )
    } else {
        // A rule that reads the region alone narrows the entries; any other reads the tickets.
        let region_only = rule.reads_region_only();
        let (rule_on_entries, rule_on_tickets) = if region_only {
            (rule.to_sql("e"), "TRUE".to_owned())
        } else {
            ("TRUE".to_owned(), rule.to_sql("t"))
        };
        let region = if f.region.is_some() { " AND e.region = $3" } else { "" };
        let on_entries = format!("{rule_on_entries}{region}");
        let tickets_filtered =
            f.area.is_some() || f.ticket_type.is_some() || f.status.is_some() || f.sla_type.is_some();
        if region_only && !tickets_filtered {
            end_user_entries_sql(&on_entries, &cols, postgres)
        } else {
            end_user_tickets_sql(&on_entries, &format!("{rule_on_tickets}{}", filter_sql(f)), &cols, postgres)
        }
    };
    let bound = page.offset.saturating_add(count_bound);
    macro_rules! bind_filters {
        ($q:expr) => {
            $q.bind(region)
                .bind(me)
                .bind(f.region)
                .bind(&f.area)
                .bind(f.ticket_type)
                .bind(&pattern)
                .bind(f.status)
                .bind(now)
        };
    }
    db_run!(tx, |c| {
        let counted: i64 = bind_filters!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str())))
            .bind(bound)
            .bind(0_i64)
            .fetch_one(&mut *c)
            .await?;
        let items = bind_filters!(sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql.as_str())))
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(&mut *c)
            .await?;
        Ok(Page { items, total: counted, total_exact: counted < bound, page })
    })
}

/// The names that match the end user pattern `$6`.
const MATCHING_NAMES: &str =
    "SELECT n.name_lower FROM end_user_names n WHERE n.name_lower LIKE $6 ESCAPE '\\'";

/// The search table's entries of the matching names that pass `on_entries` (over `e`).
fn matching_entries(on_entries: &str) -> String {
    format!("e.end_user_lower IN ({MATCHING_NAMES}) AND {on_entries}")
}

/// The page and count SQL of a search by end user that the search table's entries answer alone:
/// `on_entries` is the read rule and the region filter over `e`. Per matching name only its
/// newest `limit + offset` entries can be on the page; PostgreSQL reads just those (a lateral
/// walk of each name's index in list order), SQLite orders the names' entries.
fn end_user_entries_sql(on_entries: &str, cols: &str, postgres: bool) -> (String, String) {
    let entries = matching_entries(on_entries);
    let count = format!("SELECT COUNT(*) FROM (SELECT 1 FROM ticket_end_users e WHERE {entries} LIMIT $9) m");
    let ids = if postgres {
        format!(
            "SELECT x.ticket_id FROM end_user_names n CROSS JOIN LATERAL (SELECT e.ticket_id, e.created_at \
             FROM ticket_end_users e WHERE e.end_user_lower = n.name_lower AND {on_entries} \
             ORDER BY e.created_at DESC, e.ticket_id DESC LIMIT $9 + $10) x \
             WHERE n.name_lower LIKE $6 ESCAPE '\\' ORDER BY x.created_at DESC, x.ticket_id DESC LIMIT $9 OFFSET $10"
        )
    } else {
        format!(
            "SELECT e.ticket_id FROM ticket_end_users e WHERE {entries} \
             ORDER BY e.created_at DESC, e.ticket_id DESC LIMIT $9 OFFSET $10"
        )
    };
    let page =
        format!("SELECT {cols} FROM tickets t WHERE t.id IN ({ids}) ORDER BY t.created_at DESC, t.id DESC");
    (page, count)
}

/// The page and count SQL of a search by end user with conditions on the tickets themselves
/// (`on_tickets`, over `t`; `on_entries` narrows the entries, over `e`): the matching entries in
/// list order lead to their tickets, which stops once a page passed. On PostgreSQL `OFFSET 0`
/// keeps the entries' order ahead of the join (the planner, expecting few entries, would join
/// every entry first and sort the tickets after).
fn end_user_tickets_sql(on_entries: &str, on_tickets: &str, cols: &str, postgres: bool) -> (String, String) {
    let entries = matching_entries(on_entries);
    let fence = if postgres { " OFFSET 0" } else { "" };
    let page = format!(
        "SELECT {cols} FROM (SELECT e.ticket_id, e.created_at FROM ticket_end_users e WHERE {entries} \
         ORDER BY e.created_at DESC, e.ticket_id DESC{fence}) x JOIN tickets t ON t.id = x.ticket_id \
         WHERE {on_tickets} ORDER BY x.created_at DESC, x.ticket_id DESC LIMIT $9 OFFSET $10"
    );
    let count = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM ticket_end_users e JOIN tickets t ON t.id = e.ticket_id \
         WHERE {entries} AND {on_tickets} LIMIT $9) m"
    );
    (page, count)
}

/// Drafts whose scheduled `published_at` has come, oldest first.
pub async fn scheduled_drafts(tx: &mut Tx, now: DateTime<Utc>, limit: i64) -> Result<Vec<Uuid>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM tickets WHERE status = 'Draft' AND published_at IS NOT NULL AND published_at <= $1 \
             ORDER BY published_at LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// Records that Firestore holds `version` of a ticket (never moving backwards), and returns the
/// ticket's current version.
pub async fn mark_synced(tx: &mut Tx, id: Uuid, version: i64) -> Result<Option<i64>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query(
            "UPDATE tickets SET synced_version = $2 WHERE id = $1 AND (synced_version IS NULL OR synced_version < $2)",
        )
        .bind(id)
        .bind(version)
        .execute(&mut *c)
        .await?;
        sqlx::query_scalar::<_, i64>("SELECT version FROM tickets WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *c)
            .await?
    }))
}

/// Tickets whose Firestore copy lags behind the database.
pub async fn unsynced(tx: &mut Tx, limit: i64) -> Result<Vec<Uuid>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM tickets WHERE synced_version IS NULL OR synced_version < version ORDER BY updated_at LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// What one batch of an SLA sweep changed: tickets that just went over, just got close, or got
/// time back.
#[derive(Debug, Clone, Default)]
pub struct SlaSweep {
    pub breached: Vec<Uuid>,
    pub warned: Vec<Uuid>,
    pub cleared: Vec<Uuid>,
    /// Some kind filled its batch: more may be waiting.
    pub full: bool,
}

/// Where a sweep looks, and where its next batch goes on. A full sweep walks the due times of
/// every open ticket and clears the marks of those given time back; one that follows an
/// earlier sweep walks only the due times that came within reach since it (a change that moves
/// a ticket's due time removes its mark itself, see [`clear_sla_mark`]). Each batch moves the
/// walk on to the due time of the last ticket it marked, so a sweep of many batches reads each
/// due time once.
#[derive(Debug, Clone, Copy)]
pub struct SlaCursor {
    breached_from: DateTime<Utc>,
    warned_from: DateTime<Utc>,
    full: bool,
}

impl SlaCursor {
    /// A sweep of every open ticket.
    pub fn full() -> Self {
        Self { breached_from: DateTime::UNIX_EPOCH, warned_from: DateTime::UNIX_EPOCH, full: true }
    }

    /// A sweep following one that ran at `now` and warned up to `warn_until`.
    pub fn since(now: DateTime<Utc>, warn_until: DateTime<Utc>) -> Self {
        Self { breached_from: now, warned_from: warn_until, full: false }
    }
}

/// Forgets what the SLA sweep said of a ticket whose due time a change moved: the next sweep
/// judges it afresh.
pub async fn clear_sla_mark(tx: &mut Tx, ticket_id: Uuid) -> Result<(), DomainError> {
    db_run!(tx, |c| {
        sqlx::query("DELETE FROM ticket_sla_marks WHERE ticket_id = $1")
            .bind(ticket_id)
            .execute(&mut *c)
            .await?;
    });
    Ok(())
}

/// Marks up to `batch` open tickets of each kind whose SLA ran out (`Breached`), runs out
/// before `warn_until` (`Warned`, also a breached one given a little time back), or (in a full
/// sweep) got time back beyond that (mark removed), in `ticket_sla_marks`, and moves `cursor`
/// on. Each ticket is reported once per change, also when two sweeps race (the loser's upsert
/// finds the mark already there).
pub async fn sweep_sla(
    tx: &mut Tx,
    now: DateTime<Utc>,
    warn_until: DateTime<Utc>,
    cursor: &mut SlaCursor,
    batch: i64,
) -> Result<SlaSweep, DomainError> {
    let breaching = candidates(tx, "Breached", cursor.breached_from, now, batch).await?;
    let warning = candidates(tx, "Warned", cursor.warned_from.max(now), warn_until, batch).await?;
    if let Some((_, at)) = breaching.last() {
        cursor.breached_from = *at;
    }
    if let Some((_, at)) = warning.last() {
        cursor.warned_from = *at;
    }
    let cleared = if cursor.full {
        db_run!(tx, |c| {
            sqlx::query_scalar::<_, Uuid>(
                "DELETE FROM ticket_sla_marks WHERE ticket_id IN (SELECT m.ticket_id FROM ticket_sla_marks m \
                 JOIN tickets t ON t.id = m.ticket_id WHERE t.status <> 'Closed' AND t.sla_due_at >= $1 LIMIT $2) \
                 RETURNING ticket_id",
            )
            .bind(warn_until)
            .bind(batch)
            .fetch_all(&mut *c)
            .await?
        })
    } else {
        Vec::new()
    };
    let full = [breaching.len(), warning.len(), cleared.len()].iter().any(|&n| n as i64 >= batch);
    let breached = mark(tx, &breaching, "Breached").await?;
    let warned = mark(tx, &warning, "Warned").await?;
    Ok(SlaSweep { breached, warned, cleared, full })
}

/// Open tickets due in `[from, until)` and not yet marked `state`, by due time, up to `limit`.
async fn candidates(
    tx: &mut Tx,
    state: &'static str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, DomainError> {
    let sql = format!(
        "SELECT t.id, t.sla_due_at FROM tickets t WHERE t.status <> 'Closed' AND t.sla_due_at >= $1 \
         AND t.sla_due_at < $2 AND NOT EXISTS (SELECT 1 FROM ticket_sla_marks m WHERE m.ticket_id = t.id \
         AND m.state = '{state}') ORDER BY t.sla_due_at LIMIT $3"
    );
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, (Uuid, DateTime<Utc>)>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(from)
            .bind(until)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?
    }))
}

/// Marks `tickets` `state` (upserted); the ones whose mark changed.
async fn mark(tx: &mut Tx, tickets: &[(Uuid, DateTime<Utc>)], state: &str) -> Result<Vec<Uuid>, DomainError> {
    const UPSERT: &str = "ON CONFLICT (ticket_id) DO UPDATE SET state = excluded.state \
                          WHERE ticket_sla_marks.state <> excluded.state RETURNING ticket_id";
    let ids: Vec<Uuid> = tickets.iter().map(|(id, _)| *id).collect();
    match tx {
        Tx::Postgres(t) => {
            let sql = format!(
                "INSERT INTO ticket_sla_marks (ticket_id, state) SELECT id, $2 FROM UNNEST($1::uuid[]) AS u(id) {UPSERT}"
            );
            Ok(sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(sql))
                .bind(&ids)
                .bind(state)
                .fetch_all(&mut **t)
                .await?)
        }
        Tx::Sqlite(t) => {
            // In process, a statement per ticket costs no round trip.
            let sql = format!("INSERT INTO ticket_sla_marks (ticket_id, state) VALUES ($1, $2) {UPSERT}");
            let mut changed = Vec::with_capacity(ids.len());
            for id in ids {
                let row = sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(id)
                    .bind(state)
                    .fetch_optional(&mut **t)
                    .await?;
                changed.extend(row);
            }
            Ok(changed)
        }
    }
}

/// Every ticket id, oldest first, `limit` after `after` (keyset paging over the whole table).
pub async fn ids_after(tx: &mut Tx, after: Option<Uuid>, limit: i64) -> Result<Vec<Uuid>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM tickets WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// Tickets per region and status, and how many of them are over their SLA at `now` (running
/// late, or closed late).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StatusCount {
    pub region: Region,
    pub status: Status,
    pub tickets: i64,
    pub over_sla: i64,
}

pub async fn status_counts(tx: &mut Tx, now: DateTime<Utc>) -> Result<Vec<StatusCount>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, StatusCount>(concat!(
            "SELECT region, status, COUNT(*) AS tickets, COALESCE(SUM(CASE WHEN ",
            over_sla!("", "$1"),
            " THEN 1 ELSE 0 END), 0) AS over_sla FROM tickets GROUP BY region, status ORDER BY region, status"
        ))
        .bind(now)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// What the SLA report needs of each ticket published in `[from, to)`, of `region` if given.
pub async fn report_tickets(
    tx: &mut Tx,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    region: Option<Region>,
    now: DateTime<Utc>,
) -> Result<Vec<report::ReportTicket>, DomainError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        ticket: TicketRow,
        isp_name: Option<String>,
    }
    let cols = COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {cols}, i.name AS isp_name FROM tickets t \
         LEFT JOIN clients c ON c.id = t.client_id LEFT JOIN isps i ON i.id = c.isp_id \
         WHERE t.published_at >= $1 AND t.published_at < $2 AND ($3 IS NULL OR t.region = $3)"
    );
    let rows: Vec<Row> = db_run!(tx, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(from)
            .bind(to)
            .bind(region)
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|r| {
            let t = r.ticket;
            let d = sla::durations(&t.state, now);
            let closed = t.state.closed_at.is_some();
            report::ReportTicket {
                region: t.state.region,
                isp: r.isp_name,
                customer_type: t.customer_type,
                sla_type: t.sla_type(now),
                closed,
                canceled: t.state.canceled,
                resolution_seconds: (closed && !t.state.canceled).then_some(d.total),
                pending_seconds: d.total_pending,
            }
        })
        .collect())
}
