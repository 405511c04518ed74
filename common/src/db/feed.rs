//! `ticket_events`, the live feed's log: every ticket change appends a row in the changing
//! transaction; readers follow `seq`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Conn, Tx, access::rule_sql, sql::Sql};
use crate::{
    db_run, db_write,
    domain::{Region, Role, access, ticket::TicketState},
    error::DomainError,
};

/// Records a change of ticket `id`. `before` is the ticket's state before the change, or a new
/// ticket's first state (the row it would read back); `None` when the change leaves region,
/// status and technician as they are, or creates the ticket (the row is read from `tickets`).
pub async fn record(
    tx: &mut Tx,
    id: Uuid,
    before: Option<&TicketState>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    // Deferred: they read only `tickets`, whose deferred writes (a command's state) are sent
    // before one that reads it.
    match before {
        Some(b) => db_write!(
            tx,
            "INSERT INTO ticket_events (ticket_id, region, status, foc_id, at) VALUES ($1, $2, $3, $4, $5)",
            id,
            b.region,
            b.status,
            b.foc_id,
            now,
        ),
        None => {
            // A write of the ticket waiting with them goes first.
            tx.settle_tickets().await?;
            db_write!(
                tx,
                "INSERT INTO ticket_events (ticket_id, region, status, foc_id, at) \
             SELECT id, region, status, foc_id, $2 FROM tickets WHERE id = $1",
                id,
                now,
            )
        }
    }
}

/// [`record`] with `before: None` for many tickets at once (one statement per chunk on
/// PostgreSQL), for changes that keep region, status and technician (the SLA sweep's).
pub async fn record_unchanged(tx: &mut Tx, ids: &[Uuid], now: DateTime<Utc>) -> Result<(), DomainError> {
    match tx.conn().await? {
        Conn::Postgres(t) => {
            for chunk in ids.chunks(10_000) {
                sqlx::query(
                    "INSERT INTO ticket_events (ticket_id, region, status, foc_id, at) \
                     SELECT id, region, status, foc_id, $2 FROM tickets WHERE id = ANY($1) ORDER BY id",
                )
                .bind(chunk)
                .bind(now)
                .execute(&mut **t)
                .await?;
            }
        }
        Conn::Sqlite(_) => {
            // In process, a statement per ticket costs no round trip.
            for id in ids {
                record(tx, *id, None, now).await?;
            }
        }
    }
    Ok(())
}

/// Up to `limit` event numbers after `after`, in order.
pub async fn seqs_after(tx: &mut Tx, after: i64, limit: i64) -> Result<Vec<i64>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, i64>("SELECT seq FROM ticket_events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?
    }))
}

/// The newest and the oldest event number kept (0 when there is none).
pub async fn bounds(tx: &mut Tx) -> Result<(i64, i64), DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT COALESCE(MAX(seq), 0), COALESCE(MIN(seq), 0) FROM ticket_events",
        )
        .fetch_one(&mut *c)
        .await?
    }))
}

/// An event a caller is to receive: the ticket's document if it sees the ticket now, or word
/// that it no longer sees a ticket it saw before the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visible {
    pub seq: i64,
    pub ticket_id: Uuid,
    /// The ticket's number, e.g. `CGS-202611-0001`.
    pub number: String,
    /// The caller sees the ticket as it is now; otherwise it saw it before the change only.
    pub sees_now: bool,
}

/// The events in `(after, upto]` that concern a caller of `role` in `region` with id `me`, by
/// the ticket read rule applied to the ticket now and to the ticket before each change.
pub async fn visible(
    tx: &mut Tx,
    role: Role,
    region: Region,
    me: Uuid,
    after: i64,
    upto: i64,
) -> Result<Vec<Visible>, DomainError> {
    let rule = access::ticket_read_rule(role);
    let (now_rule, before_rule) =
        (rule_sql(&rule, "t", Some(region), Some(me)), rule_sql(&rule, "e", Some(region), Some(me)));
    let mut sql = Sql::new("SELECT e.seq, e.ticket_id, t.ticket_id, CASE WHEN ");
    sql.append(&now_rule)
        .push(" THEN 1 ELSE 0 END AS sees_now FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id WHERE e.seq > ")
        .bind(after)
        .push(" AND e.seq <= ")
        .bind(upto)
        .push(" AND (")
        .append(&now_rule)
        .push(" OR ")
        .append(&before_rule)
        .push(") ORDER BY e.seq");
    let rows: Vec<(i64, Uuid, String, i32)> = sql.fetch_all(tx).await?;
    Ok(rows
        .into_iter()
        .map(|(seq, ticket_id, number, now)| Visible { seq, ticket_id, number, sees_now: now == 1 })
        .collect())
}

/// Deletes the events recorded before `before`, but never the newest: it tells a resuming
/// client that what it missed is gone. Returns how many.
pub async fn prune(tx: &mut Tx, before: DateTime<Utc>) -> Result<u64, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query("DELETE FROM ticket_events WHERE at < $1 AND seq < (SELECT MAX(seq) FROM ticket_events)")
            .bind(before)
            .execute(&mut *c)
            .await?
            .rows_affected()
    }))
}

/// PostgreSQL only: the transaction-id horizon `(xmin, xmax)` of the current snapshot. Every
/// transaction below `xmin` has ended; every one that started before the snapshot is below
/// `xmax`. `None` on SQLite, whose writers are serialized and leave no gaps.
pub async fn horizon(tx: &mut Tx) -> Result<Option<(i64, i64)>, DomainError> {
    match tx.conn().await? {
        Conn::Sqlite(_) => Ok(None),
        Conn::Postgres(t) => Ok(Some(
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, \
                 pg_snapshot_xmax(pg_current_snapshot())::text::bigint",
            )
            .fetch_one(&mut **t)
            .await?,
        )),
    }
}
