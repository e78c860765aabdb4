package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const identityCols = `id, name, role, has_delete_protection, metadata, created_at, updated_at`

func scanIdentity(r rowScanner) (store.Identity, error) {
	var (
		id               store.Identity
		md               string
		created, updated sql.NullInt64
	)
	if err := r.Scan(&id.ID, &id.Name, &id.Role, &id.HasDeleteProtection, &md, &created, &updated); err != nil {
		return store.Identity{}, err
	}
	if err := json.Unmarshal([]byte(md), &id.Metadata); err != nil {
		return store.Identity{}, fmt.Errorf("identity %q metadata: %w", id.ID, err)
	}
	if id.Metadata == nil {
		id.Metadata = []store.MetadataEntry{}
	}
	id.CreatedAt, id.UpdatedAt = fromMicros(created), fromMicros(updated)
	return id, nil
}

func encodeMetadata(md []store.MetadataEntry) (string, error) {
	return encodeJSON(md, "[]")
}

// CreateIdentity stores a new identity.
func (s *Store) CreateIdentity(ctx context.Context, id store.Identity) error {
	if err := checkText("create identity", id.ID, id.Name, string(id.Role)); err != nil {
		return err
	}
	return insertIdentity(ctx, s.write, id)
}

func insertIdentity(ctx context.Context, db execer, id store.Identity) error {
	md, err := encodeMetadata(id.Metadata)
	if err != nil {
		return fmt.Errorf("sqlite: create identity: %w", mapErr(err))
	}
	_, err = db.ExecContext(ctx, `INSERT INTO identities (`+identityCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		id.ID, id.Name, id.Role, id.HasDeleteProtection, md, micros(id.CreatedAt), micros(id.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create identity %q: %w", id.ID, mapErr(err))
	}
	return nil
}

// GetIdentity returns one identity.
func (s *Store) GetIdentity(ctx context.Context, id string) (store.Identity, error) {
	if err := checkText("get identity", id); err != nil {
		return store.Identity{}, err
	}
	ident, err := scanIdentity(s.stmts.identity.QueryRowContext(ctx, id))
	if err != nil {
		return store.Identity{}, notFound(err, "identity %q", id)
	}
	return ident, nil
}

// ListIdentities returns a page of identities, oldest first, and the total.
// A limit of zero or less means no limit.
func (s *Store) ListIdentities(ctx context.Context, offset, limit int) ([]store.Identity, int, error) {
	offset, limit = pageArgs(offset, limit)
	out, total, err := page(ctx, s, `SELECT `+identityCols+` FROM identities
		ORDER BY created_at, rowid LIMIT ? OFFSET ?`, `SELECT count(*) FROM identities`, nil, limit, offset, scanIdentity)
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list identities: %w", mapErr(err))
	}
	return out, total, nil
}

// UpdateIdentity runs update on the current identity inside a write
// transaction and stores the result. The ID cannot be changed.
func (s *Store) UpdateIdentity(ctx context.Context, id string, update func(*store.Identity) error) (store.Identity, error) {
	if err := checkText("update identity", id); err != nil {
		return store.Identity{}, err
	}
	return updateRow(ctx, s, fmt.Sprintf("identity %q", id), func(tx *sql.Tx) (store.Identity, error) {
		return scanIdentity(tx.QueryRowContext(ctx, `SELECT `+identityCols+` FROM identities WHERE id = ?`, id))
	}, update, func(tx *sql.Tx, cur store.Identity) (store.Identity, error) {
		if err := checkText("update identity", cur.Name, string(cur.Role)); err != nil {
			return store.Identity{}, err
		}
		md, err := encodeMetadata(cur.Metadata)
		if err != nil {
			return store.Identity{}, err
		}
		return scanIdentity(tx.QueryRowContext(ctx, `UPDATE identities
			SET name = ?, role = ?, has_delete_protection = ?, metadata = ?, created_at = ?, updated_at = ?
			WHERE id = ? RETURNING `+identityCols,
			cur.Name, cur.Role, cur.HasDeleteProtection, md, micros(cur.CreatedAt), micros(cur.UpdatedAt), id))
	})
}

// DeleteIdentity removes the identity (its auth methods and their client
// secrets go by ON DELETE CASCADE) and revokes its tokens, in one
// transaction.
func (s *Store) DeleteIdentity(ctx context.Context, id string, now time.Time) error {
	if err := checkText("delete identity", id); err != nil {
		return err
	}
	if err := checkNow(now); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM identities WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlite: delete identity %q: %w", id, mapErr(err))
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: delete identity %q: %w", id, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: identity %q: %w", id, store.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE access_tokens SET revoked_at = ?
			WHERE identity_id = ? AND revoked_at IS NULL`, micros(now), id); err != nil {
			return fmt.Errorf("sqlite: delete identity %q: revoking tokens: %w", id, err)
		}
		return nil
	})
}
