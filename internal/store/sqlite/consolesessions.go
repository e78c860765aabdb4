package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// CreateConsoleSession stores a console session, dropping expired ones and
// the identity's oldest beyond max. The one write connection runs the
// transaction alone (BEGIN IMMEDIATE also serializes processes sharing the
// file), so concurrent creates cannot exceed max.
func (s *Store) CreateConsoleSession(ctx context.Context, cs store.ConsoleSession, max int) error {
	if err := store.CheckConsoleSession(cs, max); err != nil {
		return fmt.Errorf("sqlite: create %w", err)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires_at <= ?`, cs.CreatedAt.UnixMicro()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash IN (
			SELECT id_hash FROM console_sessions WHERE identity_id = ?
			ORDER BY created_at DESC, id_hash DESC LIMIT -1 OFFSET ?)`, cs.IdentityID, max-1); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO console_sessions
			(id_hash, sealed_token, name, identity_id, admin, root, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			cs.IDHash, cs.SealedToken, cs.Name, cs.IdentityID, cs.Admin, cs.Root, cs.CreatedAt.UnixMicro(), cs.ExpiresAt.UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: create console session: %w", mapErr(err))
	}
	return nil
}

// GetConsoleSession returns the session live at now.
func (s *Store) GetConsoleSession(ctx context.Context, idHash []byte, now time.Time) (store.ConsoleSession, error) {
	if err := store.CheckConsoleSessionLookup(idHash, now); err != nil {
		return store.ConsoleSession{}, fmt.Errorf("sqlite: get %w", err)
	}
	var (
		cs               store.ConsoleSession
		created, expires sql.NullInt64
	)
	err := s.read.QueryRowContext(ctx, `SELECT id_hash, sealed_token, name, identity_id, admin, root, created_at, expires_at
		FROM console_sessions WHERE id_hash = ? AND expires_at > ?`, idHash, now.UnixMicro()).
		Scan(&cs.IDHash, &cs.SealedToken, &cs.Name, &cs.IdentityID, &cs.Admin, &cs.Root, &created, &expires)
	if err != nil {
		return store.ConsoleSession{}, notFound(err, "console session")
	}
	cs.CreatedAt, cs.ExpiresAt = fromMicros(created), fromMicros(expires)
	return cs, nil
}

// DeleteConsoleSession deletes a session; none is not an error.
func (s *Store) DeleteConsoleSession(ctx context.Context, idHash []byte) error {
	if err := store.CheckConsoleSessionLookup(idHash, time.Unix(1, 0)); err != nil {
		return fmt.Errorf("sqlite: delete %w", err)
	}
	if _, err := s.write.ExecContext(ctx, `DELETE FROM console_sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("sqlite: delete console session: %w", mapErr(err))
	}
	return nil
}

// PurgeConsoleSessions deletes the sessions expired at now.
func (s *Store) PurgeConsoleSessions(ctx context.Context, now time.Time) (int64, error) {
	if now.IsZero() {
		return 0, fmt.Errorf("sqlite: purge console sessions: %w: zero time", store.ErrInvalid)
	}
	res, err := s.write.ExecContext(ctx, `DELETE FROM console_sessions WHERE expires_at <= ?`, now.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge console sessions: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge console sessions: %w", err)
	}
	return n, nil
}
