-- 0002: Universal Auth login lockouts.
--
-- One row per (auth method, source address): the failed-login counter and,
-- once it reaches the method's threshold, the end of the lock. Rows go with
-- their auth method (and so with its identity). expires_at is when the row
-- stops mattering (the later of the lock's end and the counting window's
-- end); the store deletes such rows in passing.

CREATE TABLE login_lockouts (
	auth_method_id  TEXT NOT NULL REFERENCES auth_methods (id) ON DELETE CASCADE,
	client_ip       TEXT NOT NULL,
	failed_attempts INTEGER NOT NULL,
	last_failure_at INTEGER NOT NULL,
	locked_until    INTEGER, -- NULL when not locked
	expires_at      INTEGER NOT NULL,
	PRIMARY KEY (auth_method_id, client_ip)
) STRICT;

CREATE INDEX login_lockouts_expires_at ON login_lockouts (auth_method_id, expires_at);
