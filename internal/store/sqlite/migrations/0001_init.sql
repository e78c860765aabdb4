-- 0001: Gatehouse's first schema.
--
-- Conventions (see internal/store): times are INTEGER unix microseconds in
-- UTC, NULL when not set; hashes are BLOBs with a UNIQUE index; lists and maps
-- are JSON TEXT. Tables are STRICT so a value of the wrong type is an error,
-- not a silent conversion.
--
-- Migrations are never destructive: a later file adds tables, columns and
-- indexes; it does not drop or rewrite what an older server still reads.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;

CREATE TABLE identities (
	id                    TEXT PRIMARY KEY,
	name                  TEXT NOT NULL,
	role                  TEXT NOT NULL,
	has_delete_protection INTEGER NOT NULL DEFAULT 0,
	metadata              TEXT NOT NULL DEFAULT '[]', -- JSON [{"key":..,"value":..}]
	created_at            INTEGER,
	updated_at            INTEGER
) STRICT;

CREATE INDEX identities_created_at ON identities (created_at);

CREATE TABLE auth_methods (
	id             TEXT PRIMARY KEY,
	identity_id    TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
	type           TEXT NOT NULL,
	lookup_key     TEXT NOT NULL DEFAULT '',
	config         TEXT,    -- JSON owned by the method's package
	sealed_secret  BLOB,    -- AES-GCM sealed by the caller; NULL when none
	ttl            INTEGER NOT NULL DEFAULT 0,
	max_ttl        INTEGER NOT NULL DEFAULT 0,
	period         INTEGER NOT NULL DEFAULT 0,
	num_uses_limit INTEGER NOT NULL DEFAULT 0,
	trusted_ips    TEXT NOT NULL DEFAULT '[]', -- JSON ["10.0.0.0/8", ...]
	created_at     INTEGER,
	updated_at     INTEGER,
	UNIQUE (identity_id, type)
) STRICT;

-- An empty lookup key means "none", so only non-empty ones must be unique.
CREATE UNIQUE INDEX auth_methods_lookup_key ON auth_methods (type, lookup_key) WHERE lookup_key <> '';

CREATE TABLE client_secrets (
	id             TEXT PRIMARY KEY,
	auth_method_id TEXT NOT NULL REFERENCES auth_methods (id) ON DELETE CASCADE,
	description    TEXT NOT NULL DEFAULT '',
	prefix         TEXT NOT NULL DEFAULT '',
	hash           BLOB NOT NULL,
	num_uses       INTEGER NOT NULL DEFAULT 0,
	num_uses_limit INTEGER NOT NULL DEFAULT 0,
	ttl            INTEGER NOT NULL DEFAULT 0,
	revoked_at     INTEGER,
	created_at     INTEGER,
	updated_at     INTEGER
) STRICT;

CREATE UNIQUE INDEX client_secrets_hash ON client_secrets (hash);
CREATE INDEX client_secrets_auth_method_id ON client_secrets (auth_method_id, created_at);

-- No foreign key to identities: root tokens have no identity, and the tokens
-- of a deleted identity stay (revoked) until PurgeAccessTokens removes them.
CREATE TABLE access_tokens (
	id               TEXT PRIMARY KEY,
	hash             BLOB NOT NULL,
	identity_id      TEXT NOT NULL DEFAULT '',
	auth_method_id   TEXT NOT NULL DEFAULT '',
	auth_method_type TEXT NOT NULL,
	client_secret_id TEXT NOT NULL DEFAULT '',
	created_at       INTEGER,
	last_renewed_at  INTEGER,
	ttl              INTEGER NOT NULL DEFAULT 0,
	max_ttl          INTEGER NOT NULL DEFAULT 0,
	period           INTEGER NOT NULL DEFAULT 0,
	expires_at       INTEGER,
	num_uses         INTEGER NOT NULL DEFAULT 0,
	num_uses_limit   INTEGER NOT NULL DEFAULT 0,
	metadata         TEXT NOT NULL DEFAULT '{}', -- JSON {"k":"v"}
	last_used_at     INTEGER,
	revoked_at       INTEGER
) STRICT;

CREATE UNIQUE INDEX access_tokens_hash ON access_tokens (hash);
CREATE INDEX access_tokens_identity_id ON access_tokens (identity_id);
CREATE INDEX access_tokens_auth_method_id ON access_tokens (auth_method_id);
CREATE INDEX access_tokens_client_secret_id ON access_tokens (client_secret_id);
CREATE INDEX access_tokens_expires_at ON access_tokens (expires_at);
CREATE INDEX access_tokens_revoked_at ON access_tokens (revoked_at);

CREATE TABLE audit_events (
	seq         INTEGER PRIMARY KEY, -- insertion order, breaks ties between equal times
	id          TEXT NOT NULL UNIQUE,
	time        INTEGER,
	type        TEXT NOT NULL,
	success     INTEGER NOT NULL,
	request_id  TEXT NOT NULL DEFAULT '',
	actor_id    TEXT NOT NULL DEFAULT '',
	identity_id TEXT NOT NULL DEFAULT '',
	auth_method TEXT NOT NULL DEFAULT '',
	client_ip   TEXT NOT NULL DEFAULT '',
	reason      TEXT NOT NULL DEFAULT '',
	details     TEXT NOT NULL DEFAULT '{}' -- JSON {"k":"v"}
) STRICT;

CREATE INDEX audit_events_time ON audit_events (time, seq);
