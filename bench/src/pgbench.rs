//! The database's own ceiling on this machine: pgbench running a transaction shaped like one
//! ticket transition (update one row, insert one log row, insert one job row) on a database of
//! its own, over TCP like the app.

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

/// Transactions per second pgbench reaches with `clients` connections for `seconds`.
pub async fn ceiling(server: &str, clients: usize, seconds: u64) -> anyhow::Result<f64> {
    use sqlx::Connection;
    let name = format!("cgs_test_pgbench_{}", uuid::Uuid::new_v4().simple());
    let mut c = sqlx::PgConnection::connect(server).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut c).await?;
    let base = server.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap_or(server.to_owned());
    let url = format!("{base}/{name}");
    let mut db = sqlx::PgConnection::connect(&url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(SETUP)).execute(&mut db).await?;
    db.close().await?;
    let script = std::env::temp_dir().join(format!("{name}.sql"));
    std::fs::write(&script, SCRIPT)?;
    let out = std::process::Command::new(pgbench_path())
        .args(["-n", "-f"])
        .arg(&script)
        .args(["-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string(), &url])
        .output()
        .context("running pgbench (Debian: postgresql-contrib or the server package)")?;
    let _ = std::fs::remove_file(&script);
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}"))).execute(&mut c).await?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
    }
    text.lines()
        .find_map(|l| l.trim().strip_prefix("tps = ").and_then(|v| v.split_whitespace().next()?.parse().ok()))
        .with_context(|| format!("no tps in pgbench's output: {text}"))
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
