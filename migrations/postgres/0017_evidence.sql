-- Photos kept by the media store (POST /v1/media), one row per content (its SHA-256), with
-- what their EXIF says; media_uploads remembers who uploaded each, so an uploader sees its own
-- photo before any ticket uses it.
CREATE TABLE media (
    sha256          TEXT PRIMARY KEY,
    content_type    TEXT NOT NULL,
    size_bytes      BIGINT NOT NULL,
    photo_latitude  DOUBLE PRECISION,
    photo_longitude DOUBLE PRECISION,
    photo_taken_at  TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL
);

CREATE TABLE media_uploads (
    sha256     TEXT NOT NULL REFERENCES media (sha256),
    user_id    UUID NOT NULL REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sha256, user_id)
);

-- The checks made when an evidence arrives, kept with its log entry: media_key is the photo's
-- SHA-256 (stored media) or `url:` and the SHA-256 of its address (external), to find a photo
-- used again.
ALTER TABLE ticket_logs ADD COLUMN media_key TEXT;
ALTER TABLE ticket_logs ADD COLUMN distance_meters BIGINT;
ALTER TABLE ticket_logs ADD COLUMN distance_note TEXT;
ALTER TABLE ticket_logs ADD COLUMN photo_coordinate TEXT;
ALTER TABLE ticket_logs ADD COLUMN photo_taken_at TIMESTAMPTZ;
ALTER TABLE ticket_logs ADD COLUMN photo_distance_meters BIGINT;
ALTER TABLE ticket_logs ADD COLUMN reused_from UUID;
ALTER TABLE ticket_logs ADD COLUMN reused_from_number TEXT;
ALTER TABLE ticket_logs ADD COLUMN flags TEXT;

-- A photo's first use is the first entry of its key by time: one step down this index.
CREATE INDEX ticket_logs_media_key_idx ON ticket_logs (media_key, created_at, id);
-- /metrics counts flagged evidence; few entries are.
CREATE INDEX ticket_logs_flagged_idx ON ticket_logs (flags) WHERE flags IS NOT NULL;
-- The validation queue reads the tickets whose request waits for the NOC.
CREATE INDEX tickets_waiting_idx ON tickets (region) WHERE need_validate;
