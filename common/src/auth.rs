//! Password hashing (argon2id) and session tokens (HS256 JWTs that name a database session).

use std::sync::LazyLock;

use argon2::{
    Argon2, Block, Params, PasswordHash,
    password_hash::{Output, ParamsString, SaltString, rand_core::OsRng},
};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;

/// Argon2 runs at most this many at once: each takes 19 MiB and a core for tens of
/// milliseconds. Half the cores (at least one): a burst of logins queues, and the other half
/// stays free to serve everyone else.
static HASHING: LazyLock<tokio::sync::Semaphore> = LazyLock::new(|| tokio::sync::Semaphore::new(hashers()));

fn hashers() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores / 2).max(1)
}

type HashJob = Box<dyn FnOnce() + Send>;

/// The threads Argon2 runs on, as many as [`HASHING`] has permits. Threads of their own, not
/// the runtime's blocking pool, each with its Argon2 memory ([`MEMORY`]) kept while logins
/// come and given back once none has come for [`LINGER`].
static HASHERS: LazyLock<std::sync::Mutex<std::sync::mpsc::Sender<HashJob>>> = LazyLock::new(|| {
    let (sender, jobs) = std::sync::mpsc::channel::<HashJob>();
    let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
    for i in 0..hashers() {
        let jobs = jobs.clone();
        std::thread::Builder::new()
            .name(format!("cgs-hash-{i}"))
            .spawn(move || {
                loop {
                    let job = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv_timeout(LINGER);
                    match job {
                        Ok(job) => job(),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => drop(MEMORY.take()),
                        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .expect("starting a hashing thread");
    }
    std::sync::Mutex::new(sender)
});

/// Runs `work` on a hashing thread, holding `permit` until it is done (a caller that goes away
/// does not free a core still busy).
async fn on_hasher<T: Send + 'static>(
    permit: tokio::sync::SemaphorePermit<'static>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, DomainError> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: HashJob = Box::new(move || {
        let _permit = permit;
        let _ = done.send(work());
    });
    HASHERS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .map_err(|_| DomainError::Internal("the hashing threads are gone".into()))?;
    result.await.map_err(|_| DomainError::Internal("a hashing job failed".into()))
}

/// How many password checks wait for [`HASHING`] at most; one more is refused at once
/// ([`HashingBusy`]), so a login flood costs queue slots, not memory and minutes of waiting.
pub const VERIFY_QUEUE: usize = 32;

static VERIFY_WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The password checks' queue is full; the caller should answer at once and be retried later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingBusy;

/// Hashes a password with argon2id off the async runtime (it costs tens of milliseconds).
pub async fn hash_password(password: String) -> Result<String, DomainError> {
    let permit =
        HASHING.acquire().await.map_err(|e| DomainError::Internal(format!("hashing closed: {e}")))?;
    on_hasher(permit, move || hash_password_blocking(&password)).await?
}

fn hash_password_blocking(password: &str) -> Result<String, DomainError> {
    let failed = |e: String| DomainError::Internal(format!("hashing failed: {e}"));
    let salt = SaltString::generate(&mut OsRng);
    let argon = Argon2::default();
    let mut salt_bytes = [0u8; 64];
    let raw_salt = salt.as_salt().decode_b64(&mut salt_bytes).map_err(|e| failed(e.to_string()))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&argon, password.as_bytes(), raw_salt, &mut out).map_err(|e| failed(e.to_string()))?;
    let phc = PasswordHash {
        algorithm: argon2::Algorithm::Argon2id.ident(),
        version: Some(argon2::Version::V0x13.into()),
        params: ParamsString::try_from(argon.params()).map_err(|e| failed(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| failed(e.to_string()))?),
    };
    Ok(phc.to_string())
}

/// A hashing thread with no work for this long gives its Argon2 memory back.
const LINGER: std::time::Duration = std::time::Duration::from_millis(200);

/// Argon2's memory is reserved at least this large (in 1 KiB blocks, 33 MiB; only what a hash
/// uses, 19 MiB by default, is ever touched): above the largest size glibc's allocator serves
/// from its heaps (32 MiB), so it is a mapping of its own that goes back to the system when
/// freed, where a smaller buffer would stay in the heap and the process would keep it.
const RESERVED_BLOCKS: usize = 33 * 1024;

