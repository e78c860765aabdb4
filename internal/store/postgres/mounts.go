package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const mountColumns = `path, type, accessor, description, config, sealed_secret, created_at, updated_at`

// scanMount reads mountColumns, then extra.
func scanMount(row pgx.Row, extra ...any) (store.Mount, error) {
	var (
		m      store.Mount
		config []byte
	)
	dest := append([]any{&m.Path, &m.Type, &m.Accessor, &m.Description, &config, &m.SealedSecret,
		timeDest{&m.CreatedAt}, timeDest{&m.UpdatedAt}}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.Mount{}, err
	}
	if config != nil {
		m.Config = json.RawMessage(config)
	}
	if len(m.SealedSecret) == 0 {
		m.SealedSecret = nil
	}
	return m, nil
}

// mountArgs are the values of mountColumns.
func mountArgs(m store.Mount) []any {
	return []any{m.Path, m.Type, m.Accessor, m.Description, configArg(m.Config), bytesArg(m.SealedSecret),
		timeArg(m.CreatedAt), timeArg(m.UpdatedAt)}
}

// CreateMount stores a new mount; a taken path or accessor is
// ErrAlreadyExists.
func (s *Store) CreateMount(ctx context.Context, m store.Mount) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// Mounts are created rarely: one at a time (the lock conflicts
		// with itself, not with reads), so no other can appear between the
		// check and the insert.
		if _, err := tx.Exec(ctx, `LOCK TABLE mounts IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var taken string
		err := tx.QueryRow(ctx, `SELECT path FROM mounts
			WHERE path = $1 OR left($1, length(path) + 1) = path || '/' OR left(path, length($1) + 1) = $1 || '/'
			LIMIT 1`, m.Path).Scan(&taken)
		switch {
		case err == nil:
			return fmt.Errorf("%w (in use at %q)", store.ErrAlreadyExists, taken)
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO mounts (`+mountColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, mountArgs(m)...)
		return err
	})
	if err != nil {
		return wrapErr("create mount", err)
	}
	return nil
}

// GetMount returns one mount.
func (s *Store) GetMount(ctx context.Context, path string) (store.Mount, error) {
	m, err := scanMount(s.pool.QueryRow(ctx, `SELECT `+mountColumns+` FROM mounts WHERE path = $1`, path))
	if err != nil {
		return store.Mount{}, wrapErr("get mount", err)
	}
	return m, nil
}

// ListMounts returns every mount ordered by path in byte order, as SQLite
// orders them.
func (s *Store) ListMounts(ctx context.Context) ([]store.Mount, error) {
	return list(ctx, s, "list mounts",
		`SELECT `+mountColumns+` FROM mounts ORDER BY path COLLATE "C"`, nil, scanMount)
}

// UpdateMount locks the mount, lets update change it and writes it back.
// Path, Type, Accessor and CreatedAt are not written: what the updater does
// to them is lost.
func (s *Store) UpdateMount(ctx context.Context, path string, update func(*store.Mount) error) (store.Mount, error) {
	return updateRow(ctx, s, "update mount", func(tx pgx.Tx) (store.Mount, error) {
		return scanMount(tx.QueryRow(ctx, `SELECT `+mountColumns+` FROM mounts WHERE path = $1 FOR UPDATE`, path))
	}, update, func(tx pgx.Tx, cur store.Mount) (store.Mount, error) {
		return scanMount(tx.QueryRow(ctx, `UPDATE mounts SET
			description = $2, config = $3, sealed_secret = $4, updated_at = $5
			WHERE path = $1 RETURNING `+mountColumns,
			path, cur.Description, configArg(cur.Config), bytesArg(cur.SealedSecret), timeArg(cur.UpdatedAt)))
	})
}

// DeleteMount, in one transaction, revokes the tokens issued through the
// mount's roles, deletes the identities the roles belong to (their auth
// methods, roles included, client secrets and lockouts go by ON DELETE
// CASCADE, and their other tokens are revoked, as DeleteIdentity does) and
// then the mount. The mount's row is locked first, so that a role created
// concurrently either is seen here or finds the mount gone.
func (s *Store) DeleteMount(ctx context.Context, path string, now time.Time) error {
	if err := checkNow("delete mount", now); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM mounts WHERE path = $1 FOR UPDATE`, path).Scan(&one); err != nil {
			return wrapErr("delete mount", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE access_tokens SET revoked_at = $2
			WHERE revoked_at IS NULL AND (
				auth_method_id IN (SELECT id FROM auth_methods WHERE mount_path = $1)
				OR identity_id IN (SELECT identity_id FROM auth_methods WHERE mount_path = $1))`,
			path, timeArg(now)); err != nil {
			return wrapErr("delete mount", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identities
			WHERE id IN (SELECT identity_id FROM auth_methods WHERE mount_path = $1)`, path); err != nil {
			return wrapErr("delete mount", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM mounts WHERE path = $1`, path); err != nil {
			return wrapErr("delete mount", err)
		}
		return nil
	})
}
