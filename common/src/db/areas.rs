//! Queries on `areas`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Page, PageRequest, Tx, delete_by_id, like_pattern};
use crate::{db_run, domain::Region, error::DomainError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AreaRow {
    pub id: Uuid,
    pub region: Region,
    pub name: String,
    pub initial: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct AreaFields {
    pub region: Region,
    pub name: String,
    pub initial: String,
}

const COLUMNS: &str = "id, region, name, initial, created_at, updated_at";
const LIST_WHERE: &str =
    " WHERE ($1 IS NULL OR region = $1) AND ($2 IS NULL OR LOWER(name) LIKE $2 ESCAPE '\\')";

pub async fn insert(tx: &mut Tx, f: &AreaFields, now: DateTime<Utc>) -> Result<AreaRow, DomainError> {
    let row = AreaRow {
        id: Uuid::now_v7(),
        region: f.region,
        name: f.name.clone(),
        initial: f.initial.clone(),
        created_at: now,
        updated_at: now,
    };
    db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO areas (id, region, name, initial, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(row.id)
        .bind(row.region)
        .bind(&row.name)
        .bind(&row.initial)
        .bind(now)
        .execute(&mut *c)
        .await?;
    });
    Ok(row)
}

pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Option<AreaRow>, DomainError> {
    let sql = format!("SELECT {COLUMNS} FROM areas WHERE id = $1");
    Ok(db_run!(tx, |c| sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// The area of that name in that region (names are unique within a region).
pub async fn find_by_name(tx: &mut Tx, region: Region, name: &str) -> Result<Option<AreaRow>, DomainError> {
    let sql = format!("SELECT {COLUMNS} FROM areas WHERE region = $1 AND name = $2");
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(region)
            .bind(name)
            .fetch_optional(&mut *c)
            .await?
    }))
}

pub async fn list(
    tx: &mut Tx,
    region: Option<Region>,
    q: Option<&str>,
    page: PageRequest,
) -> Result<Page<AreaRow>, DomainError> {
    let pattern = like_pattern(q);
    let sql = format!("SELECT {COLUMNS} FROM areas{LIST_WHERE} ORDER BY region, name, id LIMIT $3 OFFSET $4");
    let count_sql = format!("SELECT COUNT(*) FROM areas{LIST_WHERE}");
    db_run!(tx, |c| {
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(region)
            .bind(&pattern)
            .fetch_one(&mut *c)
            .await?;
        let items = sqlx::query_as::<_, AreaRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(region)
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
    id: Uuid,
    f: &AreaFields,
    now: DateTime<Utc>,
) -> Result<Option<AreaRow>, DomainError> {
    let affected = db_run!(tx, |c| {
        sqlx::query("UPDATE areas SET region = $2, name = $3, initial = $4, updated_at = $5 WHERE id = $1")
            .bind(id)
            .bind(f.region)
            .bind(&f.name)
            .bind(&f.initial)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if affected == 0 { Ok(None) } else { get(tx, id).await }
}

/// Deletes an area and returns it; 409 while users or clients use it.
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<Option<AreaRow>, DomainError> {
    let Some(row) = get(tx, id).await? else { return Ok(None) };
    // A concurrent delete may have removed it since the read: then it is gone, 404.
    Ok(delete_by_id(tx, "areas", id).await?.then_some(row))
}
