//! Typed settings, read from the environment (and the command line) by clap.

use std::{fmt, net::SocketAddr, str::FromStr};

/// A value that must never reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

/// An address or a network: `10.0.0.1` is `10.0.0.1/32`.
pub fn parse_network(value: &str) -> Result<ipnet::IpNet, String> {
    let value = value.trim();
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{value}` is neither an IP address nor a network such as 10.0.0.0/8"))
}

/// Settings shared by `cgs-api` and `cgs-worker`.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Database: `sqlite://path?mode=rwc` (embedded) or `postgres://user@host/db`.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://cgs.db?mode=rwc", hide_env_values = true)]
    pub database_url: String,

    /// Largest number of pooled database connections.
    #[arg(long, env = "CGS_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,

    /// Address the HTTP API listens on.
    #[arg(long, env = "CGS_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,

    /// Email of the first SuperAdmin, created at start-up when no SuperAdmin exists.
    #[arg(long, env = "CGS_ADMIN_EMAIL")]
    pub admin_email: Option<String>,

    /// Password of the first SuperAdmin (at least 8 characters).
    #[arg(long, env = "CGS_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,

    /// Secret that signs session tokens (HS256). When unset, one is generated and kept in the
    /// database so that restarts and replicas keep accepting the same tokens.
    #[arg(long, env = "CGS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<Secret>,

    /// How long a login session lasts, in hours.
    #[arg(long, env = "CGS_SESSION_TTL_HOURS", default_value_t = 168)]
    pub session_ttl_hours: i64,

    /// A session not used for this many minutes ends, beside its absolute lifetime
    /// (`CGS_SESSION_TTL_HOURS`); an open live-feed stream counts as use. 0 turns it off.
    #[arg(long, env = "CGS_SESSION_IDLE_MINUTES", default_value_t = 720, value_parser = clap::value_parser!(i64).range(0..))]
    pub session_idle_minutes: i64,

    /// Each process answers the session check of a request from memory for at most this many
    /// seconds after reading it from the database. Logout, deactivation, a password, role or
    /// region change reach every process at once (through PostgreSQL `LISTEN/NOTIFY`); a change
    /// made behind the app's back (SQL by hand) at most this late. 0 reads it every time.
    #[arg(long, env = "CGS_SESSION_CACHE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub session_cache_seconds: u64,

    /// Failed logins for one account from one client address before that pair is locked for
    /// the rest of the window: an attacker elsewhere cannot lock a user out.
    #[arg(long, env = "CGS_LOGIN_MAX_FAILURES", default_value_t = 5, value_parser = clap::value_parser!(i64).range(1..))]
    pub login_max_failures: i64,

    /// Failed logins for one account from all addresses together before the account is locked
    /// for the rest of the window (an attack spread over many addresses).
    #[arg(long, env = "CGS_LOGIN_ACCOUNT_MAX_FAILURES", default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..))]
    pub login_account_max_failures: i64,

    /// The window of the failed-login counts, in seconds: a lock ends when its window does.
    #[arg(long, env = "CGS_LOGIN_LOCKOUT_SECONDS", default_value_t = 300, value_parser = clap::value_parser!(i64).range(1..))]
    pub login_lockout_seconds: i64,

    /// Login attempts one client address may make per minute, whatever the account or outcome
    /// (counted in this process); more answer 429 before any database or hashing work.
    #[arg(long, env = "CGS_LOGIN_PER_ADDRESS_PER_MINUTE", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub login_per_address_per_minute: u32,

    /// Proxies whose `Forwarded` / `X-Forwarded-For` header names the client (addresses or
    /// networks, comma-separated, e.g. `10.0.0.0/8,127.0.0.1`). None by default: the client is
    /// the peer of the TCP connection.
    #[arg(long, env = "CGS_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_network)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Mark the session cookie `Secure` (set this when the API is served over HTTPS).
    #[arg(long, env = "CGS_COOKIE_SECURE", default_value_t = false)]
    pub cookie_secure: bool,

    /// Origins of the web apps allowed to call the API from a browser (CORS, credentials
    /// included), comma-separated exact origins such as `https://app.example.com`. None by
    /// default: no other origin may read an answer.
    #[arg(long, env = "CGS_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Bearer token that `/metrics` asks for (`Authorization: Bearer <token>`); open when unset.
    #[arg(long, env = "CGS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<Secret>,

    /// How long `/metrics` reuses its figures from the database (jobs and tickets), in seconds:
    /// however often it is scraped, the tables are counted at most once per interval.
    #[arg(long, env = "CGS_METRICS_INTERVAL_SECONDS", default_value_t = 15)]
    pub metrics_interval_seconds: u64,

    /// SLA hours of a Dedicated customer's tickets.
    #[arg(long, env = "CGS_SLA_DEDICATED_HOURS", default_value_t = 4)]
    pub sla_dedicated_hours: i64,

    /// SLA hours of a Broadband customer's tickets.
    #[arg(long, env = "CGS_SLA_BROADBAND_HOURS", default_value_t = 24)]
    pub sla_broadband_hours: i64,

    /// Prefix of human-readable ticket numbers (`CGS-202611-0001`).
    #[arg(long, env = "CGS_TICKET_PREFIX", default_value = "CGS")]
    pub ticket_prefix: String,

    /// When the worker opens drafts whose `publishedAt` has come (cron, with seconds).
    #[arg(long, env = "CGS_PUBLISH_SCHEDULE", default_value = "*/15 * * * * *")]
    pub publish_schedule: String,

    /// When the worker sweeps open tickets for SLA breaches (cron, with seconds).
    #[arg(long, env = "CGS_SLA_SWEEP_SCHEDULE", default_value = "30 * * * * *")]
    pub sla_sweep_schedule: String,

    /// How many minutes before a breach the sweep warns.
    #[arg(long, env = "CGS_SLA_WARNING_MINUTES", default_value_t = 30)]
    pub sla_warning_minutes: i64,

    /// Minutes an `Open` ticket may wait for a technician: then it is announced again and the
    /// region's supervisors and the ticket's NOC are told; after as long again, the region's
    /// NOCs. 0 turns escalation off.
    #[arg(long, env = "CGS_ESCALATE_UNACCEPTED_MINUTES", default_value_t = 15, value_parser = clap::value_parser!(i64).range(0..=10_080))]
    pub escalate_unaccepted_minutes: i64,

    /// Minutes a technician's request may wait for the NOC's verdict: then the region's NOCs
    /// are reminded. 0 turns reminders off.
    #[arg(long, env = "CGS_VALIDATION_REMIND_MINUTES", default_value_t = 10, value_parser = clap::value_parser!(i64).range(0..=10_080))]
    pub validation_remind_minutes: i64,

    /// Customers under one splitter whose open, unaccepted reports make an outage (and
    /// splitters of one main splitter, or main splitters of one POP, whose outages move it up a
    /// level): 2 to 1000, or 0 to turn outage detection off.
    #[arg(long, env = "CGS_OUTAGE_THRESHOLD", default_value_t = 3, value_parser = outage_threshold)]
    pub outage_threshold: u32,

    /// Minutes within which reports under one element count toward an outage.
    #[arg(long, env = "CGS_OUTAGE_WINDOW_MINUTES", default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=10_080))]
    pub outage_window_minutes: i64,

    /// Let webhooks reach loopback, private, link-local and metadata addresses (a receiver on
    /// the same host or network); off, such a URL is refused at registration and at delivery.
    #[arg(long, env = "CGS_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// How often (minutes) the SLA sweep looks at every open ticket; the sweeps in between look
    /// only at the due times that came within reach since the previous one.
    #[arg(long, env = "CGS_SLA_FULL_SWEEP_MINUTES", default_value_t = 60)]
    pub sla_full_sweep_minutes: u64,

    /// Run the background worker inside `cgs-api` (always on with SQLite).
    #[arg(long, env = "CGS_RUN_WORKER", default_value_t = false)]
    pub run_worker: bool,

    /// Google project whose Firestore receives the ticket documents; unset turns the sync off.
    /// Credentials are found the way Google's libraries find them; with
    /// `FIRESTORE_EMULATOR_HOST` set, the emulator there is used and needs none.
    #[arg(long, env = "FIRESTORE_PROJECT_ID")]
    pub firestore_project_id: Option<String>,

    /// Path of a Firebase service account key (JSON): login then also answers a Firebase
    /// custom token (`firebaseToken`) with the caller's role, region and uid as claims.
    #[arg(long, env = "CGS_FIREBASE_SERVICE_ACCOUNT")]
    pub firebase_service_account: Option<std::path::PathBuf>,

    /// When the worker re-syncs tickets whose Firestore copy lags (cron, with seconds).
    #[arg(long, env = "CGS_SYNC_RECONCILE_SCHEDULE", default_value = "0 * * * * *")]
    pub sync_reconcile_schedule: String,

    /// Outgoing mail server, e.g. `smtps://user:password@mail.example.com` or
    /// `smtp://127.0.0.1:25`; unset turns mail broadcasts off. `smtp://…?tls=required` asks for
    /// STARTTLS.
    #[arg(long, env = "CGS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<Secret>,

    /// Sender of outgoing mail.
    #[arg(long, env = "CGS_MAIL_FROM", default_value = "CGS Ticketing <tickets@localhost>")]
    pub mail_from: String,

    /// Base address of the web app; broadcasts link to `<CGS_APP_URL>/tickets/<id>` to accept a
    /// ticket there. Unset: the mail names the ticket and the app.
    #[arg(long, env = "CGS_APP_URL")]
    pub app_url: Option<String>,

    /// The Telegram bot's token (from @BotFather); unset turns the bot off. With it the worker
    /// polls the bot's updates (linking chats, Accept buttons) and broadcasts open tickets to
    /// linked chats.
    #[arg(long, env = "CGS_TELEGRAM_BOT_TOKEN", hide_env_values = true)]
    pub telegram_bot_token: Option<Secret>,

    /// Address of the Telegram Bot API (another one for a local Bot API server or an emulator).
    #[arg(long, env = "CGS_TELEGRAM_API_URL", default_value = "https://api.telegram.org")]
    pub telegram_api_url: String,

    /// How long, in minutes, a Telegram link code stays valid.
    #[arg(long, env = "CGS_TELEGRAM_LINK_MINUTES", default_value_t = 15)]
    pub telegram_link_minutes: i64,

    /// IMAP server of the mailbox whose mails become tickets; unset turns mail intake off.
    #[arg(long, env = "CGS_IMAP_HOST")]
    pub imap_host: Option<String>,

    /// IMAP port (993 for IMAP over TLS).
    #[arg(long, env = "CGS_IMAP_PORT", default_value_t = 993)]
    pub imap_port: u16,

    /// Speak TLS to the IMAP server (turn off only for a server on the same host).
    #[arg(long, env = "CGS_IMAP_TLS", default_value_t = true, action = clap::ArgAction::Set)]
    pub imap_tls: bool,

    #[arg(long, env = "CGS_IMAP_USER")]
    pub imap_user: Option<String>,

    #[arg(long, env = "CGS_IMAP_PASSWORD", hide_env_values = true)]
    pub imap_password: Option<Secret>,

    /// The mailbox polled.
    #[arg(long, env = "CGS_IMAP_MAILBOX", default_value = "INBOX")]
    pub imap_mailbox: String,

    /// Seconds between polls of the mailbox.
    #[arg(long, env = "CGS_IMAP_POLL_SECONDS", default_value_t = 30)]
    pub imap_poll_seconds: u64,

    /// Mails larger than this many bytes are set aside (flagged `$CgsSetAside`), not read.
    #[arg(long, env = "CGS_IMAP_MAX_BYTES", default_value_t = 5 * 1024 * 1024)]
    pub imap_max_bytes: u32,

    /// Region of the tickets reported by people without an account (Telegram, mail); a
    /// user's report takes the user's region.
    #[arg(long, env = "CGS_INTAKE_REGION", default_value = "West")]
    pub intake_region: crate::domain::Region,

    /// Reports one sender (a Telegram chat, a mail address) may make per hour; past it the
    /// sender's messages make no draft, and the sender is told so once per hour.
    #[arg(long, env = "CGS_INTAKE_MAX_PER_HOUR", default_value_t = 10, value_parser = clap::value_parser!(i64).range(1..))]
    pub intake_max_per_hour: i64,

    /// The longest wait between two tries of a failing job, in seconds. Each queue's own
    /// schedule (1 s doubling up to 5 minutes; deliveries 5 s doubling up to an hour) is cut to it.
    #[arg(long, env = "CGS_JOB_RETRY_MAX_WAIT_SECONDS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    pub job_retry_max_wait_seconds: u64,

    /// How long the live feed keeps ticket changes for `Last-Event-ID` resumption, in hours.
    #[arg(long, env = "CGS_FEED_RETENTION_HOURS", default_value_t = 72)]
    pub feed_retention_hours: i64,

    /// Longest life of one live-feed stream, in seconds: then the server ends it and the client
    /// reconnects with `Last-Event-ID` (a browser's `EventSource` does so by itself, a second
    /// later), losing nothing. Streams spread over replicas anew this way.
    #[arg(long, env = "CGS_FEED_STREAM_SECONDS", default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..))]
    pub feed_stream_seconds: u64,

    /// How many matches past the page the ticket list counts: beyond it `meta.total` is that
    /// bound and `meta.totalExact` is `false`, so a list costs the same at any table size.
    #[arg(long, env = "CGS_LIST_COUNT_BOUND", default_value_t = 1_000, value_parser = clap::value_parser!(i64).range(1..))]
    pub list_count_bound: i64,

    /// Seconds between SIGTERM and closing the listener: `/readyz` answers 503 meanwhile and
    /// responses say `Connection: close`, so a load balancer stops routing here before the
    /// listener closes; then in-flight requests finish (up to 20 s) and jobs (up to 15 s).
    #[arg(long, env = "CGS_SHUTDOWN_GRACE_SECONDS", default_value_t = 2)]
    pub shutdown_grace_seconds: u64,

    /// Largest photo `POST /v1/media` takes, in bytes; a larger one is refused (413) while it
    /// is read.
    #[arg(long, env = "CGS_MEDIA_MAX_BYTES", default_value_t = 10 * 1024 * 1024, value_parser = clap::value_parser!(u64).range(1..=1024 * 1024 * 1024))]
    pub media_max_bytes: u64,

    /// Directory of the media store when no bucket is set. Default: `media` beside the
    /// embedded database (in the working directory on PostgreSQL).
    #[arg(long, env = "CGS_MEDIA_DIR")]
    pub media_dir: Option<std::path::PathBuf>,

    /// S3 bucket of the media store (production); unset keeps photos in `CGS_MEDIA_DIR`. The
    /// usual `AWS_*` variables are read too; the `CGS_MEDIA_S3_*` ones win.
    #[arg(long, env = "CGS_MEDIA_S3_BUCKET")]
    pub media_s3_bucket: Option<String>,

    /// Address of an S3-compatible server (MinIO, Ceph, ...); unset: AWS itself.
    #[arg(long, env = "CGS_MEDIA_S3_ENDPOINT")]
    pub media_s3_endpoint: Option<String>,

    /// Region of the bucket.
    #[arg(long, env = "CGS_MEDIA_S3_REGION")]
    pub media_s3_region: Option<String>,

    #[arg(long, env = "CGS_MEDIA_S3_ACCESS_KEY_ID")]
    pub media_s3_access_key_id: Option<String>,

    #[arg(long, env = "CGS_MEDIA_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub media_s3_secret_access_key: Option<Secret>,

    /// Farthest a check-in or finishing position may be from the customer's coordinate, in
    /// metres, before the evidence is flagged `farFromCustomer` (and the photo's own GPS from
    /// the reported position before `photoFarFromReport`).
    #[arg(long, env = "CGS_CHECKIN_MAX_METERS", default_value_t = 300, value_parser = clap::value_parser!(i64).range(1..))]
    pub checkin_max_meters: i64,

    /// Longest time between a photo's capture (EXIF) and the request it is evidence of, in
    /// minutes, before the evidence is flagged `photoTimeMismatch`.
    #[arg(long, env = "CGS_EVIDENCE_PHOTO_MAX_AGE_MINUTES", default_value_t = 60, value_parser = clap::value_parser!(i64).range(1..))]
    pub evidence_photo_max_age_minutes: i64,

    /// Refuse a flagged check-in (422 `evidence_flagged`) instead of flagging it for the NOC.
    #[arg(long, env = "CGS_EVIDENCE_ENFORCE", default_value_t = false, action = clap::ArgAction::Set)]
    pub evidence_enforce: bool,

    /// Log format: `text` or `json`.
    #[arg(long, env = "CGS_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
}

