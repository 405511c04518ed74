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
pub mod pg_conns;
pub mod session_cache;
pub mod sessions;
pub mod settings;
pub mod sql;
pub mod telegram;
pub mod tickets;
pub mod users;
pub mod validations;
pub mod webhooks;

use std::{str::FromStr, sync::Arc, time::Duration};

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::{
    PgPool, Postgres, Sqlite, SqlitePool, Transaction,
    error::ErrorKind,
    postgres::PgPoolOptions,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::DomainError;

/// How long a transaction waits for its [`Turn`], and a SQLite writer for the lock of another
/// process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a PostgreSQL connection may wait in the pool before it is checked again when it is
/// handed out.
const RECHECK_IDLE: Duration = Duration::from_secs(1);

/// How long a caller waits for a connection before it is answered 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// A pool on one of the two backends, with the [`Turn`] its transactions take in this process:
/// on SQLite every writing transaction ([`Db::begin_write`]), on PostgreSQL the numbering of a
/// new ticket ([`Tx::numbering_turn`]).
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool, Turn),
    /// The pool, and the connections of it that requests and jobs take ([`pg_conns`]).
    Postgres(PgPool, Turn, Arc<pg_conns::Conns>),
}

/// Transactions of one process that wait for one lock, in the order they came.
///
/// SQLite lets one transaction write at a time, and a writer that finds the lock taken polls for
/// it with growing sleeps (the busy timeout), so under load some writers wait many turns while
/// later ones get in. Writers of this process queue here instead, first come first served, and
/// take SQLite's lock only once the writer before them is done; the busy timeout is left to
/// other processes on the same file (a worker of its own) and the job queue's connections.
///
/// On PostgreSQL the month's ticket counter row is held from a creation's numbering to its
/// commit. Creations of this process queue here for it instead of in the database's lock queue,
/// whose waiters all wake at each commit and race for the row: here each waits only for the
/// creations ahead of it. Two at a time go on to the database, so the next one's numbering
/// statement is already waiting there when the row comes free, without a round trip in between.
#[derive(Clone, Debug)]
pub struct Turn(Arc<Semaphore>);

impl Turn {
    /// One writer at a time: SQLite's writers.
    fn new() -> Self {
        Turn(Arc::new(Semaphore::new(1)))
    }

    /// Two creations at a time at the counter row: one holding it, the next waiting for it in
    /// the database.
    fn numbering() -> Self {
        Turn(Arc::new(Semaphore::new(2)))
    }

    /// Waits for this turn, as long as SQLite's own busy timeout: a transaction that waits
    /// longer is refused as one waiting on SQLite's lock would be.
    async fn take(&self) -> Result<OwnedSemaphorePermit, DomainError> {
        Ok(tokio::time::timeout(BUSY_TIMEOUT, self.0.clone().acquire_owned())
            .await
            .map_err(|_| DomainError::Unavailable("the database is busy with other writes".into()))?
            .expect("a turn is never closed"))
    }
}

/// An open transaction on one of the two backends, with the session changes it makes: the
/// session caches of this process forget them once it commits.
pub struct Tx {
    // Dropped before the turn: the transaction's rollback is under way before the next writer
    // of this process begins.
    conn: Conn,
    sessions_changed: Vec<session_cache::Change>,
    deferred: Option<Box<Deferred>>,
    /// The turn a PostgreSQL transaction takes to number a ticket.
    numbering: Option<Turn>,
    /// The turn this transaction holds until it ends.
    turn: Option<OwnedSemaphorePermit>,
    /// A ticket command's transaction on PostgreSQL ([`Db::begin_command`]).
    command: bool,
    /// A command's transaction that has not sent `BEGIN` yet.
    unopened: bool,
    /// The webhooks and the events each follows, once read ([`webhooks::following`]).
    webhooks: Option<Vec<(uuid::Uuid, Vec<crate::domain::webhook::WebhookEvent>)>>,
    /// A command's writes went, without `BEGIN`, as one statement that committed by itself
    /// ([`Tx::send_numbered`]): nothing more may be written in it.
    sent_alone: bool,
}

