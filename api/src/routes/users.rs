//! `/v1/users`: accounts, written by a SuperAdmin, read by role and region.

use chrono::{DateTime, Utc};
use common::{
    DomainError,
    auth::hash_password,
    db::{self, Tx, catalog, notifications, sessions, users},
    domain::{
        Channel, NoticeKind, Region, Role,
        preferences::{Preferences, QuietHours},
        validate::{Checker, LONG_MAX, SHORT_MAX, normalize_email},
    },
};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use super::catalog::Area;
use crate::{
    ApiTags,
    auth::Auth,
    envelope::{Created, Found, Listed, created, found, listed, page_request},
    error::ApiResult,
    state::AppState,
    text::{Email, Long, NotBlank, Password, Short, Text, opt},
};

/// A user as the API shows it; never its password.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub nik: String,
    pub name: String,
    pub role: Role,
    pub region: Region,
    /// The name of the user's area.
    pub area: Option<String>,
    /// The user's areas, in full.
    pub areas: Vec<Area>,
    pub profile_photo: Option<String>,
    pub phone_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<users::UserRow> for User {
    fn from(r: users::UserRow) -> Self {
        let areas = match (r.area_id, &r.area_name, r.area_region, &r.area_initial) {
            (Some(id), Some(name), Some(region), Some(initial)) => vec![Area {
                id,
                region,
                name: name.clone(),
                initial: initial.clone(),
                created_at: None,
                updated_at: None,
            }],
            _ => vec![],
        };
        Self {
            id: r.id,
            email: r.email,
            nik: r.nik,
            name: r.name,
            role: r.role,
            region: r.region,
            area: r.area_name,
            areas,
            profile_photo: r.profile_photo,
            phone_number: r.phone_number,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new user.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct NewUser {
    pub email: Text<Email>,
    pub password: Text<Password>,
    pub re_password: Text<Password>,
    pub nik: Text<NotBlank>,
    pub name: Text<NotBlank>,
    pub role: Role,
    pub region: Region,
    /// The name of an existing area of the user's region.
    pub area: Option<Text<Short>>,
    pub profile_photo: Option<Text<Long>>,
    pub phone_number: Option<Text<Short>>,
}

/// A user's new state; the password changes only when given (then `rePassword` too).
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct UserUpdate {
    pub email: Text<Email>,
    pub password: Option<Text<Password>>,
    pub re_password: Option<Text<Password>>,
    pub nik: Text<NotBlank>,
    pub name: Text<NotBlank>,
    pub role: Role,
    pub region: Region,
    pub area: Option<Text<Short>>,
    pub profile_photo: Option<Text<Long>>,
    pub phone_number: Option<Text<Short>>,
}

/// What the caller chooses to be told.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct NotificationSettings {
    /// The kinds the user is told (every kind until the user chooses).
    pub kinds: Vec<NoticeKind>,
    /// The channels the user is told on (a Telegram chat must be linked as well).
    pub channels: Vec<Channel>,
    /// Quiet hours on the clock of the user's region: meanwhile only SLA breaches are sent,
    /// the rest waits until they end. `null`: none.
    pub quiet_hours: Option<QuietHoursBody>,
    /// The clock the quiet hours are read on, e.g. `WIB (UTC+07:00)`.
    pub time_zone: String,
}

/// What the caller chooses to be told, as sent.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct NotificationSettingsUpdate {
    /// The kinds to be told (each at most once; none silences every kind).
    #[oai(validator(max_items = 20))]
    pub kinds: Vec<NoticeKind>,
    /// The channels to be told on.
    #[oai(validator(max_items = 10))]
    pub channels: Vec<Channel>,
    /// `null` or left out: no quiet hours.
    pub quiet_hours: Option<QuietHoursBody>,
}

/// From `from` to `to` (`HH:MM`, the region's clock), across midnight when `to` comes first.
#[derive(Debug, Object)]
pub struct QuietHoursBody {
    #[oai(validator(max_length = 5))]
    pub from: String,
    #[oai(validator(max_length = 5))]
    pub to: String,
}

impl NotificationSettings {
    fn of(p: Preferences, region: Region) -> Self {
        let offset = region.utc_offset();
        Self {
            kinds: p.kinds,
            channels: p.channels,
            quiet_hours: p.quiet.map(|q| QuietHoursBody {
                from: q.from.format("%H:%M").to_string(),
                to: q.to.format("%H:%M").to_string(),
            }),
            time_zone: format!("{} (UTC{offset})", region.clock_name()),
        }
    }
}

/// Direction of a sorted list.
#[derive(Debug, Clone, Copy, poem_openapi::Enum)]
#[oai(rename_all = "lowercase")]
pub enum SortDirection {
    Asc,
    Desc,
}

impl From<NewUser> for UserUpdate {
    fn from(b: NewUser) -> Self {
        Self {
            email: b.email,
            password: Some(b.password),
            re_password: Some(b.re_password),
            nik: b.nik,
            name: b.name,
            role: b.role,
            region: b.region,
            area: b.area,
            profile_photo: b.profile_photo,
            phone_number: b.phone_number,
        }
    }
}

/// Validates a user body and resolves its area name within its region.
async fn fields(tx: &mut Tx, b: &UserUpdate) -> Result<users::UserFields, DomainError> {
    let mut check = Checker::new();
    if b.password.is_some() || b.re_password.is_some() {
        check.password(b.password.as_deref().unwrap_or(""), b.re_password.as_deref().unwrap_or(""));
    }
    check
        .email("email", &b.email)
        .required("nik", &b.nik)
        .required("name", &b.name)
        .opt_len("area", b.area.as_deref(), SHORT_MAX)
        .opt_len("profilePhoto", b.profile_photo.as_deref(), LONG_MAX)
        .opt_len("phoneNumber", b.phone_number.as_deref(), SHORT_MAX);
    let mut area_id = None;
    if let Some(area) =
        b.area.as_deref().map(str::trim).filter(|a| !a.is_empty() && a.chars().count() <= SHORT_MAX)
    {
        match catalog::area_named::<Area>(tx, b.region, area).await? {
            Some(a) => area_id = Some(a.id),
            None => check.fail("area", format!("no area named `{area}` in region {}", b.region)),
        }
    }
    check.finish()?;
    Ok(users::UserFields {
        email: normalize_email(&b.email),
        nik: b.nik.trim().to_owned(),
        name: b.name.trim().to_owned(),
        role: b.role,
        region: b.region,
        area_id,
        profile_photo: opt(b.profile_photo.clone()),
        phone_number: opt(b.phone_number.clone()),
    })
}

pub struct UsersApi;

#[OpenApi(prefix_path = "/v1/users", tag = "ApiTags::Users")]
impl UsersApi {
    /// Register a user (SuperAdmin).
    #[oai(path = "/", method = "post", operation_id = "createUser")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<NewUser>,
    ) -> ApiResult<Created<User>> {
        auth.actor().require_super_admin()?;
        let b = UserUpdate::from(body.0);
        let mut tx = state.db.begin_write().await?;
        let f = fields(&mut tx, &b).await?;
        let hash = hash_password(b.password.map(Text::into_string).unwrap_or_default()).await?;
        let user = users::insert(&mut tx, &f, &hash, db::now()).await?;
        state.settings.effects().user_changed(&mut tx, &[user.id]).await?;
        tx.commit().await?;
        tracing::info!(user.id = %user.id, by = %auth.actor().id, "user created");
        Ok(created(user.into()))
    }

    /// List the users the caller may see.
    ///
    /// SuperAdmin sees all, NOC and FOCSupervisor their region, an FOC only itself.
    #[oai(path = "/", method = "get", operation_id = "listUsers")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        /// Field to order by: name, email, nik, role, region, createdAt, updatedAt.
        #[oai(name = "orderBy", validator(pattern = "^(name|email|nik|role|region|createdAt|updatedAt)$"))]
        order_by: Query<Option<String>>,
        /// `asc` or `desc`.
        #[oai(name = "sortBy")]
        sort_by: Query<Option<SortDirection>>,
        role: Query<Option<Role>>,
        region: Query<Option<Region>>,
        /// Text search in name, email and nik.
        #[oai(validator(max_length = 200))]
        q: Query<Option<String>>,
        /// Rows per page, 1 to 100 (default 20).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
        /// Rows to skip (default 0).
        #[oai(validator(minimum(value = "0")))]
        offset: Query<Option<i64>>,
    ) -> ApiResult<Listed<User>> {
        let page = page_request(limit.0, offset.0)?;
        let order = match order_by.0.as_deref() {
            None => users::UserOrder::CreatedAt,
            Some(s) => users::UserOrder::parse(s).ok_or_else(|| {
                DomainError::invalid(
                    "orderBy",
                    "must be one of name, email, nik, role, region, createdAt, updatedAt",
                )
            })?,
        };
        let filter = users::UserFilter {
            scope: auth.actor().user_scope(),
            role: role.0,
            region: region.0,
            q: q.0,
            order,
            descending: matches!(sort_by.0, Some(SortDirection::Desc)),
        };
        let mut tx = state.db.begin().await?;
        let rows = users::list(&mut tx, &filter, page).await?;
        tx.commit().await?;
        Ok(listed(rows, User::from))
    }

    /// A user's detail (404 outside the caller's scope).
    #[oai(path = "/:id", method = "get", operation_id = "getUser")]
    async fn get(&self, state: Data<&AppState>, auth: Auth, id: Path<Uuid>) -> ApiResult<Found<User>> {
        let mut tx = state.db.begin().await?;
        let user = users::get(&mut tx, id.0).await?;
        tx.commit().await?;
        let user = user
            .filter(|u| auth.actor().user_scope().contains(u.id, u.region))
            .ok_or(DomainError::NotFound("user"))?;
        Ok(found(user.into()))
    }

    /// What the caller is told, on which channels, and when not (every user).
    #[oai(path = "/me/notifications", method = "get", operation_id = "getMyNotificationSettings")]
    async fn my_notifications(
        &self,
        state: Data<&AppState>,
        auth: Auth,
    ) -> ApiResult<Found<NotificationSettings>> {
        let mut tx = state.db.begin().await?;
        let p = notifications::preferences(&mut tx, auth.actor().id).await?;
        tx.commit().await?;
        Ok(found(NotificationSettings::of(p, auth.actor().region)))
    }

    /// Choose what the caller is told, on which channels, and the quiet hours (every user).
    #[oai(path = "/me/notifications", method = "put", operation_id = "updateMyNotificationSettings")]
    async fn set_my_notifications(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<NotificationSettingsUpdate>,
    ) -> ApiResult<Found<NotificationSettings>> {
        let b = body.0;
        let mut p = Preferences {
            kinds: NoticeKind::ALL.iter().copied().filter(|k| b.kinds.contains(k)).collect(),
            channels: Channel::ALL.iter().copied().filter(|c| b.channels.contains(c)).collect(),
            quiet: None,
        };
        if let Some(q) = &b.quiet_hours {
            p.quiet = Some(QuietHours::parse(&q.from, &q.to)?);
        }
        let actor = auth.actor();
        let mut tx = state.db.begin_write().await?;
        notifications::set_preferences(&mut tx, actor.id, &p, db::now()).await?;
        tx.commit().await?;
        tracing::info!(user.id = %actor.id, "notification settings changed");
        Ok(found(NotificationSettings::of(p, actor.region)))
    }

    /// Update a user (SuperAdmin). A new password ends the user's sessions. The last SuperAdmin
    /// keeps its role (409 `last_super_admin`).
    #[oai(path = "/:id", method = "put", operation_id = "updateUser")]
    async fn update(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        body: Json<UserUpdate>,
    ) -> ApiResult<Found<User>> {
        auth.actor().require_super_admin()?;
        let b = body.0;
        // The hash is made before the transaction: no lock waits on it.
        let hash = match b.password.clone() {
            Some(p) => Some(hash_password(p.into_string()).await?),
            None => None,
        };
        let mut tx = state.db.begin_write().await?;
        users::lock_super_admins(&mut tx).await?;
        let f = fields(&mut tx, &b).await?;
        let now = db::now();
        let user = users::update(&mut tx, id.0, &f, hash.as_deref(), now)
            .await?
            .ok_or(DomainError::NotFound("user"))?;
        ensure_a_super_admin_remains(&mut tx).await?;
        if hash.is_some() {
            sessions::revoke_all(&mut tx, user.id, now).await?;
        }
        state.settings.effects().user_changed(&mut tx, &[user.id]).await?;
        tx.commit().await?;
        Ok(found(user.into()))
    }

    /// Delete a user (SuperAdmin): it is deactivated, its sessions end, its history stays.
    #[oai(path = "/:id", method = "delete", operation_id = "deleteUser")]
    async fn delete(&self, state: Data<&AppState>, auth: Auth, id: Path<Uuid>) -> ApiResult<Found<User>> {
        auth.actor().require_super_admin()?;
        if id.0 == auth.actor().id {
            return Err(DomainError::conflict("self_delete", "you cannot delete your own account").into());
        }
        let now = db::now();
        let mut tx = state.db.begin_write().await?;
        users::lock_super_admins(&mut tx).await?;
        let user = users::get(&mut tx, id.0).await?.ok_or(DomainError::NotFound("user"))?;
        if !users::deactivate(&mut tx, id.0, now).await? {
            return Err(DomainError::NotFound("user").into());
        }
        ensure_a_super_admin_remains(&mut tx).await?;
        sessions::revoke_all(&mut tx, id.0, now).await?;
        state.settings.effects().user_changed(&mut tx, &[id.0]).await?;
        tx.commit().await?;
        tracing::info!(user.id = %id.0, by = %auth.actor().id, "user deactivated");
        Ok(found(user.into()))
    }
}

/// Nobody could manage users any more after this change: refused (409 `last_super_admin`), and
/// the caller's transaction rolls back. The caller locked the SuperAdmins' rows first.
async fn ensure_a_super_admin_remains(tx: &mut Tx) -> Result<(), DomainError> {
    if users::count_with_role(tx, Role::SuperAdmin).await? == 0 {
        return Err(DomainError::conflict(
            "last_super_admin",
            "this is the last SuperAdmin; make another user SuperAdmin first",
        ));
    }
    Ok(())
}