/// `CGS_OUTAGE_THRESHOLD`: 0 (off) or 2 to 1000 (one customer is no outage).
fn outage_threshold(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n == 0 || (2..=1000).contains(&n) => Ok(n),
        _ => Err(format!("`{s}`: 0 (off) or 2 to 1000")),
    }
}

impl Settings {
    /// What changes trigger, by what is configured.
    pub fn effects(&self) -> crate::jobs::Effects {
        crate::jobs::Effects {
            sync_firestore: self.firestore_project_id.is_some(),
            mail: self.smtp_url.is_some(),
            telegram: self.telegram_bot_token.is_some(),
            escalate_minutes: self.escalate_unaccepted_minutes,
            remind_minutes: self.validation_remind_minutes,
        }
    }

    /// The outage rule; `None` when detection is off.
    pub fn outage_rule(&self) -> Option<crate::domain::outage::OutageRule> {
        (self.outage_threshold > 0).then(|| crate::domain::outage::OutageRule {
            threshold: self.outage_threshold as usize,
            window: chrono::Duration::minutes(self.outage_window_minutes),
        })
    }

    /// Where channel reports go.
    pub fn inbox(&self) -> crate::intake::Inbox {
        crate::intake::Inbox {
            region: self.intake_region,
            ticket_prefix: self.ticket_prefix.clone(),
            max_per_hour: self.intake_max_per_hour,
        }
    }

