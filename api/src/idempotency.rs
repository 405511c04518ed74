//! `Idempotency-Key` on every POST that changes a ticket: a retry with the same key and body
//! answers what the first request answered and changes nothing; the same key with another body
//! is refused. The key is claimed in the transaction of the change and its answer stored there
//! too, so an answer exists exactly when the change committed.

use common::{
    DomainError,
    db::{self, Tx, idempotency},
};
use poem_openapi::types::{ParseFromJSON, ToJSON};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{error::ApiResult, state::AppState};

/// A client's key and what its request was.
#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    key: String,
    fingerprint: String,
}

impl IdempotencyKey {
    /// The key of a request, from its header, its operation and its body.
    pub fn new(
        header: Option<String>,
        operation: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Option<Self>, DomainError> {
        let Some(key) = header else { return Ok(None) };
        if key.is_empty() || key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err(DomainError::invalid("Idempotency-Key", "must be 1 to 200 visible ASCII characters"));
        }
        let mut hash = Sha256::new();
        hash.update(operation.as_bytes());
        hash.update([0]);
        hash.update(body.map(|b| b.to_string()).unwrap_or_default().as_bytes());
        let fingerprint = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(Some(Self { key, fingerprint }))
    }
}

/// Runs `work` in the write transaction of a request with `key` (`None`: no header) and
/// commits it with its answer; a retry of a committed request gets that answer instead, and
/// `status` is the success status the answer is stored with. Every ticket POST goes through here.
pub async fn run<T: ToJSON + ParseFromJSON>(
    state: &AppState,
    user: Uuid,
    key: &Option<IdempotencyKey>,
    status: u16,
    work: impl AsyncFnOnce(&mut Tx) -> Result<T, DomainError>,
) -> ApiResult<T> {
    let mut tx = match start(state, user, key).await? {
        Start::Replay(answer) => return Ok(answer),
        Start::Proceed(tx) => tx,
    };
    let answer = work(&mut tx).await?;
    finish(tx, user, key, status, &answer).await?;
    Ok(answer)
}

/// Where a request goes: replay a stored answer, or do the work in `Tx`.
enum Start<T> {
    Replay(T),
    Proceed(Tx),
}

fn mismatch() -> DomainError {
    DomainError::conflict(
        "idempotency_key_reused",
        "this Idempotency-Key was used for a different request; use a new key",
    )
}

async fn stored<T: ParseFromJSON>(tx: &mut Tx, user: Uuid, k: &IdempotencyKey) -> ApiResult<Option<T>> {
    match idempotency::find(tx, user, &k.key).await? {
        None => Ok(None),
        Some(s) if s.fingerprint != k.fingerprint => Err(mismatch().into()),
        Some(s) => Ok(Some(from_stored(&s.response)?)),
    }
}

/// Rebuilds a stored answer.
fn from_stored<T: ParseFromJSON>(json: &str) -> Result<T, DomainError> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| DomainError::Internal(format!("stored answer: {e}")))?;
    T::parse_from_json(Some(value))
        .map_err(|e| DomainError::Internal(format!("stored answer: {}", e.message())))
}

/// Opens the write transaction of a ticket change, or answers a retry from the first answer.
async fn start<T: ParseFromJSON>(
    state: &AppState,
    user: Uuid,
    key: &Option<IdempotencyKey>,
) -> ApiResult<Start<T>> {
    let mut tx = state.db.begin_command().await?;
    let Some(k) = key else { return Ok(Start::Proceed(tx)) };
    if let Some(answer) = stored(&mut tx, user, k).await? {
        return Ok(Start::Replay(answer));
    }
    if idempotency::claim(&mut tx, user, &k.key, &k.fingerprint, db::now()).await? {
        return Ok(Start::Proceed(tx));
    }
    // A concurrent request with the same key committed first: answer as it did.
    drop(tx);
    let mut tx = state.db.begin().await?;
    match stored(&mut tx, user, k).await? {
        Some(answer) => Ok(Start::Replay(answer)),
        None => {
            Err(DomainError::conflict("idempotency_in_progress", "a request with this key is in progress")
                .into())
        }
    }
}

/// Stores the answer with the change and commits both.
async fn finish<T: ToJSON>(
    mut tx: Tx,
    user: Uuid,
    key: &Option<IdempotencyKey>,
    status: u16,
    answer: &T,
) -> ApiResult<()> {
    if let Some(k) = key {
        let json = answer.to_json().map(|v| v.to_string()).unwrap_or_default();
        idempotency::complete(&mut tx, user, &k.key, status, &json).await?;
    }
    tx.commit().await?;
    Ok(())
}
