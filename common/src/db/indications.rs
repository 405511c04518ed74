//! Queries on `indications`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Page, PageRequest, Tx, delete_by_id, like_pattern};
use crate::{db_run, domain::IndicationCategory, error::DomainError};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IndicationRow {
    pub id: Uuid,
    pub category: IndicationCategory,
    pub indication: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct IndicationFields {
    pub category: IndicationCategory,
    pub indication: String,
}

const COLUMNS: &str = "id, category, indication, created_at, updated_at";
const LIST_WHERE: &str =
    " WHERE ($1 IS NULL OR category = $1) AND ($2 IS NULL OR LOWER(indication) LIKE $2 ESCAPE '\\')";

pub async fn insert(
    tx: &mut Tx,
    f: &IndicationFields,
    now: DateTime<Utc>,
) -> Result<IndicationRow, DomainError> {
    let row = IndicationRow {
        id: Uuid::now_v7(),
        category: f.category,
        indication: f.indication.clone(),
        created_at: now,
        updated_at: now,
    };
    db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO indications (id, category, indication, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(row.id)
        .bind(row.category)
        .bind(&row.indication)
        .bind(now)
        .execute(&mut *c)
        .await?;
    });
    Ok(row)
}

pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Option<IndicationRow>, DomainError> {
    let sql = format!("SELECT {COLUMNS} FROM indications WHERE id = $1");
    Ok(db_run!(tx, |c| sqlx::query_as::<_, IndicationRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

pub async fn list(
    tx: &mut Tx,
    category: Option<IndicationCategory>,
    q: Option<&str>,
    page: PageRequest,
) -> Result<Page<IndicationRow>, DomainError> {
    let pattern = like_pattern(q);
    let sql = format!(
        "SELECT {COLUMNS} FROM indications{LIST_WHERE} ORDER BY category, indication, id LIMIT $3 OFFSET $4"
    );
    let count_sql = format!("SELECT COUNT(*) FROM indications{LIST_WHERE}");
    db_run!(tx, |c| {
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str()))
            .bind(category)
            .bind(&pattern)
            .fetch_one(&mut *c)
            .await?;
        let items = sqlx::query_as::<_, IndicationRow>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(category)
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
    f: &IndicationFields,
    now: DateTime<Utc>,
) -> Result<Option<IndicationRow>, DomainError> {
    let affected = db_run!(tx, |c| {
        sqlx::query("UPDATE indications SET category = $2, indication = $3, updated_at = $4 WHERE id = $1")
            .bind(id)
            .bind(f.category)
            .bind(&f.indication)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if affected == 0 { Ok(None) } else { get(tx, id).await }
}

pub async fn delete(tx: &mut Tx, id: Uuid) -> Result<Option<IndicationRow>, DomainError> {
    let Some(row) = get(tx, id).await? else { return Ok(None) };
    // A concurrent delete may have removed it since the read: then it is gone, 404.
    Ok(delete_by_id(tx, "indications", id).await?.then_some(row))
}
