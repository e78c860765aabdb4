-- Gatehouse schema, version 2: Universal Auth login lockouts.
--
-- One row per (auth method, source address): the failed-login counter and,
-- once it reaches the method's threshold, the end of the lock. Rows go with
-- their auth method (and so with its identity). expires_at is when the row
-- stops mattering (the later of the lock's end and the counting window's
-- end); the store deletes such rows in passing.

CREATE TABLE login_lockouts (
    auth_method_id  text NOT NULL REFERENCES auth_methods (id) ON DELETE CASCADE,
    client_ip       text NOT NULL,
    failed_attempts bigint NOT NULL,
    last_failure_at timestamptz NOT NULL,
    locked_until    timestamptz, -- NULL when not locked
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (auth_method_id, client_ip)
);
CREATE INDEX login_lockouts_expires ON login_lockouts (auth_method_id, expires_at);
