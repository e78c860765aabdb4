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

const signingKeyCols = `id, algorithm, sealed_private, created_at, active_at`

func scanSigningKey(r rowScanner) (store.SigningKey, error) {
	var (
		k               store.SigningKey
		created, active sql.NullInt64
	)
	if err := r.Scan(&k.ID, &k.Algorithm, &k.SealedPrivate, &created, &active); err != nil {
		return store.SigningKey{}, err
	}
	k.CreatedAt, k.ActiveAt = fromMicros(created), fromMicros(active)
	return k, nil
}

// ListSigningKeys returns every signing key ordered by ActiveAt, then ID.
func (s *Store) ListSigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+signingKeyCols+` FROM signing_keys ORDER BY active_at, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list signing keys: %w", err)
	}
	defer rows.Close()
	out := []store.SigningKey{}
	for rows.Next() {
		k, err := scanSigningKey(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list signing keys: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list signing keys: %w", err)
	}
	return out, nil
}

// AddSigningKeyIfDue stores k unless a key of its algorithm created after
// notAfter exists. The one write connection runs the transaction alone
// (BEGIN IMMEDIATE also serializes processes sharing the file), so no key
// can appear between the check and the insert.
func (s *Store) AddSigningKeyIfDue(ctx context.Context, k store.SigningKey, notAfter time.Time) (bool, error) {
	if err := checkText("add signing key", k.ID, k.Algorithm); err != nil {
		return false, err
	}
	if len(k.SealedPrivate) == 0 || k.CreatedAt.IsZero() || k.ActiveAt.IsZero() {
		return false, fmt.Errorf("sqlite: add signing key: %w (no key material or times)", store.ErrInvalid)
	}
	after := int64(-1 << 62)
	if !notAfter.IsZero() {
		after = notAfter.UnixMicro()
	}
	added := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM signing_keys WHERE algorithm = ? AND created_at > ? LIMIT 1`,
			k.Algorithm, after).Scan(&one)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+signingKeyCols+`) VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.Algorithm, k.SealedPrivate, micros(k.CreatedAt), micros(k.ActiveAt)); err != nil {
			return err
		}
		added = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: add signing key %q: %w", k.ID, mapErr(err))
	}
	return added, nil
}

// DeleteSigningKey removes a key; an absent key is not an error.
func (s *Store) DeleteSigningKey(ctx context.Context, id string) error {
	if err := checkText("delete signing key", id); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE id = ?`, id); err != nil {
			return fmt.Errorf("sqlite: delete signing key %q: %w", id, mapErr(err))
		}
		return nil
	})
}

// ExchangeAudiences returns an identity's exchange audiences.
func (s *Store) ExchangeAudiences(ctx context.Context, identityID string) ([]string, string, error) {
	if err := checkText("exchange audiences", identityID); err != nil {
		return nil, "", err
	}
	var (
		doc  sql.NullString
		name string
	)
	err := s.read.QueryRowContext(ctx, `SELECT a.audiences, i.name FROM identities i
		LEFT JOIN exchange_audiences a ON a.identity_id = i.id WHERE i.id = ?`, identityID).Scan(&doc, &name)
	if err != nil {
		return nil, "", notFound(err, "identity %q", identityID)
	}
	out := []string{}
	if doc.Valid {
		if err := json.Unmarshal([]byte(doc.String), &out); err != nil {
			return nil, "", fmt.Errorf("sqlite: exchange audiences of %q: %w", identityID, err)
		}
	}
	return out, name, nil
}

// SetExchangeAudiences replaces an identity's exchange audiences.
func (s *Store) SetExchangeAudiences(ctx context.Context, identityID string, audiences []string, now time.Time) error {
	if audiences == nil {
		audiences = []string{}
	}
	if err := checkText("set exchange audiences", append([]string{identityID}, audiences...)...); err != nil {
		return err
	}
	doc, err := json.Marshal(audiences)
	if err != nil {
		return err
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO exchange_audiences (identity_id, audiences, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (identity_id) DO UPDATE SET audiences = excluded.audiences, updated_at = excluded.updated_at`,
			identityID, string(doc), micros(now))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: set exchange audiences of %q: %w", identityID, mapErr(err))
	}
	return nil
}

const oidcRoleCols = `name, audience, ttl, created_at, updated_at`

func scanOIDCRole(r rowScanner) (store.OIDCRole, error) {
	var (
		o                store.OIDCRole
		created, updated sql.NullInt64
	)
	if err := r.Scan(&o.Name, &o.Audience, &o.TTL, &created, &updated); err != nil {
		return store.OIDCRole{}, err
	}
	o.CreatedAt, o.UpdatedAt = fromMicros(created), fromMicros(updated)
	return o, nil
}

// PutOIDCRole creates or replaces a role.
func (s *Store) PutOIDCRole(ctx context.Context, r store.OIDCRole) error {
	if err := checkText("put OIDC role", r.Name, r.Audience); err != nil {
		return err
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO oidc_roles (`+oidcRoleCols+`) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (name) DO UPDATE SET audience = excluded.audience, ttl = excluded.ttl, updated_at = excluded.updated_at`,
			r.Name, r.Audience, r.TTL, micros(r.CreatedAt), micros(r.UpdatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("sqlite: put OIDC role %q: %w", r.Name, mapErr(err))
	}
	return nil
}

// GetOIDCRole returns one role.
func (s *Store) GetOIDCRole(ctx context.Context, name string) (store.OIDCRole, error) {
	if err := checkText("get OIDC role", name); err != nil {
		return store.OIDCRole{}, err
	}
	o, err := scanOIDCRole(s.read.QueryRowContext(ctx, `SELECT `+oidcRoleCols+` FROM oidc_roles WHERE name = ?`, name))
	if err != nil {
		return store.OIDCRole{}, notFound(err, "OIDC role %q", name)
	}
	return o, nil
}

// ListOIDCRoles returns every role ordered by name (byte order).
func (s *Store) ListOIDCRoles(ctx context.Context) ([]store.OIDCRole, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+oidcRoleCols+` FROM oidc_roles ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list OIDC roles: %w", err)
	}
	defer rows.Close()
	out := []store.OIDCRole{}
	for rows.Next() {
		o, err := scanOIDCRole(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list OIDC roles: %w", err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list OIDC roles: %w", err)
	}
	return out, nil
}

// DeleteOIDCRole removes a role; an absent role is not an error.
func (s *Store) DeleteOIDCRole(ctx context.Context, name string) error {
	if err := checkText("delete OIDC role", name); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oidc_roles WHERE name = ?`, name); err != nil {
			return fmt.Errorf("sqlite: delete OIDC role %q: %w", name, mapErr(err))
		}
		return nil
	})
}
