//! `/v1/reports`: the SLA report, as JSON or CSV.

use chrono::{DateTime, Duration, Utc};
use common::{
    DomainError,
    db::{self, tickets},
    domain::{
        CustomerType, Region, Role,
        report::{self, GroupKey, SlaFigures},
    },
};
use poem::{IntoResponse, Request, Response, http::header, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::Query,
    registry::{MetaMediaType, MetaResponses, Registry},
    types::Type,
};

use crate::{
    ApiTags,
    auth::Auth,
    envelope::{Found, found},
    error::ApiResult,
    state::AppState,
};

/// The longest period one report covers.
const MAX_DAYS: i64 = 366;

/// The tickets of one region, ISP and customer type.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SlaGroup {
    pub region: Region,
    /// The client's ISP; none for tickets without a client or ISP.
    pub isp: Option<String>,
    pub customer_type: Option<CustomerType>,
    #[oai(flatten)]
    pub figures: SlaFigures,
}

/// SLA figures of the tickets published in `[from, to)`.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct SlaReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub region: Option<Region>,
    pub groups: Vec<SlaGroup>,
    pub total: SlaFigures,
}

/// The report as JSON, or as CSV for `Accept: text/csv`.
pub enum SlaReportAnswer {
    Json(Found<SlaReport>),
    Csv(String),
}

impl IntoResponse for SlaReportAnswer {
    fn into_response(self) -> Response {
        match self {
            SlaReportAnswer::Json(found) => found.into_response(),
            SlaReportAnswer::Csv(body) => Response::builder()
                .content_type("text/csv; charset=utf-8")
                .header(header::CONTENT_DISPOSITION, "attachment; filename=\"sla-report.csv\"")
                .body(body),
        }
    }
}

impl ApiResponse for SlaReportAnswer {
    fn meta() -> MetaResponses {
        let mut meta = Found::<SlaReport>::meta();
        for r in &mut meta.responses {
            r.content.push(MetaMediaType { content_type: "text/csv", schema: String::schema_ref() });
        }
        meta
    }

    fn register(registry: &mut Registry) {
        Found::<SlaReport>::register(registry);
    }
}

const CSV_HEADER: &str = "region,isp,customerType,tickets,closed,canceled,underSla,overSla,nonSla,\
                          meanResolutionMinutes,p90ResolutionMinutes,pendingMinutes,meanPendingMinutes";

/// One CSV field: quoted when it holds a separator, quote or line break; a leading `=`, `+`,
/// `-` or `@` is defused so a spreadsheet does not run it as a formula.
fn csv_field(v: &str) -> String {
    let v = match v.chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{v}"),
        _ => v.to_owned(),
    };
    if v.contains([',', '"', '\n', '\r']) { format!("\"{}\"", v.replace('"', "\"\"")) } else { v }
}

fn csv_line(keys: [&str; 3], f: &SlaFigures) -> String {
    let opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut cells: Vec<String> = keys.iter().map(|k| csv_field(k)).collect();
    cells.extend([
        f.tickets.to_string(),
        f.closed.to_string(),
        f.canceled.to_string(),
        f.under_sla.to_string(),
        f.over_sla.to_string(),
        f.non_sla.to_string(),
        opt(f.mean_resolution_minutes),
        opt(f.p90_resolution_minutes),
        f.pending_minutes.to_string(),
        f.mean_pending_minutes.to_string(),
    ]);
    cells.join(",")
}

/// The report as CSV: a header, a line per group, and a `total` line.
pub fn to_csv(r: &SlaReport) -> String {
    let mut out = format!("{CSV_HEADER}\r\n");
    for g in &r.groups {
        let region = g.region.to_string();
        let customer = g.customer_type.map(|c| c.to_string()).unwrap_or_default();
        out.push_str(&csv_line([&region, g.isp.as_deref().unwrap_or(""), &customer], &g.figures));
        out.push_str("\r\n");
    }
    out.push_str(&csv_line(["total", "", ""], &r.total));
    out.push_str("\r\n");
    out
}

fn wants_csv(req: &Request) -> bool {
    req.headers()
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("text/csv")))
}

pub struct ReportsApi;

#[OpenApi(prefix_path = "/v1/reports", tag = "ApiTags::Reports")]
impl ReportsApi {
    /// SLA report (SuperAdmin; NOC of its own region): the tickets published in `[from, to)`
    /// by region, ISP and customer type, with how many closed, kept or missed their SLA, the
    /// mean and 90th-percentile resolution time and the pending time. `to` defaults to now,
    /// `from` to 30 days before `to`; at most 366 days. `Accept: text/csv` answers CSV.
    #[oai(path = "/sla", method = "get", operation_id = "getSlaReport")]
    async fn sla(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        req: &Request,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        region: Query<Option<Region>>,
    ) -> ApiResult<SlaReportAnswer> {
        let actor = auth.actor();
        let region = match actor.role {
            Role::SuperAdmin => region.0,
            Role::NOC => match region.0 {
                None => Some(actor.region),
                Some(r) if r == actor.region => Some(r),
                Some(r) => {
                    return Err(DomainError::Forbidden(format!(
                        "a NOC of {} sees the reports of its own region, not {r}",
                        actor.region
                    ))
                    .into());
                }
            },
            _ => return Err(DomainError::Forbidden("reports are for the NOC".into()).into()),
        };
        let now = db::now();
        let to = to.0.unwrap_or(now);
        let from = from.0.unwrap_or(to - Duration::days(30));
        if from >= to {
            return Err(DomainError::invalid("from", "must be before `to`").into());
        }
        if to - from > Duration::days(MAX_DAYS) {
            return Err(
                DomainError::invalid("from", format!("a report covers at most {MAX_DAYS} days")).into()
            );
        }
        let mut tx = state.db.begin().await?;
        let rows = tickets::report_tickets(&mut tx, from, to, region, now).await?;
        tx.commit().await?;
        let (groups, total) = report::aggregate(&rows);
        let report = SlaReport {
            from,
            to,
            region,
            groups: groups
                .into_iter()
                .map(|(GroupKey { region, isp, customer_type }, f)| SlaGroup {
                    region,
                    isp,
                    customer_type,
                    figures: f,
                })
                .collect(),
            total,
        };
        Ok(if wants_csv(req) {
            SlaReportAnswer::Csv(to_csv(&report))
        } else {
            SlaReportAnswer::Json(found(report))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        assert_eq!(csv_field("Net A"), "Net A");
        assert_eq!(csv_field("Net, \"A\""), "\"Net, \"\"A\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
