//! The SLA sweep's marks (`ticket_sla_marks`): which open tickets ran out of time or are about to.

#[allow(unused_imports)]
use super::*;

/// What one batch of an SLA sweep changed: tickets that just went over, just got close, or got
/// time back.
#[derive(Debug, Clone, Default)]
pub struct SlaSweep {
    pub breached: Vec<Uuid>,
    pub warned: Vec<Uuid>,
    pub cleared: Vec<Uuid>,
    /// Some kind filled its batch: more may be waiting.
    pub full: bool,
}

/// Where a sweep looks, and where its next batch goes on. A full sweep walks the due times of
/// every open ticket and clears the marks of those given time back; one that follows an
/// earlier sweep walks only the due times that came within reach since it (a change that moves
/// a ticket's due time removes its mark itself, see [`clear_sla_mark`]). Each batch moves the
/// walk on to the due time of the last ticket it marked, so a sweep of many batches reads each
/// due time once.
#[derive(Debug, Clone, Copy)]
pub struct SlaCursor {
    breached_from: DateTime<Utc>,
    /// Where the walk of breaches ends: the sweep's `now`, or for the first half of a split walk
    /// where the second begins.
    breached_until: Option<DateTime<Utc>>,
    warned_from: DateTime<Utc>,
    full: bool,
    /// Whether this walk also warns (and, when full, clears); the first half of a split walk
    /// leaves that to the second.
    warns: bool,
}

impl SlaCursor {
    /// A sweep of every open ticket.
    pub fn full() -> Self {
        Self {
            breached_from: DateTime::UNIX_EPOCH,
            breached_until: None,
            warned_from: DateTime::UNIX_EPOCH,
            full: true,
            warns: true,
        }
    }

    /// A sweep following one that ran at `now` and warned up to `warn_until`.
    pub fn since(now: DateTime<Utc>, warn_until: DateTime<Utc>) -> Self {
        Self { breached_from: now, breached_until: None, warned_from: warn_until, full: false, warns: true }
    }

    /// Splits the breaches still to walk (due times up to `now`) in two halves of due time, to
    /// be walked at once: answers the walk of the first half, which only marks breaches, and
    /// keeps the second, with the warnings and (when full) the clearing. `None` when this walk
    /// is a half already or has no due times left.
    pub fn split(&mut self, now: DateTime<Utc>) -> Option<SlaCursor> {
        if self.breached_until.is_some() || self.breached_from >= now {
            return None;
        }
        let middle = self.breached_from + (now - self.breached_from) / 2;
        let first = SlaCursor { breached_until: Some(middle), full: false, warns: false, ..*self };
        self.breached_from = middle;
        Some(first)
    }
}

/// Forgets what the SLA sweep said of a ticket whose due time a change moved: the next sweep
/// judges it afresh.
pub async fn clear_sla_mark(tx: &mut Tx, ticket_id: Uuid) -> Result<(), DomainError> {
    db_write!(tx, "DELETE FROM ticket_sla_marks WHERE ticket_id = $1", ticket_id)
}

/// Marks up to `batch` open tickets of each kind whose SLA ran out (`Breached`), runs out
/// before `warn_until` (`Warned`, also a breached one given a little time back), or (in a full
/// sweep) got time back beyond that (mark removed), in `ticket_sla_marks`, and moves `cursor`
/// on. Each ticket is reported once per change, also when two sweeps race (the loser's upsert
/// finds the mark already there).
pub async fn sweep_sla(
    tx: &mut Tx,
    now: DateTime<Utc>,
    warn_until: DateTime<Utc>,
    cursor: &mut SlaCursor,
    batch: i64,
) -> Result<SlaSweep, DomainError> {
    let breached_until = cursor.breached_until.map_or(now, |until| until.min(now));
    let breaching = candidates(tx, "Breached", cursor.breached_from, breached_until, batch).await?;
    let warning = match cursor.warns {
        true => candidates(tx, "Warned", cursor.warned_from.max(now), warn_until, batch).await?,
        false => Vec::new(),
    };
    if let Some((_, at)) = breaching.last() {
        cursor.breached_from = *at;
    }
    if let Some((_, at)) = warning.last() {
        cursor.warned_from = *at;
    }
    let cleared = if cursor.full {
        db_run!(tx, |c| {
            sqlx::query_scalar::<_, Uuid>(
                "DELETE FROM ticket_sla_marks WHERE ticket_id IN (SELECT m.ticket_id FROM ticket_sla_marks m \
                 JOIN tickets t ON t.id = m.ticket_id WHERE t.status <> 'Closed' AND t.sla_due_at >= $1 LIMIT $2) \
                 RETURNING ticket_id",
            )
            .bind(warn_until)
            .bind(batch)
            .fetch_all(&mut *c)
            .await?
        })
    } else {
        Vec::new()
    };
    let full = [breaching.len(), warning.len(), cleared.len()].iter().any(|&n| n as i64 >= batch);
    let breached = mark(tx, &breaching, "Breached").await?;
    let warned = mark(tx, &warning, "Warned").await?;
    Ok(SlaSweep { breached, warned, cleared, full })
}

/// Open tickets due in `[from, until)` and not yet marked `state`, by due time, up to `limit`.
async fn candidates(
    tx: &mut Tx,
    state: &'static str,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(Uuid, DateTime<Utc>)>, DomainError> {
    let sql = format!(
        "SELECT t.id, t.sla_due_at FROM tickets t WHERE t.status <> 'Closed' AND t.sla_due_at >= $1 \
         AND t.sla_due_at < $2 AND NOT EXISTS (SELECT 1 FROM ticket_sla_marks m WHERE m.ticket_id = t.id \
         AND m.state = '{state}') ORDER BY t.sla_due_at LIMIT $3"
    );
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, (Uuid, DateTime<Utc>)>(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(from)
            .bind(until)
            .bind(limit)
            .fetch_all(&mut *c)
            .await?
    }))
}

/// Marks `tickets` `state` (upserted); the ones whose mark changed.
async fn mark(tx: &mut Tx, tickets: &[(Uuid, DateTime<Utc>)], state: &str) -> Result<Vec<Uuid>, DomainError> {
    const UPSERT: &str = "ON CONFLICT (ticket_id) DO UPDATE SET state = excluded.state \
                          WHERE ticket_sla_marks.state <> excluded.state RETURNING ticket_id";
    let ids: Vec<Uuid> = tickets.iter().map(|(id, _)| *id).collect();
    match tx.conn().await? {
        Conn::Postgres(t) => {
            let sql = format!(
                "INSERT INTO ticket_sla_marks (ticket_id, state) SELECT id, $2 FROM UNNEST($1::uuid[]) AS u(id) {UPSERT}"
            );
            Ok(sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(sql))
                .bind(&ids)
                .bind(state)
                .fetch_all(&mut **t)
                .await?)
        }
        Conn::Sqlite(t) => {
            // In process, a statement per ticket costs no round trip.
            let sql = format!("INSERT INTO ticket_sla_marks (ticket_id, state) VALUES ($1, $2) {UPSERT}");
            let mut changed = Vec::with_capacity(ids.len());
            for id in ids {
                let row = sqlx::query_scalar::<_, Uuid>(sqlx::AssertSqlSafe(sql.as_str()))
                    .bind(id)
                    .bind(state)
                    .fetch_optional(&mut **t)
                    .await?;
                changed.extend(row);
            }
            Ok(changed)
        }
    }
}