/// Writes of a PostgreSQL transaction that answer nothing (a log entry, a live-feed row),
/// waiting to travel together: before the transaction's next statement or its commit they go
/// as one statement of data-modifying `WITH` parts, one round trip for all. A write that fails
/// fails that statement, which fails the transaction as it would have by itself.
///
/// The parts of one statement see the database as it was before it: a deferred write must not
/// read what another deferred write of the same transaction writes, except the log's numbering,
/// which [`Tx::next_log_seq`] counts ahead.
#[derive(Default)]
pub(crate) struct Deferred {
    parts: Vec<String>,
    args: sqlx::postgres::PgArguments,
    /// Log entries waiting, by ticket.
    logs: std::collections::HashMap<uuid::Uuid, i64>,
    /// The parts that must write a row (`RETURNING 1`) for the statement to stand, and what a
    /// caller is answered when one wrote none.
    guards: Vec<usize>,
    guard_error: Option<DomainError>,
    /// Whether a part writes `tickets`: a part that reads it must then wait for the next
    /// statement ([`Tx::settle_tickets`]).
    writes_tickets: bool,
}

/// [`Deferred::chained`].
pub(crate) struct Chained<'a> {
    to: &'a mut Deferred,
    failed: Option<DomainError>,
}

impl Chained<'_> {
    pub(crate) fn bind<T>(mut self, value: T) -> Self
    where
        T: for<'t> sqlx::Encode<'t, Postgres> + sqlx::Type<Postgres>,
    {
        if self.failed.is_none()
            && let Err(e) = self.to.bind(value)
        {
            self.failed = Some(e);
        }
        self
    }

    pub(crate) fn done(self) -> Result<(), DomainError> {
        self.failed.map_or(Ok(()), Err)
    }
}

/// The SQLSTATE `cgs_expect_row` raises (migration `0022_write_guard`).
const GUARD_FAILED: &str = "CG409";

impl Deferred {
    /// Adds the statement `sql` (placeholders `$1`.. of its own); its values follow with
    /// [`Deferred::bind`], in order.
    pub(crate) fn push(&mut self, sql: &str) {
        use sqlx::Arguments;
        self.parts.push(renumber(sql, self.args.len()));
    }

    pub(crate) fn bind<T>(&mut self, value: T) -> Result<(), DomainError>
    where
        T: for<'t> sqlx::Encode<'t, Postgres> + sqlx::Type<Postgres>,
    {
        use sqlx::Arguments;
        self.args.add(value).map_err(|e| DomainError::Internal(format!("encoding a value: {e}")))
    }

    /// Binds values in a chain, like a query's `bind`; [`Chained::done`] answers the first
    /// value that failed to encode.
    pub(crate) fn chained(&mut self) -> Chained<'_> {
        Chained { to: self, failed: None }
    }

    /// Adds a write of `tickets` guarded like [`Deferred::push`]: `sql` returns a row (`RETURNING
    /// 1`) when it wrote, and the whole statement fails, answered with `error`, when it wrote
    /// none.
    pub(crate) fn push_guarded_ticket(&mut self, sql: &str, error: DomainError) {
        self.guards.push(self.parts.len());
        self.guard_error.get_or_insert(error);
        self.writes_tickets = true;
        self.push(sql);
    }

    /// The statement the parts make: each but the last a `WITH` part, the last the main one;
    /// with guarded parts, all are `WITH` parts and the main one checks the guarded wrote.
    fn statement(&self) -> String {
        let guard = (!self.guards.is_empty()).then(|| {
            let written: Vec<String> =
                self.guards.iter().map(|g| format!("EXISTS (SELECT 1 FROM w{g})")).collect();
            format!("SELECT cgs_expect_row({})", written.join(" AND "))
        });
        match &guard {
            Some(g) => Self::with_parts(&self.parts, g),
            None => {
                let (last, rest) = self.parts.split_last().expect("a deferred write");
                Self::with_parts(rest, last)
            }
        }
    }

    /// `main` after the `WITH` parts `with`, the `n`th named `w{n}`.
    fn with_parts(with: &[String], main: &str) -> String {
        let mut sql = String::new();
        for (i, part) in with.iter().enumerate() {
            sql.push_str(if i == 0 { "WITH " } else { ", " });
            sql.push_str(&format!("w{i} AS ({part})"));
        }
        if !with.is_empty() {
            sql.push(' ');
        }
        sql.push_str(main);
        sql
    }

    /// The name the next part pushed takes in the statement (`w{n}`), for a part that reads
    /// what an earlier one answers.
    pub(crate) fn next_part(&self) -> String {
        format!("w{}", self.parts.len())
    }
}

