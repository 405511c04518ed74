//! Queries on `main_splitters` and `splitters`: the same shape in two tables, so that a client's
//! `ms` can only point at a main splitter and its `splitter` only at a splitter.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Page, PageRequest, Tx, delete_by_id, like_pattern};
use crate::{db_run, error::DomainError};

/// Which of the two splitter tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitterKind {
    Main,
    Distribution,
}

impl SplitterKind {
    fn table(self) -> &'static str {
        match self {
            SplitterKind::Main => "main_splitters",
            SplitterKind::Distribution => "splitters",
        }
    }

    /// The noun used in messages.
    pub fn noun(self) -> &'static str {
        match self {
            SplitterKind::Main => "main splitter",
            SplitterKind::Distribution => "splitter",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SplitterRow {
    pub id: Uuid,
    pub name: String,
    pub coordinate: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct SplitterFields {
    pub name: String,
    pub coordinate: String,
}

const COLUMNS: &str = "id, name, coordinate, created_at, updated_at";

pub async fn insert(
    tx: &mut Tx,
    kind: SplitterKind,
    f: &SplitterFields,
    now: DateTime<Utc>,
) -> Result<SplitterRow, DomainError> {
    let row = SplitterRow {
        id: Uuid::now_v7(),
        name: f.name.clone(),
        coordinate: f.coordinate.clone(),
        created_at: now,
        updated_at: now,
    };
    let sql = format!(
        "INSERT INTO {} (id, name, coordinate, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
        kind.table()
    );
    db_run!(tx, |c| {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(row.id)
            .bind(&row.name)
            .bind(&row.coordinate)
            .bind(now)
            .execute(&mut *c)
            .await?;
    });
    Ok(row)
}

pub async fn get(tx: &mut Tx, kind: SplitterKind, id: Uuid) -> Result<Option<SplitterRow>, DomainError> {
    let sql = format!("SELECT {COLUMNS} FROM {} WHERE id = $1", kind.table());
    Ok(db_run!(tx, |c| sqlx::query_as::<_, SplitterRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

pub async fn list(
    tx: &mut Tx,
    kind: SplitterKind,
    q: Option<&str>,
    page: PageRequest,
) -> Result<Page<SplitterRow>, DomainError> {
    let pattern = like_pattern(q);
    let table = kind.table();
    let filter = "WHERE ($1 IS NULL OR LOWER(name) LIKE $1 ESCAPE '\\')";
    let sql = format!("SELECT {COLUMNS} FROM {table} {filter} ORDER BY name, id LIMIT $2 OFFSET $3");
    let count_sql = format!("SELECT COUNT(*) FROM {table} {filter}");
    db_run!(tx, |c| {
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(&pattern)
            .fetch_one(&mut *c)
            .await?;
        let items = sqlx::query_as::<_, SplitterRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(&pattern)
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(&mut *c)
            .await?;
        Ok(Page { items, total, total_exact: true, page })
    })
}

pub async fn update(
    tx: &mut Tx,
    kind: SplitterKind,
    id: Uuid,
    f: &SplitterFields,
    now: DateTime<Utc>,
) -> Result<Option<SplitterRow>, DomainError> {
    let sql =
        format!("UPDATE {} SET name = $2, coordinate = $3, updated_at = $4 WHERE id = $1", kind.table());
    let affected = db_run!(tx, |c| {
        sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(id)
            .bind(&f.name)
            .bind(&f.coordinate)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if affected == 0 { Ok(None) } else { get(tx, kind, id).await }
}

/// Deletes a splitter and returns it; 409 while clients use it.
pub async fn delete(tx: &mut Tx, kind: SplitterKind, id: Uuid) -> Result<Option<SplitterRow>, DomainError> {
    let Some(row) = get(tx, kind, id).await? else { return Ok(None) };
    // A concurrent delete may have removed it since the read: then it is gone, 404.
    Ok(delete_by_id(tx, kind.table(), id).await?.then_some(row))
}
