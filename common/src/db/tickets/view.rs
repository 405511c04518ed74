//! A ticket's row with all its document names: its log, the users the two name and its client.
//! On PostgreSQL the row and its log are one statement, the log put together by the database as
//! JSON (one round trip whatever the log's length); SQLite, whose reads cost no round trip,
//! reads them one by one.

#[allow(unused_imports)]
use super::*;
use crate::db::{
    clients::{self, ClientRow},
    users::{self, UserRow},
};

/// A ticket's row, its log in order, the users they name (its NOC, its FOC, the log's actors and
/// former FOCs) and its client.
#[derive(Debug, Clone)]
pub struct WithLog {
    pub row: TicketRow,
    pub logs: Vec<LogRow>,
    pub people: Vec<UserRow>,
    pub client: Option<ClientRow>,
}

/// The PostgreSQL statement of [`with_log`]: the ticket's row with its log as a JSON array,
/// the ticket's id its `$1` (the load benchmark replays it).
pub fn with_log_sql() -> String {
    format!(
        "SELECT {COLUMNS}, (SELECT COALESCE(json_agg(l ORDER BY l.seq), '[]') FROM ({}) l) AS logs \
         FROM tickets WHERE id = $1",
        logs_sql(),
    )
}

/// Reads a ticket with its log, the users they name and its client; `None` when there is no
/// such ticket. On PostgreSQL the row and its log are one statement, the users another (and the
/// client a third, when there is one); reads that take no lock ([`db_read!`](crate::db_read)).
pub async fn with_log(tx: &mut Tx, id: Uuid) -> Result<Option<WithLog>, DomainError> {
    if !matches!(tx.read_conn().await?, Conn::Postgres(_)) {
        return with_log_by_statements(tx, id).await;
    }
    use sqlx::types::Json;
    #[derive(sqlx::FromRow)]
    struct Found {
        #[sqlx(flatten)]
        row: TicketRow,
        logs: Json<Vec<LogRow>>,
    }
    let sql = with_log_sql();
    let found = db_read!(tx, |c| sqlx::query_as::<_, Found>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?);
    let Some(Found { row, logs }) = found else { return Ok(None) };
    Ok(Some(named(tx, row, logs.0).await?))
}

/// [`with_log`] statement by statement: the ticket, its log, the users they name, its client.
/// SQLite's reading; on PostgreSQL the tests compare it with the log read as JSON.
pub async fn with_log_by_statements(tx: &mut Tx, id: Uuid) -> Result<Option<WithLog>, DomainError> {
    let Some(row) = get(tx, id).await? else { return Ok(None) };
    let logs = super::logs(tx, id).await?;
    Ok(Some(named(tx, row, logs).await?))
}

/// A ticket and its log with the users they name and its client.
async fn named(tx: &mut Tx, row: TicketRow, logs: Vec<LogRow>) -> Result<WithLog, DomainError> {
    let mut ids: Vec<Uuid> = [Some(row.noc_id), row.state.foc_id].into_iter().flatten().collect();
    ids.extend(logs.iter().flat_map(|l| [l.actor_id, l.foc_before_id]).flatten());
    ids.sort();
    ids.dedup();
    let people = users::get_any_of(tx, &ids).await?;
    let client = match row.client_id {
        Some(cid) => clients::get(tx, cid).await?,
        None => None,
    };
    Ok(WithLog { row, logs, people, client })
}
