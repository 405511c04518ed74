//! Login, logout, and the security scheme every other operation requires: a session token as
//! `Authorization: Bearer` or as the `session_id` cookie. The token is a JWT naming a database
//! session, so logging out ends it at once.

use chrono::Duration;
use common::{
    DomainError,
    auth::{Claims, HashingBusy, hash_password, verify_password},
    db::{self, sessions, telegram, users},
    domain::{Role, access::Actor, validate::normalize_email},
};
use std::sync::{Arc, OnceLock};

use poem::{Endpoint, IntoResponse, Request, Response, http::StatusCode, web::cookie::Cookie};
use poem_openapi::{
    ApiResponse, Object, OpenApi, SecurityScheme,
    auth::{ApiKey, Bearer},
    payload::Json,
};
use uuid::Uuid;

use crate::{
    ApiTags,
    envelope::{Created, Done, created, done},
    error::{ApiError, ApiResult},
    state::AppState,
    text::Text,
};

/// The caller of an operation and the session it came with.
#[derive(Debug, Clone)]
pub struct Session {
    pub actor: Actor,
    pub session_id: Uuid,
}

/// A session token in the `Authorization: Bearer` header.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(Session);

/// The same session token in the `session_id` cookie set at login.
#[derive(SecurityScheme)]
#[oai(ty = "api_key", key_name = "session_id", key_in = "cookie", checker = "check_cookie")]
pub struct CookieAuth(Session);

/// Either way of presenting a session.
#[derive(SecurityScheme)]
pub enum Auth {
    Bearer(BearerAuth),
    Cookie(CookieAuth),
}

impl Auth {
    pub fn session(&self) -> &Session {
        match self {
            Auth::Bearer(b) => &b.0,
            Auth::Cookie(c) => &c.0,
        }
    }

    pub fn actor(&self) -> &Actor {
        &self.session().actor
    }
}

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Session> {
    check_token(req, &bearer.token).await
}

async fn check_cookie(req: &Request, key: ApiKey) -> poem::Result<Session> {
    check_token(req, &key.key).await
}

async fn check_token(req: &Request, token: &str) -> poem::Result<Session> {
    let state = req.data::<AppState>().expect("AppState is attached to the app");
    let invalid = || ApiError::unauthorized("the token is invalid, expired or logged out");
    let claims = state.keys.verify(token).ok_or_else(invalid)?;
    let failed = |e: DomainError| note_outage(req, ApiError::from(e));
    let now = db::now();
    let live = match state.sessions.get(claims.sid, claims.sub, now) {
        Some(live) => live,
        None => {
            let ticket = state.sessions.ticket();
            let live = sessions::live_actor(&state.db, claims.sid, claims.sub, now).await.map_err(failed)?;
            let live = live.ok_or_else(invalid)?;
            state.sessions.put(ticket, claims.sid, &live);
            live
        }
    };
    if let Some(idle) = state.settings.session_idle() {
        // A use moves the idle end on, writing at most about once a minute per session.
        let step = (idle / 2).min(Duration::minutes(1));
        if live.idle_until.is_none_or(|until| until < now + idle - step) {
            sessions::touch(&state.db, claims.sid, now + idle).await.map_err(failed)?;
            state.sessions.touched(claims.sid, now + idle);
        }
    }
    crate::observe::record_user(live.actor.id);
    Ok(Session { actor: live.actor, session_id: claims.sid })
}

/// Set when a session could not be checked because the database was unreachable. poem-openapi
/// tries the Bearer and then the cookie scheme and answers the last one's error, a 401 for an
/// absent cookie; [`surface_outage`] turns that back into the 503 it was.
#[derive(Clone, Default)]
pub struct AuthOutage(Arc<OnceLock<()>>);

fn note_outage(req: &Request, err: ApiError) -> ApiError {
    if matches!(err, ApiError::Unavailable(_))
        && let Some(slot) = req.data::<AuthOutage>()
    {
        let _ = slot.0.set(());
    }
    err
}

/// Answers 503, not 401, when the session could not be checked for a database outage: a client
/// must not take an outage for a logout.
pub async fn surface_outage<E: Endpoint>(next: E, mut req: Request) -> poem::Result<Response> {
    let slot = AuthOutage::default();
    req.set_data(slot.clone());
    let result = next.call(req).await.map(IntoResponse::into_response);
    let unauthorized = match &result {
        Ok(resp) => resp.status() == StatusCode::UNAUTHORIZED,
        Err(err) => err.status() == StatusCode::UNAUTHORIZED,
    };
    if unauthorized && slot.0.get().is_some() {
        return Ok(ApiError::unavailable().into_response());
    }
    result
}

/// Credentials.
#[derive(Debug, Object)]
pub struct LoginRequest {
    #[oai(validator(max_length = 200))]
    pub email: Text,
    #[oai(validator(max_length = 200))]
    pub password: Text,
}

