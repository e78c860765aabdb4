-- Gatehouse schema, version 9: the web console's sessions
-- (internal/console), kept in the store so that every replica knows them.
-- Keyed by the SHA-256 of the session cookie's value, never the value; the
-- API token is sealed with the server key.

CREATE TABLE console_sessions (
    id_hash      bytea PRIMARY KEY,       -- SHA-256 of the cookie value
    sealed_token bytea NOT NULL,          -- sealed with the server key
    name         text NOT NULL,
    identity_id  text NOT NULL DEFAULT '', -- '' for a root token
    admin        boolean NOT NULL DEFAULT false,
    root         boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);

-- The per-identity bound (oldest first) and the sweep of expired sessions.
CREATE INDEX console_sessions_identity_created ON console_sessions (identity_id, created_at);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);
