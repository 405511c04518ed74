-- What each user chose to be told (kinds and channels as JSON arrays of names) and the quiet
-- hours on the clock of the user's region; a user without a row is told everything, any time.
CREATE TABLE notification_settings (
    user_id    BLOB PRIMARY KEY REFERENCES users (id),
    kinds      TEXT NOT NULL,
    channels   TEXT NOT NULL,
    quiet_from TEXT,
    quiet_to   TEXT,
    updated_at TEXT NOT NULL
);

-- What became of each notification: `Waiting` (to be sent, held back in quiet hours, or tried
-- again later), `Sent`, `Dropped` (no longer true, turned off, no linked chat) or `Failed`.
ALTER TABLE notifications ADD COLUMN state TEXT NOT NULL DEFAULT 'Waiting';
