-- Gatehouse schema, version 4: gateways and gateway pools.
--
-- A gateway is a Gatehouse process inside a cluster that dials out to the
-- server. Its record goes with the identity it authenticates as; a pool's
-- members stay, in no pool, when the pool is deleted.

CREATE TABLE gateway_pools (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz,
    updated_at timestamptz,
    CONSTRAINT gateway_pools_name UNIQUE (name)
);

CREATE TABLE gateways (
    id           text PRIMARY KEY,
    name         text NOT NULL,
    identity_id  text NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    pool_id      text REFERENCES gateway_pools (id) ON DELETE SET NULL,
    version      text NOT NULL DEFAULT '',
    remote_addr  text NOT NULL DEFAULT '',
    connected_at timestamptz,
    heartbeat_at timestamptz,
    created_at   timestamptz,
    updated_at   timestamptz,
    CONSTRAINT gateways_name UNIQUE (name)
);
CREATE INDEX gateways_identity ON gateways (identity_id);
CREATE INDEX gateways_pool ON gateways (pool_id);
