-- The end-user search answers a NOC's or the SuperAdmin's search from its own table: each
-- ticket's entry carries the ticket's region and creation time, and the entries of a name are
-- indexed in list order (newest first), with and without the region. A page then reads, per
-- matching name, only its newest entries, and a count reads entries, not tickets, however many
-- tickets the name has.
ALTER TABLE ticket_end_users ADD COLUMN region TEXT, ADD COLUMN created_at TIMESTAMPTZ;
UPDATE ticket_end_users e SET region = t.region, created_at = t.created_at FROM tickets t WHERE t.id = e.ticket_id;
ALTER TABLE ticket_end_users ALTER COLUMN region SET NOT NULL, ALTER COLUMN created_at SET NOT NULL;
DROP INDEX ticket_end_users_name_idx;
CREATE INDEX ticket_end_users_name_idx ON ticket_end_users (end_user_lower, created_at DESC, ticket_id DESC);
CREATE INDEX ticket_end_users_name_region_idx
    ON ticket_end_users (end_user_lower, region, created_at DESC, ticket_id DESC);

CREATE OR REPLACE FUNCTION ticket_end_users_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_end_users (ticket_id, end_user_lower, region, created_at)
        SELECT id, LOWER(end_user), region, created_at FROM inserted;
    INSERT INTO end_user_names (name_lower) SELECT DISTINCT LOWER(end_user) FROM inserted
        ON CONFLICT (name_lower) DO NOTHING;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION ticket_end_users_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ticket_end_users SET end_user_lower = LOWER(NEW.end_user), region = NEW.region, created_at = NEW.created_at
        WHERE ticket_id = NEW.id;
    INSERT INTO end_user_names (name_lower) VALUES (LOWER(NEW.end_user)) ON CONFLICT (name_lower) DO NOTHING;
    RETURN NULL;
END $$;
DROP TRIGGER tickets_end_user_update ON tickets;
CREATE TRIGGER tickets_end_user_update AFTER UPDATE OF end_user, region, created_at ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticket_end_users_update();
