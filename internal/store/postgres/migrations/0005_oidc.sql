-- Gatehouse schema, version 5: the OIDC issuer's signing keys and the
-- audiences each identity's tokens may be exchanged for (internal/oidc).
-- Numbered 0005 so that it does not collide with another branch's 0004.

CREATE TABLE signing_keys (
    id             text PRIMARY KEY, -- the JWK kid
    algorithm      text NOT NULL,
    sealed_private bytea NOT NULL,   -- sealed with the server key
    created_at     timestamptz NOT NULL, -- published from then on
    active_at      timestamptz NOT NULL  -- signs from then on
);

CREATE TABLE exchange_audiences (
    identity_id text PRIMARY KEY REFERENCES identities (id) ON DELETE CASCADE,
    audiences   json NOT NULL,
    updated_at  timestamptz
);

-- Roles of the Vault-shaped identity token endpoint
-- (GET /v1/identity/oidc/token/:name): the audience and TTL of the JWTs.
CREATE TABLE oidc_roles (
    name       text PRIMARY KEY,
    audience   text NOT NULL,
    ttl        bigint NOT NULL, -- seconds
    created_at timestamptz,
    updated_at timestamptz
);