/// A new session.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct LoginData {
    /// The session token; send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// The user the session belongs to.
    pub user_id: Uuid,
    pub role: Role,
    /// A Firebase custom token (claims `role`, `region`, `uid`) to sign in to Firestore; only
    /// when a Firebase service account is configured.
    #[oai(skip_serializing_if_is_none)]
    pub firebase_token: Option<String>,
}

/// A one-time code that links a Telegram chat to the caller.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct TelegramLinkCode {
    pub code: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    /// What to send to the bot.
    pub command: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct LoginBody {
    pub status_code: u16,
    pub data: LoginData,
}

#[derive(ApiResponse)]
pub enum LoginResponse {
    /// Logged in; the session is also set as the `session_id` cookie.
    #[oai(status = 200)]
    Ok(Json<LoginBody>, #[oai(header = "Set-Cookie")] String),
}

#[derive(ApiResponse)]
pub enum LogoutResponse {
    /// Logged out; the token and cookie no longer work.
    #[oai(status = 200)]
    Ok(Json<crate::envelope::Empty>, #[oai(header = "Set-Cookie")] String),
}

pub struct AuthApi;

#[OpenApi(prefix_path = "/v1", tag = "ApiTags::Auth")]
impl AuthApi {
    /// Log in with email and password.
    ///
    /// Failed logins are counted per account and client address, and per account: past the
    /// limits (`CGS_LOGIN_MAX_FAILURES`, `CGS_LOGIN_ACCOUNT_MAX_FAILURES`) the pair or the
    /// account answers 429 with `Retry-After` until its window ends. So do more than
    /// `CGS_LOGIN_PER_ADDRESS_PER_MINUTE` attempts from one address, and a login while the
    /// server's password checks are all taken (`login_busy`, a second later).
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        state: poem::web::Data<&AppState>,
        req: &Request,
        body: Json<LoginRequest>,
    ) -> Result<LoginResponse, ApiError> {
        let s = &state.settings;
        let address = crate::throttle::client_address(req, &s.trusted_proxies);
        state.throttle.admit(address)?;
        let email = normalize_email(&body.email);
        let now = db::now();
        let window = Duration::seconds(s.login_lockout_seconds);
        state.throttle.prune_now_and_then(&state.db, now - window);
        let (account, pair) = crate::throttle::keys(&email, address);
        // Each attempt is counted before the password is checked, so parallel attempts cannot
        // pass a limit; a good login gives its count back.
        let locked = |a: sessions::Attempts| {
            let retry_after = (a.window_start + window - now).num_seconds().max(1);
            ApiError::from(DomainError::TooManyAttempts { retry_after })
        };
        let at_pair = sessions::count_attempt(&state.db, &pair, now, window, s.login_max_failures).await?;
        if at_pair.count > s.login_max_failures {
            return Err(locked(at_pair));
        }
        let at_account =
            sessions::count_attempt(&state.db, &account, now, window, s.login_account_max_failures).await?;
        if at_account.count > s.login_account_max_failures {
            refund(&state.db, &[&pair]).await?;
            return Err(locked(at_account));
        }
        let creds = {
            let mut tx = state.db.begin().await?;
            users::credentials(&mut tx, &email).await?
        };
        // No connection is held while the password is checked.
        let checked =
            verify_password(body.password.to_string(), creds.as_ref().map(|(_, h)| h.clone())).await;
        let user_id = match (creds, checked) {
            (_, Err(HashingBusy)) => {
                refund(&state.db, &[&pair, &account]).await?;
                tracing::warn!("login refused: every password check is taken");
                return Err(ApiError::too_many(
                    "login_busy",
                    "the server is checking many logins; retry in a second",
                    1,
                ));
            }
            (Some((id, _)), Ok(true)) => id,
            _ => {
                tracing::info!(email = %email, client = %address, "failed login");
                return Err(ApiError::unauthorized("wrong email or password"));
            }
        };
        let mut tx = state.db.begin_write().await?;
        sessions::forget(&mut tx, &pair).await?;
        sessions::refund(&mut tx, &account).await?;
        let exp = now + Duration::hours(s.session_ttl_hours);
        let idle_until = s.session_idle().map(|idle| now + idle);
        let sid = sessions::create(&mut tx, user_id, now, exp, idle_until).await?;
        let user = users::get(&mut tx, user_id).await?.ok_or(DomainError::NotFound("user"))?;
        tx.commit().await?;
        let claims = Claims { sub: user_id, sid, iat: now.timestamp(), exp: exp.timestamp() };
        let token = state.keys.issue(&claims)?;
        let firebase_token = match &state.firebase {
            Some(signer) => Some(signer.custom_token(user_id, user.role, user.region, claims.iat)?),
            None => None,
        };
        tracing::info!(user.id = %user_id, "login");
        let cookie = session_cookie(&token, state.settings.cookie_secure, Some(exp - now));
        Ok(LoginResponse::Ok(
            Json(LoginBody {
                status_code: 200,
                data: LoginData {
                    token,
                    iat: claims.iat,
                    exp: claims.exp,
                    user_id,
                    role: user.role,
                    firebase_token,
                },
            }),
            cookie,
        ))
    }

