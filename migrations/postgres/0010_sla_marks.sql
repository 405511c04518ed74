-- What the SLA sweep last said of a ticket ('Warned' or 'Breached'; no row: in time) moves to
-- a narrow table: marking a ticket inserts a small row there instead of rewriting the ticket's
-- row and an entry in each of its indexes.
CREATE TABLE ticket_sla_marks (
    ticket_id UUID PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    state     TEXT NOT NULL CHECK (state IN ('Warned', 'Breached'))
);
INSERT INTO ticket_sla_marks (ticket_id, state) SELECT id, sla_state FROM tickets WHERE sla_state IS NOT NULL;
ALTER TABLE tickets DROP COLUMN sla_state;
-- The sweep walks open tickets by due time and needs only their ids: an index-only walk.
DROP INDEX tickets_sla_due_idx;
CREATE INDEX tickets_sla_due_idx ON tickets (sla_due_at, id) WHERE status <> 'Closed';
