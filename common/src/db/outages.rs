//! Queries of outages: the lock that takes a region's outage decisions one at a time, the open
//! reports under a customer's network elements, the open outages of those elements, their
//! children, the count of their children, the open outages listed, and the report.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Conn, Tx};
use crate::{
    db_run,
    domain::{
        OutageLevel, Region,
        outage::{Report, Topology},
    },
    error::DomainError,
};

/// Takes the outage locks of the elements `keys` until the transaction ends, in one order
/// (so two transactions never wait for each other's): detection under an element, and writes to
/// its outage, happen one after another, so each sees the others' outcome. A report takes those
/// of its POP, main splitter and splitter; a write to an outage, its element's. (A SQLite write
/// transaction holds the whole database already.)
pub async fn lock(tx: &mut Tx, keys: &[String]) -> Result<(), DomainError> {
    if let Conn::Postgres(c) = tx.conn().await? {
        let mut keys: Vec<&String> = keys.iter().collect();
        keys.sort();
        keys.dedup();
        for key in keys {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(format!("outage:{key}"))
                .execute(&mut **c)
                .await?;
        }
    }
    Ok(())
}

/// The region's `Open` reports (not outages) from customers under the POP, main splitter or
/// splitter of `under`, linked or not.
pub async fn reports(tx: &mut Tx, region: Region, under: &Topology) -> Result<Vec<Report>, DomainError> {
    type Row = (
        Uuid,
        Uuid,
        Option<DateTime<Utc>>,
        DateTime<Utc>,
        Option<String>,
        Option<Uuid>,
        Option<Uuid>,
        Option<Uuid>,
    );
    let rows: Vec<Row> = db_run!(tx, |c| {
        sqlx::query_as::<_, Row>(
            "SELECT t.id, c.id, t.published_at, t.created_at, c.pop, c.ms_id, c.splitter_id, t.parent_id \
             FROM tickets t JOIN clients c ON c.id = t.client_id \
             WHERE t.region = $1 AND t.status = 'Open' AND NOT t.is_outage \
             AND (c.pop = $2 OR c.ms_id = $3 OR c.splitter_id = $4)",
        )
        .bind(region)
        .bind(under.pop.as_deref().filter(|p| !p.trim().is_empty()))
        .bind(under.main_splitter)
        .bind(under.splitter)
        .fetch_all(&mut *c)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(ticket, client, published, created, pop, main_splitter, splitter, outage)| Report {
            ticket,
            client,
            at: published.unwrap_or(created),
            under: Topology { pop, main_splitter, splitter },
            outage,
        })
        .collect())
}

/// The open outages at the elements of `keys`: their ids and keys.
pub async fn open_at(tx: &mut Tx, keys: &[String]) -> Result<Vec<(Uuid, String)>, DomainError> {
    let mut found = Vec::new();
    for key in keys {
        let row: Option<(Uuid, String)> = db_run!(tx, |c| {
            sqlx::query_as(
                "SELECT id, outage_element FROM tickets \
                 WHERE outage_element = $1 AND is_outage AND status <> 'Closed'",
            )
            .bind(key)
            .fetch_optional(&mut *c)
            .await?
        });
        found.extend(row);
    }
    Ok(found)
}

/// The open outage at the element `key`, if any.
pub async fn open_one(tx: &mut Tx, key: &str) -> Result<Option<Uuid>, DomainError> {
    Ok(open_at(tx, &[key.to_owned()]).await?.into_iter().next().map(|(id, _)| id))
}

/// The `Open` reports linked to `outage`, oldest first.
pub async fn open_children(tx: &mut Tx, outage: Uuid) -> Result<Vec<Uuid>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM tickets WHERE parent_id = $1 AND status = 'Open' ORDER BY created_at, id",
        )
        .bind(outage)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// Counts the reports linked to each of `outages` anew (a new version of each: its document
/// changed).
pub async fn recount(tx: &mut Tx, outages: &[Uuid], now: DateTime<Utc>) -> Result<(), DomainError> {
    for id in outages {
        db_run!(tx, |c| {
            sqlx::query(
                "UPDATE tickets SET child_count = (SELECT count(*) FROM tickets k WHERE k.parent_id = $1), \
                 version = version + 1, updated_at = $2 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await?;
        });
    }
    Ok(())
}

/// An outage as the NOC's list shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutageRow {
    pub id: Uuid,
    pub ticket_id: String,
    pub region: Region,
    pub outage_level: OutageLevel,
    pub outage_name: String,
    pub status: crate::domain::Status,
    pub published_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub child_count: i64,
    pub foc_id: Option<Uuid>,
}

const OUTAGE_COLUMNS: &str = "id, ticket_id, region, outage_level, outage_name, status, published_at, closed_at, \
     child_count, foc_id";

/// The open outages, of `region` or all, oldest first.
pub async fn list_open(tx: &mut Tx, region: Option<Region>) -> Result<Vec<OutageRow>, DomainError> {
    let sql = format!(
        "SELECT {OUTAGE_COLUMNS} FROM tickets WHERE is_outage AND status <> 'Closed' \
         AND ($1 IS NULL OR region = $1) ORDER BY published_at, id"
    );
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, OutageRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(region)
            .fetch_all(&mut *c)
            .await?
    }))
}

/// The outages published in `[from, to)`, of `region` or all, closed through a cancellation
/// or a merge left out: the report's rows.
pub async fn published_between(
    tx: &mut Tx,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    region: Option<Region>,
) -> Result<Vec<OutageRow>, DomainError> {
    let sql = format!(
        "SELECT {OUTAGE_COLUMNS} FROM tickets WHERE is_outage AND NOT canceled \
         AND published_at >= $1 AND published_at < $2 AND ($3 IS NULL OR region = $3) ORDER BY published_at, id"
    );
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, OutageRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(from)
            .bind(to)
            .bind(region)
            .fetch_all(&mut *c)
            .await?
    }))
}
