package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const signingKeyColumns = `id, algorithm, sealed_private, created_at, active_at`

func scanSigningKey(row pgx.Row, extra ...any) (store.SigningKey, error) {
	var k store.SigningKey
	dest := append([]any{&k.ID, &k.Algorithm, &k.SealedPrivate, timeDest{&k.CreatedAt}, timeDest{&k.ActiveAt}}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.SigningKey{}, err
	}
	return k, nil
}

// ListSigningKeys returns every signing key ordered by ActiveAt, then ID
// (byte order, as SQLite).
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	return list(ctx, s, "list signing keys",
		`SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY active_at, id COLLATE "C"`, nil, scanSigningKey)
}

// AddSigningKeyIfDue stores k unless a key of its algorithm created after
// notAfter exists. The table lock (which conflicts with itself, not with
// reads) makes replicas rotating at once take turns: the later ones find
// the first one's key and add none.
func (s *Store) AddSigningKeyIfDue(ctx context.Context, k store.SigningKey, notAfter time.Time) (bool, error) {
	if len(k.SealedPrivate) == 0 || k.CreatedAt.IsZero() || k.ActiveAt.IsZero() {
		return false, fmt.Errorf("postgres: add signing key: %w (no key material or times)", store.ErrInvalid)
	}
	added := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE`); err != nil {
			return err
		}
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM signing_keys
			WHERE algorithm = $1 AND ($2::timestamptz IS NULL OR created_at > $2) LIMIT 1`,
			k.Algorithm, timeArg(notAfter)).Scan(&one)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`) VALUES ($1, $2, $3, $4, $5)`,
			k.ID, k.Algorithm, k.SealedPrivate, timeArg(k.CreatedAt), timeArg(k.ActiveAt)); err != nil {
			return err
		}
		added = true
		return nil
	})
	if err != nil {
		return false, wrapErr("add signing key", err)
	}
	return added, nil
}

// DeleteSigningKey removes a key; an absent key is not an error.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM signing_keys WHERE id = $1`, id); err != nil {
		return wrapErr("delete signing key", err)
	}
	return nil
}

// ExchangeAudiences returns an identity's exchange audiences.
func (s *Store) ExchangeAudiences(ctx context.Context, identityID string) ([]string, string, error) {
	var (
		doc  []byte
		name string
	)
	err := s.pool.QueryRow(ctx, `SELECT a.audiences, i.name FROM identities i
		LEFT JOIN exchange_audiences a ON a.identity_id = i.id WHERE i.id = $1`, identityID).Scan(&doc, &name)
	if err != nil {
		return nil, "", wrapErr("exchange audiences", err)
	}
	out := []string{}
	if doc != nil {
		if err := json.Unmarshal(doc, &out); err != nil {
			return nil, "", fmt.Errorf("postgres: exchange audiences: %w", err)
		}
	}
	return out, name, nil
}

// SetExchangeAudiences replaces an identity's exchange audiences.
func (s *Store) SetExchangeAudiences(ctx context.Context, identityID string, audiences []string, now time.Time) error {
	if audiences == nil {
		audiences = []string{}
	}
	for _, a := range audiences {
		// Marshalled, a NUL would be an escape that json keeps and
		// invalid UTF-8 would be replaced: refuse both, as SQLite does.
		if strings.ContainsRune(a, 0) || !utf8.ValidString(a) {
			return fmt.Errorf("postgres: set exchange audiences: %w (NUL or invalid UTF-8)", store.ErrInvalid)
		}
	}
	doc, err := jsonArg(audiences)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO exchange_audiences (identity_id, audiences, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (identity_id) DO UPDATE SET audiences = excluded.audiences, updated_at = excluded.updated_at`,
		identityID, doc, timeArg(now)); err != nil {
		return wrapErr("set exchange audiences", err)
	}
	return nil
}

const oidcRoleColumns = `name, audience, ttl, created_at, updated_at`

func scanOIDCRole(row pgx.Row, extra ...any) (store.OIDCRole, error) {
	var o store.OIDCRole
	dest := append([]any{&o.Name, &o.Audience, &o.TTL, timeDest{&o.CreatedAt}, timeDest{&o.UpdatedAt}}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.OIDCRole{}, err
	}
	return o, nil
}

// PutOIDCRole creates or replaces a role.
func (s *Store) PutOIDCRole(ctx context.Context, r store.OIDCRole) error {
	if _, err := s.pool.Exec(ctx, `INSERT INTO oidc_roles (`+oidcRoleColumns+`) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (name) DO UPDATE SET audience = excluded.audience, ttl = excluded.ttl, updated_at = excluded.updated_at`,
		r.Name, r.Audience, r.TTL, timeArg(r.CreatedAt), timeArg(r.UpdatedAt)); err != nil {
		return wrapErr("put OIDC role", err)
	}
	return nil
}

// GetOIDCRole returns one role.
func (s *Store) GetOIDCRole(ctx context.Context, name string) (store.OIDCRole, error) {
	o, err := scanOIDCRole(s.pool.QueryRow(ctx, `SELECT `+oidcRoleColumns+` FROM oidc_roles WHERE name = $1`, name))
	if err != nil {
		return store.OIDCRole{}, wrapErr("get OIDC role", err)
	}
	return o, nil
}

// ListOIDCRoles returns every role ordered by name in byte order.
func (s *Store) ListOIDCRoles(ctx context.Context) ([]store.OIDCRole, error) {
	return list(ctx, s, "list OIDC roles", `SELECT `+oidcRoleColumns+` FROM oidc_roles ORDER BY name COLLATE "C"`, nil, scanOIDCRole)
}

// DeleteOIDCRole removes a role; an absent role is not an error.
func (s *Store) DeleteOIDCRole(ctx context.Context, name string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM oidc_roles WHERE name = $1`, name); err != nil {
		return wrapErr("delete OIDC role", err)
	}
	return nil
}
