//! A ticket's row with all its document names: its log, the users the two name and its client.
//! One statement on PostgreSQL, where the database puts the log, the users and the client
//! together as JSON (one round trip whatever the log's length); four on SQLite, whose reads
//! cost no round trip.

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

/// The PostgreSQL statement of [`with_log`], the ticket's id its `$1` (the load benchmark
/// replays it).
pub fn with_log_sql() -> String {
    format!(
        "WITH t AS (SELECT {COLUMNS} FROM tickets WHERE id = $1), \
         l AS (SELECT {log}, {check} FROM ticket_logs l WHERE ticket_id = $1) \
         SELECT t.*, \
         (SELECT COALESCE(json_agg(l ORDER BY l.seq), '[]') FROM l) AS logs, \
         (SELECT COALESCE(json_agg(u), '[]') FROM ({users} WHERE u.id IN \
         (SELECT noc_id FROM t UNION SELECT foc_id FROM t UNION SELECT actor_id FROM l \
         UNION SELECT foc_before_id FROM l)) u) AS people, \
         (SELECT row_to_json(c) FROM ({clients} WHERE c.id = (SELECT client_id FROM t)) c) AS client \
         FROM t",
        log = super::logs::LOG_COLUMNS,
        check = StoredCheck::COLUMNS,
        users = users::SELECT,
        clients = clients::SELECT,
    )
}

/// Reads a ticket with its log, the users they name and its client; `None` when there is no
/// such ticket. A read that takes no lock ([`db_read!`](crate::db_read)).
pub async fn with_log(tx: &mut Tx, id: Uuid) -> Result<Option<WithLog>, DomainError> {
    if matches!(tx.read_conn().await?, Conn::Postgres(_)) {
        return with_log_in_one(tx, id).await;
    }
    with_log_by_statements(tx, id).await
}

/// [`with_log`] statement by statement: the ticket, its log, the users they name, its client.
/// SQLite's reading; on PostgreSQL the tests compare it with the one statement.
pub async fn with_log_by_statements(tx: &mut Tx, id: Uuid) -> Result<Option<WithLog>, DomainError> {
    let Some(row) = get(tx, id).await? else { return Ok(None) };
    let logs = super::logs(tx, id).await?;
    let mut ids: Vec<Uuid> = [Some(row.noc_id), row.state.foc_id].into_iter().flatten().collect();
    ids.extend(logs.iter().flat_map(|l| [l.actor_id, l.foc_before_id]).flatten());
    ids.sort();
    ids.dedup();
    let people = users::get_any_of(tx, &ids).await?;
    let client = match row.client_id {
        Some(cid) => clients::get(tx, cid).await?,
        None => None,
    };
    Ok(Some(WithLog { row, logs, people, client }))
}

async fn with_log_in_one(tx: &mut Tx, id: Uuid) -> Result<Option<WithLog>, DomainError> {
    use sqlx::types::Json;
    #[derive(sqlx::FromRow)]
    struct Found {
        #[sqlx(flatten)]
        row: TicketRow,
        logs: Json<Vec<LogRow>>,
        people: Json<Vec<UserRow>>,
        client: Option<Json<ClientRow>>,
    }
    let sql = with_log_sql();
    let found = db_read!(tx, |c| sqlx::query_as::<_, Found>(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id)
        .fetch_optional(&mut *c)
        .await?);
    Ok(found.map(|f| WithLog {
        row: f.row,
        logs: f.logs.0,
        people: f.people.0,
        client: f.client.map(|c| c.0),
    }))
}
