//! The ticket write path: numbers, inserting and editing drafts, the version-guarded state write, and the Firestore sync marks.

#[allow(unused_imports)]
use super::*;

/// Gives the new ticket `id` the next number of its month, `{prefix}-{yyyymm}-{n:04}` (for
/// example `CGS-202612-0001`), and answers the ticket as written. The month's counter row is
/// locked from here to the commit, so concurrent creations take numbers one after another
/// without gaps (a rollback gives its number back); callers make this their last statement
/// but one, so creations wait for each other only that long, and those of one process wait in
/// turn ([`Tx::numbering_turn`]).
pub async fn number(
    tx: &mut Tx,
    id: Uuid,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    let (month, head) = month_and_head(prefix, now);
    tx.numbering_turn().await?;
    match tx.conn().await? {
        Conn::Postgres(t) => {
            let sql = format!(
                "WITH n AS ({}) UPDATE tickets SET ticket_id = $3 || {NUMBER} \
                 FROM n WHERE tickets.id = $1 RETURNING {COLUMNS}",
                next_count("$2")
            );
            Ok(sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .bind(&month)
                .bind(&head)
                .fetch_one(&mut **t)
                .await?)
        }
        // SQLite has no INSERT in WITH; its write transaction holds the lock from its start.
        Conn::Sqlite(t) => {
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(next_count("$1")))
                .bind(&month)
                .fetch_one(&mut **t)
                .await?;
            Ok(sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(format!(
                "UPDATE tickets SET ticket_id = $2 WHERE id = $1 RETURNING {COLUMNS}"
            )))
            .bind(id)
            .bind(format!("{head}{n:04}"))
            .fetch_one(&mut **t)
            .await?)
        }
    }
}

/// The statement that counts one more ticket of the month `$month` and answers the count.
fn next_count(month: &str) -> String {
    format!(
        "INSERT INTO ticket_counters (month, count) VALUES ({month}, 1) \
         ON CONFLICT (month) DO UPDATE SET count = ticket_counters.count + 1 RETURNING count"
    )
}

/// A ticket number's digits from the count `n.count`: at least four, zero-padded.
const NUMBER: &str = "lpad(n.count::text, greatest(4, length(n.count::text)), '0')";

