//! Reading many tickets: the list with its filters and end-user search, the counts per status, and the SLA report's rows.

#[allow(unused_imports)]
use super::*;

/// Filters of the ticket list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub region: Option<Region>,
    /// An area name: tickets of clients in that city.
    pub area: Option<String>,
    pub ticket_type: Option<TicketType>,
    pub end_user: Option<String>,
    pub status: Option<Status>,
    pub sla_type: Option<SlaType>,
}

/// Over its SLA at `$now`: a ticket with an SLA whose clock (stopped at closing) passed the due
/// time; `sla::sla_type` in SQL, for the list filter and the metrics. `$t` is the table prefix.
macro_rules! over_sla {
    ($t:literal, $now:literal) => {
        concat!($t, "sla_hours IS NOT NULL AND ", $t, "sla_due_at < COALESCE(", $t, "closed_at, ", $now, ")")
    };
}

/// The list's conditions on `tickets` (alias `t`) for the filters that are set but the end
/// user's, and nothing for those that are not (so each combination gets a plan of its own).
/// Parameters: `$1` the caller's region, `$2` the caller, `$3` region, `$4` area name, `$5`
/// type, `$6` end user pattern, `$7` status, `$8` now.
fn filter_sql(f: &TicketFilter) -> String {
    let mut sql = String::new();
    if f.region.is_some() {
        sql.push_str(" AND t.region = $3");
    }
    if f.area.is_some() {
        sql.push_str(" AND t.client_id IN (SELECT c.id FROM clients c JOIN areas a ON a.id = c.city_id WHERE a.name = $4)");
    }
    if f.ticket_type.is_some() {
        sql.push_str(" AND t.type = $5");
    }
    if f.status.is_some() {
        sql.push_str(" AND t.status = $7");
    }
    match f.sla_type {
        None => {}
        Some(SlaType::NonSla) => sql.push_str(" AND t.sla_hours IS NULL"),
        Some(SlaType::OverSla) => sql.push_str(concat!(" AND ", over_sla!("t.", "$8"))),
        Some(SlaType::UnderSla) => sql.push_str(
            " AND t.sla_hours IS NOT NULL AND (t.sla_due_at IS NULL OR t.sla_due_at >= COALESCE(t.closed_at, $8))",
        ),
    }
    sql
}

/// Tickets the scope sees, filtered, newest first. Matches are counted up to `count_bound` past
/// the offset; beyond that the total is that bound and not exact (`total_exact: false`), so a
/// list costs an index walk of bounded length however many tickets there are.
///
/// A search by end user reads the search table (`ticket_end_users`, alias `e`), whose entries
/// are indexed per name newest first and carry the ticket's region and creation time: the
/// tickets of a family name are one in forty, too many to read each and too few to find soon in
/// a walk of all tickets. When nothing but the region narrows the search (the read rule of a
/// NOC or the SuperAdmin, the region filter), the entries alone answer it; otherwise the
/// entries, in list order, lead to their tickets until a page of them passes the other filters.
pub async fn list(
    tx: &mut Tx,
    scope: TicketScope,
    f: &TicketFilter,
    page: PageRequest,
    count_bound: i64,
    now: DateTime<Utc>,
) -> Result<Page<TicketRow>, DomainError> {
    let (role, region, me) = match scope {
        TicketScope::All => (Role::SuperAdmin, None, None),
        TicketScope::Region(r) => (Role::NOC, Some(r), None),
        TicketScope::Supervisor { region, me } => (Role::FOCSupervisor, Some(region), Some(me)),
        TicketScope::Technician { region, me } => (Role::FOC, Some(region), Some(me)),
    };
    let pattern = like_pattern(f.end_user.as_deref());
    let rule = access::ticket_read_rule(role);
    let cols = COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
    let postgres = matches!(tx, Tx::Postgres(_));
    let (sql, count_sql) = if pattern.is_none() {
        let (scope_sql, filters) = (rule.to_sql("t"), filter_sql(f));
        (
            format!(
                "SELECT {cols} FROM tickets t WHERE {scope_sql}{filters} ORDER BY t.created_at DESC, t.id DESC LIMIT $9 OFFSET $10"
            ),
            format!("SELECT COUNT(*) FROM (SELECT 1 FROM tickets t WHERE {scope_sql}{filters} LIMIT $9) m"),
        )
    } else {
        // A rule that reads the region alone narrows the entries; any other reads the tickets.
        let region_only = rule.reads_region_only();
        let (rule_on_entries, rule_on_tickets) = if region_only {
            (rule.to_sql("e"), "TRUE".to_owned())
        } else {
            ("TRUE".to_owned(), rule.to_sql("t"))
        };
        let region = if f.region.is_some() { " AND e.region = $3" } else { "" };
        let on_entries = format!("{rule_on_entries}{region}");
        let tickets_filtered =
            f.area.is_some() || f.ticket_type.is_some() || f.status.is_some() || f.sla_type.is_some();
        if region_only && !tickets_filtered {
            end_user_entries_sql(&on_entries, &cols, postgres)
        } else {
            end_user_tickets_sql(&on_entries, &format!("{rule_on_tickets}{}", filter_sql(f)), &cols, postgres)
        }
    };
    let bound = page.offset.saturating_add(count_bound);
    macro_rules! bind_filters {
        ($q:expr) => {
            $q.bind(region)
                .bind(me)
                .bind(f.region)
                .bind(&f.area)
                .bind(f.ticket_type)
                .bind(&pattern)
                .bind(f.status)
                .bind(now)
        };
    }
    db_run!(tx, |c| {
        let counted: i64 = bind_filters!(sqlx::query_scalar(sqlx::AssertSqlSafe(count_sql.as_str())))
            .bind(bound)
            .bind(0_i64)
            .fetch_one(&mut *c)
            .await?;
        let items = bind_filters!(sqlx::query_as::<_, TicketRow>(sqlx::AssertSqlSafe(sql.as_str())))
            .bind(page.limit)
            .bind(page.offset)
            .fetch_all(&mut *c)
            .await?;
        Ok(Page { items, total: counted, total_exact: counted < bound, page })
    })
}

