//! Every request's log line and Prometheus figures: a `request` span (method, route, and the
//! caller's user id once authenticated) closed by one line with status and latency, and request
//! counts and latency histograms by method, route and status.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write,
    sync::{Arc, Mutex},
    time::Instant,
};

use poem::{
    Endpoint, IntoResponse, PathPattern, Request, Response, Result,
    http::{HeaderValue, StatusCode, header},
};
use tracing::Instrument;

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Default)]
struct Histogram {
    /// Per bucket of [`BUCKETS`], not cumulative; the last slot is `+Inf`.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

/// Request figures of this process since it started.
#[derive(Debug, Default)]
pub struct RequestMetrics {
    by_key: Mutex<BTreeMap<Key, Histogram>>,
    /// The router's patterns (`/v1/tickets/:param0`) to the documented paths
    /// (`/v1/tickets/{id}`) and their methods (`GET, POST`).
    routes: HashMap<String, (String, String)>,
}

impl RequestMetrics {
    /// Figures labelled with the documented paths (OpenAPI form, `{name}` for a parameter), each
    /// with its methods.
    pub fn new<'a>(paths: impl IntoIterator<Item = (&'a str, Vec<String>)>) -> Self {
        let routes = paths
            .into_iter()
            .map(|(p, mut methods)| {
                methods.sort();
                (router_pattern(p), (p.to_owned(), methods.join(", ")))
            })
            .collect();
        Self { by_key: Mutex::default(), routes }
    }

    /// The label of a matched router pattern.
    fn route(&self, pattern: Option<&str>) -> String {
        match pattern {
            None | Some("") => "unmatched".into(),
            Some(p) => self.routes.get(p).map(|(doc, _)| doc.clone()).unwrap_or_else(|| p.to_owned()),
        }
    }

    /// The methods a router pattern answers, for `Allow`.
    fn allow(&self, pattern: Option<&str>) -> Option<&str> {
        self.routes.get(pattern?).map(|(_, methods)| methods.as_str())
    }

    fn record(&self, key: Key, seconds: f64) {
        let slot = BUCKETS.iter().position(|b| seconds <= *b).unwrap_or(BUCKETS.len());
        let mut map = self.by_key.lock().unwrap_or_else(|e| e.into_inner());
        let h = map.entry(key).or_default();
        h.counts[slot] += 1;
        h.sum += seconds;
        h.count += 1;
    }

    /// The figures in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let map = self.by_key.lock().unwrap_or_else(|e| e.into_inner()).clone();
        out.push_str("# HELP cgs_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE cgs_http_requests_total counter\n");
        for (k, h) in &map {
            let _ = writeln!(out, "cgs_http_requests_total{{{}}} {}", labels(k), h.count);
        }
        out.push_str("# HELP cgs_http_request_duration_seconds Time to the response head.\n");
        out.push_str("# TYPE cgs_http_request_duration_seconds histogram\n");
        for (k, h) in &map {
            let l = labels(k);
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.counts[i];
                let _ = writeln!(
                    out,
                    "cgs_http_request_duration_seconds_bucket{{{l},le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += h.counts[BUCKETS.len()];
            let _ = writeln!(out, "cgs_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {cumulative}");
            let _ = writeln!(out, "cgs_http_request_duration_seconds_sum{{{l}}} {}", h.sum);
            let _ = writeln!(out, "cgs_http_request_duration_seconds_count{{{l}}} {}", h.count);
        }
    }
}

/// The pattern poem-openapi routes a documented path by: parameters become `:param0`, ...
fn router_pattern(path: &str) -> String {
    let mut n = 0;
    let mut out = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        if seg.starts_with('{') && seg.ends_with('}') {
            out.push_str(&format!(":param{n}"));
            n += 1;
        } else {
            out.push_str(seg);
        }
    }
    if out.is_empty() { "/".into() } else { out }
}

fn labels(k: &Key) -> String {
    format!("method=\"{}\",route=\"{}\",status=\"{}\"", k.method, escape(&k.route), k.status)
}

