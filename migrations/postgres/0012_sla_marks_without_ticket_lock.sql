-- A mark's foreign key checked its ticket with a key-share row lock, which writes the lock into
-- the ticket's row: a sweep that marked 10 000 tickets dirtied 10 000 ticket pages, two thirds of
-- the time of its insert. Tickets are never deleted, and a mark is written only for a ticket the
-- sweep just read, so the mark keeps its ticket's id without the check. (SQLite's check is a
-- lookup in process, without a lock; its foreign key stays.)
ALTER TABLE ticket_sla_marks DROP CONSTRAINT ticket_sla_marks_ticket_id_fkey;
