package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const clientSecretColumns = `id, auth_method_id, description, prefix, hash,
	num_uses, num_uses_limit, ttl, revoked_at, created_at, updated_at`

func scanClientSecret(row pgx.Row, extra ...any) (store.ClientSecret, error) {
	var cs store.ClientSecret
	dest := append([]any{&cs.ID, &cs.AuthMethodID, &cs.Description, &cs.Prefix, &cs.Hash,
		&cs.NumUses, &cs.NumUsesLimit, &cs.TTL,
		timeDest{&cs.RevokedAt}, timeDest{&cs.CreatedAt}, timeDest{&cs.UpdatedAt}}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.ClientSecret{}, err
	}
	return cs, nil
}

// CreateClientSecret stores a new client secret of an existing method.
func (s *Store) CreateClientSecret(ctx context.Context, cs store.ClientSecret) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO client_secrets (`+clientSecretColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		cs.ID, cs.AuthMethodID, cs.Description, cs.Prefix, cs.Hash,
		cs.NumUses, cs.NumUsesLimit, cs.TTL,
		timeArg(cs.RevokedAt), timeArg(cs.CreatedAt), timeArg(cs.UpdatedAt))
	if err != nil {
		return wrapErr("create client secret", err)
	}
	return nil
}

// GetClientSecret returns one client secret.
func (s *Store) GetClientSecret(ctx context.Context, id string) (store.ClientSecret, error) {
	cs, err := scanClientSecret(s.pool.QueryRow(ctx,
		`SELECT `+clientSecretColumns+` FROM client_secrets WHERE id = $1`, id))
	if err != nil {
		return store.ClientSecret{}, wrapErr("get client secret", err)
	}
	return cs, nil
}

// GetClientSecretByHash returns the client secret with that hash.
func (s *Store) GetClientSecretByHash(ctx context.Context, hash []byte) (store.ClientSecret, error) {
	cs, err := scanClientSecret(s.pool.QueryRow(ctx,
		`SELECT `+clientSecretColumns+` FROM client_secrets WHERE hash = $1`, hash))
	if err != nil {
		return store.ClientSecret{}, wrapErr("get client secret by hash", err)
	}
	return cs, nil
}

// ListClientSecrets returns a method's secrets oldest first.
func (s *Store) ListClientSecrets(ctx context.Context, authMethodID string) ([]store.ClientSecret, error) {
	return list(ctx, s, "list client secrets",
		`SELECT `+clientSecretColumns+` FROM client_secrets WHERE auth_method_id = $1
		ORDER BY created_at ASC NULLS FIRST, seq`,
		[]any{authMethodID}, scanClientSecret)
}

// sqlConsumeClientSecret counts one use of secret $1 at $2, if it is
// unrevoked and below its limit (IssueAccessToken).
const sqlConsumeClientSecret = `UPDATE client_secrets
	SET num_uses = num_uses + 1, updated_at = $2
	WHERE id = $1 AND revoked_at IS NULL AND (num_uses_limit = 0 OR num_uses < num_uses_limit)
	RETURNING id`

// whyNotUsable tells, after a use-counting UPDATE matched no row, whether
// the row is at its limit (ErrLimitReached) or absent or revoked
// (ErrNotFound). query selects "revoked_at IS NULL" of the row. Limits never
// go down, so an unrevoked row here is one at its limit.
func (s *Store) whyNotUsable(ctx context.Context, query, id string) error {
	var live bool
	if err := s.pool.QueryRow(ctx, query, id).Scan(&live); err != nil {
		return err // pgx.ErrNoRows: absent
	}
	if !live {
		return store.ErrNotFound
	}
	return store.ErrLimitReached
}

// RevokeClientSecret marks the secret revoked (keeping the first revocation
// time) and revokes every token minted with it, in one transaction.
func (s *Store) RevokeClientSecret(ctx context.Context, id string, now time.Time) (store.ClientSecret, error) {
	if err := checkNow("revoke client secret", now); err != nil {
		return store.ClientSecret{}, err
	}
	var cs store.ClientSecret
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		cs, err = scanClientSecret(tx.QueryRow(ctx, `UPDATE client_secrets SET
			updated_at = CASE WHEN revoked_at IS NULL THEN $2 ELSE updated_at END,
			revoked_at = COALESCE(revoked_at, $2)
			WHERE id = $1 RETURNING `+clientSecretColumns, id, timeArg(now)))
		if err != nil {
			return wrapErr("revoke client secret", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE access_tokens SET revoked_at = $2
			WHERE client_secret_id = $1 AND revoked_at IS NULL`, id, timeArg(now)); err != nil {
			return wrapErr("revoke client secret", err)
		}
		return nil
	})
	if err != nil {
		return store.ClientSecret{}, err
	}
	return cs, nil
}
