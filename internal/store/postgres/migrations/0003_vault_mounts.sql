-- Gatehouse schema, version 3: Vault auth mounts and their roles.
--
-- A mount is a path under auth/ of the Vault API with its method type and,
-- for Kubernetes, the cluster connection its roles share. A role is an auth
-- method whose mount_path names its mount; auth methods outside any mount
-- keep mount_path NULL.

CREATE TABLE mounts (
    path          text PRIMARY KEY, -- without "auth/" and the trailing "/"
    type          text NOT NULL,
    accessor      text NOT NULL,
    description   text NOT NULL DEFAULT '',
    -- json, not jsonb: the document belongs to the method's package and
    -- comes back byte for byte as it was stored. NULL until configured.
    config        json,
    sealed_secret bytea,
    created_at    timestamptz,
    updated_at    timestamptz,
    CONSTRAINT mounts_accessor UNIQUE (accessor)
);

-- No ON DELETE action: a mount goes only after its roles (DeleteMount
-- removes them, with their identities, in the same transaction).
ALTER TABLE auth_methods ADD COLUMN mount_path text REFERENCES mounts (path);
CREATE INDEX auth_methods_mount_path ON auth_methods (mount_path);
