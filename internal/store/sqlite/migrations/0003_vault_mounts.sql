-- 0003: Vault auth mounts and their roles.
--
-- A mount is a path under auth/ of the Vault API with its method type and,
-- for Kubernetes, the cluster connection its roles share. A role is an auth
-- method whose mount_path names its mount; auth methods outside any mount
-- keep mount_path NULL.

CREATE TABLE mounts (
	path          TEXT PRIMARY KEY, -- without "auth/" and the trailing "/"
	type          TEXT NOT NULL,
	accessor      TEXT NOT NULL UNIQUE,
	description   TEXT NOT NULL DEFAULT '',
	config        TEXT,    -- JSON owned by the method's package; NULL until configured
	sealed_secret BLOB,    -- AES-GCM sealed by the caller; NULL when none
	created_at    INTEGER,
	updated_at    INTEGER
) STRICT;

-- No ON DELETE action: a mount goes only after its roles (DeleteMount
-- removes them, with their identities, in the same transaction). SQLite
-- adds a column with a REFERENCES clause only when its default is NULL.
ALTER TABLE auth_methods ADD COLUMN mount_path TEXT REFERENCES mounts (path);

CREATE INDEX auth_methods_mount_path ON auth_methods (mount_path);
