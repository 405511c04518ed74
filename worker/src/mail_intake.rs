//! Mail intake: polls an IMAP mailbox and turns each new mail into a `Draft` ticket with source
//! `Email` (sender as contact, subject and body as remark, attachments as media references),
//! once per Message-ID, and answers the sender with the ticket number when mail is configured.
//!
//! A mail is read with `BODY.PEEK[]` and flagged `\Seen` only after its ticket is committed, so
//! a crash in between reads it again (and the Message-ID makes that harmless). A mail that is
//! too large or cannot be parsed is flagged `$CgsSetAside` (and `\Seen`), logged, and skipped:
//! it never holds up the mails after it. Several workers may poll one mailbox.

use std::{sync::Arc, time::Duration};

use anyhow::Context as _;
use async_imap::{Client, Session};
use common::{
    db::{self, intake as mail_db},
    domain::TicketSource,
    intake::{self, Report},
};
use futures_util::TryStreamExt;
use mail_parser::{MessageParser, MimeHeaders};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::{Context, clients::mail::Mail};

/// The keyword of mails set aside.
const SET_ASIDE: &str = "$CgsSetAside";
/// How long one IMAP exchange may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// What became of one mail.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new draft, with its number.
    Ticket(String),
    /// Its Message-ID had already become a ticket.
    Duplicate,
    /// Too large or unreadable: flagged and skipped.
    SetAside(String),
}

/// Polls every `CGS_IMAP_POLL_SECONDS` until `stop` turns true; a failed poll (server down,
/// refused login) is logged and tried again at the next.
pub async fn run(ctx: Context, mut stop: tokio::sync::watch::Receiver<bool>) {
    let every = Duration::from_secs(ctx.settings.imap_poll_seconds.max(1));
    loop {
        match tokio::time::timeout(TIMEOUT * 5, poll(&ctx)).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(mails = n, "mailbox read"),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %format!("{e:#}"), "mail intake poll failed; trying again later")
            }
            Err(_) => tracing::warn!("mail intake poll took too long; trying again later"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// One poll: every unseen mail not set aside, oldest first. The number of mails handled.
pub async fn poll(ctx: &Context) -> anyhow::Result<usize> {
    let s = &ctx.settings;
    let host = s.imap_host.as_deref().context("CGS_IMAP_HOST is not set")?;
    let tcp = tokio::net::TcpStream::connect((host, s.imap_port))
        .await
        .with_context(|| format!("connecting to {host}:{}", s.imap_port))?;
    if s.imap_tls {
        let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(tokio_rustls::rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth();
        let name = tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await?;
        session(ctx, Client::new(tls)).await
    } else {
        session(ctx, Client::new(tcp)).await
    }
}

async fn session<T>(ctx: &Context, mut client: Client<T>) -> anyhow::Result<usize>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let s = &ctx.settings;
    client.read_response().await?.context("the IMAP server closed before greeting")?;
    let user = s.imap_user.as_deref().unwrap_or_default();
    let password = s.imap_password.as_ref().map(|p| p.expose()).unwrap_or_default();
    let mut imap = client.login(user, password).await.map_err(|(e, _)| e).context("IMAP login")?;
    imap.select(&s.imap_mailbox).await.with_context(|| format!("selecting {}", s.imap_mailbox))?;
    let mut uids: Vec<u32> =
        imap.uid_search(format!("UNSEEN UNKEYWORD {SET_ASIDE}")).await?.into_iter().collect();
    uids.sort_unstable();
    let mut handled = 0;
    for uid in uids {
        let outcome = match read_one(ctx, &mut imap, uid).await {
            Ok(outcome) => outcome,
            Err(e) => {
                // Left unseen for the next poll; the mails after it go on.
                tracing::warn!(uid, error = %format!("{e:#}"), "a mail could not be taken; trying it again at the next poll");
                continue;
            }
        };
        match &outcome {
            Outcome::Ticket(number) => tracing::info!(uid, ticket = %number, "mail became a ticket"),
            Outcome::Duplicate => tracing::info!(uid, "mail already a ticket"),
            Outcome::SetAside(why) => tracing::warn!(uid, reason = %why, "mail set aside"),
        }
        let flags = match outcome {
            Outcome::SetAside(_) => format!("+FLAGS (\\Seen {SET_ASIDE})"),
            _ => "+FLAGS (\\Seen)".to_owned(),
        };
        imap.uid_store(uid.to_string(), flags).await?.try_collect::<Vec<_>>().await?;
        handled += 1;
    }
    imap.logout().await?;
    Ok(handled)
}

async fn read_one<T>(ctx: &Context, imap: &mut Session<T>, uid: u32) -> anyhow::Result<Outcome>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let max = ctx.settings.imap_max_bytes;
    let sized: Vec<_> = imap.uid_fetch(uid.to_string(), "RFC822.SIZE").await?.try_collect().await?;
    let size = sized.iter().find_map(|f| f.size).unwrap_or(0);
    if size > max {
        return Ok(Outcome::SetAside(format!("{size} bytes, more than CGS_IMAP_MAX_BYTES ({max})")));
    }
    let fetched: Vec<_> = imap.uid_fetch(uid.to_string(), "BODY.PEEK[]").await?.try_collect().await?;
    let Some(raw) = fetched.iter().find_map(|f| f.body()) else {
        return Ok(Outcome::SetAside("the server sent no body".into()));
    };
    take(ctx, raw).await
}

