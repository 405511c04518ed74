//! The PostgreSQL connections requests and jobs take (`common::db::pg_conns`): one whose
//! transaction ended is kept and reused without the pool's round trip; any other goes back
//! through the pool's check, its open transaction rolled back first.

use std::time::{Duration, Instant};

use common::db::Db;
use sqlx::{Connection, PgConnection, PgPool};

use crate::helpers::*;

/// A pool of at most `max` connections on a new database, and that database's URL.
async fn pool(max: u32) -> Option<(Db, String)> {
    let (url, _) = fresh_database(Backend::Postgres).await?;
    Some((Db::connect(&url, max).await.expect("connect"), url))
}

fn parts(db: &Db) -> (&PgPool, &std::sync::Arc<common::db::pg_conns::Conns>) {
    match db {
        Db::Postgres(pool, _, conns) => (pool, conns),
        Db::Sqlite(..) => unreachable!("a PostgreSQL database"),
    }
}

async fn backend_pid(conn: &mut PgConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()").fetch_one(conn).await.expect("pid")
}

/// Waits (at most 10 s) until the pool holds `idle` idle connections.
async fn pool_idle(pool: &PgPool, idle: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.num_idle() != idle {
        assert!(Instant::now() < deadline, "the pool holds {} idle connections, not {idle}", pool.num_idle());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_transaction_ended_is_reused_without_going_back_to_the_pool() {
    let Some((db, _)) = pool(4).await else { return };
    let (pool, conns) = parts(&db);
    let mut conn = conns.acquire().await.unwrap();
    let pid = backend_pid(&mut conn).await;
    conn.ended();
    drop(conn);
    // The pool's check runs in a task of its own: give it the time it would take.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(pool.num_idle(), 0, "kept aside, not given back to the pool");
    let mut again = conns.acquire().await.unwrap();
    assert_eq!(backend_pid(&mut again).await, pid, "the same connection again");
    again.ended();
    drop(again);

    // The app's transactions: one committed, one of reads.
    let tx = db.begin().await.unwrap();
    tx.commit().await.unwrap();
    let tx = db.read().await.unwrap();
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(pool.num_idle(), 0, "kept aside after a commit");
    let mut again = conns.acquire().await.unwrap();
    assert_eq!(backend_pid(&mut again).await, pid);
    again.ended();
    drop(again);

    // Closing gives the kept connection back first: the pool's close waits for it otherwise.
    tokio::time::timeout(Duration::from_secs(10), db.close()).await.expect("the pool closes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_dropped_in_a_transaction_is_rolled_back_before_it_is_handed_out_again() {
    let Some((db, url)) = pool(4).await else { return };
    let (pool, conns) = parts(&db);
    sqlx::query("CREATE TABLE probe (n int)").execute(pool).await.unwrap();
    pool_idle(pool, 1).await;
    let idle_before = pool.num_idle();

    let mut conn = conns.acquire().await.unwrap();
    conn.begin().await.unwrap();
    sqlx::query("INSERT INTO probe VALUES (1)").execute(&mut *conn).await.unwrap();
    let pid = backend_pid(&mut conn).await;
    conn.ended(); // Marked, but a transaction is still open: not kept.
    drop(conn);
    pool_idle(pool, idle_before).await;

    let mut outside = PgConnection::connect(&url).await.unwrap();
    let (state, rows): (Option<String>, i64) = sqlx::query_as(
        "SELECT (SELECT state FROM pg_stat_activity WHERE pid = $1), (SELECT count(*) FROM probe)",
    )
    .bind(pid)
    .fetch_one(&mut outside)
    .await
    .unwrap();
    assert_eq!(state.as_deref(), Some("idle"), "back in the pool outside any transaction");
    assert_eq!(rows, 0, "its write rolled back");
    let mut again = conns.acquire().await.unwrap();
    assert_eq!(backend_pid(&mut again).await, pid, "the pool's idle connection");
    let in_old: bool = sqlx::query_scalar("SELECT txid_current_if_assigned() IS NOT NULL")
        .fetch_one(&mut *again)
        .await
        .unwrap();
    assert!(!in_old, "not in the transaction that wrote");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_kept_a_second_goes_back_to_the_pool() {
    let Some((db, _)) = pool(4).await else { return };
    let (pool, conns) = parts(&db);
    let mut conn = conns.acquire().await.unwrap();
    backend_pid(&mut conn).await;
    conn.ended();
    drop(conn);
    assert_eq!(pool.num_idle(), 0);
    pool_idle(pool, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_going_from_request_to_request_goes_back_to_the_pool_in_time() {
    let Some((db, _)) = pool(4).await else { return };
    let (pool, _) = parts(&db);
    let conns = common::db::pg_conns::Conns::new(
        pool.clone(),
        4,
        Duration::from_secs(10),
        Duration::from_millis(300),
    );
    let start = Instant::now();
    loop {
        // Taken again within 20 ms each time: never kept long enough to go back for that.
        let mut conn = conns.acquire().await.unwrap();
        backend_pid(&mut conn).await;
        conn.ended();
        drop(conn);
        tokio::time::sleep(Duration::from_millis(20)).await;
        if pool.num_idle() == 1 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never went back to the pool");
    }
    assert!(start.elapsed() >= Duration::from_millis(300), "not before its time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_leave_one_connection_of_the_pool_to_its_other_callers() {
    let Some((db, _)) = pool(3).await else { return };
    let (pool, conns) = parts(&db);
    let _a = conns.acquire().await.unwrap();
    let _b = conns.acquire().await.unwrap();
    assert!(
        tokio::time::timeout(Duration::from_millis(300), conns.acquire()).await.is_err(),
        "a third waits for one of the two"
    );
    let mut other = tokio::time::timeout(Duration::from_secs(5), pool.acquire())
        .await
        .expect("the pool's own caller is not kept waiting")
        .unwrap();
    backend_pid(&mut other).await;
}
