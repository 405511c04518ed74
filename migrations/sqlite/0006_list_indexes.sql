-- The ticket list walks an index in its order (newest first) under each single filter.
DROP INDEX tickets_status_idx;
CREATE INDEX tickets_status_created_idx ON tickets (status, created_at DESC, id DESC);
CREATE INDEX tickets_type_created_idx ON tickets (type, created_at DESC, id DESC);
