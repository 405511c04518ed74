//! `/v1/webhooks`: other systems (monitoring, chat, billing) follow tickets without polling;
//! registered, listed and deleted by a SuperAdmin, with each webhook's latest deliveries and
//! the answers they got.

use chrono::{DateTime, Utc};
use common::{
    DomainError,
    db::{self, webhooks},
    domain::webhook::WebhookEvent,
    service,
};
use poem::web::Data;
use poem_openapi::{
    Object, OpenApi,
    param::{Path, Query},
    payload::Json,
};
use uuid::Uuid;

use crate::{
    ApiTags,
    auth::Auth,
    envelope::{Created, Found, Listed, created, found, listed},
    error::ApiResult,
    state::AppState,
};

/// A webhook; its secret is never shown again.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Webhook {
    pub id: Uuid,
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

impl From<webhooks::WebhookRow> for Webhook {
    fn from(r: webhooks::WebhookRow) -> Self {
        Self { events: r.events(), id: r.id, url: r.url, created_by: r.created_by, created_at: r.created_at }
    }
}

/// A webhook to register.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct NewWebhook {
    /// Where events are POSTed: `http` or `https`, to a public address.
    #[oai(validator(min_length = 1, max_length = 2000))]
    pub url: String,
    /// The events it follows (at least one).
    #[oai(validator(min_items = 1, max_items = 6))]
    pub events: Vec<WebhookEvent>,
    /// The key of the `X-CGS-Signature` HMAC (16 to 256 characters).
    #[oai(validator(min_length = 16, max_length = 256))]
    pub secret: String,
}

/// One event sent (or being sent) to a webhook, and the last answer it got.
#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct WebhookDelivery {
    /// What `X-CGS-Delivery` carried.
    pub id: Uuid,
    pub event: String,
    /// The ticket's id.
    pub ticket: Uuid,
    /// `Waiting`, `Delivered`, or `Failed` (given up after its tries, or its webhook deleted).
    pub state: String,
    pub attempts: i32,
    /// The HTTP status of the last answer.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<webhooks::DeliveryRow> for WebhookDelivery {
    fn from(r: webhooks::DeliveryRow) -> Self {
        Self {
            id: r.id,
            event: r.event,
            ticket: r.ticket_id,
            state: r.state,
            attempts: r.attempts,
            last_status: r.last_status,
            last_error: r.last_error,
            last_attempt_at: r.last_attempt_at,
            delivered_at: r.delivered_at,
            created_at: r.created_at,
        }
    }
}

fn all<T>(items: Vec<T>) -> db::Page<T> {
    let total = items.len() as i64;
    db::Page { items, total, total_exact: true, page: db::PageRequest { limit: total.max(1), offset: 0 } }
}

pub struct WebhooksApi;

#[OpenApi(prefix_path = "/v1/webhooks", tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// Register a webhook (SuperAdmin). Its URL must resolve to public addresses only (unless
    /// `CGS_WEBHOOK_ALLOW_PRIVATE`), checked again at every delivery.
    #[oai(path = "/", method = "post", operation_id = "createWebhook")]
    async fn create(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        body: Json<NewWebhook>,
    ) -> ApiResult<Created<Webhook>> {
        let actor = auth.actor();
        actor.require_super_admin()?;
        let b = body.0;
        if b.secret.trim().chars().count() < 16 {
            return Err(DomainError::invalid("secret", "at least 16 characters besides spaces").into());
        }
        service::webhooks::reachable(b.url.trim(), state.settings.webhook_allow_private).await?;
        let mut events: Vec<WebhookEvent> =
            WebhookEvent::ALL.into_iter().filter(|e| b.events.contains(e)).collect();
        events.dedup();
        let mut tx = state.db.begin_write().await?;
        let hook = webhooks::insert(&mut tx, b.url.trim(), &events, &b.secret, actor.id, db::now()).await?;
        tx.commit().await?;
        tracing::info!(webhook.id = %hook.id, url = %hook.url, by = %actor.id, "webhook registered");
        Ok(created(hook.into()))
    }

    /// The webhooks (SuperAdmin), oldest first.
    #[oai(path = "/", method = "get", operation_id = "listWebhooks")]
    async fn list(&self, state: Data<&AppState>, auth: Auth) -> ApiResult<Listed<Webhook>> {
        auth.actor().require_super_admin()?;
        let mut tx = state.db.begin().await?;
        let hooks = webhooks::list(&mut tx).await?;
        tx.commit().await?;
        Ok(listed(all(hooks), Webhook::from))
    }

    /// One webhook (SuperAdmin).
    #[oai(path = "/:id", method = "get", operation_id = "getWebhook")]
    async fn get(&self, state: Data<&AppState>, auth: Auth, id: Path<Uuid>) -> ApiResult<Found<Webhook>> {
        auth.actor().require_super_admin()?;
        let mut tx = state.db.begin().await?;
        let hook = webhooks::get(&mut tx, id.0).await?.ok_or(DomainError::NotFound("webhook"))?;
        tx.commit().await?;
        Ok(found(hook.into()))
    }

    /// Delete a webhook (SuperAdmin): it gets nothing more; what still waits for it is given up.
    #[oai(path = "/:id", method = "delete", operation_id = "deleteWebhook")]
    async fn delete(&self, state: Data<&AppState>, auth: Auth, id: Path<Uuid>) -> ApiResult<Found<Webhook>> {
        auth.actor().require_super_admin()?;
        let mut tx = state.db.begin_write().await?;
        let hook = webhooks::get(&mut tx, id.0).await?.ok_or(DomainError::NotFound("webhook"))?;
        webhooks::delete(&mut tx, id.0, db::now()).await?;
        tx.commit().await?;
        tracing::info!(webhook.id = %hook.id, by = %auth.actor().id, "webhook deleted");
        Ok(found(hook.into()))
    }

    /// A webhook's latest deliveries, newest first, with the answers they got (SuperAdmin).
    #[oai(path = "/:id/deliveries", method = "get", operation_id = "listWebhookDeliveries")]
    async fn deliveries(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        id: Path<Uuid>,
        /// How many, 1 to 100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<i64>>,
    ) -> ApiResult<Listed<WebhookDelivery>> {
        auth.actor().require_super_admin()?;
        let mut tx = state.db.begin().await?;
        webhooks::get(&mut tx, id.0).await?.ok_or(DomainError::NotFound("webhook"))?;
        let rows = webhooks::recent(&mut tx, id.0, limit.0.unwrap_or(50)).await?;
        tx.commit().await?;
        Ok(listed(all(rows), WebhookDelivery::from))
    }
}