/// `sql` with each placeholder `$n` made `$(n + offset)`.
fn renumber(sql: &str, offset: usize) -> String {
    if offset == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    while let Some(ch) = chars.next() {
        out.push(ch);
        if ch != '$' {
            continue;
        }
        let mut digits = String::new();
        while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
            digits.push(*d);
            chars.next();
        }
        match digits.parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&digits),
        }
    }
    out
}

/// Writes `$sql` with the values that follow, answering nothing: on SQLite at once, on
/// PostgreSQL with the transaction's next statement (see [`Deferred`]). Evaluates to
/// `Result<(), DomainError>`.
#[macro_export]
macro_rules! db_write {
    ($tx:expr, $sql:expr $(, $arg:expr)* $(,)?) => {{
        let sql: &str = $sql;
        match $tx.deferring() {
            Some(w) => (|| {
                w.push(sql);
                $( w.bind($arg)?; )*
                Ok::<(), $crate::error::DomainError>(())
            })(),
            None => async {
                $crate::db_run!($tx, |c| {
                    sqlx::query(sqlx::AssertSqlSafe(sql)) $(.bind($arg))* .execute(&mut *c).await?;
                });
                Ok::<(), $crate::error::DomainError>(())
            }
            .await,
        }
    }};
}

/// Runs `$body` with `$c` an executor outside any transaction: SQLite's pool, or on PostgreSQL
/// a connection [`crate::db::pg_conns`] hands out, kept for reuse once `$body` answered. `$body` is
/// compiled once per backend; `$backend` names it where the body needs the type.
#[macro_export]
macro_rules! db_pool {
    ($db:expr, |$c:ident $(, $backend:ident)?| $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite(pool, _) => {
                $(type $backend = sqlx::Sqlite;)?
                let $c = pool;
                $body
            }
            $crate::db::Db::Postgres(.., conns) => {
                $(type $backend = sqlx::Postgres;)?
                let mut conn = conns.acquire().await?;
                let answer = {
                    let $c = &mut *conn;
                    $body
                };
                conn.ended();
                answer
            }
        }
    };
}

/// The backend's own transaction.
pub enum Conn {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(PgConn),
}

/// A PostgreSQL transaction, or a connection for reads that need none ([`Db::read`]).
pub enum PgConn {
    Transaction(pg_conns::Conn),
    Reads(pg_conns::Conn),
    /// The connection a `BEGIN` that failed took with it ([`Tx::conn`] answers 503).
    Lost,
}

impl std::ops::Deref for PgConn {
    type Target = sqlx::PgConnection;

    fn deref(&self) -> &Self::Target {
        match self {
            PgConn::Transaction(t) => t,
            PgConn::Reads(c) => c,
            PgConn::Lost => unreachable!("a lost connection is never handed out (Tx::usable)"),
        }
    }
}

impl std::ops::DerefMut for PgConn {
    fn deref_mut(&mut self) -> &mut Self::Target {
        match self {
            PgConn::Transaction(t) => t,
            PgConn::Reads(c) => c,
            PgConn::Lost => unreachable!("a lost connection is never handed out (Tx::usable)"),
        }
    }
}

/// Runs `$body` with `$c` bound to the backend's connection (`&mut SqliteConnection` or
/// `&mut PgConnection`), once the transaction's deferred writes are sent. The body is compiled
/// once per backend.
#[macro_export]
macro_rules! db_run {
    ($tx:expr, |$c:ident| $body:expr) => {
        $crate::db_on!($tx.conn(), |$c| $body)
    };
}

/// [`db_run!`] for a read that takes no lock: in a ticket command's transaction that has
/// written nothing yet it runs without `BEGIN` ([`Tx::read_conn`]).
#[macro_export]
macro_rules! db_read {
    ($tx:expr, |$c:ident| $body:expr) => {
        $crate::db_on!($tx.read_conn(), |$c| $body)
    };
}

