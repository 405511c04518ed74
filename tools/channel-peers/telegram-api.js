// A Telegram Bot API emulator for tests (npm telegram-test-api) on 127.0.0.1, with the answers
// brought closer to the real Bot API where the emulator's differ and a strict client would
// refuse them: dates in seconds (not milliseconds), a callback query's `chat_instance` and its
// message's id and date, and no `title` on private chats. (Its answerCallbackQuery answers
// `null` where Telegram answers `true`; the bot does not depend on that answer.)
// Usage: node telegram-api.js <port>      (telegram-test-api takes 0 for 9000: pass a free port)
// Prints one line {"port": <port>} once it listens.
// Bot side: http://127.0.0.1:<port>/bot<token>/<method>. User side (the emulator's own API):
// POST /sendMessage, /sendCallback (a message or callback query with `botToken`),
// POST /getUpdatesHistory {token} (everything the bot and the users sent), POST /redeliver {token}.
'use strict';
const TelegramServer = require('telegram-test-api');

const port = Number(process.argv[2]);
if (!port) {
  console.error('usage: node telegram-api.js <port>');
  process.exit(2);
}

const seconds = (t) => (t > 1e11 ? Math.floor(t / 1000) : t);

function fixChat(chat) {
  if (chat && chat.type === 'private') delete chat.title;
  return chat;
}

const formatUpdate = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = (update) => {
  const u = formatUpdate(update);
  if (u.message) {
    u.message.date = seconds(u.message.date || Date.now());
    fixChat(u.message.chat);
    delete u.message.botToken;
  }
  if (u.callback_query) {
    const q = u.callback_query;
    q.chat_instance = q.chat_instance || String(q.from && q.from.id);
    if (q.message) {
      q.message.message_id = q.message.message_id || update.messageId;
      q.message.date = seconds(q.message.date || Date.now());
      fixChat(q.message.chat);
    }
  }
  return u;
};

const addBotMessage = TelegramServer.prototype.addBotMessage;
TelegramServer.prototype.addBotMessage = function fixedAddBotMessage(rawMessage, botToken) {
  const msg = addBotMessage.call(this, rawMessage, botToken);
  msg.date = seconds(msg.date);
  return msg;
};

const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 600 });
// Telegram delivers an update again until the bot acknowledges it (a bot that crashed mid-way
// gets it twice); POST /redeliver {token} hands that bot's user updates out once more, with
// their ids.
server.webServer.post('/redeliver', (req, res) => {
  server.storage.userMessages.forEach((u) => {
    if (u.botToken === req.body.token) u.isRead = false;
  });
  res.json({ ok: true, result: true });
});
// The package ends its routes with a catch-all 404 and an error handler: this one goes in
// front of them.
const stack = server.webServer._router.stack;
stack.splice(stack.length - 3, 0, stack.pop());
// A user who blocked the bot (POST /block {chat}): Telegram answers every message the bot
// sends to that chat 403 "Forbidden: bot was blocked by the user", as the real API does. The
// check goes in front of the package's own routes.
const blocked = new Set();
server.webServer.post('/block', (req, res) => {
  blocked.add(String(req.body.chat));
  res.json({ ok: true, result: true });
});
server.webServer.all('/bot:token/sendMessage', (req, res, next) => {
  if (!blocked.has(String(req.body.chat_id))) return next();
  res.status(403).json({ ok: false, error_code: 403, description: 'Forbidden: bot was blocked by the user' });
});
const firstRoute = stack.findIndex((layer) => layer.route);
stack.splice(firstRoute, 0, ...stack.splice(stack.length - 2, 2));
server.start().then(() => console.log(JSON.stringify({ port })));

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => process.exit(0));
}
