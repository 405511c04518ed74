//! `DeliverWebhook`: POSTs what waits for one webhook about one ticket, oldest first, each
//! delivery claimed while under way (two jobs of the same pair never send at once, nor out of
//! order). A 2xx ends a delivery; any other answer, a timeout or a refused connection keeps it
//! for a later try by its own schedule (a job due then), so the endpoint's other tickets and
//! the other endpoints go on. The address is resolved and checked at every try, and the
//! connection pinned to the address checked; redirects are not followed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{
    db::{
        self,
        webhooks::{self, DeliveryRow, TryOutcome},
    },
    domain::webhook::signature,
    jobs::{DeliverWebhook, Job},
    service,
};

use super::{JobError, Run};
use crate::Context;

/// How long one try may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How long a delivery under way stays claimed: past it (a worker killed mid-try) another
/// job takes it.
const LEASE: Duration = Duration::from_secs(60);

impl Run for DeliverWebhook {
    #[tracing::instrument(skip_all, fields(webhook.id = %self.webhook_id, ticket.id = %self.ticket_id))]
    async fn run(self, ctx: &Context) -> Result<(), JobError> {
        drain(self, ctx).await
    }
}

async fn drain(job: DeliverWebhook, ctx: &Context) -> Result<(), JobError> {
    loop {
        let now = db::now();
        let mut tx = ctx.db.begin_write().await?;
        let hook = webhooks::get(&mut tx, job.webhook_id).await?;
        let Some(hook) = hook else {
            tx.commit().await?;
            tracing::info!("webhook deleted; nothing to deliver");
            return Ok(());
        };
        let lease = now + chrono::Duration::from_std(LEASE).expect("a short lease");
        let claimed = webhooks::claim_next(&mut tx, job.webhook_id, job.ticket_id, now, lease).await?;
        tx.commit().await?;
        // Nothing waits, or another job holds the oldest (it delivers the rest).
        let Some(delivery) = claimed else { return Ok(()) };
        let (status, error) = match post(ctx, &hook.url, &hook.secret, &delivery).await {
            Ok(status) if (200..300).contains(&status) => (Some(status), None),
            Ok(status) => (Some(status), Some(format!("answered {status}"))),
            Err(e) => (None, Some(format!("{e:#}"))),
        };
        let outcome = match &error {
            None => TryOutcome::Delivered,
            Some(_) if delivery.attempts >= DeliverWebhook::TRIES => TryOutcome::GivenUp,
            Some(_) => TryOutcome::RetryAt(retry_at(ctx, delivery.attempts)),
        };
        let mut tx = ctx.db.begin_write().await?;
        webhooks::record_try(&mut tx, delivery.seq, status, error.as_deref(), outcome, db::now()).await?;
        if let TryOutcome::RetryAt(at) = outcome {
            job.enqueue_at(&mut tx, at).await?;
        }
        tx.commit().await?;
        match outcome {
            TryOutcome::Delivered => {
                tracing::info!(delivery.id = %delivery.id, event = %delivery.event, status, "webhook delivered")
            }
            TryOutcome::GivenUp => {
                tracing::warn!(delivery.id = %delivery.id, event = %delivery.event, error, tries = delivery.attempts, "webhook delivery given up");
            }
            TryOutcome::RetryAt(at) => {
                // The rest of this ticket's deliveries wait behind it, in order.
                tracing::warn!(delivery.id = %delivery.id, event = %delivery.event, error, retry_at = %at, "webhook delivery failed; tried again later");
                return Ok(());
            }
        }
    }
}

/// When the next try of a delivery that failed `attempts` times is due.
fn retry_at(ctx: &Context, attempts: i32) -> DateTime<Utc> {
    let wait = DeliverWebhook::retry_wait(attempts)
        .min(Duration::from_secs(ctx.settings.job_retry_max_wait_seconds));
    db::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

/// One try: the body, signed, to the webhook's address as resolved and checked now.
async fn post(ctx: &Context, url: &str, secret: &str, d: &DeliveryRow) -> anyhow::Result<u16> {
    let (parsed, address) = service::webhooks::reachable(url, ctx.settings.webhook_allow_private).await?;
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let client = reqwest12::Client::builder()
        .redirect(reqwest12::redirect::Policy::none())
        .timeout(TIMEOUT)
        .resolve(&host, address)
        .user_agent(concat!("cgs-ticketing-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()?;
    let answer = client
        .post(parsed)
        .header("Content-Type", "application/json")
        .header("X-CGS-Event", &d.event)
        .header("X-CGS-Delivery", d.id.to_string())
        .header("X-CGS-Signature", signature(secret, d.body.as_bytes()))
        .body(d.body.clone())
        .send()
        .await?;
    Ok(answer.status().as_u16())
}
