//! Binaries, ports, readiness and polling.

#[allow(unused_imports)]
use super::*;

/// A loopback port reserved for this test from choosing to binding (see
/// [`peers::reserve_port`]), for a process that must be told its port before it binds it.
pub fn free_port() -> u16 {
    peers::reserve_port()
}

/// The `cgs-api` binary on `db`, listening on `port`, with the test admin; stdout discarded.
pub fn cgs_api_command(db: &str, port: u16) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cgs-api"));
    cmd.env("DATABASE_URL", db)
        .env("CGS_LISTEN", format!("127.0.0.1:{port}"))
        .env("CGS_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("CGS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(std::process::Stdio::null());
    cmd
}

/// A started binary or local peer, killed if the test ends before it stopped.
pub struct Running(pub std::process::Child);

impl Running {
    pub fn spawn(mut cmd: std::process::Command) -> Self {
        Running(cmd.spawn().expect("the binary starts"))
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let ok = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.0.id().to_string())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -TERM");
    }

    /// Waits until the process exits; fails the test after `secs` seconds.
    pub async fn wait_exit(&mut self, secs: u64) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "the process did not stop within {secs} s");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

impl Running {
    /// Kills it (again is harmless).
    pub fn stop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until the server at `base` answers `/readyz` with 200.
pub async fn wait_ready(base: &str) {
    let client = reqwest::Client::new();
    wait_until(60, "cgs-api is ready", || async {
        client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == 200)
    })
    .await;
}

/// Logs the test admin in at `base`; returns the token.
pub async fn admin_login(client: &reqwest::Client, base: &str) -> String {
    let r: Value = client
        .post(format!("{base}/v1/login"))
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["data"]["token"].as_str().unwrap().to_owned()
}

/// Runs one SQL query that answers a single integer on the database at `url`.
pub async fn db_scalar(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut c).await.unwrap()
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query_scalar::<_, i64>(sql).fetch_one(&mut c).await.unwrap()
    }
}

/// A timestamp literal both backends store as the app does.
pub fn sql_time(t: chrono::DateTime<chrono::Utc>) -> String {
    format!("'{}'", t.to_rfc3339_opts(chrono::SecondsFormat::Micros, false))
}

/// Polls `check` every 100 ms until it holds; fails the test after `secs` seconds.
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Sends `head` then `body` to `addr` on a connection of its own while reading the answer, and
/// returns the answer's text. A server that refuses a body may answer before it was sent and
/// close (a reset, for the sender): the answer still arrives first, so it is read while sending
/// and the sender's errors are not the test's business.
pub async fn raw_exchange(addr: SocketAddr, head: String, body: Vec<u8>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut rd, mut wr) = tokio::net::TcpStream::connect(addr).await.unwrap().into_split();
    let sender = tokio::spawn(async move {
        if wr.write_all(head.as_bytes()).await.is_ok() {
            let _ = wr.write_all(&body).await;
        }
        // The write half stays open until the answer is read (the task is aborted then): no
        // half-close the server could take for the end of the request.
        std::future::pending::<()>().await;
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    while !raw_answer_complete(&answer) {
        match tokio::time::timeout(std::time::Duration::from_secs(20), rd.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
            Err(_) => panic!("no answer within 20 s; so far: {}", String::from_utf8_lossy(&answer)),
        }
    }
    sender.abort();
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether `answer` holds a whole HTTP/1.1 answer with a `Content-Length` body.
fn raw_answer_complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else { return false };
    head.lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|len| body.len() >= len)
}

/// `bytes` in HTTP/1.1 chunked transfer coding, 64 KiB a chunk.
pub fn chunked(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in bytes.chunks(65536) {
        out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
