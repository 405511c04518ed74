//! Outgoing mail over SMTP (lettre), from `CGS_SMTP_URL`.

use std::time::Duration;

use anyhow::Context as _;
use lettre::{
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{Mailbox, header::ContentType},
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

#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    pub fn new(url: &str, from: &str) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("CGS_SMTP_URL is not a valid smtp:// or smtps:// address")?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        let from = from.parse().with_context(|| format!("CGS_MAIL_FROM `{from}` is not a mail address"))?;
        Ok(Self { transport, from })
    }

    pub async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        self.send_in_reply(mail, None).await
    }

    /// Sends `mail` as the answer to the mail `in_reply_to` (a Message-ID without brackets).
    pub async fn send_in_reply(&self, mail: &Mail, in_reply_to: Option<&str>) -> anyhow::Result<()> {
        let to =
            Mailbox::new(Some(mail.to_name.clone()), mail.to_address.parse().context("recipient address")?);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(format!("<{}>", mail.message_id)))
            .header(ContentType::TEXT_PLAIN);
        if let Some(original) = in_reply_to {
            builder = builder.in_reply_to(format!("<{original}>")).references(format!("<{original}>"));
        }
        let message = builder.body(mail.text.clone()).context("building the mail")?;
        tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message))
            .await
            .map_err(|_| {
                anyhow::anyhow!("no answer from the mail server within {} s", SEND_TIMEOUT.as_secs())
            })?
            .context("the mail server refused or was unreachable")?;
        Ok(())
    }
}