/// The body of [`db_run!`] and [`db_read!`] on the connection `$conn` answers.
#[doc(hidden)]
#[macro_export]
macro_rules! db_on {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn.await? {
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
                .busy_timeout(BUSY_TIMEOUT);
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(options)
                .await
                .context("opening the SQLite database")?;
            Ok(Db::Sqlite(pool, Turn::new()))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(1))
                .acquire_timeout(ACQUIRE_TIMEOUT)
                // The pool checks a connection as it comes back (a round trip), and again as it
                // hands it out only when it has been idle for a second: one broken meanwhile
                // fails its statement (503), and is dropped as it comes back. Requests and jobs
                // mostly skip the first check too (`pg_conns`).
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for >= RECHECK_IDLE {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .connect(url)
                .await
                .context("connecting to PostgreSQL")?;
            let conns = pg_conns::Conns::new(
                pool.clone(),
                max_connections,
                ACQUIRE_TIMEOUT,
                pg_conns::BACK_TO_POOL_AFTER,
            );
            Ok(Db::Postgres(pool, Turn::numbering(), conns))
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres:")
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(..) => Backend::Sqlite,
            Db::Postgres(..) => Backend::Postgres,
        }
    }

    /// Brings the schema up to date. The app keeps its history in `cgs_migrations`, apart from
    /// the tables of the job queue.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        use anyhow::Context;
        match self {
            Db::Sqlite(pool, _) => {
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
            Db::Postgres(pool, ..) => {
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
        Ok(match self {
            Db::Sqlite(pool, _) => Tx::new(Conn::Sqlite(pool.begin().await?)),
            Db::Postgres(_, turn, conns) => {
                let mut conn = conns.acquire().await?;
                conn.begin().await?;
                Tx { numbering: Some(turn.clone()), ..Tx::new(Conn::Postgres(PgConn::Transaction(conn))) }
            }
        })
    }

    /// Reads that need no transaction of their own. On PostgreSQL, whose reads in a transaction
    /// (read committed) each see what was committed when they start, like statements outside
    /// one, a connection of the pool without `BEGIN` and `COMMIT`: two round trips fewer. On
    /// SQLite a transaction, whose reads see one snapshot. Only for reads: on PostgreSQL each
    /// statement commits by itself.
    pub async fn read(&self) -> Result<Tx, DomainError> {
        match self {
            Db::Postgres(.., conns) => Ok(Tx::new(Conn::Postgres(PgConn::Reads(conns.acquire().await?)))),
            Db::Sqlite(..) => self.begin().await,
        }
    }

    /// A transaction that will write. On SQLite it waits for its [`Turn`], then takes the
    /// write lock at once (`BEGIN IMMEDIATE`), so a read-then-write transaction cannot fail to
    /// upgrade its lock when another writer got in between.
    pub async fn begin_write(&self) -> Result<Tx, DomainError> {
        match self {
            Db::Sqlite(pool, turn) => {
                let permit = turn.take().await?;
                let conn = Conn::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?);
                Ok(Tx { turn: Some(permit), ..Tx::new(conn) })
            }
            Db::Postgres(..) => self.begin().await,
        }
    }

    /// A ticket command's write transaction. On SQLite [`Db::begin_write`]. On PostgreSQL it
    /// sends `BEGIN` only before its first statement that is not a read (its reads before that
    /// see what they would in it), and its write of the ticket's state travels with the writes
    /// that follow it, guarded by the ticket's version: a command that needs no other statement
    /// is one read and one write. A lost race is then answered when the writes are sent (at
    /// the commit at the latest), not by the write of the state.
    pub async fn begin_command(&self) -> Result<Tx, DomainError> {
        match self {
            Db::Postgres(_, turn, conns) => Ok(Tx {
                numbering: Some(turn.clone()),
                command: true,
                unopened: true,
                ..Tx::new(Conn::Postgres(PgConn::Reads(conns.acquire().await?)))
            }),
            Db::Sqlite(..) => self.begin_write().await,
        }
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        async {
            db_pool!(self, |c| {
                sqlx::query("SELECT 1").execute(c).await?;
            });
            Ok::<(), DomainError>(())
        }
        .await
        .is_ok()
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool, _) => pool.close().await,
            Db::Postgres(pool, _, conns) => {
                conns.close();
                pool.close().await
            }
        }
    }
}

impl Tx {
    fn new(conn: Conn) -> Self {
        Tx {
            conn,
            sessions_changed: Vec::new(),
            deferred: None,
            numbering: None,
            turn: None,
            command: false,
            unopened: false,
            webhooks: None,
            sent_alone: false,
        }
    }

