-- 0009: the web console's sessions (internal/console), kept in the store so
-- that every server sharing it knows them. Keyed by the SHA-256 of the
-- session cookie's value, never the value; the API token is sealed with
-- the server key.

CREATE TABLE console_sessions (
	id_hash      BLOB PRIMARY KEY,        -- SHA-256 of the cookie value
	sealed_token BLOB NOT NULL,           -- sealed with the server key
	name         TEXT NOT NULL,
	identity_id  TEXT NOT NULL DEFAULT '', -- '' for a root token
	admin        INTEGER NOT NULL DEFAULT 0,
	root         INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- The per-identity bound (oldest first) and the sweep of expired sessions.
CREATE INDEX console_sessions_identity_created ON console_sessions (identity_id, created_at);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
