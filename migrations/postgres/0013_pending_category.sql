-- The category of the pending a ticket holds or asks for, beside its interval: every log entry
-- written while a ticket is Pending (its approval, a reassignment) carries the pending's
-- interval and category, as the contract's log entries of that status must.
ALTER TABLE tickets ADD COLUMN pending_category TEXT;

UPDATE tickets SET pending_category = (
    SELECT l.pending_category FROM ticket_logs l
    WHERE l.ticket_id = tickets.id
      AND l.evidence_id = COALESCE(tickets.pending_evidence, tickets.awaiting_evidence)
      AND l.pending_category IS NOT NULL
    ORDER BY l.seq LIMIT 1)
WHERE pending_minutes IS NOT NULL;
