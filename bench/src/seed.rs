//! Bulk seeding for the benchmarks: tickets with one log entry each, in one statement per table
//! on either backend. A ticket `SEED-n` was published `10·n` seconds ago with a 24-hour SLA;
//! every `open_of_5` of each five is `Open` (so many run over their SLA), the rest `Closed` two
//! hours after publishing.

use common::db::Db;
use uuid::Uuid;

/// The id of the seeded ticket `SEED-n` on PostgreSQL, as SQL of the integer expression `n`:
/// the load benchmark's replay of a document read computes the id the API is given.
pub fn ticket_id_sql(n: &str) -> String {
    format!("('00000000-0000-4000-8000-' || lpad(to_hex({n}), 12, '0'))::uuid")
}

pub async fn tickets(db: &Db, n: u64, noc: Uuid) -> anyhow::Result<()> {
    tickets_open(db, n, noc, 2).await
}

async fn tickets_open(db: &Db, n: u64, noc: Uuid, open_of_5: u64) -> anyhow::Result<()> {
    let n = n as i64;
    let open = open_of_5 as i64;
    match db {
        Db::Postgres(pool, ..) => {
            let sql = format!(
                "INSERT INTO tickets (id, ticket_id, version, region, end_user, customer_type, sla_hours, sla_due_at, \
                 type, source, network_segment, indication_category, contact_person, noc_id, status, need_validate, \
                 link_check_approved, canceled, published_at, closed_at, total_pending_seconds, work_pending_seconds, \
                 created_at, updated_at) \
                 SELECT {id}, 'SEED-' || g, 1, (ARRAY['West','Central','East'])[1 + g % 3], \
                 {name}, 'Broadband', 24, \
                 now() - make_interval(secs => g * 10) + interval '24 hours', \
                 CASE WHEN g % 5 = 0 THEN 'Maintenance' ELSE 'Trouble' END, 'Phone', 'Access', 'FiberCut', '[]', $1, \
                 CASE WHEN g % 5 < $3 THEN 'Open' ELSE 'Closed' END, false, false, false, \
                 now() - make_interval(secs => g * 10), \
                 CASE WHEN g % 5 < $3 THEN NULL ELSE now() - make_interval(secs => g * 10) + interval '2 hours' END, \
                 0, 0, now() - make_interval(secs => g * 10), now() - make_interval(secs => g * 10) \
                 FROM generate_series(1, $2) g",
                id = ticket_id_sql("g"),
                name = end_user_sql(),
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(noc).bind(n).bind(open).execute(pool).await?;
            sqlx::query(
                "INSERT INTO ticket_logs (id, ticket_id, seq, card_type, status_name, title, description, actor_id, \
                 actor_name, need_approval, created_at) \
                 SELECT gen_random_uuid(), id, 1, 'SimpleStatus', 'Open', 'Ticket opened', 'seeded', noc_id, 'NOC 0', \
                 false, created_at FROM tickets WHERE ticket_id LIKE 'SEED-%'",
            )
            .execute(pool)
            .await?;
            sqlx::query("VACUUM ANALYZE").execute(pool).await?;
        }
        Db::Sqlite(pool, _) => {
            let ago = |extra: &str| {
                format!("strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-' || (g * 10) || ' seconds'{extra})")
            };
            let sql = format!(
                "INSERT INTO tickets (id, ticket_id, version, region, end_user, customer_type, sla_hours, sla_due_at, \
                 type, source, network_segment, indication_category, contact_person, noc_id, status, need_validate, \
                 link_check_approved, canceled, published_at, closed_at, total_pending_seconds, work_pending_seconds, \
                 created_at, updated_at) \
                 WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < $2) \
                 SELECT randomblob(16), 'SEED-' || g, 1, CASE g % 3 WHEN 0 THEN 'West' WHEN 1 THEN 'Central' ELSE 'East' END, \
                 {name}, 'Broadband', 24, {due}, \
                 CASE WHEN g % 5 = 0 THEN 'Maintenance' ELSE 'Trouble' END, 'Phone', 'Access', 'FiberCut', '[]', $1, \
                 CASE WHEN g % 5 < $3 THEN 'Open' ELSE 'Closed' END, 0, 0, 0, {at}, \
                 CASE WHEN g % 5 < $3 THEN NULL ELSE {closed} END, 0, 0, {at}, {at} FROM s",
                name = end_user_sql(),
                due = ago(", '+24 hours'"),
                at = ago(""),
                closed = ago(", '+2 hours'"),
            );
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(noc).bind(n).bind(open).execute(pool).await?;
            sqlx::query(
                "INSERT INTO ticket_logs (id, ticket_id, seq, card_type, status_name, title, description, actor_id, \
                 actor_name, need_approval, created_at) \
                 SELECT randomblob(16), id, 1, 'SimpleStatus', 'Open', 'Ticket opened', 'seeded', noc_id, 'NOC 0', \
                 0, created_at FROM tickets WHERE ticket_id LIKE 'SEED-%'",
            )
            .execute(pool)
            .await?;
            sqlx::query("ANALYZE").execute(pool).await?;
        }
    }
    Ok(())
}

/// Given and family names of the seeded customers: ticket `g` is for `GIVEN[g % 50]
/// FAMILY[(g / 50) % 40]`, so 2000 customers share the tickets, a few hundred each at 1M, and a
/// family name is shared by one ticket in 40.
const GIVEN: [&str; 50] = [
    "Adi", "Agus", "Ahmad", "Andi", "Anisa", "Ayu", "Bambang", "Bayu", "Budi", "Citra", "Dani", "Dewi",
    "Dian", "Dimas", "Eka", "Fajar", "Fitri", "Gilang", "Hadi", "Hendra", "Indah", "Intan", "Irfan", "Joko",
    "Kartika", "Lestari", "Lina", "Made", "Maya", "Nanda", "Novi", "Nur", "Putri", "Rahmat", "Rina", "Rizky",
    "Sari", "Siti", "Slamet", "Sri", "Taufik", "Tika", "Umar", "Vina", "Wahyu", "Wati", "Wulan", "Yanti",
    "Yoga", "Yusuf",
];
const FAMILY: [&str; 40] = [
    "Anggraini",
    "Ardiansyah",
    "Gunawan",
    "Halim",
    "Hakim",
    "Harahap",
    "Hidayat",
    "Irawan",
    "Kurniawan",
    "Kusuma",
    "Lubis",
    "Maulana",
    "Nasution",
    "Nugroho",
    "Pane",
    "Permana",
    "Pohan",
    "Prasetyo",
    "Pratama",
    "Purnomo",
    "Putra",
    "Rahayu",
    "Ramadhan",
    "Saputra",
    "Setiawan",
    "Siregar",
    "Simanjuntak",
    "Sinaga",
    "Situmorang",
    "Susanto",
    "Syahputra",
    "Tambunan",
    "Tanjung",
    "Utomo",
    "Wibowo",
    "Wijaya",
    "Winata",
    "Yulianto",
    "Zulkarnain",
    "Handoko",
];

/// The seeded customer's name of row `g`, in SQL both backends read.
fn end_user_sql() -> String {
    let case = |names: &[&str], index: &str| {
        let arms: String = names.iter().enumerate().map(|(i, n)| format!(" WHEN {i} THEN '{n}'")).collect();
        format!("CASE {index}{arms} END")
    };
    format!(
        "({} || ' ' || {})",
        case(&GIVEN, &format!("g % {}", GIVEN.len())),
        case(&FAMILY, &format!("(g / {}) % {}", GIVEN.len(), FAMILY.len()))
    )
}

/// Up to `n` ids of seeded tickets, spread over the table.
pub async fn sample_ids(db: &Db, n: i64) -> anyhow::Result<Vec<Uuid>> {
    let sql = "SELECT id FROM tickets WHERE ticket_id LIKE 'SEED-%' ORDER BY random() LIMIT $1";
    Ok(match db {
        Db::Postgres(pool, ..) => sqlx::query_scalar(sql).bind(n).fetch_all(pool).await?,
        Db::Sqlite(pool, _) => sqlx::query_scalar(sql).bind(n).fetch_all(pool).await?,
    })
}