/// The counter's month of `now`, and the head of the numbers taken in it (`CGS-202612-`).
fn month_and_head(prefix: &str, now: DateTime<Utc>) -> (String, String) {
    (now.format("%Y-%m").to_string(), format!("{prefix}-{}-", now.format("%Y%m")))
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

/// Binds the values of [`new_ticket_sql`]: `$number` is its `$20`.
macro_rules! bind_new_ticket {
    ($q:expr, $t:expr, $number:expr, $due:expr, $now:expr) => {
        bind_descriptive!($q.bind($t.id), $t)
            .bind($number)
            .bind($t.noc_id)
            .bind($t.status)
            .bind($t.published_at)
            .bind($due)
            .bind($now)
            .bind($t.outage.is_some())
            .bind($t.outage.as_ref().map(|o| o.level))
            .bind($t.outage.as_ref().map(|o| o.key.clone()))
            .bind($t.outage.as_ref().map(|o| o.name.clone()))
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

/// The insert of a new ticket whose values [`bind_new_ticket`] binds: `{open}` the values
/// `{close}`, the ticket's number `ticket_id` written as `number`.
fn new_ticket_sql(open: &str, number: &str, close: &str) -> String {
    let params: Vec<String> = (2..2 + DESCRIPTIVE.len()).map(|i| format!("${i}")).collect();
    format!(
        "INSERT INTO tickets (id, {cols}, ticket_id, noc_id, status, published_at, sla_due_at, created_at, updated_at, \
         version, need_validate, link_check_approved, canceled, total_pending_seconds, work_pending_seconds, \
         is_outage, outage_level, outage_element, outage_name) \
         {open}$1, {params}, {number}, $21, $22, $23, $24, $25, $25, 1, FALSE, FALSE, FALSE, 0, 0, $26, $27, $28, $29{close}",
        cols = DESCRIPTIVE.join(", "),
        params = params.join(", "),
    )
}

/// Inserts a new ticket, numbered later by [`number`] (its `ticket_id` its id meanwhile).
pub async fn insert(
    tx: &mut Tx,
    t: &NewTicket,
    sla_due_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let sql = new_ticket_sql("VALUES (", "$20", ")");
    db_run!(tx, |c| {
        bind_new_ticket!(
            sqlx::query(sqlx::AssertSqlSafe(sql.as_str())),
            t,
            t.id.to_string(),
            sla_due_at,
            now
        )
        .execute(&mut *c)
        .await?;
    });
    Ok(())
}

/// [`insert`] and [`number`] at once, in a ticket command's transaction on PostgreSQL
/// ([`Tx::defers_ticket_writes`]): the writes waiting in it and the new ticket, numbered, go as
/// one statement, which takes the month's counter ([`Tx::send_numbered`]). A command that has
/// not begun (no other write before) commits by it, so the counter stays locked only while it
/// runs. Elsewhere the caller inserts, writes the rest, then numbers.
pub async fn insert_numbered(
    tx: &mut Tx,
    t: &NewTicket,
    sla_due_at: Option<DateTime<Utc>>,
    prefix: &str,
    now: DateTime<Utc>,
) -> Result<TicketRow, DomainError> {
    let (month, head) = month_and_head(prefix, now);
    let outside = || DomainError::Internal("a numbered insert outside a ticket command".into());
    if !tx.defers_ticket_writes() {
        return Err(outside());
    }
    let w = tx.deferring().ok_or_else(outside)?;
    let counter = w.next_part();
    w.push(&next_count("$1"));
    w.bind(month)?;
    let ticket = w.next_part();
    w.push(&new_ticket_sql(
        "SELECT ",
        &format!("$20 || {NUMBER}"),
        &format!(" FROM {counter} AS n RETURNING {COLUMNS}"),
    ));
    bind_new_ticket!(w.chained(), t, head, sla_due_at, now).done()?;
    tx.send_numbered(&format!("SELECT {COLUMNS} FROM {ticket}")).await
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

/// `$q` with the values of [`save_state`]'s statement bound, `$1` to `$25`.
macro_rules! bind_state {
    ($q:expr, $s:expr, $version:expr, $due:expr, $now:expr) => {
        $q.bind($s.id)
            .bind($version)
            .bind($s.status)
            .bind($s.status_before)
            .bind($s.need_validate)
            .bind($s.awaiting_evidence)
            .bind($s.foc_id)
            .bind($s.link_check_approved)
            .bind($s.canceled)
            .bind($s.published_at)
            .bind($s.accepted_at)
            .bind($s.departure_at)
            .bind($s.check_in_at)
            .bind($s.on_going_at)
            .bind($s.closed_at)
            .bind($s.pending_evidence)
            .bind($s.pending_started_at)
            .bind($s.pending_minutes)
            .bind($s.resume_status)
            .bind($s.total_pending_seconds)
            .bind($s.work_pending_seconds)
            .bind($due)
            .bind($now)
            .bind($s.pending_category)
            .bind($s.parent_id)
    };
}

/// Writes the state a command decided, if the ticket is still as `before` was read (its
/// version), and returns the ticket as written; `None` when another change won the race.
///
/// In a ticket command's transaction on PostgreSQL ([`Db::begin_command`](crate::db::Db)) the
/// write waits to travel with the writes that follow it, guarded by the version: the ticket as
/// written is `before` with this state, the next version, `sla_due_at` and `now`, and a lost
/// race fails those writes with `lost`, answered when they are sent.
pub async fn save_state(
    tx: &mut Tx,
    before: &TicketRow,
    s: &TicketState,
    sla_due_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    lost: impl FnOnce() -> DomainError,
) -> Result<Option<TicketRow>, DomainError> {
    let set = "UPDATE tickets SET version = version + 1, status = $3, status_before = $4, need_validate = $5, \
             awaiting_evidence = $6, foc_id = $7, link_check_approved = $8, canceled = $9, published_at = $10, \
             accepted_at = $11, departure_at = $12, check_in_at = $13, on_going_at = $14, closed_at = $15, \
             pending_evidence = $16, pending_started_at = $17, pending_minutes = $18, resume_status = $19, \
             total_pending_seconds = $20, work_pending_seconds = $21, sla_due_at = $22, updated_at = $23, \
             pending_category = $24, parent_id = $25 \
             WHERE id = $1 AND version = $2";
    if tx.defers_ticket_writes()
        && let Some(w) = tx.deferring()
    {
        w.push_guarded_ticket(&format!("{set} RETURNING 1"), lost());
        bind_state!(w.chained(), s, before.version, sla_due_at, now).done()?;
        return Ok(Some(TicketRow {
            state: s.clone(),
            version: before.version + 1,
            sla_due_at,
            updated_at: now,
            ..before.clone()
        }));
    }
    let sql = format!("{set} RETURNING {COLUMNS}");
    Ok(db_run!(tx, |c| {
        bind_state!(
            sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql.as_str())),
            s,
            before.version,
            sla_due_at,
            now
        )
        .fetch_optional(&mut *c)
        .await?
    }))
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
