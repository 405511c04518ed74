-- The ticket list walks an index in its order (newest first) under the status filter (the
-- region has one already).
DROP INDEX tickets_status_idx;
CREATE INDEX tickets_status_created_idx ON tickets (status, created_at DESC, id DESC);
