//! Security headers on every answer: `X-Content-Type-Options: nosniff` everywhere,
//! `Cache-Control: no-store` on the answers that carry a token or a code (login, the Telegram
//! link code), and frame protection on the documentation page (no other site can frame it).

use poem::{
    Endpoint, IntoResponse, Request, Response, Result,
    http::{HeaderValue, header},
};

/// The routes whose answers carry a secret no cache may keep.
const SECRET_ANSWERS: [&str; 2] = ["/v1/login", "/v1/telegram/linkCode"];

/// Runs inside `NormalizePath`: the path it sees has no trailing slash.
pub async fn security_headers<E: Endpoint>(next: E, req: Request) -> Result<Response> {
    let path = req.uri().path().to_owned();
    let mut resp = next.call(req).await?.into_response();
    let headers = resp.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if SECRET_ANSWERS.contains(&path.as_str()) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if path == "/docs" || path.starts_with("/docs/") {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
    }
    Ok(resp)
}
