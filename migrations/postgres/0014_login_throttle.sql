-- Failed logins are counted per account and per (account, client address), in fixed windows:
-- an attacker at one address locks only that pair, the account locks only under a spread-out
-- attack. Rows are pruned once their window is over.
DROP TABLE login_failures;

CREATE TABLE login_throttle (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL
);

CREATE INDEX login_throttle_window ON login_throttle (window_start);