    /// How long an unused session lives, when there is an idle limit.
    pub fn session_idle(&self) -> Option<chrono::Duration> {
        (self.session_idle_minutes > 0).then(|| chrono::Duration::minutes(self.session_idle_minutes))
    }

    /// The limits of the evidence checks.
    pub fn evidence_policy(&self) -> crate::domain::evidence::EvidencePolicy {
        crate::domain::evidence::EvidencePolicy {
            max_meters: self.checkin_max_meters,
            photo_max_age_minutes: self.evidence_photo_max_age_minutes,
        }
    }

    pub fn sla_policy(&self) -> crate::domain::sla::SlaPolicy {
        crate::domain::sla::SlaPolicy {
            dedicated_hours: self.sla_dedicated_hours,
            broadband_hours: self.sla_broadband_hours,
        }
    }

    /// Defaults for everything but the database; used by tests and tools.
    pub fn with_database(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            db_max_connections: 10,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_email: None,
            admin_password: None,
            jwt_secret: None,
            session_ttl_hours: 168,
            session_idle_minutes: 720,
            session_cache_seconds: 30,
            login_max_failures: 5,
            login_account_max_failures: 50,
            login_lockout_seconds: 300,
            login_per_address_per_minute: 30,
            trusted_proxies: Vec::new(),
            cookie_secure: false,
            cors_origins: Vec::new(),
            metrics_token: None,
            metrics_interval_seconds: 0,
            sla_dedicated_hours: 4,
            sla_broadband_hours: 24,
            ticket_prefix: "CGS".into(),
            publish_schedule: "*/15 * * * * *".into(),
            run_worker: false,
            sla_sweep_schedule: "30 * * * * *".into(),
            sla_warning_minutes: 30,
            escalate_unaccepted_minutes: 15,
            validation_remind_minutes: 10,
            outage_threshold: 3,
            outage_window_minutes: 30,
            webhook_allow_private: false,
            sla_full_sweep_minutes: 60,
            firestore_project_id: None,
            firebase_service_account: None,
            sync_reconcile_schedule: "0 * * * * *".into(),
            job_retry_max_wait_seconds: 3600,
            feed_retention_hours: 72,
            feed_stream_seconds: 1800,
            list_count_bound: 1_000,
            smtp_url: None,
            mail_from: "CGS Ticketing <tickets@localhost>".into(),
            app_url: None,
            telegram_bot_token: None,
            telegram_api_url: "https://api.telegram.org".into(),
            telegram_link_minutes: 15,
            intake_region: crate::domain::Region::West,
            intake_max_per_hour: 10,
            imap_host: None,
            imap_port: 993,
            imap_tls: true,
            imap_user: None,
            imap_password: None,
            imap_mailbox: "INBOX".into(),
            imap_poll_seconds: 30,
            imap_max_bytes: 5 * 1024 * 1024,
            shutdown_grace_seconds: 0,
            media_max_bytes: 10 * 1024 * 1024,
            media_dir: None,
            media_s3_bucket: None,
            media_s3_endpoint: None,
            media_s3_region: None,
            media_s3_access_key_id: None,
            media_s3_secret_access_key: None,
            checkin_max_meters: 300,
            evidence_photo_max_age_minutes: 60,
            evidence_enforce: false,
            log_format: "text".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show_in_debug_output() {
        let mut s = Settings::with_database("sqlite::memory:");
        s.admin_password = Some(Secret::new("hunter2hunter2"));
        s.jwt_secret = Some(Secret::new("topsecret"));
        let shown = format!("{s:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("topsecret"), "{shown}");
    }
}
