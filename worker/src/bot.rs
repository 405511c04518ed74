//! The Telegram bot: polls the bot's updates and answers them. `/start CODE` links the chat to
//! the user who asked the API for the code; the Accept button of an announcement runs the same
//! command as `POST /v1/tickets/:id/ticketStatus/accept` for the linked user (the first press
//! wins; the others are told who took it). Each update is handled once: its id is recorded in
//! the transaction of what it does, so a redelivered update changes nothing; one whose handling
//! fails (the database away) is not acknowledged, so Telegram hands it out again (five tries).
//!
//! One process polls at a time: on PostgreSQL the poller holds an advisory lock, and the other
//! workers wait to take over.

use std::time::Duration;

use common::{
    DomainError, announce,
    db::{self, Db, telegram, tickets, tickets::TicketRow, users},
    domain::{TicketSource, ticket::Command},
    intake::{self, Report},
    service,
};
use teloxide_core::types::{CallbackQuery, Message, Update, UpdateKind};

use crate::{
    Context,
    clients::{Chat, telegram::accepted_ticket},
};

/// The advisory lock of the poller (any constant no other lock uses).
const POLLER_LOCK: i64 = 0x0C65_7465_6C65;
/// After a failed poll, the wait before the next.
const RETRY: Duration = Duration::from_secs(2);
/// Tries of an update whose handling fails (the database away, say) before it is skipped.
const UPDATE_ATTEMPTS: u32 = 5;
/// When the poll answers at once with nothing (some servers do not wait), the pause before the
/// next.
const IDLE: Duration = Duration::from_millis(200);

/// Polls until `stop` turns true.
pub async fn run(ctx: Context, bot: std::sync::Arc<dyn Chat>, mut stop: tokio::sync::watch::Receiver<bool>) {
    let stopping = |s: &tokio::sync::watch::Receiver<bool>| *s.borrow();
    // Held for as long as this process polls (PostgreSQL); dropped with it.
    let _lock = loop {
        match poller_lock(&ctx.db).await {
            Ok(Some(lock)) => break lock,
            Ok(None) => tracing::debug!("another worker polls Telegram; waiting"),
            Err(e) => tracing::warn!(error = %e, "could not ask for the Telegram poller lock"),
        }
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(Duration::from_secs(10)) => {}
        }
    };
    tracing::info!("Telegram bot polling for updates");
    let mut offset = match last_update(&ctx.db).await {
        Ok(last) => last.map_or(0, |l| l as i32 + 1),
        Err(e) => {
            tracing::warn!(error = %e, "could not read the last handled update; starting from Telegram's");
            0
        }
    };
    let mut failures = 0;
    while !stopping(&stop) {
        let polled = tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            polled = bot.updates(offset) => polled,
        };
        match polled {
            Ok(updates) if updates.is_empty() => tokio::time::sleep(IDLE).await,
            Ok(updates) => {
                for update in updates {
                    let id = update.id.0;
                    match handle(&ctx, bot.as_ref(), &update).await {
                        Ok(()) => failures = 0,
                        // Not acknowledged: Telegram hands it out again at the next poll (what it
                        // did is recorded with it, so nothing is done twice).
                        Err(e) if failures + 1 < UPDATE_ATTEMPTS => {
                            failures += 1;
                            tracing::warn!(update = id, attempt = failures, error = %format!("{e:#}"), "a Telegram update failed; trying it again");
                            tokio::time::sleep(RETRY).await;
                            break;
                        }
                        Err(e) => {
                            failures = 0;
                            tracing::error!(update = id, error = %format!("{e:#}"), "a Telegram update failed {UPDATE_ATTEMPTS} times; skipped");
                        }
                    }
                    offset = offset.max(id as i32 + 1);
                }
            }
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "Telegram poll failed; trying again");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// The right to poll: on PostgreSQL a connection holding the advisory lock (released when it
/// goes); SQLite has one process, so nothing to hold.
struct PollerLock {
    _held: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
}

