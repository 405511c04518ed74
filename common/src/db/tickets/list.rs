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
    /// The outage the tickets are linked to.
    pub parent_id: Option<Uuid>,
}

/// Over its SLA at `now`: a ticket with an SLA whose clock (stopped at closing) passed the due
/// time; `sla::sla_type` in SQL, for the list filter and the metrics. `t` is the table prefix.
fn over_sla(t: &str, now: DateTime<Utc>) -> Sql {
    let mut sql = Sql::new(format!("{t}sla_hours IS NOT NULL AND {t}sla_due_at < COALESCE({t}closed_at, "));
    sql.bind(now).push(")");
    sql
}

/// The list's conditions on `tickets` (alias `t`) for the filters that are set but the end
/// user's, and nothing for those that are not (so each combination gets a plan of its own).
fn filter_sql(f: &TicketFilter, now: DateTime<Utc>) -> Sql {
    let mut sql = Sql::default();
    if let Some(region) = f.region {
        sql.push(" AND t.region = ").bind(region);
    }
    if let Some(area) = &f.area {
        sql.push(" AND t.client_id IN (SELECT c.id FROM clients c JOIN areas a ON a.id = c.city_id WHERE a.name = ")
            .bind(area.as_str())
            .push(")");
    }
    if let Some(ticket_type) = f.ticket_type {
        sql.push(" AND t.type = ").bind(ticket_type);
    }
    if let Some(status) = f.status {
        sql.push(" AND t.status = ").bind(status);
    }
    if let Some(parent) = f.parent_id {
        sql.push(" AND t.parent_id = ").bind(parent);
    }
    match f.sla_type {
        None => {}
        Some(SlaType::NonSla) => {
            sql.push(" AND t.sla_hours IS NULL");
        }
        Some(SlaType::OverSla) => {
            sql.push(" AND ").append(&over_sla("t.", now));
        }
        Some(SlaType::UnderSla) => {
            sql.push(" AND t.sla_hours IS NOT NULL AND (t.sla_due_at IS NULL OR t.sla_due_at >= COALESCE(t.closed_at, ")
                .bind(now)
                .push("))");
        }
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
    let (role, region, me) = crate::db::access::scope_parts(scope);
    let rule = access::ticket_read_rule(role);
    let rule_on = |t: &str| rule_sql(&rule, t, region, me);
    let cols = COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ");
    let postgres = tx.is_postgres();
    let bound = page.offset.saturating_add(count_bound);
    let (sql, count_sql) = match like_pattern(f.end_user.as_deref()) {
        None => {
            let mut on_tickets = rule_on("t");
            on_tickets.append(&filter_sql(f, now));
            let mut sql = Sql::new(format!("SELECT {cols} FROM tickets t WHERE "));
            sql.append(&on_tickets).push(" ORDER BY t.created_at DESC, t.id DESC").append(&page_sql(page));
            let mut count = Sql::new("SELECT COUNT(*) FROM (SELECT 1 FROM tickets t WHERE ");
            count.append(&on_tickets).push(" LIMIT ").bind(bound).push(") m");
            (sql, count)
        }
        Some(pattern) => {
            // A rule that reads the region alone narrows the entries; any other reads the tickets.
            let region_only = rule.reads_region_only();
            let (mut on_entries, mut on_tickets) =
                if region_only { (rule_on("e"), Sql::new("TRUE")) } else { (Sql::new("TRUE"), rule_on("t")) };
            if let Some(r) = f.region {
                on_entries.push(" AND e.region = ").bind(r);
            }
            let entries = matching_entries(&pattern, &on_entries);
            let tickets_filtered =
                f.area.is_some() || f.ticket_type.is_some() || f.status.is_some() || f.sla_type.is_some();
            if region_only && !tickets_filtered {
                end_user_entries_sql(&pattern, &entries, &on_entries, &cols, page, bound, postgres)
            } else {
                on_tickets.append(&filter_sql(f, now));
                end_user_tickets_sql(&entries, &on_tickets, &cols, page, bound, postgres)
            }
        }
    };
    let counted = count_sql.fetch_count(tx).await?;
    let items = sql.fetch_all(tx).await?;
    Ok(Page { items, total: counted, total_exact: counted < bound, page })
}

/// ` LIMIT limit OFFSET offset`.
fn page_sql(page: PageRequest) -> Sql {
    let mut sql = Sql::new(" LIMIT ");
    sql.bind(page.limit).push(" OFFSET ").bind(page.offset);
    sql
}

/// The search table's entries (over `e`) of the names that match the end user `pattern` and
/// pass `on_entries`.
fn matching_entries(pattern: &str, on_entries: &Sql) -> Sql {
    let mut sql =
        Sql::new("e.end_user_lower IN (SELECT n.name_lower FROM end_user_names n WHERE n.name_lower LIKE ");
    sql.bind(pattern).push(" ESCAPE '\\') AND ").append(on_entries);
    sql
}

/// The page and count SQL of a search by end user that the search table's entries answer alone:
/// `on_entries` is the read rule and the region filter over `e`. Per matching name only its
/// newest `limit + offset` entries can be on the page; PostgreSQL reads just those (a lateral
/// walk of each name's index in list order), SQLite orders the names' entries.
fn end_user_entries_sql(
    pattern: &str,
    entries: &Sql,
    on_entries: &Sql,
    cols: &str,
    page: PageRequest,
    bound: i64,
    postgres: bool,
) -> (Sql, Sql) {
    let mut count = Sql::new("SELECT COUNT(*) FROM (SELECT 1 FROM ticket_end_users e WHERE ");
    count.append(entries).push(" LIMIT ").bind(bound).push(") m");
    let mut ids = Sql::default();
    if postgres {
        ids.push(
            "SELECT x.ticket_id FROM end_user_names n CROSS JOIN LATERAL (SELECT e.ticket_id, e.created_at \
             FROM ticket_end_users e WHERE e.end_user_lower = n.name_lower AND ",
        )
        .append(on_entries)
        .push(" ORDER BY e.created_at DESC, e.ticket_id DESC LIMIT ")
        .bind(page.limit)
        .push(" + ")
        .bind(page.offset)
        .push(") x WHERE n.name_lower LIKE ")
        .bind(pattern)
        .push(" ESCAPE '\\' ORDER BY x.created_at DESC, x.ticket_id DESC");
    } else {
        ids.push("SELECT e.ticket_id FROM ticket_end_users e WHERE ")
            .append(entries)
            .push(" ORDER BY e.created_at DESC, e.ticket_id DESC");
    }
    ids.append(&page_sql(page));
    let mut sql = Sql::new(format!("SELECT {cols} FROM tickets t WHERE t.id IN ("));
    sql.append(&ids).push(") ORDER BY t.created_at DESC, t.id DESC");
    (sql, count)
}

/// The page and count SQL of a search by end user with conditions on the tickets themselves
/// (`on_tickets`, over `t`; `entries` are the matching entries, over `e`): the entries in list
/// order lead to their tickets, which stops once a page passed. On PostgreSQL `OFFSET 0` keeps
/// the entries' order ahead of the join (the planner, expecting few entries, would join every
/// entry first and sort the tickets after).
fn end_user_tickets_sql(
    entries: &Sql,
    on_tickets: &Sql,
    cols: &str,
    page: PageRequest,
    bound: i64,
    postgres: bool,
) -> (Sql, Sql) {
    let fence = if postgres { " OFFSET 0" } else { "" };
    let mut sql = Sql::new(format!(
        "SELECT {cols} FROM (SELECT e.ticket_id, e.created_at FROM ticket_end_users e WHERE "
    ));
    sql.append(entries)
        .push(format!(" ORDER BY e.created_at DESC, e.ticket_id DESC{fence}) x JOIN tickets t ON t.id = x.ticket_id WHERE "))
        .append(on_tickets)
        .push(" ORDER BY x.created_at DESC, x.ticket_id DESC")
        .append(&page_sql(page));
    let mut count = Sql::new(
        "SELECT COUNT(*) FROM (SELECT 1 FROM ticket_end_users e JOIN tickets t ON t.id = e.ticket_id WHERE ",
    );
    count.append(entries).push(" AND ").append(on_tickets).push(" LIMIT ").bind(bound).push(") m");
    (sql, count)
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
    let mut sql = Sql::new("SELECT region, status, COUNT(*) AS tickets, COALESCE(SUM(CASE WHEN ");
    sql.append(&over_sla("", now)).push(
        " THEN 1 ELSE 0 END), 0) AS over_sla FROM tickets GROUP BY region, status ORDER BY region, status",
    );
    sql.fetch_all(tx).await
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
