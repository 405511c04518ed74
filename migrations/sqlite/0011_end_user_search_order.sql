-- The end-user search answers a NOC's or the SuperAdmin's search from its own table: each
-- ticket's entry carries the ticket's region and creation time, and the entries of a name are
-- indexed in list order (newest first), with and without the region. A page then reads the
-- matching names' entries in that order, and a count reads entries, not tickets.
DROP TRIGGER tickets_end_user_insert;
DROP TRIGGER tickets_end_user_update;
CREATE TABLE ticket_end_users_new (
    ticket_id      BLOB PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    end_user_lower TEXT NOT NULL,
    region         TEXT NOT NULL,
    created_at     TEXT NOT NULL
);
INSERT INTO ticket_end_users_new (ticket_id, end_user_lower, region, created_at)
    SELECT e.ticket_id, e.end_user_lower, t.region, t.created_at FROM ticket_end_users e JOIN tickets t ON t.id = e.ticket_id;
DROP TABLE ticket_end_users;
ALTER TABLE ticket_end_users_new RENAME TO ticket_end_users;
CREATE INDEX ticket_end_users_name_idx ON ticket_end_users (end_user_lower, created_at DESC, ticket_id DESC);
CREATE INDEX ticket_end_users_name_region_idx
    ON ticket_end_users (end_user_lower, region, created_at DESC, ticket_id DESC);

CREATE TRIGGER tickets_end_user_insert AFTER INSERT ON tickets
BEGIN
    INSERT INTO ticket_end_users (ticket_id, end_user_lower, region, created_at)
        VALUES (NEW.id, LOWER(NEW.end_user), NEW.region, NEW.created_at);
    INSERT OR IGNORE INTO end_user_names (name_lower) VALUES (LOWER(NEW.end_user));
END;

CREATE TRIGGER tickets_end_user_update AFTER UPDATE OF end_user, region, created_at ON tickets
BEGIN
    UPDATE ticket_end_users SET end_user_lower = LOWER(NEW.end_user), region = NEW.region, created_at = NEW.created_at
        WHERE ticket_id = NEW.id;
    INSERT OR IGNORE INTO end_user_names (name_lower) VALUES (LOWER(NEW.end_user));
END;
