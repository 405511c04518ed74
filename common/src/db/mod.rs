//! Persistence on SQLite (embedded default) and PostgreSQL (production) from one code path.
//!
//! Every query function takes `&mut Tx` so that a handler or job composes several of them in
//! one transaction. [`db_run!`] expands a query body once per backend: the SQL text is shared
//! (sqlx takes `$n` placeholders on both), the types are each backend's own.

mod access;
pub mod catalog;
pub mod clients;
mod codec;
pub mod failed_jobs;
pub mod feed;
pub mod idempotency;
pub mod intake;
pub mod media;
pub mod notifications;
pub mod outages;
pub mod session_cache;
pub mod sessions;
pub mod settings;
pub mod sql;
pub mod telegram;
pub mod tickets;
pub mod users;
pub mod validations;
pub mod webhooks;

use std::{str::FromStr, time::Duration};

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{
    PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    error::ErrorKind,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::error::DomainError;

/// A pool on one of the two backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open transaction on one of the two backends, with the session changes it makes: the
/// session caches of this process forget them once it commits.
pub struct Tx {
    pub(crate) conn: Conn,
    sessions_changed: Vec<session_cache::Change>,
}

/// The backend's own transaction.
pub enum Conn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` with `$c` bound to the backend's connection (`&mut SqliteConnection` or
/// `&mut PgConnection`). The body is compiled once per backend.
#[macro_export]
macro_rules! db_run {
    ($tx:expr, |$c:ident| $body:expr) => {
        match &mut $tx.conn {
            $crate::db::Conn::Sqlite(t) => {
                let $c: &mut sqlx::SqliteConnection = &mut *t;
                $body
            }
            $crate::db::Conn::Postgres(t) => {
                let $c: &mut sqlx::PgConnection = &mut *t;
                $body
            }
        }
    };
}

/// Which backend a pool talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Db {
    /// Connects to `url` (`sqlite:` or `postgres:`), with durable SQLite settings.
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        use anyhow::Context;
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("parsing DATABASE_URL")?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .context("opening the SQLite database")?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await
                .context("connecting to PostgreSQL")?;
            Ok(Db::Postgres(pool))
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:")
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Brings the schema up to date. The app keeps its history in `cgs_migrations`, apart from
    /// the tables of the job queue.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        use anyhow::Context;
        match self {
            Db::Sqlite(pool) => {
                let mut m = sqlx::migrate!("../migrations/sqlite");
                m.dangerous_set_table_name("cgs_migrations");
                m.run(pool).await.context("migrating SQLite")?;
                // The job queue's setup turns `synchronous` off on the connection it uses: give
                // it a connection of its own so the app's connections stay durable.
                let options = (*pool.connect_options()).clone();
                let setup = SqlitePoolOptions::new().max_connections(1).connect_with(options).await?;
                apalis_sqlite::SqliteStorage::<()>::setup(&setup)
                    .await
                    .context("setting up the SQLite job queue")?;
                setup.close().await;
            }
            Db::Postgres(pool) => {
                let mut m = sqlx::migrate!("../migrations/postgres");
                m.dangerous_set_table_name("cgs_migrations");
                m.run(pool).await.context("migrating PostgreSQL")?;
                apalis_postgres::PostgresStorage::<()>::setup(pool)
                    .await
                    .context("setting up the PostgreSQL job queue")?;
            }
        }
        Ok(())
    }

    pub async fn begin(&self) -> Result<Tx, DomainError> {
        Ok(Tx::new(match self {
            Db::Sqlite(pool) => Conn::Sqlite(pool.begin().await?),
            Db::Postgres(pool) => Conn::Postgres(pool.begin().await?),
        }))
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so a read-then-write transaction cannot fail to upgrade its lock
    /// when another writer got in between; writers queue on the busy timeout instead.
    pub async fn begin_write(&self) -> Result<Tx, DomainError> {
        Ok(Tx::new(match self {
            Db::Sqlite(pool) => Conn::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Conn::Postgres(pool.begin().await?),
        }))
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        match self {
            Db::Sqlite(pool) => sqlx::query("SELECT 1").execute(pool).await.is_ok(),
            Db::Postgres(pool) => sqlx::query("SELECT 1").execute(pool).await.is_ok(),
        }
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Tx {
    fn new(conn: Conn) -> Self {
        Tx { conn, sessions_changed: Vec::new() }
    }

    /// Commits; then this process's session caches forget the sessions it changed (other
    /// processes hear of them from PostgreSQL, see [`session_cache`]).
    pub async fn commit(self) -> Result<(), DomainError> {
        match self.conn {
            Conn::Sqlite(t) => t.commit().await?,
            Conn::Postgres(t) => t.commit().await?,
        }
        session_cache::forget_here(&self.sessions_changed);
        Ok(())
    }
}

/// The current time at the precision both backends store (microseconds).
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A page of a list: `limit` (1..=100, default 20) rows after `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub offset: i64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self { limit: 20, offset: 0 }
    }
}

