package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const clientSecretCols = `id, auth_method_id, description, prefix, hash, num_uses, num_uses_limit, ttl,
	revoked_at, created_at, updated_at`

func scanClientSecret(r rowScanner) (store.ClientSecret, error) {
	var (
		cs                        store.ClientSecret
		revoked, created, updated sql.NullInt64
	)
	if err := r.Scan(&cs.ID, &cs.AuthMethodID, &cs.Description, &cs.Prefix, &cs.Hash, &cs.NumUses,
		&cs.NumUsesLimit, &cs.TTL, &revoked, &created, &updated); err != nil {
		return store.ClientSecret{}, err
	}
	cs.RevokedAt, cs.CreatedAt, cs.UpdatedAt = fromMicros(revoked), fromMicros(created), fromMicros(updated)
	return cs, nil
}

// CreateClientSecret stores a new client secret (ErrNotFound when the auth
// method is absent, by the foreign key).
func (s *Store) CreateClientSecret(ctx context.Context, cs store.ClientSecret) error {
	if err := checkText("create client secret", cs.ID, cs.AuthMethodID, cs.Description, cs.Prefix); err != nil {
		return err
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO client_secrets (`+clientSecretCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		cs.ID, cs.AuthMethodID, cs.Description, cs.Prefix, cs.Hash, cs.NumUses, cs.NumUsesLimit, cs.TTL,
		micros(cs.RevokedAt), micros(cs.CreatedAt), micros(cs.UpdatedAt))
	if err != nil {
		return fmt.Errorf("sqlite: create client secret %q: %w", cs.ID, mapErr(err))
	}
	return nil
}

// GetClientSecret returns one client secret.
func (s *Store) GetClientSecret(ctx context.Context, id string) (store.ClientSecret, error) {
	if err := checkText("get client secret", id); err != nil {
		return store.ClientSecret{}, err
	}
	cs, err := scanClientSecret(s.read.QueryRowContext(ctx, `SELECT `+clientSecretCols+` FROM client_secrets WHERE id = ?`, id))
	if err != nil {
		return store.ClientSecret{}, notFound(err, "client secret %q", id)
	}
	return cs, nil
}

// GetClientSecretByHash returns the client secret with that hash.
func (s *Store) GetClientSecretByHash(ctx context.Context, hash []byte) (store.ClientSecret, error) {
	cs, err := scanClientSecret(s.stmts.clientSecretByHash.QueryRowContext(ctx, hash))
	if err != nil {
		return store.ClientSecret{}, notFound(err, "client secret by hash")
	}
	return cs, nil
}

// ListClientSecrets returns a method's secrets, oldest first.
func (s *Store) ListClientSecrets(ctx context.Context, authMethodID string) ([]store.ClientSecret, error) {
	if err := checkText("list client secrets", authMethodID); err != nil {
		return nil, err
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+clientSecretCols+` FROM client_secrets
		WHERE auth_method_id = ? ORDER BY created_at, rowid`, authMethodID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list client secrets of %q: %w", authMethodID, err)
	}
	defer rows.Close()
	out := []store.ClientSecret{}
	for rows.Next() {
		cs, err := scanClientSecret(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list client secrets of %q: %w", authMethodID, err)
		}
		out = append(out, cs)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list client secrets of %q: %w", authMethodID, err)
	}
	return out, nil
}

// whyNotUsable tells, after a use-counting UPDATE of a row (a client
// secret in IssueAccessToken, an access token in UseAccessToken) matched
// nothing, whether the row is at its limit (ErrLimitReached) or absent or
// revoked (ErrNotFound). query selects the row's revoked_at; what names it
// in errors. It decides only which error to return, so a change between
// the two cannot let a use through; limits never go down, so an unrevoked
// row here is one at its limit.
func (s *Store) whyNotUsable(ctx context.Context, query, what, id string) error {
	var revoked sql.NullInt64
	err := s.read.QueryRowContext(ctx, query, id).Scan(&revoked)
	switch {
	case err != nil:
		return notFound(err, "%s %q", what, id)
	case revoked.Valid:
		return fmt.Errorf("sqlite: %s %q is revoked: %w", what, id, store.ErrNotFound)
	default:
		return fmt.Errorf("sqlite: %s %q: %w", what, id, store.ErrLimitReached)
	}
}

// RevokeClientSecret marks the secret revoked (keeping the first revocation
// time if it already was) and revokes every live token minted with it, in
// one transaction.
func (s *Store) RevokeClientSecret(ctx context.Context, id string, now time.Time) (store.ClientSecret, error) {
	if err := checkText("revoke client secret", id); err != nil {
		return store.ClientSecret{}, err
	}
	if err := checkNow(now); err != nil {
		return store.ClientSecret{}, err
	}
	var out store.ClientSecret
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = scanClientSecret(tx.QueryRowContext(ctx, `UPDATE client_secrets
			SET revoked_at = coalesce(revoked_at, ?1),
				updated_at = CASE WHEN revoked_at IS NULL THEN ?1 ELSE updated_at END
			WHERE id = ?2 RETURNING `+clientSecretCols, micros(now), id))
		if err != nil {
			return notFound(err, "client secret %q", id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE access_tokens SET revoked_at = ?
			WHERE client_secret_id = ? AND revoked_at IS NULL`, micros(now), id); err != nil {
			return fmt.Errorf("sqlite: revoke client secret %q: revoking tokens: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return store.ClientSecret{}, err
	}
	return out, nil
}
