-- 0005: the OIDC issuer's signing keys and the audiences each identity's
-- tokens may be exchanged for (internal/oidc). Numbered 0005 so that it
-- does not collide with another branch's 0004.

CREATE TABLE signing_keys (
	id             TEXT PRIMARY KEY, -- the JWK kid
	algorithm      TEXT NOT NULL,
	sealed_private BLOB NOT NULL,    -- sealed with the server key
	created_at     INTEGER NOT NULL, -- published from then on
	active_at      INTEGER NOT NULL  -- signs from then on
) STRICT;

CREATE TABLE exchange_audiences (
	identity_id TEXT PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
	audiences   TEXT NOT NULL, -- JSON array of strings
	updated_at  INTEGER
) STRICT;

-- Roles of the Vault-shaped identity token endpoint
-- (GET /v1/identity/oidc/token/:name): the audience and TTL of the JWTs.
CREATE TABLE oidc_roles (
	name       TEXT PRIMARY KEY,
	audience   TEXT NOT NULL,
	ttl        INTEGER NOT NULL, -- seconds
	created_at INTEGER,
	updated_at INTEGER
) STRICT;
