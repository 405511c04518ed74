//! The local peers that tests and benchmarks run against: Node programs under `tools/` (the
//! Firestore emulator, the Telegram Bot API emulator, the SMTP sink). Each is started on the
//! ports it is given (0: free ones it picks), says them in one JSON line, and is killed on drop.

use std::{
    io::BufRead,
    path::Path,
    process::{Child, Command, Stdio},
};

use anyhow::Context;
use serde_json::Value;

pub mod photos;

/// A started peer, killed when dropped.
pub struct Peer {
    child: Child,
    /// The ports it listens on, as it said them (`{"grpc": 8080, "http": 8081}`).
    pub ports: Value,
}

impl Peer {
    /// Starts `node <script> <ports…>` in `tools/<tool>` (whose `npm ci` must have run).
    pub fn start(tool: &str, script: &str, ports: &[u16]) -> anyhow::Result<Self> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tools").join(tool);
        anyhow::ensure!(
            dir.join("node_modules").exists(),
            "run `npm ci` in tools/{tool} first (scripts/test.sh does)"
        );
        let mut child = Command::new("node")
            .arg(script)
            .args(ports.iter().map(u16::to_string))
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting node {script} in tools/{tool}"))?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().context("the peer's stdout")?).read_line(&mut line)?;
        // Owned before its line is read, so that a peer that says something else is killed too.
        let mut peer = Self { child, ports: Value::Null };
        peer.ports = serde_json::from_str(&line).with_context(|| format!("{tool}/{script} said {line:?}"))?;
        Ok(peer)
    }

    /// The port it said under `name`.
    pub fn port(&self, name: &str) -> anyhow::Result<u16> {
        self.ports[name]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .with_context(|| format!("no {name} port"))
    }

    /// Kills it (again is harmless).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The Firestore emulator (`tools/firestore-emulator`): gRPC for the app, HTTP for its state.
pub struct FirestoreEmulator {
    peer: Peer,
    pub grpc: u16,
    pub http: u16,
}

impl FirestoreEmulator {
    /// Starts it on free ports.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_on(0, 0)
    }

    /// Starts it on the given ports (0: a free one), e.g. to bring it back where it was.
    pub fn start_on(grpc: u16, http: u16) -> anyhow::Result<Self> {
        let peer = Peer::start("firestore-emulator", "server.js", &[grpc, http])?;
        Ok(Self { grpc: peer.port("grpc")?, http: peer.port("http")?, peer })
    }

    /// Takes it away (the app's writes fail) until started again on its ports.
    pub fn stop(&mut self) {
        self.peer.stop();
    }
}

/// A loopback port for a process that must be told its port before it binds it (a binary under
/// test, a peer restarted on the same port), reserved for an hour.
///
/// The kernel hands out ports to `bind(0)` and outgoing connections from its ephemeral range
/// (`/proc/sys/net/ipv4/ip_local_port_range`, 32768-60999 by default), so the port is chosen
/// below it, where no ephemeral use can take it between choosing and binding; a file created
/// exclusively under the temp directory keeps other test processes from choosing it too
/// (a reservation older than an hour is a dead test's and is taken over); and a trial bind
/// skips ports that a server of the machine holds.
pub fn reserve_port() -> u16 {
    use std::{
        sync::atomic::{AtomicU32, Ordering},
        time::{Duration, SystemTime},
    };
    const FIRST: u32 = 20000;
    const SPAN: u32 = 12000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join("cgs-test-ports");
    std::fs::create_dir_all(&dir).expect("the port reservation directory");
    let start = std::process::id().wrapping_mul(7919)
        ^ SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    for _ in 0..SPAN {
        let port = FIRST + (start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))) % SPAN;
        let file = dir.join(port.to_string());
        let stale = std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(3600));
        if stale {
            let _ = std::fs::remove_file(&file);
        }
        if std::fs::OpenOptions::new().write(true).create_new(true).open(&file).is_err() {
            continue;
        }
        let port = port as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN)
}

/// Where the PostgreSQL tests create their throw-away databases.
pub const POSTGRES_URL_VAR: &str = "CGS_TEST_POSTGRES_URL";

/// The PostgreSQL server of the tests (`CGS_TEST_POSTGRES_URL`). `None`, with a notice once per
/// process, when none is configured: the test is skipped. With `CI=true` a missing server fails
/// the test instead, so a CI run never passes a test that did not run.
pub fn test_postgres_server() -> Option<String> {
    static NOTICE: std::sync::Once = std::sync::Once::new();
    let url = std::env::var(POSTGRES_URL_VAR).ok();
    if url.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {POSTGRES_URL_VAR} is not set: the PostgreSQL tests cannot run"
        );
        NOTICE.call_once(|| {
            eprintln!(
                "SKIPPED: PostgreSQL tests need {POSTGRES_URL_VAR} (e.g. postgres://postgres@127.0.0.1:5432/postgres)"
            )
        });
    }
    url
}