/// The poller lock, or `None` when another process holds it.
async fn poller_lock(db: &Db) -> anyhow::Result<Option<PollerLock>> {
    match db {
        Db::Sqlite(..) => Ok(Some(PollerLock { _held: None })),
        Db::Postgres(pool, ..) => {
            let mut conn = pool.acquire().await?;
            let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(POLLER_LOCK)
                .fetch_one(&mut *conn)
                .await?;
            Ok(got.then(|| PollerLock { _held: Some(conn) }))
        }
    }
}

async fn last_update(db: &Db) -> anyhow::Result<Option<i64>> {
    let mut tx = db.begin().await?;
    let last = telegram::last_update(&mut tx).await?;
    tx.commit().await?;
    Ok(last)
}

async fn handle(ctx: &Context, bot: &dyn Chat, update: &Update) -> anyhow::Result<()> {
    match &update.kind {
        UpdateKind::Message(m) => on_message(ctx, bot, update.id.0.into(), m).await,
        UpdateKind::CallbackQuery(q) => on_press(ctx, bot, update.id.0.into(), q).await,
        other => {
            tracing::debug!(kind = ?std::mem::discriminant(other), "Telegram update ignored");
            Ok(())
        }
    }
}

async fn on_message(ctx: &Context, bot: &dyn Chat, update_id: i64, m: &Message) -> anyhow::Result<()> {
    let chat = m.chat.id.0;
    let text = m.text().or(m.caption()).unwrap_or_default().trim();
    let now = db::now();
    let mut tx = ctx.db.begin_write().await?;
    if !telegram::first_delivery(&mut tx, update_id, now).await? {
        return Ok(());
    }
    let media: Vec<String> = m
        .photo()
        .and_then(|sizes| sizes.iter().max_by_key(|p| p.width * p.height))
        .map(|p| format!("telegram-file:{}", p.file.id))
        .into_iter()
        .collect();
    let reply = match text.strip_prefix("/start") {
        // A group's members would all get one person's announcements: a chat is linked only
        // where the user alone reads it. The code stays valid for the private chat.
        Some(_) if !m.chat.is_private() => {
            "Link your account in a private chat with me: open it and send /start CODE there.".to_owned()
        }
        Some(code) if !code.trim().is_empty() => {
            match telegram::redeem(&mut tx, &code.trim().to_uppercase(), chat, now).await? {
                Some(user) => {
                    tracing::info!(user.id = %user.id, "Telegram chat linked");
                    format!(
                        "Linked: you are {} ({}, {}). Open tickets of your region will come here.",
                        user.name, user.role, user.region
                    )
                }
                None => "That code is unknown, used or expired. Ask the CGS app for a new one.".to_owned(),
            }
        }
        Some(_) => {
            "To link this chat to your CGS account, ask the app for a code and send /start CODE.".to_owned()
        }
        None if text.is_empty() && media.is_empty() => {
            "Describe the problem in a message (a photo helps): it becomes a ticket for our NOC.".to_owned()
        }
        None => {
            let sender = m.from.as_ref();
            let name = sender.map_or_else(|| format!("Telegram {chat}"), |u| u.full_name());
            let report = Report {
                source: TicketSource::Telegram,
                contact_name: name,
                contact_address: format!("telegram:{chat}"),
                text: text.to_owned(),
                media,
                reporter: telegram::actor_of_chat(&mut tx, chat).await?,
            };
            match intake::draft(&mut tx, ctx.settings.effects(), &ctx.settings.inbox(), &report, now).await {
                Ok(intake::Drafted::Ticket(t)) => {
                    tracing::info!(ticket.id = %t.state.id, "ticket reported by Telegram");
                    format!("Thank you. Your report is ticket {}; our NOC will follow it up.", t.ticket_id)
                }
                Ok(intake::Drafted::OverLimit { tell }) => {
                    tracing::warn!(chat, told = tell, "a Telegram sender is over the hourly report limit");
                    tx.commit().await?;
                    return match tell {
                        true => bot.say(chat, &intake::over_limit_text(&ctx.settings.inbox())).await,
                        false => Ok(()),
                    };
                }
                Err(e @ DomainError::Conflict { .. }) => {
                    tracing::error!(error = %e, "a Telegram report could not become a ticket");
                    "Sorry, your report cannot be taken right now; please call our NOC.".to_owned()
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    tx.commit().await?;
    bot.say(chat, &reply).await
}

/// The chat's answer to the technician who took `row`: an outage names its element and the
/// customers whose reports close with it.
fn accepted(row: &TicketRow) -> String {
    match row.outage_level.zip(row.outage_name.as_deref()) {
        Some((level, name)) => format!(
            "You took outage {} at {} {name}: {} affected, whose reports close with it. \
             Go to the site when ready.",
            row.ticket_id,
            level.words(),
            announce::customers(row.child_count)
        ),
        None => format!("You took ticket {}. Go to the site when ready.", row.ticket_id),
    }
}

async fn on_press(ctx: &Context, bot: &dyn Chat, update_id: i64, q: &CallbackQuery) -> anyhow::Result<()> {
    let chat = q.from.id.0 as i64;
    let now = db::now();
    let mut tx = ctx.db.begin_write().await?;
    if !telegram::first_delivery(&mut tx, update_id, now).await? {
        return Ok(());
    }
    let Some(ticket_id) = q.data.as_deref().and_then(accepted_ticket) else {
        tx.commit().await?;
        return bot.answer(q.id.clone(), "This button is not known here.").await;
    };
    let Some(actor) = telegram::actor_of_chat(&mut tx, chat).await? else {
        tx.commit().await?;
        return bot.answer(q.id.clone(), "Link this chat to your CGS account first: /start CODE").await;
    };
    let ran = service::tickets::change(
        &mut tx,
        &ctx.settings,
        &actor,
        &(&actor).into(),
        ticket_id,
        &Command::Accept,
        now,
    )
    .await;
    let answer = match ran {
        Ok((row, _)) => {
            tx.commit().await?;
            tracing::info!(ticket.id = %ticket_id, user.id = %actor.id, "ticket accepted from Telegram");
            accepted(&row)
        }
        Err(e) => {
            drop(tx);
            // Record the press even though the command failed, so a redelivery is not retried.
            let mut tx = ctx.db.begin_write().await?;
            telegram::first_delivery(&mut tx, update_id, now).await?;
            let ticket = tickets::get(&mut tx, ticket_id).await?;
            let taken_by = match ticket.as_ref().and_then(|t| t.state.foc_id) {
                Some(foc) => users::get_any(&mut tx, foc).await?.map(|u| u.name),
                None => None,
            };
            tx.commit().await?;
            match (e, ticket, taken_by) {
                (DomainError::Conflict { .. } | DomainError::Forbidden(_), Some(t), Some(name)) => {
                    format!("Ticket {} was already taken by {name}.", t.ticket_id)
                }
                (DomainError::NotFound(_), _, _) => "That ticket is no longer there.".to_owned(),
                (DomainError::Conflict { message, .. } | DomainError::Forbidden(message), _, _) => {
                    format!("Could not accept: {message}")
                }
                // What failed inside stays in the log; the chat gets no database's words.
                (e, _, _) => {
                    tracing::error!(ticket.id = %ticket_id, error = %e, "accepting from Telegram failed");
                    "Could not accept right now; try again in a moment or in the app.".to_owned()
                }
            }
        }
    };
    // The notice on the button is a courtesy; the message in the chat is the answer.
    if let Err(e) = bot.answer(q.id.clone(), &answer).await {
        tracing::debug!(error = %format!("{e:#}"), "answering the button press failed");
    }
    bot.say(chat, &answer).await
}
