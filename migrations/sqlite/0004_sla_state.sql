-- What the SLA sweep last said of an open ticket: NULL (in time), 'Warned' or 'Breached'.
ALTER TABLE tickets ADD COLUMN sla_state TEXT;
CREATE INDEX tickets_sla_due_idx ON tickets (sla_due_at) WHERE status <> 'Closed';
