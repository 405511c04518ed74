//! The operator's subcommands of the `cgs-api` binary.

use std::process::Command;

use crate::helpers::*;

fn cgs_api(db: &str, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cgs-api"))
        .args(args)
        .env("DATABASE_URL", db)
        .env_remove("FIRESTORE_PROJECT_ID")
        .envs(env.iter().copied())
        .output()
        .expect("cgs-api runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_operator_subcommands_create_admins_resync_and_show_failed_jobs() {
    let path = std::env::temp_dir().join(format!("cgs-cli-{}.db", uuid::Uuid::new_v4().simple()));
    let db = format!("sqlite://{}?mode=rwc", path.display());
    let (ok, out, err) = cgs_api(&db, &["migrate"], &[("CGS_LOG_FORMAT", "text"), ("RUST_LOG", "info")]);
    assert!(ok, "{out}{err}");
    // Text logs to a pipe or a file carry no terminal colour codes.
    assert!(err.contains("migrations applied"), "{err}");
    assert!(!err.contains('\u{1b}'), "escape codes in a log that is not a terminal: {err:?}");
    let upper = ADMIN_EMAIL.to_uppercase();
    let (ok, out, err) = cgs_api(
        &db,
        &["create-admin", "--email", &upper, "--nik", "OPS1"],
        &[("CGS_NEW_ADMIN_PASSWORD", ADMIN_PASSWORD)],
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains(&format!("created SuperAdmin {ADMIN_EMAIL}")), "{out}");
    assert!(!out.contains(ADMIN_PASSWORD) && !err.contains(ADMIN_PASSWORD), "the password is never printed");
    let (ok, _, err) = cgs_api(
        &db,
        &["create-admin", "--email", "x@cgs.test", "--nik", "X"],
        &[("CGS_NEW_ADMIN_PASSWORD", "short")],
    );
    assert!(!ok && err.contains("password"), "{err}");
    // The new admin logs in to an app on that database (spawn_app logs in with its credentials).
    let p = db.clone();
    let app = spawn_app_with(Backend::Sqlite, move |s| s.database_url = p).await.unwrap();
    let id = app
        .post(
            "/v1/tickets",
            &app.admin,
            serde_json::json!({"type": "Trouble", "source": "Phone", "region": "East",
        "indicationCategory": "Device", "networkSegment": "Access"}),
        )
        .await
        .id();
    assert!(!id.is_empty());
    app.shutdown().await;
    let (ok, _, err) = cgs_api(&db, &["resync"], &[]);
    assert!(!ok && err.contains("FIRESTORE_PROJECT_ID"), "{err}");
    let (ok, out, err) = cgs_api(&db, &["resync"], &[("FIRESTORE_PROJECT_ID", "demo")]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("enqueued the sync of 1 tickets"), "{out}");
    let (ok, out, _) = cgs_api(&db, &["failed-jobs"], &[]);
    assert!(ok && out.contains("no failed jobs"), "{out}");
    let (ok, _, err) = cgs_api(&db, &["retry-job", "nope"], &[]);
    assert!(!ok && err.contains("no failed job nope"), "{err}");
    let (ok, out, _) = cgs_api(&db, &["firestore-rules"], &[]);
    assert!(ok && out.contains("allow write: if false;"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_healthcheck_subcommands_say_whether_the_server_and_database_answer() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let listen = app.addr.to_string();
    let (ok, out, err) = cgs_api(&app.db_url, &["healthcheck"], &[("CGS_LISTEN", &listen)]);
    assert!(ok && out.contains("ready"), "{out}{err}");
    // Listening on every address: the check asks the loopback.
    let every = format!("0.0.0.0:{}", app.addr.port());
    let (ok, _, _) = cgs_api(&app.db_url, &["healthcheck"], &[("CGS_LISTEN", &every)]);
    assert!(ok);
    app.shutdown().await;
    let (ok, _, err) = cgs_api("sqlite::memory:", &["healthcheck"], &[("CGS_LISTEN", &listen)]);
    assert!(!ok && err.contains("connecting"), "{err}");

    let worker = |db: &str| {
        Command::new(env!("CARGO_BIN_EXE_cgs-api").replace("cgs-api", "cgs-worker"))
            .arg("healthcheck")
            .env("DATABASE_URL", db)
            .output()
            .expect("cgs-worker runs")
    };
    let out = worker("sqlite::memory:");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = worker("postgres://nobody@127.0.0.1:1/none");
    assert!(!out.status.success());
}
