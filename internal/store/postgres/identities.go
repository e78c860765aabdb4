package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const identityColumns = `id, name, role, has_delete_protection, metadata, created_at, updated_at`

// scanIdentity reads identityColumns, then extra.
func scanIdentity(row pgx.Row, extra ...any) (store.Identity, error) {
	var (
		id       store.Identity
		role     string
		metadata []byte
	)
	dest := append([]any{&id.ID, &id.Name, &role, &id.HasDeleteProtection, &metadata,
		timeDest{&id.CreatedAt}, timeDest{&id.UpdatedAt}}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.Identity{}, err
	}
	id.Role = store.Role(role)
	if err := json.Unmarshal(metadata, &id.Metadata); err != nil {
		return store.Identity{}, err
	}
	if id.Metadata == nil {
		id.Metadata = []store.MetadataEntry{}
	}
	return id, nil
}

func metadataArg(m []store.MetadataEntry) (string, error) {
	if m == nil {
		m = []store.MetadataEntry{}
	}
	return jsonArg(m)
}

// CreateIdentity stores a new identity.
func (s *Store) CreateIdentity(ctx context.Context, id store.Identity) error {
	return insertIdentity(ctx, s.pool, id)
}

func insertIdentity(ctx context.Context, db execer, id store.Identity) error {
	metadata, err := metadataArg(id.Metadata)
	if err != nil {
		return wrapErr("create identity", err)
	}
	_, err = db.Exec(ctx, `INSERT INTO identities (`+identityColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		id.ID, id.Name, string(id.Role), id.HasDeleteProtection, metadata,
		timeArg(id.CreatedAt), timeArg(id.UpdatedAt))
	if err != nil {
		return wrapErr("create identity", err)
	}
	return nil
}

// GetIdentity returns one identity.
func (s *Store) GetIdentity(ctx context.Context, id string) (store.Identity, error) {
	ident, err := scanIdentity(s.pool.QueryRow(ctx,
		`SELECT `+identityColumns+` FROM identities WHERE id = $1`, id))
	if err != nil {
		return store.Identity{}, wrapErr("get identity", err)
	}
	return ident, nil
}

// ListIdentities returns identities oldest first (the same instant: in the
// order they were created), and the total count.
func (s *Store) ListIdentities(ctx context.Context, offset, limit int) ([]store.Identity, int, error) {
	return page(ctx, s, "list identities",
		`SELECT `+identityColumns+`, count(*) OVER () FROM identities
		ORDER BY created_at ASC NULLS FIRST, seq OFFSET $1 LIMIT $2`,
		`SELECT count(*) FROM identities`,
		[]any{offsetArg(offset), limitArg(limit)}, scanIdentity)
}

// UpdateIdentity locks the identity, lets update change it and writes it
// back. The ID cannot change.
func (s *Store) UpdateIdentity(ctx context.Context, id string, update func(*store.Identity) error) (store.Identity, error) {
	return updateRow(ctx, s, "update identity", func(tx pgx.Tx) (store.Identity, error) {
		return scanIdentity(tx.QueryRow(ctx, `SELECT `+identityColumns+` FROM identities WHERE id = $1 FOR UPDATE`, id))
	}, update, func(tx pgx.Tx, cur store.Identity) (store.Identity, error) {
		metadata, err := metadataArg(cur.Metadata)
		if err != nil {
			return store.Identity{}, err
		}
		return scanIdentity(tx.QueryRow(ctx, `UPDATE identities SET
			name = $2, role = $3, has_delete_protection = $4, metadata = $5,
			created_at = $6, updated_at = $7
			WHERE id = $1 RETURNING `+identityColumns,
			id, cur.Name, string(cur.Role), cur.HasDeleteProtection, metadata,
			timeArg(cur.CreatedAt), timeArg(cur.UpdatedAt)))
	})
}

// DeleteIdentity revokes the identity's tokens and deletes it; its auth
// methods and their client secrets go with it (ON DELETE CASCADE).
func (s *Store) DeleteIdentity(ctx context.Context, id string, now time.Time) error {
	if err := checkNow("delete identity", now); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM identities WHERE id = $1`, id)
		if err != nil {
			return wrapErr("delete identity", err)
		}
		if tag.RowsAffected() == 0 {
			return wrapErr("delete identity", pgx.ErrNoRows)
		}
		if _, err := tx.Exec(ctx, `UPDATE access_tokens SET revoked_at = $2
			WHERE identity_id = $1 AND revoked_at IS NULL`, id, timeArg(now)); err != nil {
			return wrapErr("delete identity", err)
		}
		return nil
	})
}
