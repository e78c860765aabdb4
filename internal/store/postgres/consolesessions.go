package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// CreateConsoleSession stores a console session, dropping expired ones and
// the identity's oldest beyond max. The table lock (which conflicts with
// itself and with other writes, not with reads) makes replicas creating
// sessions at once take turns, so none can exceed max.
func (s *Store) CreateConsoleSession(ctx context.Context, cs store.ConsoleSession, max int) error {
	if err := store.CheckConsoleSession(cs, max); err != nil {
		return fmt.Errorf("postgres: create %w", err)
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE console_sessions IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= $1`, microArg(cs.CreatedAt)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE id_hash IN (
			SELECT id_hash FROM console_sessions WHERE identity_id = $1
			ORDER BY created_at DESC, id_hash DESC OFFSET $2)`, cs.IdentityID, max-1); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_sessions
			(id_hash, sealed_token, name, identity_id, admin, root, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			cs.IDHash, cs.SealedToken, cs.Name, cs.IdentityID, cs.Admin, cs.Root, microArg(cs.CreatedAt), microArg(cs.ExpiresAt))
		return err
	})
	if err != nil {
		return wrapErr("create console session", err)
	}
	return nil
}

// GetConsoleSession returns the session live at now.
func (s *Store) GetConsoleSession(ctx context.Context, idHash []byte, now time.Time) (store.ConsoleSession, error) {
	if err := store.CheckConsoleSessionLookup(idHash, now); err != nil {
		return store.ConsoleSession{}, fmt.Errorf("postgres: get %w", err)
	}
	var cs store.ConsoleSession
	err := s.pool.QueryRow(ctx, `SELECT id_hash, sealed_token, name, identity_id, admin, root, created_at, expires_at
		FROM console_sessions WHERE id_hash = $1 AND expires_at > $2`, idHash, microArg(now)).
		Scan(&cs.IDHash, &cs.SealedToken, &cs.Name, &cs.IdentityID, &cs.Admin, &cs.Root, timeDest{&cs.CreatedAt}, timeDest{&cs.ExpiresAt})
	if err != nil {
		return store.ConsoleSession{}, wrapErr("get console session", err)
	}
	return cs, nil
}

// DeleteConsoleSession deletes a session; none is not an error.
func (s *Store) DeleteConsoleSession(ctx context.Context, idHash []byte) error {
	if err := store.CheckConsoleSessionLookup(idHash, time.Unix(1, 0)); err != nil {
		return fmt.Errorf("postgres: delete %w", err)
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE id_hash = $1`, idHash); err != nil {
		return wrapErr("delete console session", err)
	}
	return nil
}

// PurgeConsoleSessions deletes the sessions expired at now.
func (s *Store) PurgeConsoleSessions(ctx context.Context, now time.Time) (int64, error) {
	if now.IsZero() {
		return 0, fmt.Errorf("postgres: purge console sessions: %w: zero time", store.ErrInvalid)
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE expires_at <= $1`, microArg(now))
	if err != nil {
		return 0, wrapErr("purge console sessions", err)
	}
	return tag.RowsAffected(), nil
}

// microArg is t truncated to the microsecond, as SQLite keeps it
// (PostgreSQL would round), so that both stores compare the same instants.
func microArg(t time.Time) any { return timeArg(t.Truncate(time.Microsecond)) }