/// Rows of one page and how many rows match in all.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    /// `false` when counting stopped at a bound: at least `total` rows match.
    pub total_exact: bool,
    pub page: PageRequest,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            total_exact: self.total_exact,
            page: self.page,
        }
    }
}

/// Unique constraints and the field a client should change, by PostgreSQL constraint name and
/// by SQLite's `table.column` message.
const UNIQUE_FIELDS: &[(&str, &str, &str)] = &[
    ("users_email_key", "users.email", "email"),
    ("users_nik_key", "users.nik", "nik"),
    ("areas_region_name_key", "areas.region, areas.name", "name"),
    ("isps_initial_key", "isps.initial", "initial"),
    ("clients_cid_key", "clients.cid", "cid"),
];

impl From<sqlx::Error> for DomainError {
    fn from(err: sqlx::Error) -> Self {
        classify(err)
    }
}

/// A failure to reach the database (down, restarting, pool exhausted), not a fault of the query.
fn unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
            true
        }
        // PostgreSQL shutting down or starting: admin_shutdown, crash_shutdown,
        // cannot_connect_now.
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// Turns a database error into a domain error: constraint violations are the client's
/// business (409), a database out of reach is [`DomainError::Unavailable`], everything else is
/// ours.
pub fn classify(err: sqlx::Error) -> DomainError {
    if unreachable(&err) {
        return DomainError::Unavailable(err.to_string());
    }
    if let sqlx::Error::Database(db) = &err {
        match db.kind() {
            ErrorKind::UniqueViolation => {
                let text = format!("{} {}", db.constraint().unwrap_or_default(), db.message());
                let field = UNIQUE_FIELDS
                    .iter()
                    .find(|(pg, lite, _)| text.contains(pg) || text.contains(lite))
                    .map(|(_, _, f)| *f)
                    .unwrap_or("value");
                return DomainError::conflict("duplicate", format!("a row with this {field} already exists"));
            }
            // SQLite reports an `ON DELETE RESTRICT` refusal as a trigger constraint.
            _ if db.kind() == ErrorKind::ForeignKeyViolation
                || db.message().contains("FOREIGN KEY constraint failed") =>
            {
                return DomainError::conflict(
                    "in_use",
                    "the row is referenced by other rows, or references a row that does not exist",
                );
            }
            _ => {}
        }
        // PostgreSQL refuses NUL and invalid bytes in text: the input was bad, not the server.
        if matches!(db.code().as_deref(), Some("22021" | "22P05")) {
            return DomainError::invalid("text", "contains a character the database cannot store");
        }
    }
    DomainError::Database(err.to_string())
}

/// A case-insensitive substring pattern for `LOWER(col) LIKE $n`.
pub(crate) fn like_pattern(q: Option<&str>) -> Option<String> {
    q.map(str::trim).filter(|q| !q.is_empty()).map(|q| {
        let escaped = q.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    })
}

/// Deletes one row of a table by id; a row still referenced answers 409 `in_use`.
pub(crate) async fn delete_by_id(
    tx: &mut Tx,
    table: &'static str,
    id: uuid::Uuid,
) -> Result<bool, DomainError> {
    let sql = format!("DELETE FROM {table} WHERE id = $1");
    let affected = db_run!(tx, |c| sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .execute(&mut *c)
        .await?
        .rows_affected());
    Ok(affected == 1)
}
