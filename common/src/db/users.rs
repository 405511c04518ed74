//! Queries on `users`.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{
    Conn, Page, PageRequest, Tx,
    session_cache::{self, Change},
    sql::{self, Sql},
};
use crate::{
    db_run,
    domain::{Region, Role, access::UserScope},
    error::DomainError,
};

/// A user with its area, as the API shows it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub nik: String,
    pub name: String,
    pub role: Role,
    pub region: Region,
    pub area_id: Option<Uuid>,
    pub area_name: Option<String>,
    pub area_region: Option<Region>,
    pub area_initial: Option<String>,
    pub profile_photo: Option<String>,
    pub phone_number: Option<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields of a user that create and update write.
#[derive(Debug, Clone)]
pub struct UserFields {
    pub email: String,
    pub nik: String,
    pub name: String,
    pub role: Role,
    pub region: Region,
    pub area_id: Option<Uuid>,
    pub profile_photo: Option<String>,
    pub phone_number: Option<String>,
}

/// Columns a user list may be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserOrder {
    Name,
    Email,
    Nik,
    Role,
    Region,
    CreatedAt,
    UpdatedAt,
}

impl UserOrder {
    /// Parses the `orderBy` query value (the API's field names).
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "name" => Self::Name,
            "email" => Self::Email,
            "nik" => Self::Nik,
            "role" => Self::Role,
            "region" => Self::Region,
            "createdAt" => Self::CreatedAt,
            "updatedAt" => Self::UpdatedAt,
            _ => return None,
        })
    }

    fn column(self) -> &'static str {
        match self {
            Self::Name => "LOWER(u.name)",
            Self::Email => "u.email",
            Self::Nik => "LOWER(u.nik)",
            Self::Role => "u.role",
            Self::Region => "u.region",
            Self::CreatedAt => "u.created_at",
            Self::UpdatedAt => "u.updated_at",
        }
    }
}

/// Filters of the user list.
#[derive(Debug, Clone)]
pub struct UserFilter {
    pub scope: UserScope,
    pub role: Option<Role>,
    pub region: Option<Region>,
    pub q: Option<String>,
    pub order: UserOrder,
    pub descending: bool,
}

/// The `SELECT` of a user row, before its `WHERE` (the load benchmark replays it).
pub const SELECT: &str = "SELECT u.id, u.email, u.nik, u.name, u.role, u.region, u.area_id, \
     a.name AS area_name, a.region AS area_region, a.initial AS area_initial, \
     u.profile_photo, u.phone_number, u.active, u.created_at, u.updated_at \
     FROM users u LEFT JOIN areas a ON a.id = u.area_id";

pub async fn insert(
    tx: &mut Tx,
    f: &UserFields,
    password_hash: &str,
    now: DateTime<Utc>,
) -> Result<UserRow, DomainError> {
    let id = Uuid::now_v7();
    db_run!(tx, |c| {
        sqlx::query(
            "INSERT INTO users (id, email, nik, name, role, region, area_id, profile_photo, \
             phone_number, password_hash, active, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, TRUE, $11, $11)",
        )
        .bind(id)
        .bind(&f.email)
        .bind(&f.nik)
        .bind(&f.name)
        .bind(f.role)
        .bind(f.region)
        .bind(f.area_id)
        .bind(&f.profile_photo)
        .bind(&f.phone_number)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *c)
        .await?;
    });
    get(tx, id).await?.ok_or(DomainError::NotFound("user"))
}

