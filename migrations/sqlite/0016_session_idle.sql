-- A session also ends when it has not been used for CGS_SESSION_IDLE_MINUTES: each use moves
-- idle_until on (at most about once a minute). NULL: no idle limit (sessions from before, or
-- the limit turned off), until the next use sets it.
ALTER TABLE sessions ADD COLUMN idle_until TEXT;
