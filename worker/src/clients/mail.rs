//! Outgoing mail over SMTP (lettre), from `CGS_SMTP_URL`.

use std::time::Duration;

use anyhow::Context as _;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox,
        header::{ContentType, HeaderName, HeaderValue},
    },
};

/// How long one delivery may take before it counts as failed (and is retried).
const SEND_TIMEOUT: Duration = Duration::from_secs(20);

/// One outgoing message.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to_name: String,
    pub to_address: String,
    pub subject: String,
    pub text: String,
    /// A stable `Message-ID` (without brackets): a retried delivery carries the same one, so a
    /// mail client shows a duplicate once.
    pub message_id: String,
}

/// The SMTP client.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

#[async_trait::async_trait]
impl super::Mailer for SmtpMailer {
    /// `CGS_MAIL_FROM`.
    fn address(&self) -> String {
        self.from.email.to_string()
    }

    async fn send_in_reply(&self, mail: &Mail, in_reply_to: Option<&str>) -> anyhow::Result<()> {
        let message = self.message(mail, in_reply_to)?;
        tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message))
            .await
            .map_err(|_| {
                anyhow::anyhow!("no answer from the mail server within {} s", SEND_TIMEOUT.as_secs())
            })?
            .context("the mail server refused or was unreachable")?;
        Ok(())
    }

    /// The mail server's 5xx answers (such as no such user).
    fn refused_for_good(&self, e: &anyhow::Error) -> bool {
        e.chain()
            .any(|c| c.downcast_ref::<lettre::transport::smtp::Error>().is_some_and(|s| s.is_permanent()))
    }
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("CGS_SMTP_URL is not a valid smtp:// or smtps:// address")?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let from = from.parse().with_context(|| format!("CGS_MAIL_FROM `{from}` is not a mail address"))?;
        Ok(Self { transport, from })
    }

    fn message(&self, mail: &Mail, in_reply_to: Option<&str>) -> anyhow::Result<Message> {
        let to =
            Mailbox::new(Some(mail.to_name.clone()), mail.to_address.parse().context("recipient address")?);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(format!("<{}>", mail.message_id)))
            .header(ContentType::TEXT_PLAIN);
        // Every mail of ours is a machine's (RFC 3834): an answer to a report is `auto-replied`,
        // an announcement `auto-generated`, so that auto-responders do not answer it.
        let auto = if in_reply_to.is_some() { "auto-replied" } else { "auto-generated" };
        builder = builder
            .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("Auto-Submitted"), auto.into()));
        if let Some(original) = in_reply_to {
            builder = builder.in_reply_to(format!("<{original}>")).references(format!("<{original}>"));
        }
        builder.body(mail.text.clone()).context("building the mail")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn our_mails_say_a_machine_wrote_them() {
        let mailer = SmtpMailer::new("smtp://127.0.0.1:25", "CGS <tickets@cgs.test>").unwrap();
        let mail = Mail {
            to_name: "Siti".into(),
            to_address: "siti@example.com".into(),
            subject: "Re: ODP".into(),
            text: "ticket CGS-1".into(),
            message_id: "reply-1@cgs-ticketing".into(),
        };
        let answer =
            String::from_utf8(mailer.message(&mail, Some("m1@example.com")).unwrap().formatted()).unwrap();
        assert!(answer.contains("\r\nAuto-Submitted: auto-replied\r\n"), "{answer}");
        let announcement = String::from_utf8(mailer.message(&mail, None).unwrap().formatted()).unwrap();
        assert!(announcement.contains("\r\nAuto-Submitted: auto-generated\r\n"), "{announcement}");
    }
}
