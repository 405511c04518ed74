-- Reports by channel (Telegram, mail) per sender and hour: past CGS_INTAKE_MAX_PER_HOUR a
-- sender's messages make no draft; the sender is told once per window. Rows are pruned when
-- their window is over.
CREATE TABLE intake_senders (
    sender       TEXT PRIMARY KEY,
    reports      BIGINT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    told         BOOLEAN NOT NULL DEFAULT false
);

CREATE INDEX intake_senders_window ON intake_senders (window_start);
