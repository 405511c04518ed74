//! The outside services of the worker, each behind the small trait of what the worker needs of
//! it, with its real client beside it (tested against a real local peer): [`TicketStore`]
//! (Firestore), [`Mailer`] (SMTP) and [`Chat`] (the Telegram Bot API).

pub mod firestore;
pub mod mail;
pub mod telegram;

use async_trait::async_trait;
use common::{announce::Announcement, document::TicketDocument, domain::access::AccessDocument};
use teloxide_core::types::{CallbackQueryId, Update};
use uuid::Uuid;

use self::{firestore::TicketCount, mail::Mail};

/// Where the apps read tickets live.
#[async_trait]
pub trait TicketStore: Send + Sync {
    /// Writes a ticket's document and its month's count, both or neither.
    async fn put(&self, doc: &TicketDocument, month_id: &str, count: &TicketCount) -> anyhow::Result<()>;
    /// Writes a user's access document (what the store's rules let the user read).
    async fn put_access(&self, user_id: Uuid, doc: &AccessDocument) -> anyhow::Result<()>;
}

/// Outgoing mail.
#[async_trait]
pub trait Mailer: Send + Sync {
    /// The address our mails come from.
    fn address(&self) -> String;
    /// Sends `mail`, as the answer to the mail `in_reply_to` (a Message-ID without brackets) if
    /// given.
    async fn send_in_reply(&self, mail: &Mail, in_reply_to: Option<&str>) -> anyhow::Result<()>;
    /// Whether `e`, from a send, is a refusal for good: the same mail would be refused again.
    fn refused_for_good(&self, e: &anyhow::Error) -> bool;

    async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        self.send_in_reply(mail, None).await
    }
}

/// The chat with technicians and reporters.
#[async_trait]
pub trait Chat: Send + Sync {
    /// Sends the announcement of an open ticket, with its Accept button.
    async fn announce(&self, chat: i64, a: &Announcement) -> anyhow::Result<()>;
    async fn say(&self, chat: i64, text: &str) -> anyhow::Result<()>;
    /// Answers a button press (the client shows `text` as a notice).
    async fn answer(&self, query: CallbackQueryId, text: &str) -> anyhow::Result<()>;
    /// The updates after `offset` (messages and button presses), waiting a while for some.
    async fn updates(&self, offset: i32) -> anyhow::Result<Vec<Update>>;
    /// Whether `e`, from a send, is a refusal for good: sending again would be refused the same way.
    fn refused_for_good(&self, e: &anyhow::Error) -> bool;
}
