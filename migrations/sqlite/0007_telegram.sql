-- Telegram: a user's linked chat, the one-time codes that link it, and the updates already
-- handled (Telegram delivers an update again until it is acknowledged).
ALTER TABLE users ADD COLUMN telegram_chat_id INTEGER;
CREATE UNIQUE INDEX users_telegram_chat_key ON users (telegram_chat_id) WHERE telegram_chat_id IS NOT NULL;

CREATE TABLE telegram_link_codes (
    code       TEXT PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at TEXT NOT NULL
);
CREATE INDEX telegram_link_codes_user_idx ON telegram_link_codes (user_id);

CREATE TABLE telegram_updates (
    update_id  INTEGER PRIMARY KEY,
    handled_at TEXT NOT NULL
);
