-- The live feed: one row per ticket change, with what decided who saw the ticket before the
-- change (region, status, technician), so a caller who loses sight of a ticket is told.
-- `seq` comes from a sequence: a reader waits at a gap until the transactions that could
-- still fill it have ended. Pruned after the retention period.
CREATE TABLE ticket_events (
    seq       BIGSERIAL PRIMARY KEY,
    ticket_id UUID NOT NULL,
    region    TEXT NOT NULL,
    status    TEXT NOT NULL,
    foc_id    UUID,
    at        TIMESTAMPTZ NOT NULL
);
CREATE INDEX ticket_events_at_idx ON ticket_events (at);