/// Turns one raw mail into a ticket (or says why not), and answers its sender.
pub async fn take(ctx: &Context, raw: &[u8]) -> anyhow::Result<Outcome> {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Ok(Outcome::SetAside("not a mail message".into()));
    };
    let Some(from) = msg.from().and_then(|a| a.first()).and_then(|a| a.address()).map(str::to_owned) else {
        return Ok(Outcome::SetAside("no sender address".into()));
    };
    let Some(message_id) = msg.message_id().map(str::to_owned) else {
        return Ok(Outcome::SetAside("no Message-ID".into()));
    };
    let name = msg.from().and_then(|a| a.first()).and_then(|a| a.name()).unwrap_or(&from).to_owned();
    let subject = msg.subject().unwrap_or_default().trim().to_owned();
    let body = msg.body_text(0).map(|b| b.trim().to_owned()).unwrap_or_default();
    let media = msg
        .attachments()
        .map(|a| format!("mail-attachment:{}", a.attachment_name().unwrap_or("unnamed")))
        .collect();
    let report = Report {
        source: TicketSource::Email,
        contact_name: name.clone(),
        contact_address: from.clone(),
        text: [subject.as_str(), body.as_str()]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("\n\n"),
        media,
        reporter: None,
    };
    let now = db::now();
    let mut tx = ctx.db.begin_write().await?;
    if mail_db::mail_ticket(&mut tx, &message_id).await?.is_some() {
        return Ok(Outcome::Duplicate);
    }
    let ticket = intake::draft(&mut tx, ctx.settings.effects(), &ctx.settings.inbox(), &report, now).await?;
    if !mail_db::record_mail(&mut tx, &message_id, ticket.state.id, now).await? {
        // Another worker took the same mail meanwhile: its ticket stands, this one is dropped.
        return Ok(Outcome::Duplicate);
    }
    tx.commit().await?;
    answer(ctx, &name, &from, &subject, &message_id, &ticket.ticket_id).await;
    Ok(Outcome::Ticket(ticket.ticket_id))
}

/// Tells the sender the ticket number (when mail is configured); a failure is logged only: the
/// ticket exists either way.
async fn answer(ctx: &Context, name: &str, to: &str, subject: &str, message_id: &str, number: &str) {
    let Some(mailer) = &ctx.mailer else { return };
    let mail = Mail {
        to_name: name.to_owned(),
        to_address: to.to_owned(),
        subject: format!("Re: {} [{number}]", if subject.is_empty() { "your report" } else { subject }),
        text: format!("Thank you for your report. It is ticket {number}; our NOC will follow it up.\n"),
        message_id: format!("reply-{number}@cgs-ticketing"),
    };
    if let Err(e) = mailer.send_in_reply(&mail, Some(message_id)).await {
        tracing::warn!(error = %format!("{e:#}"), ticket = %number, "answering a mail report failed");
    }
}
