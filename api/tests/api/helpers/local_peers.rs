//! The local peers of the tests: SMTP sink, IMAP server, Telegram Bot API emulator, Firestore
//! emulator.

#[allow(unused_imports)]
use super::*;

/// Starts `node <script> <ports…>` in `tools/<tool>` (see the `peers` crate).
fn start_node_peer(tool: &str, script: &str, ports: &[u16]) -> peers::Peer {
    peers::Peer::start(tool, script, ports).unwrap_or_else(|e| panic!("{e:#}"))
}

/// An SMTP sink of this test's own (`tools/channel-peers/smtp-sink.js`) that answers what it
/// received; stopped on drop.
pub struct MailSink {
    _process: peers::Peer,
    pub smtp: u16,
    pub http: u16,
}

impl MailSink {
    /// Starts the sink on free ports (or on the given ones, to bring it back in place).
    pub fn start_on(smtp: u16, http: u16) -> Self {
        let process = start_node_peer("channel-peers", "smtp-sink.js", &[smtp, http]);
        Self { smtp: process.port("smtp").unwrap(), http: process.port("http").unwrap(), _process: process }
    }

    pub fn start() -> Self {
        Self::start_on(0, 0)
    }

    /// The mails received so far: `{from, to, subject, text, messageId, inReplyTo}`.
    pub async fn mails(&self) -> Vec<Value> {
        reqwest::get(format!("http://127.0.0.1:{}/", self.http)).await.unwrap().json().await.unwrap()
    }

    /// The recipients it refused so far: `{to, code}` (550 for a `gone-` address, 452 for a
    /// `full-` one).
    pub async fn refused(&self) -> Vec<Value> {
        reqwest::get(format!("http://127.0.0.1:{}/refused", self.http)).await.unwrap().json().await.unwrap()
    }
}

/// A webhook receiver of this test's own (`tools/channel-peers/webhook-receiver.js`): records
/// what it is POSTed at `/hooks/<name>`, answers 500 for `fail-*` names (and the first two
/// requests of `flaky-*` ones); stopped on drop.
pub struct HookReceiver {
    _process: peers::Peer,
    pub port: u16,
}

impl HookReceiver {
    pub fn start() -> Self {
        let process = start_node_peer("channel-peers", "webhook-receiver.js", &[0]);
        Self { port: process.port("http").unwrap(), _process: process }
    }

    /// The URL of hook `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/hooks/{name}", self.port)
    }

    /// What hook `name` received so far, oldest first: `{event, delivery, signature, body,
    /// signatureValid}`, the signature checked with `secret` by Node's crypto.
    pub async fn received(&self, name: &str, secret: &str) -> Vec<Value> {
        let all: Vec<Value> =
            reqwest::get(format!("http://127.0.0.1:{}/received?secret={secret}", self.port))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        all.into_iter().filter(|r| r["name"] == name).collect()
    }
}

/// A Dovecot IMAP server of this test's own (Debian's `dovecot-imapd`, started directly on a
/// port of its own, no TLS, on the loopback only): user `cgs`, password `secret`, its Maildir in
/// a directory of the test's own; stopped on drop.
pub struct Imap {
    process: Option<Running>,
    pub dir: PathBuf,
    pub port: u16,
}

/// The uid Dovecot keeps the test mail under (it refuses root).
const MAIL_UID: u32 = 65534;

