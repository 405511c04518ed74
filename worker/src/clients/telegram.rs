//! The Telegram Bot API (teloxide-core), from `CGS_TELEGRAM_BOT_TOKEN` and
//! `CGS_TELEGRAM_API_URL`: announcements with an Accept button, replies, and the update poll.

use std::time::Duration;

use anyhow::Context as _;
use common::announce::Announcement;
use teloxide_core::{
    Bot,
    payloads::{AnswerCallbackQuerySetters, GetUpdatesSetters, SendMessageSetters},
    requests::Requester,
    types::{AllowedUpdate, CallbackQueryId, ChatId, InlineKeyboardButton, InlineKeyboardMarkup, Update},
};
use uuid::Uuid;

/// How long one request may take before it counts as failed.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a `getUpdates` waits on the server for something to arrive.
pub const LONG_POLL_SECONDS: u32 = 10;

/// The callback data of the Accept button of a ticket.
pub fn accept_data(ticket: Uuid) -> String {
    format!("accept:{ticket}")
}

/// The ticket of an Accept button's callback data.
pub fn accepted_ticket(data: &str) -> Option<Uuid> {
    data.strip_prefix("accept:")?.parse().ok()
}

#[derive(Clone)]
pub struct Telegram {
    bot: Bot,
}

impl Telegram {
    pub fn new(token: &str, api_url: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(api_url)
            .with_context(|| format!("CGS_TELEGRAM_API_URL `{api_url}` is not a URL"))?;
        let client = teloxide_core::net::default_reqwest_settings()
            .timeout(REQUEST_TIMEOUT + Duration::from_secs(u64::from(LONG_POLL_SECONDS)))
            .build()
            .context("building the Telegram HTTP client")?;
        Ok(Self { bot: Bot::with_client(token, client).set_api_url(url) })
    }

    async fn timed<T, E: std::error::Error + Send + Sync + 'static>(
        &self,
        request: impl std::future::IntoFuture<Output = Result<T, E>>,
    ) -> anyhow::Result<T> {
        tokio::time::timeout(REQUEST_TIMEOUT, request.into_future())
            .await
            .map_err(|_| anyhow::anyhow!("no answer from Telegram within {} s", REQUEST_TIMEOUT.as_secs()))?
            .context("Telegram refused or was unreachable")
    }
}

#[async_trait::async_trait]
impl super::Chat for Telegram {
    /// Sends the announcement of an open ticket, with its Accept button.
    async fn announce(&self, chat: i64, a: &Announcement) -> anyhow::Result<()> {
        let keyboard = InlineKeyboardMarkup::new([[InlineKeyboardButton::callback(
            format!("Accept {}", a.number),
            accept_data(a.ticket_id),
        )]]);
        self.timed(self.bot.send_message(ChatId(chat), a.text()).reply_markup(keyboard)).await?;
        Ok(())
    }

    async fn say(&self, chat: i64, text: &str) -> anyhow::Result<()> {
        self.timed(self.bot.send_message(ChatId(chat), text)).await?;
        Ok(())
    }

    /// Answers a button press (the client shows `text` as a notice).
    async fn answer(&self, query: CallbackQueryId, text: &str) -> anyhow::Result<()> {
        self.timed(self.bot.answer_callback_query(query).text(text)).await?;
        Ok(())
    }

    /// The updates after `offset` (messages and button presses), waiting up to
    /// [`LONG_POLL_SECONDS`] for some to arrive.
    async fn updates(&self, offset: i32) -> anyhow::Result<Vec<Update>> {
        self.bot
            .get_updates()
            .offset(offset)
            .timeout(LONG_POLL_SECONDS)
            .allowed_updates([AllowedUpdate::Message, AllowedUpdate::CallbackQuery])
            .await
            .context("polling Telegram for updates")
    }

    /// The user blocked the bot or is gone, the chat does not exist, the bot was removed from it.
    fn refused_for_good(&self, e: &anyhow::Error) -> bool {
        use teloxide_core::{ApiError, RequestError};
        e.chain().any(|c| {
            matches!(
                c.downcast_ref::<RequestError>(),
                Some(RequestError::Api(
                    ApiError::BotBlocked
                        | ApiError::UserDeactivated
                        | ApiError::ChatNotFound
                        | ApiError::BotKicked
                        | ApiError::BotKickedFromSupergroup
                        | ApiError::CantInitiateConversation
                        | ApiError::CantTalkWithBots
                ))
            )
        })
    }
}