/// A label value in the text format: backslash, quote and newline escaped.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Wraps a request in its span, logs its outcome and counts it. The route is the matched
/// pattern as documented (`/v1/tickets/{id}`), never the raw path, so ids do not multiply the series;
/// requests no route matched count as `unmatched`.
pub async fn observe<E: Endpoint>(next: E, req: Request, metrics: Arc<RequestMetrics>) -> Result<Response> {
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "request",
        method = %method,
        path = %req.uri().path(),
        route = tracing::field::Empty,
        user.id = tracing::field::Empty,
    );
    async move {
        let started = Instant::now();
        let result = next.call(req).await.map(IntoResponse::into_response);
        let elapsed = started.elapsed();
        let (status, pattern) = match &result {
            Ok(resp) => (resp.status(), resp.data::<PathPattern>()),
            Err(err) => (err.status(), err.data::<PathPattern>()),
        };
        let pattern = pattern.map(|p| p.0.to_string());
        let route = metrics.route(pattern.as_deref());
        tracing::Span::current().record("route", route.as_str());
        let ms = elapsed.as_secs_f64() * 1000.0;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!(status = status.as_u16(), latency_ms = ms, "request refused: not available");
        } else if status.is_server_error() {
            tracing::error!(status = status.as_u16(), latency_ms = ms, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), latency_ms = ms, "request");
        }
        metrics.record(Key { method, route, status: status.as_u16() }, elapsed.as_secs_f64());
        // A 405 names the methods the route has (RFC 9110).
        match (result, metrics.allow(pattern.as_deref())) {
            (Err(err), Some(allow)) if status == StatusCode::METHOD_NOT_ALLOWED => {
                let mut resp = crate::error::render(err);
                if let Ok(v) = HeaderValue::from_str(allow) {
                    resp.headers_mut().insert(header::ALLOW, v);
                }
                Ok(resp)
            }
            (result, _) => result,
        }
    }
    .instrument(span)
    .await
}

/// Names the authenticated caller in the current request's span.
pub fn record_user(id: uuid::Uuid) {
    tracing::Span::current().record("user.id", tracing::field::display(id));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = RequestMetrics::default();
        let key = || Key { method: "GET".into(), route: "/v1/tickets/{id}".into(), status: 200 };
        m.record(key(), 0.002);
        m.record(key(), 0.2);
        m.record(key(), 30.0);
        let mut out = String::new();
        m.render(&mut out);
        let l = "method=\"GET\",route=\"/v1/tickets/{id}\",status=\"200\"";
        assert!(out.contains(&format!("cgs_http_requests_total{{{l}}} 3\n")), "{out}");
        assert!(out.contains(&format!("cgs_http_request_duration_seconds_bucket{{{l},le=\"0.001\"}} 0\n")));
        assert!(out.contains(&format!("cgs_http_request_duration_seconds_bucket{{{l},le=\"0.0025\"}} 1\n")));
        assert!(out.contains(&format!("cgs_http_request_duration_seconds_bucket{{{l},le=\"0.25\"}} 2\n")));
        assert!(out.contains(&format!("cgs_http_request_duration_seconds_bucket{{{l},le=\"10\"}} 2\n")));
        assert!(out.contains(&format!("cgs_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} 3\n")));
        assert!(out.contains(&format!("cgs_http_request_duration_seconds_count{{{l}}} 3\n")));
    }

    #[test]
    fn routes_are_labelled_with_the_documented_paths() {
        let m = RequestMetrics::new([
            ("/v1/tickets/{id}/validate/{evidenceId}/{approved}", vec!["POST".into()]),
            ("/healthz", vec!["GET".into(), "HEAD".into()]),
        ]);
        assert_eq!(
            m.route(Some("/v1/tickets/:param0/validate/:param1/:param2")),
            "/v1/tickets/{id}/validate/{evidenceId}/{approved}"
        );
        assert_eq!(m.route(Some("/healthz")), "/healthz");
        assert_eq!(m.route(Some("/docs/")), "/docs/");
        assert_eq!(m.route(Some("")), "unmatched");
        assert_eq!(m.route(None), "unmatched");
        assert_eq!(m.allow(Some("/healthz")), Some("GET, HEAD"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
