-- 0004: gateways and gateway pools.
--
-- A gateway is a Gatehouse process inside a cluster that dials out to the
-- server. Its record goes with the identity it authenticates as; a pool's
-- members stay, in no pool, when the pool is deleted.

CREATE TABLE gateway_pools (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	created_at INTEGER,
	updated_at INTEGER
) STRICT;

CREATE TABLE gateways (
	id           TEXT PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	identity_id  TEXT NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
	pool_id      TEXT REFERENCES gateway_pools (id) ON DELETE SET NULL,
	version      TEXT NOT NULL DEFAULT '',
	remote_addr  TEXT NOT NULL DEFAULT '',
	connected_at INTEGER,
	heartbeat_at INTEGER,
	created_at   INTEGER,
	updated_at   INTEGER
) STRICT;

CREATE INDEX gateways_identity ON gateways (identity_id);
CREATE INDEX gateways_pool ON gateways (pool_id);
