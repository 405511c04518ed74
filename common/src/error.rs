//! Errors of the domain and the persistence layer. They know nothing about HTTP (the API maps
//! them to status codes in one place) nor about the database's driver (`db` turns its errors
//! into these, one way).

/// A field that failed validation, with a message meant for the client developer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Everything a command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Input is malformed or breaks a rule that does not depend on stored state.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// Not logged in, or the credentials or session are not valid.
    #[error("{0}")]
    Unauthenticated(String),
    /// Logged in, but the role, region or assignment does not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// No such row, or a row the caller may not see.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The stored state forbids it: a duplicate, a row in use, an illegal transition.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// Well-formed, but refused by a rule about its content (a flagged evidence while
    /// `CGS_EVIDENCE_ENFORCE` is on).
    #[error("{message}")]
    Refused { code: &'static str, message: String },
    /// Too many failed attempts; try again after the given number of seconds.
    #[error("too many attempts, retry in {retry_after} s")]
    TooManyAttempts { retry_after: i64 },
    /// The database cannot be reached (down, restarting, every connection busy): worth trying
    /// again soon.
    #[error("database unreachable: {0}")]
    Unavailable(String),
    /// The database failed in a way the client cannot fix.
    #[error("database error: {0}")]
    Database(String),
    /// Anything else the client cannot fix.
    #[error("internal error: {0}")]
    Internal(String),
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict { code, message: message.into() }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
