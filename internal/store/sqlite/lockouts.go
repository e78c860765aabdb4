package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const lockoutCols = `auth_method_id, client_ip, failed_attempts, last_failure_at, locked_until, expires_at`

func scanLockout(r rowScanner) (store.Lockout, error) {
	var (
		l                     store.Lockout
		last, locked, expires sql.NullInt64
	)
	if err := r.Scan(&l.AuthMethodID, &l.ClientIP, &l.FailedAttempts, &last, &locked, &expires); err != nil {
		return store.Lockout{}, err
	}
	l.LastFailureAt, l.LockedUntil, l.ExpiresAt = fromMicros(last), fromMicros(locked), fromMicros(expires)
	return l, nil
}

// RecordLoginFailure reads the key's record and, unless it is locked at
// now, applies store.Lockout.AfterFailure and writes it back, in one write
// transaction (BEGIN IMMEDIATE on the one write connection): concurrent
// failures queue and each is counted, so at most Threshold are counted
// before the lock. The same transaction deletes the method's other records
// that expired by now, so that failures from many addresses cannot grow
// the table without bound.
func (s *Store) RecordLoginFailure(ctx context.Context, key store.LockoutKey, now time.Time, p store.LockoutPolicy) (store.Lockout, bool, error) {
	if err := checkText("record login failure", key.AuthMethodID, key.ClientIP); err != nil {
		return store.Lockout{}, false, err
	}
	if now.IsZero() {
		return store.Lockout{}, false, errors.New("sqlite: record login failure: time is zero")
	}
	var (
		out     store.Lockout
		counted bool
	)
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		cur, err := scanLockout(tx.QueryRowContext(ctx, `SELECT `+lockoutCols+` FROM login_lockouts
			WHERE auth_method_id = ? AND client_ip = ?`, key.AuthMethodID, key.ClientIP))
		existed := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: record login failure: %w", mapErr(err))
		}
		if existed && cur.Active(now) {
			out = cur
			return nil
		}
		cur.LockoutKey = key
		next := cur.AfterFailure(existed, now, p)
		out, err = scanLockout(tx.QueryRowContext(ctx, `INSERT INTO login_lockouts (`+lockoutCols+`)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (auth_method_id, client_ip) DO UPDATE SET
				failed_attempts = excluded.failed_attempts, last_failure_at = excluded.last_failure_at,
				locked_until = excluded.locked_until, expires_at = excluded.expires_at
			RETURNING `+lockoutCols,
			key.AuthMethodID, key.ClientIP, next.FailedAttempts, micros(next.LastFailureAt),
			micros(next.LockedUntil), micros(next.ExpiresAt)))
		if err != nil {
			return fmt.Errorf("sqlite: record login failure for auth method %q: %w", key.AuthMethodID, mapErr(err))
		}
		counted = true
		if _, err := tx.ExecContext(ctx, `DELETE FROM login_lockouts
			WHERE auth_method_id = ? AND expires_at <= ? AND client_ip <> ?`,
			key.AuthMethodID, micros(now), key.ClientIP); err != nil {
			return fmt.Errorf("sqlite: record login failure: deleting expired records: %w", mapErr(err))
		}
		return nil
	})
	if err != nil {
		return store.Lockout{}, false, err
	}
	return out, counted, nil
}

// GetLockout returns the key's record.
func (s *Store) GetLockout(ctx context.Context, key store.LockoutKey) (store.Lockout, error) {
	if err := checkText("get lockout", key.AuthMethodID, key.ClientIP); err != nil {
		return store.Lockout{}, err
	}
	l, err := scanLockout(s.stmts.lockout.QueryRowContext(ctx, key.AuthMethodID, key.ClientIP))
	if err != nil {
		return store.Lockout{}, notFound(err, "lockout of auth method %q", key.AuthMethodID)
	}
	return l, nil
}

// ClearLockout deletes the key's record, if any.
func (s *Store) ClearLockout(ctx context.Context, key store.LockoutKey) error {
	if err := checkText("clear lockout", key.AuthMethodID, key.ClientIP); err != nil {
		return err
	}
	if _, err := s.write.ExecContext(ctx, `DELETE FROM login_lockouts WHERE auth_method_id = ? AND client_ip = ?`,
		key.AuthMethodID, key.ClientIP); err != nil {
		return fmt.Errorf("sqlite: clear lockout of auth method %q: %w", key.AuthMethodID, err)
	}
	return nil
}

// ClearLockouts deletes every record of the method.
func (s *Store) ClearLockouts(ctx context.Context, authMethodID string) (int64, error) {
	if err := checkText("clear lockouts", authMethodID); err != nil {
		return 0, err
	}
	res, err := s.write.ExecContext(ctx, `DELETE FROM login_lockouts WHERE auth_method_id = ?`, authMethodID)
	if err != nil {
		return 0, fmt.Errorf("sqlite: clear lockouts of auth method %q: %w", authMethodID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: clear lockouts of auth method %q: %w", authMethodID, err)
	}
	return n, nil
}

// ListActiveLockouts returns the method's records locked at now.
func (s *Store) ListActiveLockouts(ctx context.Context, authMethodID string, now time.Time) ([]store.Lockout, error) {
	if err := checkText("list lockouts", authMethodID); err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+lockoutCols+` FROM login_lockouts
		WHERE auth_method_id = ? AND locked_until > ? ORDER BY client_ip`, authMethodID, now.UnixMicro())
	if err != nil {
		return nil, fmt.Errorf("sqlite: list lockouts of auth method %q: %w", authMethodID, err)
	}
	defer rows.Close()
	out := []store.Lockout{}
	for rows.Next() {
		l, err := scanLockout(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list lockouts of auth method %q: %w", authMethodID, err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list lockouts of auth method %q: %w", authMethodID, err)
	}
	return out, nil
}
