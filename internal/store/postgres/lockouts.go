package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const lockoutColumns = `auth_method_id, client_ip, failed_attempts, last_failure_at, locked_until, expires_at`

func scanLockout(row pgx.Row, extra ...any) (store.Lockout, error) {
	var l store.Lockout
	dest := append([]any{&l.AuthMethodID, &l.ClientIP, &l.FailedAttempts,
		timeDest{&l.LastFailureAt}, timeDest{&l.LockedUntil}, timeDest{&l.ExpiresAt}}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.Lockout{}, err
	}
	return l, nil
}

// RecordLoginFailure counts one failure of the key in one transaction,
// unless the key is locked: INSERT ... ON CONFLICT DO NOTHING makes sure
// the row exists (waiting for a concurrent insert of the same key to
// commit), SELECT ... FOR UPDATE holds it while store.Lockout.AfterFailure
// computes the next state, and an UPDATE writes it. Concurrent failures on
// one key, from any number of replicas, therefore queue on the row lock
// and are each counted once; those that find the lock change nothing.
//
// Afterwards, in a statement of its own, the method's other records that
// expired by now are deleted, skipping rows another transaction holds (a
// failure of that key, which renews the row, or another clean-up, which
// deletes it). Doing this inside the transaction could deadlock two
// failures from different addresses that each hold the row the other
// wants to delete.
func (s *Store) RecordLoginFailure(ctx context.Context, key store.LockoutKey, now time.Time, p store.LockoutPolicy) (store.Lockout, bool, error) {
	if now.IsZero() {
		return store.Lockout{}, false, errors.New("postgres: record login failure: time is zero")
	}
	var (
		out     store.Lockout
		counted bool
	)
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var (
			cur     store.Lockout
			existed bool
		)
		// A successful login may delete the row between the INSERT and
		// the SELECT (IssueAccessToken with a Lockout): then insert again.
		for try := 0; ; try++ {
			tag, err := tx.Exec(ctx, `INSERT INTO login_lockouts (`+lockoutColumns+`)
				VALUES ($1, $2, 0, $3, NULL, $3) ON CONFLICT (auth_method_id, client_ip) DO NOTHING`,
				key.AuthMethodID, key.ClientIP, timeArg(now))
			if err != nil {
				return wrapErr("record login failure", err)
			}
			existed = tag.RowsAffected() == 0
			cur, err = scanLockout(tx.QueryRow(ctx, `SELECT `+lockoutColumns+` FROM login_lockouts
				WHERE auth_method_id = $1 AND client_ip = $2 FOR UPDATE`, key.AuthMethodID, key.ClientIP))
			if errors.Is(err, pgx.ErrNoRows) && try < 10 {
				continue
			}
			if err != nil {
				return wrapErr("record login failure", err)
			}
			break
		}
		if existed && cur.Active(now) {
			out = cur
			return nil
		}
		next := cur.AfterFailure(existed, now, p)
		var err error
		out, err = scanLockout(tx.QueryRow(ctx, `UPDATE login_lockouts SET
			failed_attempts = $3, last_failure_at = $4, locked_until = $5, expires_at = $6
			WHERE auth_method_id = $1 AND client_ip = $2 RETURNING `+lockoutColumns,
			key.AuthMethodID, key.ClientIP, next.FailedAttempts, timeArg(next.LastFailureAt),
			timeArg(next.LockedUntil), timeArg(next.ExpiresAt)))
		if err != nil {
			return wrapErr("record login failure", err)
		}
		counted = true
		return nil
	})
	if err != nil {
		return store.Lockout{}, false, err
	}
	if !counted {
		return out, false, nil
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_lockouts WHERE (auth_method_id, client_ip) IN (
		SELECT auth_method_id, client_ip FROM login_lockouts
		WHERE auth_method_id = $1 AND expires_at <= $2 AND client_ip <> $3
		FOR UPDATE SKIP LOCKED)`, key.AuthMethodID, timeArg(now), key.ClientIP); err != nil {
		return store.Lockout{}, false, wrapErr("record login failure: deleting expired records", err)
	}
	return out, true, nil
}

// GetLockout returns the key's record.
func (s *Store) GetLockout(ctx context.Context, key store.LockoutKey) (store.Lockout, error) {
	l, err := scanLockout(s.pool.QueryRow(ctx, `SELECT `+lockoutColumns+` FROM login_lockouts
		WHERE auth_method_id = $1 AND client_ip = $2`, key.AuthMethodID, key.ClientIP))
	if err != nil {
		return store.Lockout{}, wrapErr("get lockout", err)
	}
	return l, nil
}

// ClearLockout deletes the key's record, if any.
func (s *Store) ClearLockout(ctx context.Context, key store.LockoutKey) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM login_lockouts WHERE auth_method_id = $1 AND client_ip = $2`,
		key.AuthMethodID, key.ClientIP); err != nil {
		return wrapErr("clear lockout", err)
	}
	return nil
}

// ClearLockouts deletes every record of the method.
func (s *Store) ClearLockouts(ctx context.Context, authMethodID string) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM login_lockouts WHERE auth_method_id = $1`, authMethodID)
	if err != nil {
		return 0, wrapErr("clear lockouts", err)
	}
	return tag.RowsAffected(), nil
}

// ListActiveLockouts returns the method's records locked at now.
func (s *Store) ListActiveLockouts(ctx context.Context, authMethodID string, now time.Time) ([]store.Lockout, error) {
	return list(ctx, s, "list active lockouts",
		`SELECT `+lockoutColumns+` FROM login_lockouts
		WHERE auth_method_id = $1 AND locked_until > $2 ORDER BY client_ip COLLATE "C"`,
		[]any{authMethodID, timeArg(now)}, scanLockout)
}
