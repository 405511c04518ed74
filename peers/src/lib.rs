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