    /// Get a one-time code to link a Telegram chat to your account.
    ///
    /// Send `/start CODE` to the bot within the code's lifetime: the bot then sends you open
    /// tickets of your region (field roles) with an Accept button. A new code replaces the
    /// previous one. 409 `telegram_off` when no bot is configured.
    #[oai(path = "/telegram/linkCode", method = "post", operation_id = "createTelegramLinkCode")]
    async fn telegram_link_code(
        &self,
        state: poem::web::Data<&AppState>,
        auth: Auth,
    ) -> ApiResult<Created<TelegramLinkCode>> {
        if state.settings.telegram_bot_token.is_none() {
            return Err(DomainError::conflict("telegram_off", "no Telegram bot is configured").into());
        }
        let code = common::auth::generate_link_code();
        let expires_at = db::now() + Duration::minutes(state.settings.telegram_link_minutes);
        let mut tx = state.db.begin_write().await?;
        telegram::create_code(&mut tx, auth.actor().id, &code, expires_at).await?;
        tx.commit().await?;
        tracing::info!(user.id = %auth.actor().id, "Telegram link code issued");
        Ok(created(TelegramLinkCode { command: format!("/start {code}"), code, expires_at }))
    }

    /// Log out: ends the session of the token or cookie presented.
    #[oai(path = "/logout", method = "get", operation_id = "logout")]
    async fn logout(&self, state: poem::web::Data<&AppState>, auth: Auth) -> ApiResult<LogoutResponse> {
        let mut tx = state.db.begin_write().await?;
        sessions::revoke(&mut tx, auth.session().session_id, db::now()).await?;
        tx.commit().await?;
        tracing::info!(user.id = %auth.actor().id, "logout");
        let Done { 0: body } = done();
        Ok(LogoutResponse::Ok(
            Json(body),
            session_cookie("", state.settings.cookie_secure, Some(Duration::zero())),
        ))
    }
}

/// Gives back attempts counted for a login whose password was not checked.
async fn refund(db: &db::Db, keys: &[&str]) -> Result<(), DomainError> {
    let mut tx = db.begin_write().await?;
    for key in keys {
        sessions::refund(&mut tx, key).await?;
    }
    tx.commit().await
}

/// The `Set-Cookie` value carrying a session token (an empty value with max-age 0 clears it).
fn session_cookie(token: &str, secure: bool, max_age: Option<Duration>) -> String {
    let mut cookie = Cookie::new_with_str("session_id", token);
    cookie.set_http_only(true);
    cookie.set_path("/");
    cookie.set_same_site(poem::web::cookie::SameSite::Lax);
    cookie.set_secure(secure);
    if let Some(age) = max_age.and_then(|a| a.to_std().ok()) {
        cookie.set_max_age(age);
    }
    cookie.to_string()
}

/// Creates the first SuperAdmin from the environment when there is none yet.
pub async fn ensure_admin(state: &AppState) -> anyhow::Result<()> {
    use anyhow::Context;
    let s = &state.settings;
    let mut tx = state.db.begin_write().await?;
    if users::count_with_role(&mut tx, Role::SuperAdmin).await? > 0 {
        return Ok(());
    }
    let (Some(email), Some(password)) = (&s.admin_email, &s.admin_password) else {
        tracing::warn!("no SuperAdmin exists; set CGS_ADMIN_EMAIL and CGS_ADMIN_PASSWORD to create one");
        return Ok(());
    };
    let mut check = common::domain::validate::Checker::new();
    check.email("CGS_ADMIN_EMAIL", email).password(password.expose(), password.expose());
    check.finish().map_err(|e| anyhow::anyhow!("{e:?}")).context("checking the first SuperAdmin")?;
    let fields = users::UserFields {
        email: normalize_email(email),
        nik: "SUPERADMIN".into(),
        name: "Super Admin".into(),
        role: Role::SuperAdmin,
        region: common::domain::Region::West,
        area_id: None,
        profile_photo: None,
        phone_number: None,
    };
    let hash = hash_password(password.expose().to_owned()).await?;
    let user = users::insert(&mut tx, &fields, &hash, db::now()).await?;
    s.effects().user_changed(&mut tx, &[user.id]).await?;
    tx.commit().await?;
    tracing::info!(email = %fields.email, "created the first SuperAdmin");
    Ok(())
}
