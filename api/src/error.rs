//! The one place where errors become HTTP status codes and the contract's error envelope.

use common::{DomainError, error::FieldError};
use poem::{IntoResponse, Response, http::StatusCode};
use poem_openapi::{ApiResponse, Object, payload::Json};

/// One invalid field of a request.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ErrorDetail {
    pub field: String,
    pub message: String,
}

/// The error envelope every 4xx and 5xx answer carries.
#[derive(Debug, Clone, Object)]
#[oai(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Equal to the HTTP status.
    pub status_code: u16,
    /// The status' reason phrase, e.g. `Conflict`.
    pub error: String,
    /// A stable machine-readable code, e.g. `invalid_transition`.
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
    /// The invalid fields, for validation errors.
    #[oai(skip_serializing_if_is_none)]
    pub details: Option<Vec<ErrorDetail>>,
}

impl ErrorBody {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status_code: status.as_u16(),
            error: status.canonical_reason().unwrap_or("Error").to_owned(),
            code: code.to_owned(),
            message: message.into(),
            details: None,
        }
    }
}

/// Every error an operation can answer with.
#[derive(Debug, ApiResponse)]
pub enum ApiError {
    /// Malformed or invalid input.
    #[oai(status = 400)]
    BadRequest(Json<ErrorBody>),
    /// Not logged in, bad or expired token, ended session, wrong credentials.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorBody>),
    /// Logged in, but the role, region or assignment does not allow it.
    #[oai(status = 403)]
    Forbidden(Json<ErrorBody>),
    /// Unknown id, or a row the caller may not see.
    #[oai(status = 404)]
    NotFound(Json<ErrorBody>),
    /// The stored state forbids it: duplicate, row in use, illegal transition.
    #[oai(status = 409)]
    Conflict(Json<ErrorBody>),
    /// The body is larger than 1 MiB (a photo: than `CGS_MEDIA_MAX_BYTES`).
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorBody>),
    /// The body is not of a type the operation takes (JSON, or an image for a photo).
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorBody>),
    /// Well-formed, but refused for its content: an evidence the checks flag while
    /// `CGS_EVIDENCE_ENFORCE` is on.
    #[oai(status = 422)]
    Unprocessable(Json<ErrorBody>),
    /// Too many attempts (failed logins, logins from one address, live-feed streams), or too
    /// many logins being checked just now; retry after the given seconds.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorBody>, #[oai(header = "Retry-After")] String),
    /// A fault of the server; the details are in its log.
    #[oai(status = 500)]
    Internal(Json<ErrorBody>),
    /// The database cannot be reached just now; retry shortly.
    #[oai(status = 503)]
    Unavailable(Json<ErrorBody>),
}

impl ApiError {
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::BadRequest(Json(ErrorBody::new(StatusCode::BAD_REQUEST, code, message)))
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(Json(ErrorBody::new(StatusCode::UNAUTHORIZED, "unauthorized", message)))
    }

    pub fn not_found(what: &str) -> Self {
        Self::NotFound(Json(ErrorBody::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))))
    }

    /// 429 with `Retry-After: retry_after` seconds.
    pub fn too_many(code: &str, message: impl Into<String>, retry_after: i64) -> Self {
        Self::TooManyRequests(
            Json(ErrorBody::new(StatusCode::TOO_MANY_REQUESTS, code, message)),
            retry_after.max(1).to_string(),
        )
    }

    pub fn unavailable() -> Self {
        Self::Unavailable(Json(ErrorBody::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the database cannot be reached just now; retry shortly",
        )))
    }

    fn internal() -> Self {
        Self::Internal(Json(ErrorBody::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed; the failure is logged",
        )))
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::Validation(fields) => {
                let mut body =
                    ErrorBody::new(StatusCode::BAD_REQUEST, "validation", "the request is invalid");
                body.message = fields
                    .iter()
                    .map(|FieldError { field, message }| format!("{field} {message}"))
                    .collect::<Vec<_>>()
                    .join("; ");
                body.details = Some(
                    fields.into_iter().map(|f| ErrorDetail { field: f.field, message: f.message }).collect(),
                );
                Self::BadRequest(Json(body))
            }
            DomainError::Unauthenticated(msg) => Self::unauthorized(msg),
            DomainError::Forbidden(msg) => {
                Self::Forbidden(Json(ErrorBody::new(StatusCode::FORBIDDEN, "forbidden", msg)))
            }
            DomainError::NotFound(what) => Self::not_found(what),
            DomainError::Conflict { code, message } => {
                Self::Conflict(Json(ErrorBody::new(StatusCode::CONFLICT, code, message)))
            }
            DomainError::Refused { code, message } => {
                Self::Unprocessable(Json(ErrorBody::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)))
            }
            DomainError::TooManyAttempts { retry_after } => Self::too_many(
                "too_many_attempts",
                format!("too many failed attempts; retry in {retry_after} seconds"),
                retry_after,
            ),
            DomainError::Unavailable(e) => {
                tracing::warn!(error = %e, "the database is unreachable");
                Self::unavailable()
            }
            DomainError::Database(e) => {
                tracing::error!(error = %e, "database error");
                Self::internal()
            }
            DomainError::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                Self::internal()
            }
        }
    }
}

/// Handlers answer `ApiResult<T>`.
pub type ApiResult<T> = Result<T, ApiError>;

/// Renders any error that did not come from a handler (unknown route, wrong method, bad JSON,
/// body too large, failed authentication) in the error envelope.
pub fn render(err: poem::Error) -> Response {
    if err.is_from_response() {
        return err.into_response();
    }
    let status = err.status();
    if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseParamError>() {
        let field = if e.name.starts_with("param") { "path" } else { e.name };
        return validation_response(field, &e.reason, format!("invalid parameter `{field}`: {}", e.reason));
    }
    if let Some(e) = err.downcast_ref::<poem_openapi::error::ParsePathError>() {
        return validation_response("path", &e.reason, format!("invalid path parameter: {}", e.reason));
    }
    if let Some(e) = err.downcast_ref::<poem_openapi::error::ParseRequestPayloadError>() {
        return validation_response("body", &e.reason, format!("invalid body: {}", e.reason));
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such route".to_owned()),
        StatusCode::METHOD_NOT_ALLOWED => {
            ("method_not_allowed", "method not allowed on this route".to_owned())
        }
        StatusCode::PAYLOAD_TOO_LARGE => {
            ("payload_too_large", "the body is larger than this operation takes".to_owned())
        }
        StatusCode::UNAUTHORIZED => {
            ("unauthorized", "log in first: a valid token or session is required".to_owned())
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", err.to_string()),
        s if s.is_client_error() => ("bad_request", err.to_string()),
        _ => {
            tracing::error!(error = %err, "unhandled error");
            ("internal", "the server failed; the failure is logged".to_owned())
        }
    };
    let body = ErrorBody::new(status, code, message);
    Json(body).with_status(status).into_response()
}

/// A panic in a handler answers 500 in the error envelope; the panic itself is logged.
pub fn on_panic(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let status = StatusCode::INTERNAL_SERVER_ERROR;
    Json(ErrorBody::new(status, "internal", "the server failed; the failure is logged"))
        .with_status(status)
        .into_response()
}

fn validation_response(field: &str, reason: &str, message: String) -> Response {
    let status = StatusCode::BAD_REQUEST;
    let mut body = ErrorBody::new(status, "validation", message);
    body.details = Some(vec![ErrorDetail { field: field.to_owned(), message: reason.to_owned() }]);
    Json(body).with_status(status).into_response()
}