/// The names that match the end user pattern `$6`.
const MATCHING_NAMES: &str =
    "SELECT n.name_lower FROM end_user_names n WHERE n.name_lower LIKE $6 ESCAPE '\\'";

/// The search table's entries of the matching names that pass `on_entries` (over `e`).
fn matching_entries(on_entries: &str) -> String {
    format!("e.end_user_lower IN ({MATCHING_NAMES}) AND {on_entries}")
}

/// The page and count SQL of a search by end user that the search table's entries answer alone:
/// `on_entries` is the read rule and the region filter over `e`. Per matching name only its
/// newest `limit + offset` entries can be on the page; PostgreSQL reads just those (a lateral
/// walk of each name's index in list order), SQLite orders the names' entries.
fn end_user_entries_sql(on_entries: &str, cols: &str, postgres: bool) -> (String, String) {
    let entries = matching_entries(on_entries);
    let count = format!("SELECT COUNT(*) FROM (SELECT 1 FROM ticket_end_users e WHERE {entries} LIMIT $9) m");
    let ids = if postgres {
        format!(
            "SELECT x.ticket_id FROM end_user_names n CROSS JOIN LATERAL (SELECT e.ticket_id, e.created_at \
             FROM ticket_end_users e WHERE e.end_user_lower = n.name_lower AND {on_entries} \
             ORDER BY e.created_at DESC, e.ticket_id DESC LIMIT $9 + $10) x \
             WHERE n.name_lower LIKE $6 ESCAPE '\\' ORDER BY x.created_at DESC, x.ticket_id DESC LIMIT $9 OFFSET $10"
        )
    } else {
        format!(
            "SELECT e.ticket_id FROM ticket_end_users e WHERE {entries} \
             ORDER BY e.created_at DESC, e.ticket_id DESC LIMIT $9 OFFSET $10"
        )
    };
    let page =
        format!("SELECT {cols} FROM tickets t WHERE t.id IN ({ids}) ORDER BY t.created_at DESC, t.id DESC");
    (page, count)
}

/// The page and count SQL of a search by end user with conditions on the tickets themselves
/// (`on_tickets`, over `t`; `on_entries` narrows the entries, over `e`): the matching entries in
/// list order lead to their tickets, which stops once a page passed. On PostgreSQL `OFFSET 0`
/// keeps the entries' order ahead of the join (the planner, expecting few entries, would join
/// every entry first and sort the tickets after).
fn end_user_tickets_sql(on_entries: &str, on_tickets: &str, cols: &str, postgres: bool) -> (String, String) {
    let entries = matching_entries(on_entries);
    let fence = if postgres { " OFFSET 0" } else { "" };
    let page = format!(
        "SELECT {cols} FROM (SELECT e.ticket_id, e.created_at FROM ticket_end_users e WHERE {entries} \
         ORDER BY e.created_at DESC, e.ticket_id DESC{fence}) x JOIN tickets t ON t.id = x.ticket_id \
         WHERE {on_tickets} ORDER BY x.created_at DESC, x.ticket_id DESC LIMIT $9 OFFSET $10"
    );
    let count = format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM ticket_end_users e JOIN tickets t ON t.id = e.ticket_id \
         WHERE {entries} AND {on_tickets} LIMIT $9) m"
    );
    (page, count)
}

/// Tickets per region and status, and how many of them are over their SLA at `now` (running
/// late, or closed late).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StatusCount {
    pub region: Region,
    pub status: Status,
    pub tickets: i64,
    pub over_sla: i64,
}

pub async fn status_counts(tx: &mut Tx, now: DateTime<Utc>) -> Result<Vec<StatusCount>, DomainError> {
    Ok(db_run!(tx, |c| {
        sqlx::query_as::<_, StatusCount>(concat!(
            "SELECT region, status, COUNT(*) AS tickets, COALESCE(SUM(CASE WHEN ",
            over_sla!("", "$1"),
            " THEN 1 ELSE 0 END), 0) AS over_sla FROM tickets GROUP BY region, status ORDER BY region, status"
        ))
        .bind(now)
        .fetch_all(&mut *c)
        .await?
    }))
}

/// What the SLA report needs of each ticket published in `[from, to)`, of `region` if given.
pub async fn report_tickets(
    tx: &mut Tx,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    region: Option<Region>,
    now: DateTime<Utc>,
) -> Result<Vec<report::ReportTicket>, DomainError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        ticket: TicketRow,
        isp_name: Option<String>,
    }
    let cols = COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
    let sql = format!(
        "SELECT {cols}, i.name AS isp_name FROM tickets t \
         LEFT JOIN clients c ON c.id = t.client_id LEFT JOIN isps i ON i.id = c.isp_id \
         WHERE t.published_at >= $1 AND t.published_at < $2 AND ($3 IS NULL OR t.region = $3)"
    );
    let rows: Vec<Row> = db_run!(tx, |c| {
        sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str()))
            .bind(from)
            .bind(to)
            .bind(region)
            .fetch_all(&mut *c)
            .await?
    });
    Ok(rows
        .into_iter()
        .map(|r| {
            let t = r.ticket;
            report::ReportTicket::of(&t.state, r.isp_name, t.customer_type, t.sla_type(now), now)
        })
        .collect())
}
