//! The request body limit, on the bytes actually read. poem's `SizeLimit` refuses every request
//! without `Content-Length` (GETs included); this one refuses a declared length over the limit
//! before reading, and reads a body of undeclared length (HTTP/1.1 chunked, HTTP/2 without
//! `Content-Length`) only up to the limit: 413 as soon as it passes, with at most the limit in
//! memory whatever the client still sends. A declared length within the limit is held to by
//! hyper, which reads no more than it. A photo upload (`POST /v1/media`) has its own limit,
//! `CGS_MEDIA_MAX_BYTES`.

use poem::{
    Endpoint, IntoResponse, Request, Response, Result,
    error::ReadBodyError,
    http::{StatusCode, header},
};

use crate::{MAX_BODY_BYTES, state::AppState};

fn too_large() -> poem::Error {
    poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE)
}

/// The largest body `req` may have.
fn limit_of(req: &Request) -> usize {
    let media = req.method() == poem::http::Method::POST && req.uri().path() == "/v1/media";
    match req.data::<AppState>() {
        Some(state) if media => usize::try_from(state.settings.media_max_bytes).unwrap_or(usize::MAX),
        _ => MAX_BODY_BYTES,
    }
}

/// Refuses bodies over [`MAX_BODY_BYTES`] (a photo: `CGS_MEDIA_MAX_BYTES`) with 413 before any
/// handler sees them.
pub async fn limit_body<E: Endpoint>(next: E, mut req: Request) -> Result<Response> {
    let limit = limit_of(&req);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit as u64 => return Err(too_large()),
        Some(_) => {}
        None => {
            let bytes = req.take_body().into_bytes_limit(limit).await.map_err(|e| match e {
                ReadBodyError::PayloadTooLarge => too_large(),
                other => poem::Error::from_string(other.to_string(), StatusCode::BAD_REQUEST),
            })?;
            req.set_body(bytes);
        }
    }
    Ok(next.call(req).await?.into_response())
}