/// An active user by id.
pub async fn get(tx: &mut Tx, id: Uuid) -> Result<Option<UserRow>, DomainError> {
    let sql = format!("{SELECT} WHERE u.id = $1 AND u.active");
    Ok(db_run!(tx, |c| sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// Every user's id, active or not.
pub async fn all_ids(tx: &mut Tx) -> Result<Vec<Uuid>, DomainError> {
    Ok(db_run!(tx, |c| sqlx::query_scalar::<_, Uuid>("SELECT id FROM users ORDER BY id")
        .fetch_all(&mut *c)
        .await?))
}

/// A user by id, active or not (tickets keep showing the people who worked on them).
pub async fn get_any(tx: &mut Tx, id: Uuid) -> Result<Option<UserRow>, DomainError> {
    let sql = format!("{SELECT} WHERE u.id = $1");
    Ok(db_run!(tx, |c| sqlx::query_as::<_, UserRow>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?))
}

/// Users by id, active or not, in one statement per 500 ids; ids of no user are left out.
pub async fn get_any_of(tx: &mut Tx, ids: &[Uuid]) -> Result<Vec<UserRow>, DomainError> {
    let mut users = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        macro_rules! on {
            ($backend:ty, $conn:expr) => {{
                let mut q = sqlx::QueryBuilder::<$backend>::new(SELECT);
                q.push(" WHERE u.id IN (");
                let mut each = q.separated(", ");
                for id in chunk {
                    each.push_bind(*id);
                }
                q.push(")");
                q.build_query_as::<UserRow>().fetch_all($conn).await?
            }};
        }
        users.extend(match tx.conn().await? {
            Conn::Sqlite(t) => on!(sqlx::Sqlite, &mut **t),
            Conn::Postgres(t) => on!(sqlx::Postgres, &mut **t),
        });
    }
    Ok(users)
}

pub async fn list(tx: &mut Tx, f: &UserFilter, page: PageRequest) -> Result<Page<UserRow>, DomainError> {
    let (scope_region, scope_id) = match f.scope {
        UserScope::All => (None, None),
        UserScope::Region(r) => (Some(r), None),
        UserScope::OnlySelf(id) => (None, Some(id)),
    };
    let mut conditions = Sql::new(" WHERE u.active");
    conditions
        .and_eq("u.region", scope_region)
        .and_eq("u.id", scope_id)
        .and_eq("u.role", f.role)
        .and_eq("u.region", f.region)
        .and_search(&["u.name", "u.email", "u.nik"], f.q.as_deref());
    let dir = if f.descending { "DESC" } else { "ASC" };
    let order = format!("{} {dir}, u.id {dir}", f.order.column());
    sql::page(tx, SELECT, "users u", &conditions, &order, page).await
}

/// Rewrites an active user; a new password hash replaces the old one when given. Every
/// replica's session check sees the new role, region and name at the commit.
pub async fn update(
    tx: &mut Tx,
    id: Uuid,
    f: &UserFields,
    password_hash: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Option<UserRow>, DomainError> {
    let affected = db_run!(tx, |c| {
        sqlx::query(
            "UPDATE users SET email = $2, nik = $3, name = $4, role = $5, region = $6, \
             area_id = $7, profile_photo = $8, phone_number = $9, \
             password_hash = COALESCE($10, password_hash), updated_at = $11 \
             WHERE id = $1 AND active",
        )
        .bind(id)
        .bind(&f.email)
        .bind(&f.nik)
        .bind(&f.name)
        .bind(f.role)
        .bind(f.region)
        .bind(f.area_id)
        .bind(&f.profile_photo)
        .bind(&f.phone_number)
        .bind(password_hash)
        .bind(now)
        .execute(&mut *c)
        .await?
        .rows_affected()
    });
    if affected == 0 {
        return Ok(None);
    }
    session_cache::changed(tx, Change::User(id)).await?;
    get(tx, id).await
}

/// Deactivates an active user, on every replica at the commit; `false` when there was none.
pub async fn deactivate(tx: &mut Tx, id: Uuid, now: DateTime<Utc>) -> Result<bool, DomainError> {
    let affected = db_run!(tx, |c| {
        sqlx::query("UPDATE users SET active = FALSE, updated_at = $2 WHERE id = $1 AND active")
            .bind(id)
            .bind(now)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    if affected == 1 {
        session_cache::changed(tx, Change::User(id)).await?;
    }
    Ok(affected == 1)
}

/// The id and password hash of the active user with this (normalized) email.
pub async fn credentials(tx: &mut Tx, email: &str) -> Result<Option<(Uuid, String)>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, (Uuid, String)>("SELECT id, password_hash FROM users WHERE email = $1 AND active")
            .bind(email)
            .fetch_optional(&mut *c)
            .await?
    }))
}

/// How many active users hold a role.
/// Locks the active SuperAdmins' rows until the transaction ends, so that two transactions
/// that each demote or deactivate one of the last two cannot both see the other still there.
/// On SQLite the write transaction (`BEGIN IMMEDIATE`) already runs alone.
pub async fn lock_super_admins(tx: &mut Tx) -> Result<(), DomainError> {
    if let Conn::Postgres(c) = tx.conn().await? {
        sqlx::query("SELECT id FROM users WHERE role = 'SuperAdmin' AND active FOR UPDATE")
            .execute(&mut **c)
            .await?;
    }
    Ok(())
}

pub async fn count_with_role(tx: &mut Tx, role: Role) -> Result<i64, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE role = $1 AND active")
            .bind(role)
            .fetch_one(&mut *c)
            .await?
    }))
}

/// The active field technicians (FOC and FOCSupervisor) of a region, who hear of its open
/// tickets, with their linked Telegram chats.
pub async fn field_staff(tx: &mut Tx, region: Region) -> Result<Vec<(Uuid, Option<i64>)>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, (Uuid, Option<i64>)>(
            "SELECT id, telegram_chat_id FROM users WHERE region = $1 AND role IN ('FOC', 'FOCSupervisor') AND active \
             ORDER BY id",
        )
        .bind(region)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// The active users of a region who have `role` (the supervisors or NOCs a follow-up tells).
pub async fn in_region(tx: &mut Tx, region: Region, role: Role) -> Result<Vec<Uuid>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM users WHERE region = $1 AND role = $2 AND active ORDER BY id",
        )
        .bind(region)
        .bind(role)
        .fetch_all(&mut *c)
        .await?
    }))
}
