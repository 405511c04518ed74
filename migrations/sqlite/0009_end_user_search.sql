-- The end-user search reads tables of its own, written only when a ticket's end user is
-- (created, or a draft edited): the distinct names (a customer has many tickets), searched by
-- substring, then the tickets of the names that matched, by index.
CREATE TABLE end_user_names (
    name_lower TEXT PRIMARY KEY
);
CREATE TABLE ticket_end_users (
    ticket_id      BLOB PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    end_user_lower TEXT NOT NULL
);
INSERT INTO ticket_end_users (ticket_id, end_user_lower) SELECT id, LOWER(end_user) FROM tickets;
INSERT INTO end_user_names (name_lower) SELECT DISTINCT end_user_lower FROM ticket_end_users;
CREATE INDEX ticket_end_users_name_idx ON ticket_end_users (end_user_lower, ticket_id);

CREATE TRIGGER tickets_end_user_insert AFTER INSERT ON tickets
BEGIN
    INSERT INTO ticket_end_users (ticket_id, end_user_lower) VALUES (NEW.id, LOWER(NEW.end_user));
    INSERT OR IGNORE INTO end_user_names (name_lower) VALUES (LOWER(NEW.end_user));
END;

CREATE TRIGGER tickets_end_user_update AFTER UPDATE OF end_user ON tickets
BEGIN
    UPDATE ticket_end_users SET end_user_lower = LOWER(NEW.end_user) WHERE ticket_id = NEW.id;
    INSERT OR IGNORE INTO end_user_names (name_lower) VALUES (LOWER(NEW.end_user));
END;
