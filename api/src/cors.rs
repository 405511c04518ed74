//! CORS for the web apps, which run on origins of their own: poem's `Cors` answers the
//! preflights and adds the CORS headers (credentials allowed) for the exact origins of
//! `CGS_CORS_ORIGINS`. A request from any other origin passes without CORS headers (so the
//! browser keeps its answer from the page), and its preflight is refused with 403.

use std::sync::Arc;

use poem::{
    Endpoint, IntoResponse, Middleware, Request, Response, Result,
    http::{HeaderValue, Method, header},
    middleware::{Cors, CorsEndpoint},
};

/// The request headers a web app sends: the bearer token, JSON bodies, idempotent retries, and
/// the live feed's resumption point.
const ALLOWED_HEADERS: [&str; 5] =
    ["authorization", "content-type", "idempotency-key", "last-event-id", "accept"];

/// The answer headers a web app reads besides the CORS-safelisted ones.
const EXPOSED_HEADERS: [&str; 2] = ["retry-after", "content-disposition"];

/// How long a browser may keep a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: i32 = 600;

/// Checks that each entry is an exact origin (`scheme://host[:port]`, no path, no wildcard).
pub fn parse_origins(list: &[String]) -> anyhow::Result<Vec<String>> {
    list.iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .map(|o| {
            let exact = o
                .split_once("://")
                .filter(|(scheme, rest)| {
                    matches!(*scheme, "http" | "https")
                        && !rest.is_empty()
                        && !rest.contains(['/', '*', '?', '#', ' ', '@'])
                })
                .is_some();
            anyhow::ensure!(
                exact && HeaderValue::from_str(o).is_ok(),
                "CGS_CORS_ORIGINS: {o:?} is not an exact origin such as https://app.example.com"
            );
            Ok(o.to_owned())
        })
        .collect()
}

/// The middleware: a pass-through when no origin is listed.
pub struct WebOrigins(pub Vec<String>);

impl<E: Endpoint> Middleware<E> for WebOrigins {
    type Output = WebOriginsEndpoint<E>;

    fn transform(&self, ep: E) -> Self::Output {
        let inner = Arc::new(ep);
        let cors = (!self.0.is_empty()).then(|| {
            let cors = Cors::new()
                .allow_origins(self.0.iter().map(String::as_str))
                .allow_credentials(true)
                .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
                .allow_headers(ALLOWED_HEADERS)
                .expose_headers(EXPOSED_HEADERS)
                .max_age(PREFLIGHT_MAX_AGE);
            cors.transform(inner.clone())
        });
        let listed = self.0.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        WebOriginsEndpoint { inner, cors, listed }
    }
}

pub struct WebOriginsEndpoint<E> {
    inner: Arc<E>,
    cors: Option<CorsEndpoint<Arc<E>>>,
    listed: Vec<HeaderValue>,
}

impl<E: Endpoint> Endpoint for WebOriginsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> Result<Response> {
        let Some(cors) = &self.cors else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let origin = req.headers().get(header::ORIGIN).cloned();
        let preflight = req.method() == Method::OPTIONS
            && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        let listed = origin.as_ref().is_some_and(|o| self.listed.contains(o));
        let mut resp = if listed || (origin.is_some() && preflight) {
            // The endpoint inside renders its own errors; what fails here is the preflight of
            // an origin not listed (403), rendered in the same envelope.
            cors.call(req).await.unwrap_or_else(crate::error::render)
        } else {
            self.inner.call(req).await?.into_response()
        };
        // The answer depends on the Origin header: caches must keep one per origin.
        resp.headers_mut().append(header::VARY, HeaderValue::from_static("Origin"));
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_origins_are_taken() {
        let ok = ["https://app.cgs.co.id", "http://127.0.0.1:8080", " https://noc.example "];
        assert_eq!(
            parse_origins(&ok.map(String::from)).unwrap(),
            ["https://app.cgs.co.id", "http://127.0.0.1:8080", "https://noc.example"]
        );
        for bad in
            ["*", "https://*.cgs.co.id", "https://app.cgs.co.id/", "app.cgs.co.id", "ftp://x", "https://"]
        {
            assert!(parse_origins(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}
