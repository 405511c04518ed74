//! Queries on `isps`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Page, PageRequest, Tx, delete_by_id, like_pattern};
use crate::{db_run, error::DomainError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IspRow {
    pub id: Uuid,
    pub name: String,
    pub initial: String,
    pub brand: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct IspFields {
    pub name: String,
    pub initial: String,
    pub brand: String,
}

const COLUMNS: &str = "id, name, initial, brand, created_at, updated_at";
const LIST_WHERE: &str = " WHERE ($1 IS NULL OR LOWER(name) LIKE $1 ESCAPE '\\' OR LOWER(initial) LIKE $1 ESCAPE '\\' OR LOWER(brand) LIKE $1 ESCAPE '\\')";

pub async fn insert(tx: &mut Tx, f: &IspFields, now: DateTime<Utc>) -> Result<IspRow, DomainError> {
    let row = IspRow {
        id: Uuid::now_v7(),
        name: f.name.clone(),
        initial: f.initial.clone(),
        brand: f.brand.clone(),
        created_at: now,
        updated_at: now,
    };
    db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO isps (id, name, initial, brand, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
        )
        .bind(row.id)
        .bind(&row.name)
        .bind(&row.initial)
        .bind(&row.brand)
        .bind(now)
        .execute(&mut *c)
        .await?;
    });
    Ok(row)
}

pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Option<IspRow>, DomainError> {
    let sql = format!("SELECT {COLUMNS} FROM isps WHERE id = $1");
    Ok(db_run!(tx, |c| sqlx::query_as::<_, IspRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

pub async fn list(tx: &mut Tx, q: Option<&str>, page: PageRequest) -> Result<Page<IspRow>, DomainError> {
    let pattern = like_pattern(q);
    let sql = format!("SELECT {COLUMNS} FROM isps{LIST_WHERE} ORDER BY name, id LIMIT $2 OFFSET $3");
    let count_sql = format!("SELECT COUNT(*) FROM isps{LIST_WHERE}");
    db_run!(tx, |c| {
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(&pattern)
            .fetch_one(&mut *c)
            .await?;
        let items = sqlx::query_as::<_, IspRow>(sqlx::AssertSqlSafe(sql.as_str()))
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
    f: &IspFields,
    now: DateTime<Utc>,
) -> Result<Option<IspRow>, DomainError> {
    let affected = db_run!(tx, |c| {
        sqlx::query("UPDATE isps SET name = $2, initial = $3, brand = $4, updated_at = $5 WHERE id = $1")
            .bind(id)
            .bind(&f.name)
            .bind(&f.initial)
            .bind(&f.brand)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if affected == 0 { Ok(None) } else { get(tx, id).await }
}

/// Deletes an ISP and returns it; 409 while clients use it.
pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<Option<IspRow>, DomainError> {
    let Some(row) = get(tx, id).await? else { return Ok(None) };
    // A concurrent delete may have removed it since the read: then it is gone, 404.
    Ok(delete_by_id(tx, "isps", id).await?.then_some(row))
}
