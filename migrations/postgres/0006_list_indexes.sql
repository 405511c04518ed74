-- The ticket list walks an index in its order (newest first) under the status filter (the
-- region has one already), and finds end users by substring through trigrams, so a page and its
-- bounded count never read the table from end to end. (The type has two values: a walk of the
-- list order finds either soon enough, and an index would cost every write.)
CREATE EXTENSION IF NOT EXISTS pg_trgm;
DROP INDEX tickets_status_idx;
CREATE INDEX tickets_status_created_idx ON tickets (status, created_at DESC, id DESC);
CREATE INDEX tickets_end_user_trgm_idx ON tickets USING gin (LOWER(end_user) gin_trgm_ops);
