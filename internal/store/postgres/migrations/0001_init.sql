-- Gatehouse schema, version 1.
--
-- Conventions: a NULL timestamptz is Go's zero time ("not set"); seq columns
-- only order rows created at the same instant by insertion.

CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE identities (
    id                    text PRIMARY KEY,
    seq                   bigint GENERATED ALWAYS AS IDENTITY,
    name                  text NOT NULL,
    role                  text NOT NULL,
    has_delete_protection boolean NOT NULL DEFAULT false,
    metadata              jsonb NOT NULL DEFAULT '[]',
    created_at            timestamptz,
    updated_at            timestamptz
);
CREATE INDEX identities_created ON identities (created_at NULLS FIRST, seq);

CREATE TABLE auth_methods (
    id                   text PRIMARY KEY,
    identity_id          text NOT NULL REFERENCES identities (id) ON DELETE CASCADE,
    type                 text NOT NULL,
    lookup_key           text NOT NULL DEFAULT '',
    -- json, not jsonb: the document belongs to the auth method's package and
    -- comes back byte for byte as it was stored.
    config               json,
    sealed_secret        bytea,
    token_ttl            bigint NOT NULL DEFAULT 0,
    token_max_ttl        bigint NOT NULL DEFAULT 0,
    token_period         bigint NOT NULL DEFAULT 0,
    token_num_uses_limit bigint NOT NULL DEFAULT 0,
    token_trusted_ips    text[] NOT NULL DEFAULT '{}',
    created_at           timestamptz,
    updated_at           timestamptz,
    CONSTRAINT auth_methods_identity_type UNIQUE (identity_id, type)
);
CREATE UNIQUE INDEX auth_methods_lookup_key ON auth_methods (type, lookup_key)
    WHERE lookup_key <> '';

CREATE TABLE client_secrets (
    id             text PRIMARY KEY,
    seq            bigint GENERATED ALWAYS AS IDENTITY,
    auth_method_id text NOT NULL REFERENCES auth_methods (id) ON DELETE CASCADE,
    description    text NOT NULL DEFAULT '',
    prefix         text NOT NULL DEFAULT '',
    hash           bytea NOT NULL,
    num_uses       bigint NOT NULL DEFAULT 0,
    num_uses_limit bigint NOT NULL DEFAULT 0,
    ttl            bigint NOT NULL DEFAULT 0,
    revoked_at     timestamptz,
    created_at     timestamptz,
    updated_at     timestamptz,
    CONSTRAINT client_secrets_hash UNIQUE (hash)
);
CREATE INDEX client_secrets_auth_method ON client_secrets (auth_method_id, created_at NULLS FIRST, seq);

-- No foreign key to identities: root tokens have no identity, and tokens
-- outlive the identity (revoked) until they are purged.
CREATE TABLE access_tokens (
    id               text PRIMARY KEY,
    hash             bytea NOT NULL,
    identity_id      text NOT NULL DEFAULT '',
    auth_method_id   text NOT NULL DEFAULT '',
    auth_method_type text NOT NULL DEFAULT '',
    client_secret_id text NOT NULL DEFAULT '',
    created_at       timestamptz,
    last_renewed_at  timestamptz,
    ttl              bigint NOT NULL DEFAULT 0,
    max_ttl          bigint NOT NULL DEFAULT 0,
    period           bigint NOT NULL DEFAULT 0,
    expires_at       timestamptz,
    num_uses         bigint NOT NULL DEFAULT 0,
    num_uses_limit   bigint NOT NULL DEFAULT 0,
    metadata         jsonb NOT NULL DEFAULT '{}',
    last_used_at     timestamptz,
    revoked_at       timestamptz,
    CONSTRAINT access_tokens_hash UNIQUE (hash)
);
CREATE INDEX access_tokens_identity ON access_tokens (identity_id);
CREATE INDEX access_tokens_auth_method ON access_tokens (auth_method_id);
CREATE INDEX access_tokens_client_secret ON access_tokens (client_secret_id);
CREATE INDEX access_tokens_expires ON access_tokens (expires_at);
CREATE INDEX access_tokens_revoked ON access_tokens (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE audit_events (
    id          text PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY,
    time        timestamptz,
    type        text NOT NULL,
    success     boolean NOT NULL,
    request_id  text NOT NULL DEFAULT '',
    actor_id    text NOT NULL DEFAULT '',
    identity_id text NOT NULL DEFAULT '',
    auth_method text NOT NULL DEFAULT '',
    client_ip   text NOT NULL DEFAULT '',
    reason      text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_events_time ON audit_events (time DESC NULLS LAST, seq DESC);
