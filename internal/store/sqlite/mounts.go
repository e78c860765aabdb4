package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const mountCols = `path, type, accessor, description, config, sealed_secret, created_at, updated_at`

func scanMount(r rowScanner) (store.Mount, error) {
	var (
		m                store.Mount
		config           sql.NullString
		created, updated sql.NullInt64
	)
	if err := r.Scan(&m.Path, &m.Type, &m.Accessor, &m.Description, &config, &m.SealedSecret,
		&created, &updated); err != nil {
		return store.Mount{}, err
	}
	if config.Valid {
		m.Config = json.RawMessage(config.String)
	}
	if len(m.SealedSecret) == 0 {
		m.SealedSecret = nil
	}
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	return m, nil
}

// CreateMount stores a new mount. The primary key on path and the UNIQUE
// accessor give ErrAlreadyExists.
func (s *Store) CreateMount(ctx context.Context, m store.Mount) error {
	// The one write connection runs this transaction alone, so no other
	// mount can appear between the check and the insert.
	if err := checkText("create mount", m.Path, m.Type, m.Accessor, m.Description, string(m.Config)); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var taken string
		err := tx.QueryRowContext(ctx, `SELECT path FROM mounts
			WHERE path = ?1 OR substr(?1, 1, length(path) + 1) = path || '/' OR substr(path, 1, length(?1) + 1) = ?1 || '/'
			LIMIT 1`, m.Path).Scan(&taken)
		switch {
		case err == nil:
			return fmt.Errorf("%w (in use at %q)", store.ErrAlreadyExists, taken)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO mounts (`+mountCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			m.Path, m.Type, m.Accessor, m.Description, config(m.Config), blob(m.SealedSecret),
			micros(m.CreatedAt), micros(m.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create mount %q: %w", m.Path, mapErr(err))
	}
	return nil
}

// GetMount returns one mount.
func (s *Store) GetMount(ctx context.Context, path string) (store.Mount, error) {
	if err := checkText("get mount", path); err != nil {
		return store.Mount{}, err
	}
	m, err := scanMount(s.stmts.mount.QueryRowContext(ctx, path))
	if err != nil {
		return store.Mount{}, notFound(err, "mount %q", path)
	}
	return m, nil
}

// ListMounts returns every mount ordered by path (byte order: SQLite's
// BINARY collation).
func (s *Store) ListMounts(ctx context.Context) ([]store.Mount, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+mountCols+` FROM mounts ORDER BY path`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list mounts: %w", mapErr(err))
	}
	defer rows.Close()
	out := []store.Mount{}
	for rows.Next() {
		m, err := scanMount(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list mounts: %w", mapErr(err))
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list mounts: %w", mapErr(err))
	}
	return out, nil
}

// UpdateMount runs update on the current mount inside a write transaction
// and stores the result. Path, Type, Accessor and CreatedAt are not
// written: what the updater does to them is lost.
func (s *Store) UpdateMount(ctx context.Context, path string, update func(*store.Mount) error) (store.Mount, error) {
	if err := checkText("update mount", path); err != nil {
		return store.Mount{}, err
	}
	return updateRow(ctx, s, fmt.Sprintf("mount %q", path), func(tx *sql.Tx) (store.Mount, error) {
		return scanMount(tx.QueryRowContext(ctx, `SELECT `+mountCols+` FROM mounts WHERE path = ?`, path))
	}, update, func(tx *sql.Tx, cur store.Mount) (store.Mount, error) {
		if err := checkText("update mount", cur.Description, string(cur.Config)); err != nil {
			return store.Mount{}, err
		}
		return scanMount(tx.QueryRowContext(ctx, `UPDATE mounts
			SET description = ?, config = ?, sealed_secret = ?, updated_at = ?
			WHERE path = ? RETURNING `+mountCols,
			cur.Description, config(cur.Config), blob(cur.SealedSecret), micros(cur.UpdatedAt), path))
	})
}

// DeleteMount, in one transaction, revokes the tokens issued through the
// mount's roles, deletes the identities the roles belong to (their auth
// methods, roles included, client secrets and lockouts go by ON DELETE
// CASCADE, and their other tokens are revoked, as DeleteIdentity does) and
// then the mount.
func (s *Store) DeleteMount(ctx context.Context, path string, now time.Time) error {
	if err := checkText("delete mount", path); err != nil {
		return err
	}
	if err := checkNow(now); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM mounts WHERE path = ?`, path).Scan(&one); err != nil {
			return notFound(err, "mount %q", path)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE access_tokens SET revoked_at = ?
			WHERE revoked_at IS NULL AND (
				auth_method_id IN (SELECT id FROM auth_methods WHERE mount_path = ?)
				OR identity_id IN (SELECT identity_id FROM auth_methods WHERE mount_path = ?))`,
			micros(now), path, path); err != nil {
			return fmt.Errorf("sqlite: delete mount %q: revoking tokens: %w", path, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM identities
			WHERE id IN (SELECT identity_id FROM auth_methods WHERE mount_path = ?)`, path); err != nil {
			return fmt.Errorf("sqlite: delete mount %q: deleting its identities: %w", path, mapErr(err))
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM mounts WHERE path = ?`, path); err != nil {
			return fmt.Errorf("sqlite: delete mount %q: %w", path, mapErr(err))
		}
		return nil
	})
}
