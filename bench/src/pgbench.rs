//! The database's own figures on this machine, by pgbench over TCP like the app: its ceiling (a
//! transaction shaped like one ticket transition: update one row, insert one log row, insert one
//! job row, on a database of its own), and the statements of one of our transitions and of one
//! document read replayed on the benchmark's database without the API (what PostgreSQL alone
//! makes of them).

use anyhow::{Context, bail};

const SETUP: &str = "CREATE TABLE t (id int PRIMARY KEY, version bigint NOT NULL, status text NOT NULL, updated_at timestamptz NOT NULL);
INSERT INTO t SELECT g, 1, 'Open', now() FROM generate_series(1, 100000) g;
CREATE TABLE l (id bigserial PRIMARY KEY, ticket int NOT NULL, body text NOT NULL, at timestamptz NOT NULL);
CREATE TABLE j (id bigserial PRIMARY KEY, queue text NOT NULL, payload bytea NOT NULL, run_at timestamptz NOT NULL, status text NOT NULL);
ANALYZE;";

const SCRIPT: &str = "\\set id random(1, 100000)
BEGIN;
UPDATE t SET version = version + 1, status = 'Accepted', updated_at = now() WHERE id = :id;
INSERT INTO l (ticket, body, at) VALUES (:id, 'a transition of the ticket', now());
INSERT INTO j (queue, payload, run_at, status) VALUES ('cgs.sync_ticket', '\\x7b7d', now(), 'Pending');
END;
";

/// What pgbench made of a script: transactions per second, and where the CPU went meanwhile
/// ([`crate::cpu::Cpu::per_op`], per transaction).
pub struct Run {
    pub tps: f64,
    pub cpu: String,
}

/// What pgbench reaches with the ceiling's transaction, `clients` connections for `seconds`.
pub async fn ceiling(server: &str, clients: usize, seconds: u64) -> anyhow::Result<Run> {
    use sqlx::Connection;
    let name = format!("cgs_test_pgbench_{}", uuid::Uuid::new_v4().simple());
    let mut c = sqlx::PgConnection::connect(server).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await?;
    let url = crate::database_url(server, &name);
    let mut db = sqlx::PgConnection::connect(&url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(SETUP)).execute(&mut db).await?;
    db.close().await?;
    let tps = run(&url, SCRIPT, &["-M", "simple"], clients, seconds);
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}"))).execute(&mut c).await?;
    tps
}

/// What pgbench makes of the statements of one ticket transition as the API runs them
/// (`common::db::Db::begin_command`: the read of `common::db::tickets::get_watched` without
/// `BEGIN`, then the state's version-guarded update with the log entry and the live-feed row as
/// one statement of deferred writes committed by itself, see `common::db::Tx`; the session
/// check is answered from the API's cache), replayed by pgbench with `clients` connections for
/// `seconds` on the load benchmark's database `url` (tickets `SEED-1` to `SEED-<tickets>`), as
/// prepared statements like the app's. Each transaction reads a random seeded ticket, writes
/// its state guarded by its version, and appends a technician's log entry with a live-feed row.
pub async fn replay(url: &str, tickets: u64, clients: usize, seconds: u64) -> anyhow::Result<Run> {
    let user = technician(url).await?;
    let columns = common::db::tickets::COLUMNS;
    // Each client its own tickets, as each of the load's clients works on its own: of two
    // writes racing on one ticket the second fails by design (`cgs_expect_row`), and pgbench
    // stops a client at an error. The read's columns are set as `r_...` (`client_id` is
    // pgbench's own).
    let per_client = (tickets / clients as u64).max(1) - 1;
    let script = format!(
        "\\set n 1 + :client_id + {clients} * random(0, {per_client})
SELECT id AS tid, version AS ver, {columns}, EXISTS (SELECT 1 FROM webhooks WHERE deleted_at IS NULL) AS webhooks FROM tickets WHERE ticket_id = 'SEED-' || :n \\gset r_
WITH w0 AS (UPDATE tickets SET version = version + 1, status = CASE WHEN status = 'Open' THEN 'Accepted' ELSE 'Open' END, status_before = status, need_validate = false, awaiting_evidence = NULL, foc_id = NULL, link_check_approved = false, canceled = false, published_at = published_at, accepted_at = now(), departure_at = NULL, check_in_at = NULL, on_going_at = NULL, closed_at = closed_at, pending_evidence = NULL, pending_started_at = NULL, pending_minutes = NULL, resume_status = NULL, total_pending_seconds = 0, work_pending_seconds = 0, sla_due_at = sla_due_at, updated_at = now(), pending_category = NULL, parent_id = NULL WHERE id = :r_tid AND version = :r_ver RETURNING 1), \
w1 AS (INSERT INTO ticket_logs (id, ticket_id, seq, card_type, status_name, title, description, actor_id, actor_name, actor_photo, evidence_id, need_approval, is_approved, approval_remark, remark, location_coordinate, media_url, pending_minutes, pending_category, cancel_category, is_resumed, foc_before_id, created_at, media_key, distance_meters, distance_note, photo_coordinate, photo_taken_at, photo_distance_meters, reused_from, reused_from_number, flags) SELECT gen_random_uuid(), :r_tid, COALESCE(MAX(seq), 0) + 1, 'SimpleStatus', 'Accepted', 'Ticket accepted', 'replayed', :uid, 'FOC', NULL, NULL, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, now(), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM ticket_logs WHERE ticket_id = :r_tid), \
w2 AS (INSERT INTO ticket_events (ticket_id, region, status, foc_id, at) VALUES (:r_tid, 'West', 'Open', NULL, now())) \
SELECT cgs_expect_row(EXISTS (SELECT 1 FROM w0));
"
    );
    let uid = format!("uid={user}");
    run(url, &script, &["-M", "prepared", "-D", &uid], clients, seconds)
}

