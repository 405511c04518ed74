-- Users, sessions, login throttling and the master data of the contract.

CREATE TABLE app_settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE areas (
    id         UUID PRIMARY KEY,
    region     TEXT NOT NULL,
    name       TEXT NOT NULL,
    initial    TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT areas_region_name_key UNIQUE (region, name)
);

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL,
    nik           TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    region        TEXT NOT NULL,
    area_id       UUID REFERENCES areas (id) ON DELETE RESTRICT,
    profile_photo TEXT,
    phone_number  TEXT,
    password_hash TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
-- Deleting a user deactivates it; its email and nik may then be given to a new account.
CREATE UNIQUE INDEX users_email_key ON users (email) WHERE active;
CREATE UNIQUE INDEX users_nik_key ON users (nik) WHERE active;
CREATE INDEX users_region_role_idx ON users (region, role);
CREATE INDEX users_area_idx ON users (area_id);

CREATE TABLE sessions (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE login_failures (
    email        TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    last_failure TIMESTAMPTZ NOT NULL
);

CREATE TABLE main_splitters (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    coordinate TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE splitters (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    coordinate TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE isps (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    initial    TEXT NOT NULL,
    brand      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CONSTRAINT isps_initial_key UNIQUE (initial)
);

CREATE TABLE indications (
    id         UUID PRIMARY KEY,
    category   TEXT NOT NULL,
    indication TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX indications_category_idx ON indications (category);

CREATE TABLE clients (
    id             UUID PRIMARY KEY,
    cid            TEXT NOT NULL,
    customer_type  TEXT NOT NULL,
    pop            TEXT,
    name           TEXT NOT NULL,
    user_code      TEXT,
    isp_id         UUID REFERENCES isps (id) ON DELETE RESTRICT,
    status         TEXT NOT NULL,
    region         TEXT NOT NULL,
    city_id        UUID REFERENCES areas (id) ON DELETE RESTRICT,
    address        TEXT,
    coordinate     TEXT,
    active_date    TIMESTAMPTZ,
    service        TEXT,
    bandwidth      DOUBLE PRECISION,
    bandwidth_unit TEXT,
    ms_id          UUID REFERENCES main_splitters (id) ON DELETE RESTRICT,
    splitter_id    UUID REFERENCES splitters (id) ON DELETE RESTRICT,
    device_type    TEXT,
    mac_address    TEXT,
    signal         TEXT,
    vlan           TEXT,
    ip_monitoring  TEXT,
    epon           TEXT,
    remark         TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    updated_at     TIMESTAMPTZ NOT NULL,
    CONSTRAINT clients_cid_key UNIQUE (cid)
);
CREATE INDEX clients_region_idx ON clients (region);
CREATE INDEX clients_isp_idx ON clients (isp_id);
CREATE INDEX clients_city_idx ON clients (city_id);
CREATE INDEX clients_ms_idx ON clients (ms_id);
CREATE INDEX clients_splitter_idx ON clients (splitter_id);
