-- The version of each ticket last written to Firestore; the reconcile schedule syncs the lagging.
ALTER TABLE tickets ADD COLUMN synced_version BIGINT;
CREATE INDEX tickets_sync_lag_idx ON tickets (id) WHERE synced_version IS NULL OR synced_version < version;
