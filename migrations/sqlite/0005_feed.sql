-- The live feed: one row per ticket change, in commit order, with what decided who saw the
-- ticket before the change (region, status, technician), so a caller who loses sight of a
-- ticket is told. Pruned after the retention period.
CREATE TABLE ticket_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id BLOB NOT NULL,
    region    TEXT NOT NULL,
    status    TEXT NOT NULL,
    foc_id    BLOB,
    at        TEXT NOT NULL
);
CREATE INDEX ticket_events_at_idx ON ticket_events (at);