impl Imap {
    /// Prepares the server's directory and Maildir; `start` runs it.
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("cgs-imap-{}", uuid::Uuid::new_v4().simple()));
        for sub in ["run", "state", "mail/cgs/new", "mail/cgs/cur", "mail/cgs/tmp"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(dir.join("passwd"), "cgs:{PLAIN}secret::::::\n").unwrap();
        let port = free_port();
        let d = dir.display();
        std::fs::write(
            dir.join("dovecot.conf"),
            format!(
                "base_dir = {d}/run\nstate_dir = {d}/state\nprotocols = imap\nlisten = 127.0.0.1\n\
                 log_path = {d}/dovecot.log\nssl = no\ndisable_plaintext_auth = no\n\
                 auth_mechanisms = plain login\nauth_failure_delay = 0\nlogin_trusted_networks = 127.0.0.0/8\n\
                 mail_location = maildir:{d}/mail/%u\n\
                 passdb {{\n  driver = passwd-file\n  args = {d}/passwd\n}}\n\
                 userdb {{\n  driver = static\n  args = uid={MAIL_UID} gid={MAIL_UID} home={d}/mail/%u\n}}\n\
                 service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n\
                 \x20 inet_listener imaps {{\n    port = 0\n  }}\n}}\n"
            ),
        )
        .unwrap();
        let imap = Self { process: None, dir, port };
        imap.own();
        imap
    }

    /// Starts the server and waits until it accepts connections.
    pub async fn start(&mut self) {
        let dovecot =
            ["/usr/sbin/dovecot", "/usr/bin/dovecot"].into_iter().find(|p| std::path::Path::new(p).exists());
        let dovecot =
            dovecot.expect("Dovecot is not installed: apt-get install dovecot-imapd (.ci/run does)");
        let child = std::process::Command::new(dovecot)
            .arg("-F")
            .arg("-c")
            .arg(self.dir.join("dovecot.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dovecot runs");
        self.process = Some(Running(child));
        let port = self.port;
        wait_until(20, "Dovecot accepts connections", || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await;
    }

    pub fn stop(&mut self) {
        self.process = None;
    }

    /// The Maildir's files and dirs belong to the mail uid.
    fn own(&self) {
        let status = std::process::Command::new("chown")
            .arg("-R")
            .arg(format!("{MAIL_UID}:{MAIL_UID}"))
            .arg(self.dir.join("mail"))
            .status()
            .unwrap();
        assert!(status.success());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Puts a mail into the inbox, as a delivery agent does.
    pub fn deliver(&self, name: &str, raw: &[u8]) {
        let tmp = self.dir.join("mail/cgs/tmp").join(name);
        std::fs::write(&tmp, raw).unwrap();
        std::fs::rename(&tmp, self.dir.join("mail/cgs/new").join(format!("{name}.cgs-test"))).unwrap();
        self.own();
    }

    /// The flags of the inbox's mails once read (`S` seen, `a`… keywords), by file name start.
    pub fn read_flags(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = std::fs::read_dir(self.dir.join("mail/cgs/cur"))
            .unwrap()
            .flatten()
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let (base, flags) = name.split_once(":2,").unwrap_or((&name, ""));
                (base.split('.').next().unwrap_or_default().to_owned(), flags.to_owned())
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for Imap {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Telegram Bot API emulator of this test's own (`tools/channel-peers/telegram-api.js`), for
/// one bot token; stopped on drop. Users are chats of their own id.
pub struct TelegramApi {
    process: peers::Peer,
    port: u16,
    pub url: String,
    pub token: String,
}

impl TelegramApi {
    pub fn start() -> Self {
        let port = free_port();
        let process = start_node_peer("channel-peers", "telegram-api.js", &[port]);
        let url = format!("http://127.0.0.1:{port}");
        Self { process, port, url, token: format!("{}:test", uuid::Uuid::new_v4().simple()) }
    }

    /// Takes the Bot API away (the bot's requests fail) until [`TelegramApi::restart`].
    pub fn stop(&mut self) {
        self.process.stop();
    }

    /// Brings it back on the same address, empty (it keeps nothing).
    pub fn restart(&mut self) {
        self.process.stop();
        self.process = start_node_peer("channel-peers", "telegram-api.js", &[self.port]);
    }

    fn user(id: i64) -> Value {
        json!({"id": id, "first_name": format!("User {id}"), "is_bot": false})
    }

    /// A message in user `id`'s private chat with the bot.
    fn message(id: i64, text: &str) -> Value {
        json!({"from": Self::user(id), "date": chrono::Utc::now().timestamp(), "text": text,
               "chat": {"id": id, "type": "private", "first_name": format!("User {id}")}})
    }

    /// Posts to the emulator's user side (and its `/redeliver`).
    async fn user_side(&self, method: &str, mut body: Value) {
        body["botToken"] = json!(self.token);
        let r =
            reqwest::Client::new().post(format!("{}/{method}", self.url)).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{method}: {}", r.status());
    }

    /// User `id` writes `text` to the bot.
    pub async fn send(&self, id: i64, text: &str) {
        self.user_side("sendMessage", Self::message(id, text)).await;
    }

    /// User `id` writes `text` in the group chat `group` (a negative id) where the bot is.
    pub async fn send_in_group(&self, id: i64, group: i64, text: &str) {
        let mut m = Self::message(id, text);
        m["chat"] = json!({"id": group, "type": "group", "title": "NOC West"});
        self.user_side("sendMessage", m).await;
    }

    /// User `id` presses an inline button carrying `data`.
    pub async fn press(&self, id: i64, data: &str) {
        let body =
            json!({"from": Self::user(id), "data": data, "message": Self::message(id, "announcement")});
        self.user_side("sendCallback", body).await;
    }

    /// User `id` sends a photo with a caption.
    pub async fn send_photo(&self, id: i64, file_id: &str, caption: &str) {
        let mut m = Self::message(id, "");
        m.as_object_mut().unwrap().remove("text");
        m["caption"] = json!(caption);
        m["photo"] = json!([{"file_id": format!("{file_id}-small"), "file_unique_id": "s", "width": 90, "height": 90},
                            {"file_id": file_id, "file_unique_id": "l", "width": 800, "height": 600}]);
        self.user_side("sendMessage", m).await;
    }

    /// User `id` blocks the bot: the bot's messages to that chat are refused (403) from now on.
    pub async fn block(&self, id: i64) {
        self.user_side("block", json!({"chat": id})).await;
    }

    /// Hands the users' updates out again, as Telegram does until a bot acknowledges them.
    pub async fn redeliver(&self) {
        self.user_side("redeliver", json!({"token": self.token})).await;
    }

    /// What the bot sent to chat `id`, oldest first (`{chat_id, text, reply_markup}`).
    pub async fn sent_to(&self, id: i64) -> Vec<Value> {
        let history: Value = reqwest::Client::new()
            .post(format!("{}/getUpdatesHistory", self.url))
            .json(&json!({"token": self.token}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        history["result"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["message"].clone())
            .filter(|m| {
                m["chat_id"].as_i64() == Some(id) || m["chat_id"].as_str() == Some(id.to_string().as_str())
            })
            .collect()
    }
}

/// A Firestore emulator of this test's own (`tools/firestore-emulator`), stopped on drop; its
/// ports and `stop` are [`peers::FirestoreEmulator`]'s.
pub struct Emulator(peers::FirestoreEmulator);

impl std::ops::Deref for Emulator {
    type Target = peers::FirestoreEmulator;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Emulator {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Emulator {
    /// Starts the emulator on free ports (or on the given ones, to restart it in place).
    pub fn start_on(grpc: u16, http: u16) -> Self {
        Self(peers::FirestoreEmulator::start_on(grpc, http).unwrap_or_else(|e| panic!("{e:#}")))
    }

    pub fn start() -> Self {
        Self::start_on(0, 0)
    }

    /// How many documents `collection` of `project` holds.
    pub async fn count(&self, project: &str, collection: &str) -> usize {
        let state: Value =
            reqwest::get(format!("http://127.0.0.1:{}/", self.http)).await.unwrap().json().await.unwrap();
        state["projects"][project]["databases"]["(default)"]["collections"][collection]["documents"]
            .as_object()
            .map_or(0, |d| d.len())
    }

    /// The document `collection/id` of `project`, as plain JSON (`None` when absent).
    pub async fn document(&self, project: &str, collection: &str, id: &str) -> Option<Value> {
        let state: Value =
            reqwest::get(format!("http://127.0.0.1:{}/", self.http)).await.ok()?.json().await.ok()?;
        let fields = state
            .get("projects")?
            .get(project)?
            .get("databases")?
            .get("(default)")?
            .get("collections")?
            .get(collection)?
            .get("documents")?
            .get(id)?
            .get("fields")?;
        Some(Value::Object(fields.as_object()?.iter().map(|(k, v)| (k.clone(), plain(v))).collect()))
    }
}

/// The emulator's typed values (`{"type": "string_value", "value": "x"}`) as plain JSON.
pub fn plain(v: &Value) -> Value {
    let value = &v["value"];
    match v["type"].as_str().unwrap_or_default() {
        "null_value" => Value::Null,
        "integer_value" => json!(value.as_str().map(|s| s.parse::<i64>().unwrap()).or(value.as_i64())),
        "array_value" => {
            Value::Array(value.as_array().map(|a| a.iter().map(plain).collect()).unwrap_or_default())
        }
        "map_value" => Value::Object(
            value
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
                .unwrap_or_default(),
        ),
        // A Timestamp as RFC 3339 with nanoseconds, the form `instants` gives the API's dates.
        "timestamp_value" => {
            let seconds =
                value["seconds"].as_str().map(|s| s.parse::<i64>().unwrap()).or(value["seconds"].as_i64());
            let nanos = value["nanos"].as_u64().unwrap_or(0) as u32;
            let at =
                chrono::DateTime::from_timestamp(seconds.expect("a Timestamp has seconds"), nanos).unwrap();
            json!({ "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true) })
        }
        _ => value.clone(),
    }
}

/// A ticket document with its `Date` fields (`document::DATE_FIELDS`, and each log entry's
/// `LOG_DATE_FIELDS`) as `{"timestamp": <RFC 3339 with nanoseconds>}`: the API's strings and
/// Firestore's Timestamps (see [`plain`]) compare as instants, and a date Firestore held as a
/// string would not compare equal.
pub fn instants(mut doc: Value) -> Value {
    fn instant(v: &mut Value) {
        if let Some(s) = v.as_str() {
            let at = chrono::DateTime::parse_from_rfc3339(s).expect("an RFC 3339 date").to_utc();
            *v = json!({ "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true) });
        }
    }
    for key in common::document::DATE_FIELDS {
        doc.get_mut(key).into_iter().for_each(instant);
    }
    for entry in doc.get_mut("ticketLogs").and_then(Value::as_array_mut).into_iter().flatten() {
        for key in common::document::LOG_DATE_FIELDS {
            entry.get_mut(key).into_iter().for_each(instant);
        }
    }
    doc
}

/// The Python of the app clients' tools (`tools/app-clients`: Google's Firestore client and
/// the generated API client), installed by `scripts/test.sh`.
pub fn app_clients_python() -> PathBuf {
    let path = std::env::var_os("CGS_APP_CLIENTS_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap_or_default())
            .join(".cache/cgs-ticketing/app-clients/bin/python")
    });
    assert!(path.exists(), "{} is missing: scripts/test.sh installs tools/app-clients", path.display());
    path
}

/// An S3-compatible server of this test's own (moto's server, `tools/s3-server`, installed by
/// `scripts/test.sh`) with an empty bucket; stopped on drop.
pub struct S3Server {
    process: std::process::Child,
    venv: PathBuf,
    pub port: u16,
    pub bucket: String,
}

impl S3Server {
    pub fn start() -> Self {
        let venv = std::env::var_os("CGS_S3_SERVER_VENV").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/cgs-ticketing/s3-server")
        });
        let program = venv.join("bin/moto_server");
        assert!(
            program.exists(),
            "{} is missing: scripts/test.sh installs tools/s3-server",
            program.display()
        );
        let port = peers::reserve_port();
        let process = std::process::Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let server = Self {
            process,
            venv,
            port,
            bucket: format!("cgs-media-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        };
        // Ready when it answers; then the bucket (this server takes unsigned requests).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match server.raw(&format!("PUT /{} HTTP/1.1", server.bucket)) {
                Some(head) if head.starts_with("HTTP/1.1 200") => break,
                other => {
                    assert!(std::time::Instant::now() < deadline, "the S3 server did not come up: {other:?}");
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
        }
        server
    }

    /// One request line without a body, the answer's head (`None` when it does not connect).
    fn raw(&self, request_line: &str) -> Option<String> {
        use std::io::{Read, Write};
        let mut c = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        let req = format!(
            "{request_line}\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        c.write_all(req.as_bytes()).ok()?;
        let mut out = String::new();
        c.read_to_string(&mut out).ok()?;
        Some(out)
    }

    /// An object of the bucket, read back with another S3 client (boto3, beside the server).
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        const READ: &str = "import sys, boto3\n\
            s3 = boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='test',\n\
                              aws_secret_access_key='test', region_name='us-east-1')\n\
            try:\n    sys.stdout.buffer.write(s3.get_object(Bucket=sys.argv[2], Key=sys.argv[3])['Body'].read())\n\
            except s3.exceptions.NoSuchKey:\n    sys.exit(3)\n";
        let out = std::process::Command::new(self.venv.join("bin/python"))
            .args(["-c", READ, &format!("http://127.0.0.1:{}", self.port), &self.bucket, key])
            .output()
            .expect("boto3 runs");
        match out.status.code() {
            Some(0) => Some(out.stdout),
            Some(3) => None,
            _ => panic!("boto3 failed: {}", String::from_utf8_lossy(&out.stderr)),
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
