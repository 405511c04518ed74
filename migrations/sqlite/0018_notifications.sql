-- What each person was told about a ticket: a notification (its kind and occurrence, e.g. the
-- verdict on one evidence) reaches a user on a channel at most once, however often the change or
-- sweep that makes it is retried.
CREATE TABLE notifications (
    ticket_id  BLOB NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    occurrence TEXT NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id),
    channel    TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, kind, occurrence, user_id, channel)
);