    /// Sends `BEGIN` if this command's transaction has not yet: before any statement but its
    /// reads ([`Tx::read_conn`]).
    async fn open(&mut self) -> Result<(), DomainError> {
        if self.sent_alone {
            return Err(DomainError::Internal(
                "a write after the command's statement that committed by itself".into(),
            ));
        }
        if !std::mem::take(&mut self.unopened) {
            return Ok(());
        }
        let conn = std::mem::replace(&mut self.conn, Conn::Postgres(PgConn::Lost));
        if let Conn::Postgres(PgConn::Reads(mut c)) = conn {
            c.begin().await?;
            self.conn = Conn::Postgres(PgConn::Transaction(c));
        }
        Ok(())
    }

    /// Whether this transaction writes ticket state with the writes that follow it
    /// ([`Db::begin_command`]).
    pub(crate) fn defers_ticket_writes(&self) -> bool {
        self.command
    }

    /// Sends the deferred writes, then waits for this process's turn to number a ticket
    /// ([`Turn`]), held until the transaction ends; at once when it holds a turn already (its
    /// SQLite write turn, or an earlier number). After it a transaction must not wait for a
    /// lock that a transaction waiting for the turn may hold: it only writes rows it made,
    /// or rows no creation locks before its number (the members an outage gathers).
    pub(crate) async fn numbering_turn(&mut self) -> Result<(), DomainError> {
        self.open().await?;
        self.flush().await?;
        if self.turn.is_none()
            && let Some(turn) = &self.numbering
        {
            self.turn = Some(turn.take().await?);
        }
        Ok(())
    }

    /// The backend's connection, once the writes waiting in this transaction are sent.
    pub(crate) async fn conn(&mut self) -> Result<&mut Conn, DomainError> {
        self.open().await?;
        self.flush().await?;
        self.usable()
    }

    /// The backend's connection for a read: as [`Tx::conn`], but a command's transaction that
    /// has written nothing yet reads without sending `BEGIN` (on PostgreSQL a read in a read
    /// committed transaction sees what one outside sees). Not for a read that locks.
    pub(crate) async fn read_conn(&mut self) -> Result<&mut Conn, DomainError> {
        if self.deferred.as_ref().is_some_and(|d| !d.parts.is_empty()) {
            return self.conn().await;
        }
        self.usable()
    }

    fn usable(&mut self) -> Result<&mut Conn, DomainError> {
        match self.conn {
            Conn::Postgres(PgConn::Lost) => Err(lost_at_begin()),
            _ => Ok(&mut self.conn),
        }
    }

    /// Sends the deferred writes now if one of them writes `tickets`: for a write about to be
    /// deferred that reads `tickets`, which must see them.
    pub(crate) async fn settle_tickets(&mut self) -> Result<(), DomainError> {
        if self.deferred.as_ref().is_some_and(|d| d.writes_tickets) {
            self.conn().await?;
        }
        Ok(())
    }