thread_local! {
    /// Argon2's working memory on a hashing thread, allocated by its first hash and reused by
    /// the next ones until the thread lingers idle: however many logins come, the process
    /// holds at most this per hashing thread, and nothing when none come.
    static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `argon`'s hash of `password` with `salt` into `out`, in this thread's [`MEMORY`].
fn argon2_into(argon: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> Result<(), argon2::Error> {
    MEMORY.with_borrow_mut(|blocks| {
        let needed = argon.params().block_count();
        if blocks.len() < needed {
            let mut fresh = Vec::with_capacity(needed.max(RESERVED_BLOCKS));
            fresh.resize(needed, Block::default());
            *blocks = fresh;
        }
        argon.hash_password_into_with_memory(password, salt, out, &mut blocks[..])
    })
}

/// Whether `password` hashes to the PHC string `stored` (its algorithm, version, parameters
/// and salt), compared in constant time.
fn verify_blocking(password: &str, stored: &str) -> bool {
    let check = || -> Option<bool> {
        let phc = PasswordHash::new(stored).ok()?;
        let (salt, expected) = (phc.salt?, phc.hash?);
        let algorithm = argon2::Algorithm::try_from(phc.algorithm).ok()?;
        let version =
            phc.version.map_or(Some(argon2::Version::default()), |v| argon2::Version::try_from(v).ok())?;
        let params = Params::try_from(&phc).ok()?;
        let argon = Argon2::new(algorithm, version, params);
        let mut salt_bytes = [0u8; 64];
        let raw_salt = salt.decode_b64(&mut salt_bytes).ok()?;
        let mut out = vec![0u8; expected.len()];
        argon2_into(&argon, password.as_bytes(), raw_salt, &mut out).ok()?;
        // `Output`'s equality is constant-time.
        Some(Output::new(&out).ok()? == expected)
    };
    check().unwrap_or(false)
}

/// A hash of no real password: checking against it when the email is unknown makes a failed
/// login cost the same whether or not the account exists.
static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password_blocking("no-such-account").expect("argon2 works"));

/// Counts a waiting check in [`VERIFY_WAITING`] while it lives.
struct Waiting;

impl Waiting {
    fn enter() -> Option<Self> {
        use std::sync::atomic::Ordering;
        let before = VERIFY_WAITING.fetch_add(1, Ordering::SeqCst);
        if before >= VERIFY_QUEUE {
            VERIFY_WAITING.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Waiting)
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        VERIFY_WAITING.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Checks a password against a stored hash (or the dummy when there is none). With
/// [`VERIFY_QUEUE`] checks already waiting it answers [`HashingBusy`] at once.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, HashingBusy> {
    let waiting = Waiting::enter().ok_or(HashingBusy)?;
    let Ok(permit) = HASHING.acquire().await else { return Ok(false) };
    drop(waiting);
    Ok(on_hasher(permit, move || {
        let stored = hash.unwrap_or_else(|| DUMMY_HASH.clone());
        verify_blocking(&password, &stored)
    })
    .await
    .unwrap_or(false))
}

/// What a session token says: whose it is, which session, when it was issued and expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    /// The session id; the session row decides whether the token is still good.
    pub sid: Uuid,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
}

/// Selects jsonwebtoken's pure-Rust crypto for this process. Another dependency turns on its
/// `aws_lc_rs` feature too, and with both on jsonwebtoken refuses to guess.
pub fn install_crypto() {
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER,
    );
}

/// Signs and checks session tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        install_crypto();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(&self, claims: &Claims) -> Result<String, DomainError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| DomainError::Internal(format!("token signing failed: {e}")))
    }

    /// The claims of a well-signed, unexpired HS256 token; `None` for anything else.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok().map(|data| data.claims)
    }
}

/// Signs Firebase custom tokens with a service account's key, so that the apps can sign in to
/// Firestore with the caller's `role`, `region` and `uid` as claims.
#[derive(Clone)]
pub struct FirebaseSigner {
    email: String,
    key: EncodingKey,
}

/// The fields of a service account key file that signing needs.
#[derive(Deserialize)]
struct ServiceAccount {
    client_email: String,
    private_key: String,
}

/// The claims of a Firebase custom token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirebaseClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub uid: String,
    pub claims: FirebaseUserClaims,
}

/// What `firestore.rules` reads from `request.auth.token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirebaseUserClaims {
    pub role: crate::domain::Role,
    pub region: crate::domain::Region,
    pub uid: String,
}

/// The audience Firebase requires of custom tokens.
pub const FIREBASE_AUDIENCE: &str =
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit";

