-- Tickets, their logs, the per-month ticket counter and idempotency keys.

CREATE TABLE ticket_counters (
    month TEXT PRIMARY KEY,
    count BIGINT NOT NULL
);

CREATE TABLE tickets (
    id                    UUID PRIMARY KEY,
    ticket_id             TEXT NOT NULL,
    version               BIGINT NOT NULL,
    region                TEXT NOT NULL,
    client_id             UUID REFERENCES clients (id) ON DELETE RESTRICT,
    end_user              TEXT NOT NULL,
    customer_type         TEXT,
    sla_hours             BIGINT,
    sla_due_at            TIMESTAMPTZ,
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
    noc_id                UUID NOT NULL REFERENCES users (id),
    foc_id                UUID REFERENCES users (id),
    status                TEXT NOT NULL,
    status_before         TEXT,
    need_validate         BOOLEAN NOT NULL,
    awaiting_evidence     UUID,
    link_check_approved   BOOLEAN NOT NULL,
    canceled              BOOLEAN NOT NULL,
    published_at          TIMESTAMPTZ,
    accepted_at           TIMESTAMPTZ,
    departure_at          TIMESTAMPTZ,
    check_in_at           TIMESTAMPTZ,
    on_going_at           TIMESTAMPTZ,
    closed_at             TIMESTAMPTZ,
    pending_evidence      UUID,
    pending_started_at    TIMESTAMPTZ,
    pending_minutes       BIGINT,
    resume_status         TEXT,
    total_pending_seconds BIGINT NOT NULL,
    work_pending_seconds  BIGINT NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    CONSTRAINT tickets_ticket_id_key UNIQUE (ticket_id)
);
CREATE INDEX tickets_created_idx ON tickets (created_at DESC, id DESC);
CREATE INDEX tickets_region_created_idx ON tickets (region, created_at DESC, id DESC);
CREATE INDEX tickets_foc_idx ON tickets (foc_id);
CREATE INDEX tickets_status_idx ON tickets (status);
CREATE INDEX tickets_client_idx ON tickets (client_id);

CREATE TABLE ticket_logs (
    id                  UUID PRIMARY KEY,
    ticket_id           UUID NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    seq                 BIGINT NOT NULL,
    card_type           TEXT NOT NULL,
    status_name         TEXT NOT NULL,
    title               TEXT NOT NULL,
    description         TEXT NOT NULL,
    actor_id            UUID REFERENCES users (id),
    actor_name          TEXT NOT NULL,
    actor_photo         TEXT,
    evidence_id         UUID,
    need_approval       BOOLEAN NOT NULL,
    is_approved         BOOLEAN,
    approval_remark     TEXT,
    remark              TEXT,
    location_coordinate TEXT,
    media_url           TEXT,
    pending_minutes     BIGINT,
    pending_category    TEXT,
    cancel_category     TEXT,
    is_resumed          BOOLEAN,
    foc_before_id       UUID REFERENCES users (id),
    created_at          TIMESTAMPTZ NOT NULL,
    CONSTRAINT ticket_logs_seq_key UNIQUE (ticket_id, seq)
);
CREATE INDEX ticket_logs_evidence_idx ON ticket_logs (evidence_id);

CREATE TABLE idempotency_keys (
    user_id     UUID NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status_code BIGINT NOT NULL,
    response    TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, key)
);