    /// Whether this is a PostgreSQL transaction.
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.conn, Conn::Postgres(_))
    }

    /// Where a write that answers nothing waits to travel with the next statement: `None` on
    /// SQLite, in process, where a statement costs no round trip.
    pub(crate) fn deferring(&mut self) -> Option<&mut Deferred> {
        if !self.is_postgres() {
            return None;
        }
        Some(self.deferred.get_or_insert_with(Default::default))
    }

    /// The number a new log entry of `ticket` takes after its highest stored one: 1, or more
    /// when entries of the ticket wait among the deferred writes.
    pub(crate) fn next_log_seq(&mut self, ticket: uuid::Uuid) -> i64 {
        match self.deferring() {
            Some(w) => {
                let n = w.logs.entry(ticket).or_insert(0);
                *n += 1;
                *n
            }
            None => 1,
        }
    }

    /// Sends the deferred writes as one statement. A guarded part that wrote nothing fails it,
    /// answered with the guard's error.
    async fn flush(&mut self) -> Result<(), DomainError> {
        let Some(mut deferred) = self.deferred.take().filter(|d| !d.parts.is_empty()) else { return Ok(()) };
        let statement = deferred.statement();
        let guard_error = deferred.guard_error.take();
        let Conn::Postgres(t) = self.usable()? else { return Ok(()) };
        match sqlx::query_with(sqlx::AssertSqlSafe(statement), deferred.args).execute(&mut **t).await {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(GUARD_FAILED) => {
                Err(guard_error.unwrap_or_else(|| DomainError::Database(e.to_string())))
            }
            r => r.map(drop).map_err(Into::into),
        }
    }

    /// Sends the deferred writes as one statement whose main part is `main`, a query of what
    /// they wrote, and answers its one row; under this process's numbering [`Turn`], for writes
    /// that number a ticket. A command's transaction that has not sent `BEGIN` commits by this
    /// statement alone, so the month's counter is locked only while it runs, and the turn is
    /// let go with it; it writes nothing after (its commit only hands the connection back).
    /// Not for guarded writes.
    pub(crate) async fn send_numbered<R>(&mut self, main: &str) -> Result<R, DomainError>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
    {
        let deferred = self.deferred.take().unwrap_or_default();
        if !deferred.guards.is_empty() {
            return Err(DomainError::Internal("a guarded write sent with a numbering".into()));
        }
        let statement = Deferred::with_parts(&deferred.parts, main);
        let turn = match (&self.turn, &self.numbering) {
            (None, Some(turn)) => Some(turn.take().await?),
            _ => None,
        };
        let Conn::Postgres(t) = self.usable()? else {
            return Err(DomainError::Internal("a numbering sent on SQLite".into()));
        };
        let row = sqlx::query_as_with::<_, R, _>(sqlx::AssertSqlSafe(statement), deferred.args)
            .fetch_one(&mut **t)
            .await?;
        if self.unopened {
            self.sent_alone = true;
        } else if turn.is_some() {
            self.turn = turn;
        }
        Ok(row)
    }

    /// Commits; then this process's session caches forget the sessions it changed (other
    /// processes hear of them from PostgreSQL, see [`session_cache`]).
    ///
    /// A command's transaction that never sent `BEGIN` commits its deferred writes as the one
    /// statement they are, atomic by itself: every statement but its reads would have begun it.
    pub async fn commit(mut self) -> Result<(), DomainError> {
        self.flush().await?;
        match self.conn {
            Conn::Sqlite(t) => t.commit().await?,
            Conn::Postgres(PgConn::Transaction(mut t)) => t.commit().await?,
            Conn::Postgres(PgConn::Reads(mut c)) => c.ended(),
            Conn::Postgres(PgConn::Lost) => return Err(lost_at_begin()),
        }
        session_cache::forget_here(&self.sessions_changed);
        Ok(())
    }
}

/// The answer of a transaction whose `BEGIN` failed and took its connection ([`PgConn::Lost`]).
fn lost_at_begin() -> DomainError {
    DomainError::Unavailable("the transaction's connection was lost at its start".into())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deferred_writes_number_their_placeholders_after_those_before_them() {
        assert_eq!(renumber("INSERT INTO t VALUES ($1, $2)", 0), "INSERT INTO t VALUES ($1, $2)");
        assert_eq!(
            renumber("SELECT $1, $10 + $2, '$x', $ FROM t WHERE a = $3", 31),
            "SELECT $32, $41 + $33, '$x', $ FROM t WHERE a = $34"
        );
    }

    #[test]
    fn deferred_writes_go_as_with_parts_of_the_last_one() {
        let mut d = Deferred::default();
        d.push("INSERT INTO a VALUES ($1)");
        d.bind(1_i64).unwrap();
        assert_eq!(d.statement(), "INSERT INTO a VALUES ($1)");
        d.push("DELETE FROM b WHERE id = $1");
        d.bind(2_i64).unwrap();
        d.push("INSERT INTO c VALUES ($1, $2)");
        d.bind(3_i64).unwrap();
        d.bind(4_i64).unwrap();
        assert_eq!(
            d.statement(),
            "WITH w0 AS (INSERT INTO a VALUES ($1)), w1 AS (DELETE FROM b WHERE id = $2) \
             INSERT INTO c VALUES ($3, $4)"
        );
    }

    #[test]
    fn a_guarded_write_makes_every_part_a_with_part_and_the_statement_check_it_wrote() {
        let mut d = Deferred::default();
        d.push_guarded_ticket(
            "UPDATE tickets SET status = $2 WHERE id = $1 RETURNING 1",
            DomainError::conflict("concurrent_change", "changed"),
        );
        d.chained().bind(1_i64).bind("Accepted").done().unwrap();
        d.push("INSERT INTO ticket_logs VALUES ($1)");
        d.bind(3_i64).unwrap();
        assert!(d.writes_tickets);
        assert_eq!(
            d.statement(),
            "WITH w0 AS (UPDATE tickets SET status = $2 WHERE id = $1 RETURNING 1), \
             w1 AS (INSERT INTO ticket_logs VALUES ($3)) SELECT cgs_expect_row(EXISTS (SELECT 1 FROM w0))"
        );
    }
}
