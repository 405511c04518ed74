//! The request body limit, on the bytes actually read. poem's `SizeLimit` refuses every request
//! without `Content-Length` (GETs included); this one refuses a declared length over the limit
//! before reading, and reads a body of undeclared length (HTTP/1.1 chunked, HTTP/2 without
//! `Content-Length`) only up to the limit: 413 as soon as it passes, with at most the limit in
//! memory whatever the client still sends. A declared length within the limit is held to by
//! hyper, which reads no more than it.

use poem::{
    Endpoint, IntoResponse, Request, Response, Result,
    error::ReadBodyError,
    http::{StatusCode, header},
};

use crate::MAX_BODY_BYTES;

fn too_large() -> poem::Error {
    poem::Error::from_status(StatusCode::PAYLOAD_TOO_LARGE)
}

/// Refuses bodies over [`MAX_BODY_BYTES`] with 413 before any handler sees them.
pub async fn limit_body<E: Endpoint>(next: E, mut req: Request) -> Result<Response> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > MAX_BODY_BYTES as u64 => return Err(too_large()),
        Some(_) => {}
        None => {
            let bytes = req.take_body().into_bytes_limit(MAX_BODY_BYTES).await.map_err(|e| match e {
                ReadBodyError::PayloadTooLarge => too_large(),
                other => poem::Error::from_string(other.to_string(), StatusCode::BAD_REQUEST),
            })?;
            req.set_body(bytes);
        }
    }
    Ok(next.call(req).await?.into_response())
}
