-- The end-user search reads tables of its own. A status change rewrites the ticket's row, and
-- every index of `tickets` takes an entry for the new row: a trigram index there made each
-- change pay for a search it does not touch. These are written only when a ticket's end user
-- is (created, or a draft edited). The trigram index covers each distinct name once (a
-- customer has many tickets), so a search reads short posting lists and then the tickets of
-- the names that matched.
CREATE TABLE end_user_names (
    name_lower TEXT PRIMARY KEY
);
CREATE TABLE ticket_end_users (
    ticket_id      UUID PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    end_user_lower TEXT NOT NULL
);
INSERT INTO ticket_end_users (ticket_id, end_user_lower) SELECT id, LOWER(end_user) FROM tickets;
INSERT INTO end_user_names (name_lower) SELECT DISTINCT end_user_lower FROM ticket_end_users;
CREATE INDEX ticket_end_users_name_idx ON ticket_end_users (end_user_lower, ticket_id);
CREATE INDEX end_user_names_trgm_idx ON end_user_names USING gin (name_lower gin_trgm_ops);
DROP INDEX tickets_end_user_trgm_idx;

CREATE FUNCTION ticket_end_users_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_end_users (ticket_id, end_user_lower) SELECT id, LOWER(end_user) FROM inserted;
    INSERT INTO end_user_names (name_lower) SELECT DISTINCT LOWER(end_user) FROM inserted
        ON CONFLICT (name_lower) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER tickets_end_user_insert AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ticket_end_users_insert();

CREATE FUNCTION ticket_end_users_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_end_users SET end_user_lower = LOWER(NEW.end_user) WHERE ticket_id = NEW.id;
    INSERT INTO end_user_names (name_lower) VALUES (LOWER(NEW.end_user)) ON CONFLICT (name_lower) DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER tickets_end_user_update AFTER UPDATE OF end_user ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticket_end_users_update();
