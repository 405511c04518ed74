-- Tickets, their logs, the per-month ticket counter and idempotency keys.

CREATE TABLE ticket_counters (
    month TEXT PRIMARY KEY,
    count INTEGER NOT NULL
);

CREATE TABLE tickets (
    id                    BLOB PRIMARY KEY,
    ticket_id             TEXT NOT NULL,
    version               INTEGER NOT NULL,
    region                TEXT NOT NULL,
    client_id             BLOB REFERENCES clients (id) ON DELETE RESTRICT,
    end_user              TEXT NOT NULL,
    customer_type         TEXT,
    sla_hours             INTEGER,
    sla_due_at            TEXT,
    type                  TEXT NOT NULL,
    source                TEXT NOT NULL,
    network_segment       TEXT NOT NULL,
    indication_category   TEXT NOT NULL,
    indication            TEXT,
    address               TEXT,
    contact_person        TEXT NOT NULL,
    remark                TEXT,
    location_remark       TEXT,
    ms_name               TEXT,
    ms_location           TEXT,
    splitter_name         TEXT,
    splitter_location     TEXT,
    noc_id                BLOB NOT NULL REFERENCES users (id),
    foc_id                BLOB REFERENCES users (id),
    status                TEXT NOT NULL,
    status_before         TEXT,
    need_validate         INTEGER NOT NULL,
    awaiting_evidence     BLOB,
    link_check_approved   INTEGER NOT NULL,
    canceled              INTEGER NOT NULL,
    published_at          TEXT,
    accepted_at           TEXT,
    departure_at          TEXT,
    check_in_at           TEXT,
    on_going_at           TEXT,
    closed_at             TEXT,
    pending_evidence      BLOB,
    pending_started_at    TEXT,
    pending_minutes       INTEGER,
    resume_status         TEXT,
    total_pending_seconds INTEGER NOT NULL,
    work_pending_seconds  INTEGER NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    CONSTRAINT tickets_ticket_id_key UNIQUE (ticket_id)
);
CREATE INDEX tickets_created_idx ON tickets (created_at DESC, id DESC);
CREATE INDEX tickets_region_created_idx ON tickets (region, created_at DESC, id DESC);
CREATE INDEX tickets_foc_idx ON tickets (foc_id);
CREATE INDEX tickets_status_idx ON tickets (status);
CREATE INDEX tickets_client_idx ON tickets (client_id);

CREATE TABLE ticket_logs (
    id                  BLOB PRIMARY KEY,
    ticket_id           BLOB NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    seq                 INTEGER NOT NULL,
    card_type           TEXT NOT NULL,
    status_name         TEXT NOT NULL,
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    actor_id            BLOB REFERENCES users (id),
    actor_name          TEXT NOT NULL,
    actor_photo         TEXT,
    evidence_id         BLOB,
    need_approval       INTEGER NOT NULL,
    is_approved         INTEGER,
    approval_remark     TEXT,
    remark              TEXT,
    location_coordinate TEXT,
    media_url           TEXT,
    pending_minutes     INTEGER,
    pending_category    TEXT,
    cancel_category     TEXT,
    is_resumed          INTEGER,
    foc_before_id       BLOB REFERENCES users (id),
    created_at          TEXT NOT NULL,
    CONSTRAINT ticket_logs_seq_key UNIQUE (ticket_id, seq)
);
CREATE INDEX ticket_logs_evidence_idx ON ticket_logs (evidence_id);

CREATE TABLE idempotency_keys (
    user_id     BLOB NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status_code INTEGER NOT NULL,
    response    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);