/// What pgbench makes of the statements of `GET /v1/tickets/{id}` as the API runs them
/// (`common::db::tickets::with_log`: the ticket with its log as JSON, then the users they name;
/// a seeded ticket has no client, so no client read), replayed by pgbench like [`replay`] on
/// random seeded tickets, outside a transaction as the API reads them on PostgreSQL.
pub async fn replay_read(url: &str, tickets: u64, clients: usize, seconds: u64) -> anyhow::Result<Run> {
    let read = common::db::tickets::with_log_sql().replace("$1", &crate::seed::ticket_id_sql(":n::int"));
    let users = common::db::users::SELECT;
    let script = format!("\\set n random(1, {tickets})\n{read} \\gset\n{users} WHERE u.id IN (:noc_id);\n");
    run(url, &script, &["-M", "prepared"], clients, seconds)
}

/// The first technician the load benchmark created.
async fn technician(url: &str) -> anyhow::Result<uuid::Uuid> {
    use sqlx::Connection;
    let mut db = sqlx::PgConnection::connect(url).await?;
    let user = sqlx::query_scalar("SELECT id FROM users WHERE role = 'FOC' ORDER BY created_at LIMIT 1")
        .fetch_one(&mut db)
        .await
        .context("a technician (the load benchmark creates them)")?;
    db.close().await?;
    Ok(user)
}

/// Runs pgbench with `script` on `url`: its transactions per second, and where the CPU went.
fn run(url: &str, script: &str, args: &[&str], clients: usize, seconds: u64) -> anyhow::Result<Run> {
    let path = std::env::temp_dir().join(format!("cgs-pgbench-{}.sql", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, script)?;
    let cpu = crate::cpu::Cpu::now(None, true);
    let out = std::process::Command::new(pgbench_path())
        .args(["-n", "-f"])
        .arg(&path)
        .args(args)
        .args(["-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string(), url])
        .output()
        .context("running pgbench (Debian: postgresql-contrib or the server package)");
    let cpu_after = crate::cpu::Cpu::now(None, true);
    let _ = std::fs::remove_file(&path);
    let out = out?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    }
    let tps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("tps = ").and_then(|v| v.split_whitespace().next()?.parse().ok()))
        .with_context(|| format!("no tps in pgbench's output: {text}"))?;
    let transactions = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("number of transactions actually processed: ")?
                .split('/')
                .next()?
                .parse()
                .ok()
        })
        .with_context(|| format!("no transaction count in pgbench's output: {text}"))?;
    Ok(Run { tps, cpu: cpu.per_op(&cpu_after, transactions) })
}

fn pgbench_path() -> std::path::PathBuf {
    if let Ok(dir) = std::fs::read_dir("/usr/lib/postgresql") {
        for entry in dir.flatten() {
            let p = entry.path().join("bin/pgbench");
            if p.exists() {
                return p;
            }
        }
    }
    "pgbench".into()
}
