//! `/v1/reports`: the SLA report, as JSON or CSV.

use chrono::{DateTime, Duration, Utc};
use common::{
    DomainError,
    db::{self, outages, tickets},
    domain::{
        CustomerType, OutageLevel, Region, Role,
        access::Actor,
        report::{self, GroupKey, OutageFigures, ReportOutage, SlaFigures},
    },
};
use poem::{IntoResponse, Request, Response, http::header, web::Data};
use poem_openapi::{
    ApiResponse, Object, OpenApi,
    param::Query,
    registry::{MetaMediaType, MetaResponses, Registry},
    types::{ParseFromJSON, ToJSON, Type},
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

/// A report as JSON, or as CSV (saved as `filename`) for `Accept: text/csv`.
pub enum ReportAnswer<T: ParseFromJSON + ToJSON> {
    Json(Found<T>),
    Csv { body: String, filename: &'static str },
}

impl<T: ParseFromJSON + ToJSON> ReportAnswer<T> {
    /// `report` as the request asks: CSV (by `csv`) for `Accept: text/csv`, else JSON.
    fn of(req: &Request, report: T, csv: fn(&T) -> String, filename: &'static str) -> Self {
        if wants_csv(req) {
            ReportAnswer::Csv { body: csv(&report), filename }
        } else {
            ReportAnswer::Json(found(report))
        }
    }
}

impl<T: ParseFromJSON + ToJSON> IntoResponse for ReportAnswer<T> {
    fn into_response(self) -> Response {
        match self {
            ReportAnswer::Json(found) => found.into_response(),
            ReportAnswer::Csv { body, filename } => Response::builder()
                .content_type("text/csv; charset=utf-8")
                .header(header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\""))
                .body(body),
        }
    }
}

impl<T: ParseFromJSON + ToJSON> ApiResponse for ReportAnswer<T> {
    fn meta() -> MetaResponses {
        let mut meta = Found::<T>::meta();
        for r in &mut meta.responses {
            r.content.push(MetaMediaType { content_type: "text/csv", schema: String::schema_ref() });
        }
        meta
    }

    fn register(registry: &mut Registry) {
        Found::<T>::register(registry);
    }
}

/// The region a report covers for `actor`: any (or all) for a SuperAdmin, its own for a NOC.
fn report_region(actor: &Actor, region: Option<Region>) -> Result<Option<Region>, DomainError> {
    match actor.role {
        Role::SuperAdmin => Ok(region),
        Role::NOC => match region {
            None => Ok(Some(actor.region)),
            Some(r) if r == actor.region => Ok(Some(r)),
            Some(r) => Err(DomainError::Forbidden(format!(
                "a NOC of {} sees the reports of its own region, not {r}",
                actor.region
            ))),
        },
        _ => Err(DomainError::Forbidden("reports are for the NOC".into())),
    }
}

/// The period `[from, to)`: `to` defaults to now, `from` to 30 days before `to`; at most
/// [`MAX_DAYS`].
fn period(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), DomainError> {
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - Duration::days(30));
    if from >= to {
        return Err(DomainError::invalid("from", "must be before `to`"));
    }
    if to - from > Duration::days(MAX_DAYS) {
        return Err(DomainError::invalid("from", format!("a report covers at most {MAX_DAYS} days")));
    }
    Ok((from, to))
}

/// One network element's outages.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OutageGroup {
    pub region: Region,
    pub level: OutageLevel,
    /// The splitter's or main splitter's name, or the POP.
    pub element: String,
    #[oai(flatten)]
    pub figures: OutageFigures,
}

/// Outages opened in `[from, to)` (those canceled or merged into another left out).
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct OutageReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub region: Option<Region>,
    pub elements: Vec<OutageGroup>,
    pub total: OutageFigures,
}

/// The outage report as CSV: a header, a line per element, and a `total` line.
pub fn outages_csv(r: &OutageReport) -> String {
    let line = |keys: [&str; 3], f: &OutageFigures| {
        let mut cells: Vec<String> = keys.iter().map(|k| csv_field(k)).collect();
        cells.extend(
            [f.outages, f.minutes_down, f.customers_affected, f.customer_minutes].map(|n| n.to_string()),
        );
        cells.join(",") + "\r\n"
    };
    let mut out = "region,level,element,outages,minutesDown,customersAffected,customerMinutes\r\n".to_owned();
    for g in &r.elements {
        out.push_str(&line([g.region.as_str(), g.level.as_str(), &g.element], &g.figures));
    }
    out.push_str(&line(["total", "", ""], &r.total));
    out
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
    ) -> ApiResult<ReportAnswer<SlaReport>> {
        let region = report_region(auth.actor(), region.0)?;
        let now = db::now();
        let (from, to) = period(from.0, to.0, now)?;
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
        Ok(ReportAnswer::of(req, report, to_csv, "sla-report.csv"))
    }

    /// Outage report (SuperAdmin; NOC of its own region): the outages opened in `[from, to)`
    /// per network element, with how many, the minutes down (opened to closed, or to now while
    /// open), the customers affected and the customer-minutes, the basis for SLA credits.
    /// Outages canceled or merged into another are left out. The period as for the SLA
    /// report; `Accept: text/csv` answers CSV.
    #[oai(path = "/outages", method = "get", operation_id = "getOutageReport")]
    async fn outages(
        &self,
        state: Data<&AppState>,
        auth: Auth,
        req: &Request,
        from: Query<Option<DateTime<Utc>>>,
        to: Query<Option<DateTime<Utc>>>,
        region: Query<Option<Region>>,
    ) -> ApiResult<ReportAnswer<OutageReport>> {
        let region = report_region(auth.actor(), region.0)?;
        let now = db::now();
        let (from, to) = period(from.0, to.0, now)?;
        let mut tx = state.db.begin().await?;
        let rows = outages::published_between(&mut tx, from, to, region).await?;
        tx.commit().await?;
        let rows: Vec<ReportOutage> = rows
            .into_iter()
            .map(|o| {
                let since = o.published_at.unwrap_or(now);
                ReportOutage {
                    region: o.region,
                    level: o.outage_level,
                    element: o.outage_name,
                    minutes_down: (o.closed_at.unwrap_or(now) - since).num_minutes().max(0),
                    customers: o.child_count,
                }
            })
            .collect();
        let (groups, total) = report::aggregate_outages(&rows);
        let report = OutageReport {
            from,
            to,
            region,
            elements: groups
                .into_iter()
                .map(|((region, level, element), figures)| OutageGroup { region, level, element, figures })
                .collect(),
            total,
        };
        Ok(ReportAnswer::of(req, report, outages_csv, "outage-report.csv"))
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
