-- Webhooks of other systems (monitoring, chat, billing): where to POST, which events, and the
-- secret the bodies are signed with. A deleted webhook is kept (its deliveries still list) but
-- gets nothing more.
CREATE TABLE webhooks (
    id         BLOB PRIMARY KEY,
    url        TEXT NOT NULL,
    events     TEXT NOT NULL,
    secret     TEXT NOT NULL,
    created_by BLOB NOT NULL REFERENCES users (id),
    created_at TEXT NOT NULL,
    deleted_at TEXT
);

-- One event for one webhook: its body as it was when the event happened, delivered in `seq`
-- order per (webhook, ticket); `lease_until` is the claim of the delivery under way.
CREATE TABLE webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              BLOB NOT NULL UNIQUE,
    webhook_id      BLOB NOT NULL REFERENCES webhooks (id),
    ticket_id       BLOB NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    event           TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_until     TEXT,
    last_status     INTEGER,
    last_error      TEXT,
    last_attempt_at TEXT,
    delivered_at    TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_waiting ON webhook_deliveries (webhook_id, ticket_id, seq) WHERE state = 'Waiting';
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (webhook_id, seq);
