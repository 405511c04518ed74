//! `/healthz` (the process is up) and `/readyz` (the database answers).

use std::fmt::Write;

use poem::web::Data;
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    payload::{Json, PlainText},
};

use crate::{ApiTags, error::ErrorBody, observe::escape, state::AppState};

#[derive(Debug, Object)]
pub struct HealthData {
    /// `ok`.
    pub status: String,
}

#[derive(Debug, Object)]
#[oai(rename_all = "camelCase")]
pub struct Health {
    pub status_code: u16,
    pub data: HealthData,
}

#[derive(ApiResponse)]
pub enum Readiness {
    /// Ready to serve.
    #[oai(status = 200)]
    Ready(Json<Health>),
    /// The database does not answer, or the process is shutting down.
    #[oai(status = 503)]
    NotReady(Json<ErrorBody>),
}

fn ok() -> Json<Health> {
    Json(Health { status_code: 200, data: HealthData { status: "ok".into() } })
}

pub struct HealthApi;

#[OpenApi(tag = "ApiTags::Operations")]
impl HealthApi {
    /// Liveness: the process answers.
    #[oai(path = "/healthz", method = "get", operation_id = "getHealth")]
    async fn healthz(&self) -> Json<Health> {
        ok()
    }

    /// Prometheus metrics: this process's requests by method, route and status (count and
    /// latency) and its session checks (from its cache or the database); and, from the database, background jobs by queue and state (`failed` are those
    /// that used up their attempts), tickets by region and status, how many of those are
    /// over their SLA, and the evidence waiting for the NOC (count, oldest age, by flag) and
    /// flagged ever. The database's figures are counted at most once per
    /// `CGS_METRICS_INTERVAL_SECONDS`; with `CGS_METRICS_TOKEN` set, a scrape sends it as a
    /// bearer token (401 otherwise).
    #[oai(path = "/metrics", method = "get", operation_id = "getMetrics")]
    async fn metrics(
        &self,
        state: Data<&AppState>,
        req: &poem::Request,
    ) -> crate::error::ApiResult<PlainText<String>> {
        if let Some(token) = &state.settings.metrics_token {
            let sent = req
                .headers()
                .get(poem::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            if !common::auth::constant_time_eq(sent.as_bytes(), token.expose().as_bytes()) {
                return Err(crate::error::ApiError::unauthorized("/metrics needs its bearer token"));
            }
        }
        let mut out = String::new();
        state.requests.render(&mut out);
        let (cached, read) = state.sessions.counts();
        let _ = write!(
            out,
            "# HELP cgs_session_checks_total Session checks of this process, answered from its cache or the database.\n\
             # TYPE cgs_session_checks_total counter\n\
             cgs_session_checks_total{{answer=\"cache\"}} {cached}\n\
             cgs_session_checks_total{{answer=\"database\"}} {read}\n"
        );
        out.push_str(&gauges(&state).await?);
        Ok(PlainText(out))
    }

    /// Readiness: the database answers and the process is not shutting down.
    #[oai(path = "/readyz", method = "get", operation_id = "getReadiness")]
    async fn readyz(&self, state: Data<&AppState>) -> Readiness {
        let status = poem::http::StatusCode::SERVICE_UNAVAILABLE;
        if state.draining.load(std::sync::atomic::Ordering::SeqCst) {
            return Readiness::NotReady(Json(ErrorBody::new(status, "draining", "shutting down")));
        }
        if state.db.ping().await {
            Readiness::Ready(ok())
        } else {
            Readiness::NotReady(Json(ErrorBody::new(
                status,
                "database_unavailable",
                "the database does not answer",
            )))
        }
    }
}

/// The database's figures for `/metrics`, counted anew once the last count is older than
/// `CGS_METRICS_INTERVAL_SECONDS`.
async fn gauges(state: &AppState) -> Result<String, common::DomainError> {
    let every = std::time::Duration::from_secs(state.settings.metrics_interval_seconds);
    let mut cached = state.gauges.lock().await;
    if let Some((at, text)) = cached.as_ref()
        && at.elapsed() < every
    {
        return Ok(text.clone());
    }
    let mut tx = state.db.begin().await?;
    let jobs = common::db::failed_jobs::counts(&mut tx).await?;
    let now = common::db::now();
    let tickets = common::db::tickets::status_counts(&mut tx, now).await?;
    let evidence = common::db::validations::stats(&mut tx).await?;
    let notifications = common::db::notifications::counts(&mut tx).await?;
    let deliveries = common::db::webhooks::counts(&mut tx).await?;
    tx.commit().await?;
    let mut out = String::new();
    out.push_str("# HELP cgs_jobs Background jobs by queue and state.\n# TYPE cgs_jobs gauge\n");
    for (queue, job_state, n) in jobs {
        let _ = writeln!(out, "cgs_jobs{{queue=\"{}\",state=\"{job_state}\"}} {n}", escape(&queue));
    }
    out.push_str("# HELP cgs_tickets Tickets by region and status.\n# TYPE cgs_tickets gauge\n");
    for c in &tickets {
        let _ = writeln!(out, "cgs_tickets{{region=\"{}\",status=\"{}\"}} {}", c.region, c.status, c.tickets);
    }
    out.push_str(
        "# HELP cgs_tickets_over_sla Tickets over their SLA: open ones running late, closed ones closed late.\n\
         # TYPE cgs_tickets_over_sla gauge\n",
    );
    for c in &tickets {
        let _ = writeln!(
            out,
            "cgs_tickets_over_sla{{region=\"{}\",status=\"{}\"}} {}",
            c.region, c.status, c.over_sla
        );
    }
    let oldest = evidence.oldest.map_or(0, |at| (now - at).num_seconds().max(0));
    let _ = write!(
        out,
        "# HELP cgs_evidence_waiting Evidence waiting for the NOC's verdict.\n# TYPE cgs_evidence_waiting gauge\n\
         cgs_evidence_waiting {}\n\
         # HELP cgs_evidence_waiting_oldest_seconds How long the oldest waiting evidence has waited (0: none waits).\n\
         # TYPE cgs_evidence_waiting_oldest_seconds gauge\ncgs_evidence_waiting_oldest_seconds {oldest}\n\
         # HELP cgs_evidence_waiting_flagged Waiting evidence by flag.\n# TYPE cgs_evidence_waiting_flagged gauge\n",
        evidence.waiting
    );
    for (flag, waiting, _) in &evidence.flagged {
        let _ = writeln!(out, "cgs_evidence_waiting_flagged{{flag=\"{flag}\"}} {waiting}");
    }
    out.push_str("# HELP cgs_evidence_flagged_total Evidence flagged by the checks, by flag, since the start.\n# TYPE cgs_evidence_flagged_total counter\n");
    for (flag, _, ever) in &evidence.flagged {
        let _ = writeln!(out, "cgs_evidence_flagged_total{{flag=\"{flag}\"}} {ever}");
    }
    out.push_str(
        "# HELP cgs_notifications Notifications by kind and state (Waiting, Sent, Dropped, Failed).\n\
         # TYPE cgs_notifications gauge\n",
    );
    for (kind, n_state, n) in &notifications {
        let _ =
            writeln!(out, "cgs_notifications{{kind=\"{}\",state=\"{}\"}} {n}", escape(kind), escape(n_state));
    }
    out.push_str(
        "# HELP cgs_webhook_deliveries Webhook deliveries by event and state (Waiting, Delivered, Failed).\n\
         # TYPE cgs_webhook_deliveries gauge\n",
    );
    for (event, d_state, n) in &deliveries {
        let _ = writeln!(
            out,
            "cgs_webhook_deliveries{{event=\"{}\",state=\"{}\"}} {n}",
            escape(event),
            escape(d_state)
        );
    }
    *cached = Some((std::time::Instant::now(), out.clone()));
    Ok(out)
}
