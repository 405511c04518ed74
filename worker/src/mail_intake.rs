//! Mail intake: polls an IMAP mailbox and turns each new mail into a `Draft` ticket with source
//! `Email` (sender as contact, subject and body as remark, attachments as media references),
//! once per Message-ID, and answers the sender with the ticket number when mail is configured.
//!
//! A mail is read with `BODY.PEEK[]` and flagged `\Seen` only after its ticket is committed, so
//! a crash in between reads it again (and the Message-ID makes that harmless). A mail that is
//! too large or cannot be parsed is flagged `$CgsSetAside` (and `\Seen`), logged, and skipped:
//! it never holds up the mails after it. A mail written by a machine (an auto-reply, a mailing
//! list, a bounce) is flagged `$CgsGenerated` and skipped: no ticket, no answer. Several workers
//! may poll one mailbox.

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
    /// Written by a machine (an auto-reply, a mailing list, a bounce, our own): no ticket and
    /// no answer; flagged and skipped.
    Generated(String),
    /// Its sender is over `CGS_INTAKE_MAX_PER_HOUR`: no ticket; flagged and skipped, the sender
    /// told once per window (`told`).
    OverLimit { told: bool },
}

/// The keyword of mails over their sender's hourly limit.
const OVER_LIMIT: &str = "$CgsOverLimit";

/// The keyword of mails written by a machine.
const GENERATED: &str = "$CgsGenerated";

/// Why a mail was written by a machine rather than a person, if it was: RFC 3834's
/// `Auto-Submitted` (other than `no`), `Precedence: bulk|junk|list`, a mailing list's
/// `List-Id`, an auto-responder's `X-Autoreply`/`X-Autorespond`, a bounce from a mailer daemon or
/// postmaster (or with an empty `Return-Path`), or a mail from our own address. Such a mail gets
/// neither a ticket nor an answer, so two auto-responders never write to each other through us.
pub fn generated(msg: &mail_parser::Message, from: &str, own: Option<&str>) -> Option<String> {
    let header = |name: &str| {
        msg.headers().iter().find(|h| h.name().eq_ignore_ascii_case(name)).map(|h| {
            let raw =
                msg.raw_message().get(h.offset_start() as usize..h.offset_end() as usize).unwrap_or_default();
            String::from_utf8_lossy(raw).trim().to_ascii_lowercase()
        })
    };
    if let Some(v) =
        header("Auto-Submitted").filter(|v| v.split(';').next().is_some_and(|t| t.trim() != "no"))
    {
        return Some(format!("Auto-Submitted: {v}"));
    }
    if let Some(v) = header("Precedence").filter(|v| matches!(v.as_str(), "bulk" | "junk" | "list")) {
        return Some(format!("Precedence: {v}"));
    }
    for name in ["List-Id", "X-Autoreply", "X-Autorespond"] {
        if header(name).is_some() {
            return Some(format!("{name} present"));
        }
    }
    let local = from.rsplit_once('@').map(|(l, _)| l).unwrap_or(from).to_ascii_lowercase();
    if matches!(local.as_str(), "mailer-daemon" | "postmaster") {
        return Some(format!("a bounce from {from}"));
    }
    if header("Return-Path").is_some_and(|v| v == "<>") {
        return Some("a bounce (empty Return-Path)".into());
    }
    if own.is_some_and(|own| own.eq_ignore_ascii_case(from)) {
        return Some("our own mail".into());
    }
    None
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
            Outcome::Generated(why) => {
                tracing::info!(uid, reason = %why, "mail written by a machine: no ticket, no answer")
            }
            Outcome::OverLimit { told } => {
                tracing::warn!(uid, told, "mail of a sender over the hourly report limit: no ticket")
            }
        }
        let flags = match outcome {
            Outcome::SetAside(_) => format!("+FLAGS (\\Seen {SET_ASIDE})"),
            Outcome::Generated(_) => format!("+FLAGS (\\Seen {GENERATED})"),
            Outcome::OverLimit { .. } => format!("+FLAGS (\\Seen {OVER_LIMIT})"),
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
    let own = ctx.mailer.as_ref().map(|m| m.address());
    if let Some(why) = generated(&msg, &from, own.as_deref()) {
        return Ok(Outcome::Generated(why));
    }
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
    let inbox = ctx.settings.inbox();
    let ticket = match intake::draft(&mut tx, ctx.settings.effects(), &inbox, &report, now).await? {
        intake::Drafted::Ticket(t) => t,
        intake::Drafted::OverLimit { tell } => {
            tx.commit().await?;
            if tell {
                let text = intake::over_limit_text(&inbox);
                let ours = format!("over-limit-{}@cgs-ticketing", uuid::Uuid::now_v7().simple());
                let subject = format!("Re: {}", subject_or(&subject));
                reply(ctx, (&name, &from), &subject, text, (&message_id, ours)).await;
            }
            return Ok(Outcome::OverLimit { told: tell });
        }
    };
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
    let text = format!("Thank you for your report. It is ticket {number}; our NOC will follow it up.\n");
    let ours = format!("reply-{number}@cgs-ticketing");
    reply(ctx, (name, to), &format!("Re: {} [{number}]", subject_or(subject)), text, (message_id, ours))
        .await;
}

fn subject_or(subject: &str) -> &str {
    if subject.is_empty() { "your report" } else { subject }
}

/// Answers `to` (name, address) in reply to the mail `ids.0` with the Message-ID `ids.1` (when
/// mail is configured); a failure is logged only.
async fn reply(ctx: &Context, to: (&str, &str), subject: &str, text: String, ids: (&str, String)) {
    let Some(mailer) = &ctx.mailer else { return };
    let (message_id, ours) = ids;
    let (name, to) = to;
    let mail = Mail {
        to_name: name.to_owned(),
        to_address: to.to_owned(),
        subject: subject.to_owned(),
        text,
        message_id: ours,
    };
    if let Err(e) = mailer.send_in_reply(&mail, Some(message_id)).await {
        tracing::warn!(error = %format!("{e:#}"), to = %to, "answering a mail report failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(headers: &str) -> Vec<u8> {
        format!("{headers}From: a@example.com\r\nSubject: s\r\nMessage-ID: <x@example.com>\r\n\r\nbody\r\n")
            .into_bytes()
    }

    #[test]
    fn mail_written_by_a_machine_is_recognised() {
        let own = Some("tickets@cgs.test");
        for (headers, from) in [
            ("Auto-Submitted: auto-replied\r\n", "a@example.com"),
            ("auto-submitted: Auto-Generated; owner-email=x@y\r\n", "a@example.com"),
            ("Precedence: bulk\r\n", "a@example.com"),
            ("Precedence: list\r\n", "a@example.com"),
            ("List-Id: <noc.lists.example.com>\r\n", "a@example.com"),
            ("X-Autoreply: yes\r\n", "a@example.com"),
            ("Return-Path: <>\r\n", "a@example.com"),
            ("", "MAILER-DAEMON@mx.example.com"),
            ("", "postmaster@example.com"),
            ("", "Tickets@CGS.test"),
        ] {
            let raw = parse(headers);
            let msg = MessageParser::default().parse(&raw).unwrap();
            assert!(generated(&msg, from, own).is_some(), "{headers:?} from {from}");
        }
        for headers in ["", "Auto-Submitted: no\r\n", "Precedence: first-class\r\n"] {
            let raw = parse(headers);
            let msg = MessageParser::default().parse(&raw).unwrap();
            assert_eq!(generated(&msg, "budi@example.com", own), None, "{headers:?}");
        }
    }
}
