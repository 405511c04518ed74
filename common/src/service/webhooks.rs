//! Webhook events: an event of a ticket, for every webhook that follows it, becomes a delivery
//! holding the body as it is now (`{event, at, ticket}` with the document the API serves, and
//! what the event adds), and a job that delivers the webhook's deliveries of that ticket in
//! order. Written in the caller's transaction: an event of a change rolled back never leaves.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::{
    db::{Tx, webhooks},
    document,
    domain::webhook::{WebhookEvent, forbidden_address},
    error::DomainError,
    jobs::{DeliverWebhook, Job},
};

/// Emits `event` of each ticket of `ids`, with the fields of `extra` in its body.
pub async fn emit(
    tx: &mut Tx,
    ids: &[Uuid],
    event: WebhookEvent,
    extra: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let hooks = webhooks::following(tx, event).await?;
    emit_to(tx, &hooks, ids, event, extra, now).await
}

/// [`emit`] to `hooks`, the webhooks following `event` as read before (creation reads them
/// before it numbers the ticket, so that nothing more runs while it holds the month's counter
/// when no webhook follows).
pub async fn emit_to(
    tx: &mut Tx,
    hooks: &[Uuid],
    ids: &[Uuid],
    event: WebhookEvent,
    extra: Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    if hooks.is_empty() {
        return Ok(());
    }
    for &ticket_id in ids {
        let Some(doc) = document::load(tx, ticket_id, now).await? else { continue };
        let mut body = json!({"event": event.as_str(), "at": now, "ticket": document::to_json(&doc)});
        if let Value::Object(fields) = &mut body {
            fields.extend(extra.clone());
        }
        let body = body.to_string();
        for &webhook_id in hooks {
            webhooks::add_delivery(tx, webhook_id, ticket_id, event, &body, now).await?;
            DeliverWebhook { webhook_id, ticket_id }.enqueue(tx).await?;
        }
    }
    Ok(())
}

/// Emits `event` of one ticket, with one field added (`command`, `level`) when given.
pub async fn emit_one(
    tx: &mut Tx,
    id: Uuid,
    event: WebhookEvent,
    field: Option<(&str, Value)>,
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let extra = field.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    emit(tx, &[id], event, extra, now).await
}

/// The longest wait for a webhook's host to resolve.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Checks a webhook's address as registration and every delivery do: an `http(s)` URL with a
/// host, which resolves only to addresses a webhook may reach (any, when `allow_private`);
/// answers the URL and the address to connect to.
pub async fn reachable(url: &str, allow_private: bool) -> Result<(url::Url, SocketAddr), DomainError> {
    let refused = |why: String| DomainError::invalid("url", why);
    let parsed = url::Url::parse(url).map_err(|e| refused(format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(refused("only http and https URLs".into()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(refused("no credentials in the URL; the body is signed with the secret".into()));
    }
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(refused("the URL has no host".into())),
    };
    let port = parsed.port_or_known_default().unwrap_or(80);
    let lookup =
        tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host.as_str(), port)))
            .await
            .map_err(|_| refused(format!("{host} did not resolve within {} s", LOOKUP_TIMEOUT.as_secs())))?;
    let addresses: Vec<SocketAddr> =
        lookup.map_err(|e| refused(format!("{host} does not resolve: {e}")))?.collect();
    if !allow_private && let Some(bad) = addresses.iter().find(|a| forbidden_address(a.ip())) {
        return Err(refused(format!(
            "{host} resolves to {}, a loopback, private, link-local or otherwise non-public address",
            bad.ip()
        )));
    }
    let first =
        addresses.first().copied().ok_or_else(|| refused(format!("{host} resolves to no address")))?;
    Ok((parsed, first))
}