impl FirebaseSigner {
    /// Reads a service account key file's JSON.
    pub fn from_service_account(json: &str) -> anyhow::Result<Self> {
        use anyhow::Context;
        install_crypto();
        let sa: ServiceAccount = serde_json::from_str(json).context("reading the service account key")?;
        let key = EncodingKey::from_rsa_pem(sa.private_key.as_bytes())
            .context("reading the service account's private key")?;
        Ok(Self { email: sa.client_email, key })
    }

    /// A custom token for a user, valid for an hour (Firebase's limit).
    pub fn custom_token(
        &self,
        user: Uuid,
        role: crate::domain::Role,
        region: crate::domain::Region,
        now: i64,
    ) -> Result<String, DomainError> {
        let claims = FirebaseClaims {
            iss: self.email.clone(),
            sub: self.email.clone(),
            aud: FIREBASE_AUDIENCE.to_owned(),
            iat: now,
            exp: now + 3600,
            uid: user.to_string(),
            claims: FirebaseUserClaims { role, region, uid: user.to_string() },
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map_err(|e| DomainError::Internal(format!("signing a Firebase token failed: {e}")))
    }
}

/// A fresh random secret for signing tokens, hex encoded.
pub fn generate_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A one-time code a user sends to the Telegram bot (`/start CODE`) to link a chat: eight
/// characters of an alphabet without look-alikes (`0`/`O`, `1`/`I`), about 40 bits.
pub fn generate_link_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..8).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// Whether two secrets are equal, in a time that does not depend on where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_in_reused_memory_agree_with_the_argon2_crates_own_hashing_and_verifying() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let ours = hash_password_blocking("correct horse").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong horse", &parsed).is_err());
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default().hash_password(b"battery staple", &salt).unwrap().to_string();
        assert!(theirs.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{theirs}");
        assert_eq!(ours.len(), theirs.len());
        // The same thread's memory serves every check, and a stale result never leaks into one.
        for _ in 0..3 {
            assert!(verify_blocking("battery staple", &theirs));
            assert!(!verify_blocking("battery stapler", &theirs));
            assert!(verify_blocking("correct horse", &ours));
        }
        // Other parameters (a smaller memory) work with the same buffer.
        let small = Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            Params::new(8 * 1024, 1, 1, None).unwrap(),
        );
        let small_hash = small.hash_password(b"pw", &salt).unwrap().to_string();
        assert!(verify_blocking("pw", &small_hash) && !verify_blocking("px", &small_hash));
        assert!(!verify_blocking("pw", "not a hash"));
    }

    fn claims(exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims { sub: Uuid::now_v7(), sid: Uuid::now_v7(), iat: now, exp: now + exp_in }
    }

    #[test]
    fn a_token_verifies_with_its_own_key_only() {
        let keys = TokenKeys::new(b"one");
        let c = claims(60);
        let token = keys.issue(&c).unwrap();
        assert_eq!(keys.verify(&token), Some(c));
        assert_eq!(TokenKeys::new(b"two").verify(&token), None);
    }

    #[test]
    fn expired_and_unsigned_tokens_are_refused() {
        let keys = TokenKeys::new(b"one");
        assert_eq!(keys.verify(&keys.issue(&claims(-5)).unwrap()), None);
        // alg "none": header {"alg":"none","typ":"JWT"}, no signature.
        let c = claims(60);
        let body = serde_json::to_vec(&c).unwrap();
        let b64 = |b: &[u8]| {
            use std::fmt::Write;
            // base64url without padding, enough for the test
            const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let mut out = String::new();
            for chunk in b.chunks(3) {
                let n = chunk.iter().enumerate().fold(0u32, |acc, (i, v)| acc | (*v as u32) << (16 - 8 * i));
                for i in 0..=chunk.len() {
                    let _ = write!(out, "{}", T[((n >> (18 - 6 * i)) & 63) as usize] as char);
                }
            }
            out
        };
        let forged = format!("{}.{}.", b64(br#"{"alg":"none","typ":"JWT"}"#), b64(&body));
        assert_eq!(keys.verify(&forged), None);
    }

    #[tokio::test]
    async fn passwords_verify_against_their_hash_only() {
        let hash = hash_password("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert_eq!(verify_password("correct horse".into(), Some(hash.clone())).await, Ok(true));
        assert_eq!(verify_password("wrong horse".into(), Some(hash)).await, Ok(false));
        assert_eq!(verify_password("anything".into(), None).await, Ok(false));
    }
}
