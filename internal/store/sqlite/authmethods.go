package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const authMethodCols = `id, identity_id, type, lookup_key, config, sealed_secret,
	ttl, max_ttl, period, num_uses_limit, trusted_ips, created_at, updated_at, mount_path`

func scanAuthMethod(r rowScanner) (store.AuthMethod, error) {
	var (
		m                store.AuthMethod
		config, mount    sql.NullString
		ips              string
		created, updated sql.NullInt64
	)
	p := &m.TokenPolicy
	if err := r.Scan(&m.ID, &m.IdentityID, &m.Type, &m.LookupKey, &config, &m.SealedSecret,
		&p.TTL, &p.MaxTTL, &p.Period, &p.NumUsesLimit, &ips, &created, &updated, &mount); err != nil {
		return store.AuthMethod{}, err
	}
	m.MountPath = mount.String
	if config.Valid {
		m.Config = json.RawMessage(config.String)
	}
	if len(m.SealedSecret) == 0 {
		m.SealedSecret = nil
	}
	var err error
	if p.TrustedIPs, err = decodeStrings(ips); err != nil {
		return store.AuthMethod{}, fmt.Errorf("auth method %q trusted IPs: %w", m.ID, err)
	}
	m.CreatedAt, m.UpdatedAt = fromMicros(created), fromMicros(updated)
	return m, nil
}

// config stores Config as TEXT, NULL when empty.
func config(c json.RawMessage) any {
	if len(c) == 0 {
		return nil
	}
	return string(c)
}

// CreateAuthMethod stores a new auth method. The identity and mount foreign
// keys give ErrNotFound for a missing identity or mount; UNIQUE
// (identity_id, type) and the partial unique index on (type, lookup_key)
// give ErrAlreadyExists.
func (s *Store) CreateAuthMethod(ctx context.Context, m store.AuthMethod) error {
	if err := checkText("create auth method", m.ID, m.IdentityID, string(m.Type), m.LookupKey, m.MountPath, string(m.Config)); err != nil {
		return err
	}
	return insertAuthMethod(ctx, s.write, m)
}

// execer is *sql.DB or *sql.Tx.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertAuthMethod(ctx context.Context, db execer, m store.AuthMethod) error {
	ips, err := encodeJSON(m.TokenPolicy.TrustedIPs, "[]")
	if err != nil {
		return fmt.Errorf("sqlite: create auth method: %w", mapErr(err))
	}
	p := m.TokenPolicy
	_, err = db.ExecContext(ctx, `INSERT INTO auth_methods (`+authMethodCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.IdentityID, m.Type, m.LookupKey, config(m.Config), blob(m.SealedSecret),
		p.TTL, p.MaxTTL, p.Period, p.NumUsesLimit, ips, micros(m.CreatedAt), micros(m.UpdatedAt),
		nullString(m.MountPath))
	if err != nil {
		return fmt.Errorf("sqlite: create auth method %q: %w", m.ID, mapErr(err))
	}
	return nil
}

// CreateIdentityWithAuthMethod stores an identity and its first auth method
// in one write transaction: if either insert fails, neither is kept.
func (s *Store) CreateIdentityWithAuthMethod(ctx context.Context, id store.Identity, m store.AuthMethod) error {
	if err := checkText("create identity with auth method", id.ID, id.Name, string(id.Role), m.ID, m.IdentityID, string(m.Type), m.LookupKey, m.MountPath, string(m.Config)); err != nil {
		return err
	}
	if m.IdentityID != id.ID {
		return fmt.Errorf("sqlite: create identity %q with auth method %q: the method belongs to identity %q", id.ID, m.ID, m.IdentityID)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := insertIdentity(ctx, tx, id); err != nil {
			return err
		}
		return insertAuthMethod(ctx, tx, m)
	})
}

// GetAuthMethod returns one auth method.
func (s *Store) GetAuthMethod(ctx context.Context, id string) (store.AuthMethod, error) {
	if err := checkText("get auth method", id); err != nil {
		return store.AuthMethod{}, err
	}
	m, err := scanAuthMethod(s.stmts.authMethod.QueryRowContext(ctx, id))
	if err != nil {
		return store.AuthMethod{}, notFound(err, "auth method %q", id)
	}
	return m, nil
}

// GetAuthMethodByIdentity returns the identity's method of type typ.
func (s *Store) GetAuthMethodByIdentity(ctx context.Context, identityID string, typ store.AuthMethodType) (store.AuthMethod, error) {
	if err := checkText("get auth method", identityID, string(typ)); err != nil {
		return store.AuthMethod{}, err
	}
	m, err := scanAuthMethod(s.stmts.authMethodByIdentity.QueryRowContext(ctx, identityID, typ))
	if err != nil {
		return store.AuthMethod{}, notFound(err, "%s auth method of identity %q", typ, identityID)
	}
	return m, nil
}

// GetAuthMethodByLookupKey returns the method of type typ with that lookup
// key. An empty key is no key: it finds nothing.
func (s *Store) GetAuthMethodByLookupKey(ctx context.Context, typ store.AuthMethodType, key string) (store.AuthMethod, error) {
	if err := checkText("get auth method", string(typ), key); err != nil {
		return store.AuthMethod{}, err
	}
	if key == "" {
		return store.AuthMethod{}, fmt.Errorf("sqlite: %s auth method with an empty lookup key: %w", typ, store.ErrNotFound)
	}
	m, err := scanAuthMethod(s.stmts.authMethodByLookupKey.QueryRowContext(ctx, typ, key))
	if err != nil {
		return store.AuthMethod{}, notFound(err, "%s auth method with lookup key %q", typ, key)
	}
	return m, nil
}

// ListAuthMethods returns an identity's methods ordered by type (empty for
// an identity without methods or an unknown one).
func (s *Store) ListAuthMethods(ctx context.Context, identityID string) ([]store.AuthMethod, error) {
	if err := checkText("list auth methods", identityID); err != nil {
		return nil, err
	}
	out, err := s.listAuthMethods(ctx, `identity_id = ? ORDER BY type`, identityID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list auth methods of %q: %w", identityID, err)
	}
	return out, nil
}

// ListAuthMethodsByMount returns a mount's methods (its roles) ordered by
// lookup key (empty for a mount without roles or an unknown one).
func (s *Store) ListAuthMethodsByMount(ctx context.Context, mountPath string) ([]store.AuthMethod, error) {
	if err := checkText("list auth methods", mountPath); err != nil {
		return nil, err
	}
	out, err := s.listAuthMethods(ctx, `mount_path = ? ORDER BY lookup_key`, mountPath)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list auth methods of mount %q: %w", mountPath, err)
	}
	return out, nil
}

// listAuthMethods returns the methods a WHERE clause (with its ORDER BY)
// selects; none is an empty slice.
func (s *Store) listAuthMethods(ctx context.Context, where string, args ...any) ([]store.AuthMethod, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+authMethodCols+` FROM auth_methods WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.AuthMethod{}
	for rows.Next() {
		m, err := scanAuthMethod(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateAuthMethod runs update on the current method inside a write
// transaction and stores the result. ID, IdentityID, Type and MountPath
// cannot be changed: a method belongs to one identity (and mount) and is of
// one kind for life.
// Taking a lookup key that another method of the type has gives
// ErrAlreadyExists.
func (s *Store) UpdateAuthMethod(ctx context.Context, id string, update func(*store.AuthMethod) error) (store.AuthMethod, error) {
	if err := checkText("update auth method", id); err != nil {
		return store.AuthMethod{}, err
	}
	return updateRow(ctx, s, fmt.Sprintf("auth method %q", id), func(tx *sql.Tx) (store.AuthMethod, error) {
		return scanAuthMethod(tx.QueryRowContext(ctx, `SELECT `+authMethodCols+` FROM auth_methods WHERE id = ?`, id))
	}, update, func(tx *sql.Tx, cur store.AuthMethod) (store.AuthMethod, error) {
		if err := checkText("update auth method", cur.LookupKey, string(cur.Config)); err != nil {
			return store.AuthMethod{}, err
		}
		ips, err := encodeJSON(cur.TokenPolicy.TrustedIPs, "[]")
		if err != nil {
			return store.AuthMethod{}, err
		}
		p := cur.TokenPolicy
		return scanAuthMethod(tx.QueryRowContext(ctx, `UPDATE auth_methods
			SET lookup_key = ?, config = ?, sealed_secret = ?, ttl = ?, max_ttl = ?, period = ?,
				num_uses_limit = ?, trusted_ips = ?, created_at = ?, updated_at = ?
			WHERE id = ? RETURNING `+authMethodCols,
			cur.LookupKey, config(cur.Config), blob(cur.SealedSecret), p.TTL, p.MaxTTL, p.Period,
			p.NumUsesLimit, ips, micros(cur.CreatedAt), micros(cur.UpdatedAt), id))
	})
}

// DeleteAuthMethod removes the method (its client secrets go by ON DELETE
// CASCADE) and revokes the tokens it issued, in one transaction.
func (s *Store) DeleteAuthMethod(ctx context.Context, id string, now time.Time) error {
	if err := checkText("delete auth method", id); err != nil {
		return err
	}
	if err := checkNow(now); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM auth_methods WHERE id = ?`, id)
		if err != nil {
			return fmt.Errorf("sqlite: delete auth method %q: %w", id, mapErr(err))
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("sqlite: delete auth method %q: %w", id, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: auth method %q: %w", id, store.ErrNotFound)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE access_tokens SET revoked_at = ?
			WHERE auth_method_id = ? AND revoked_at IS NULL`, micros(now), id); err != nil {
			return fmt.Errorf("sqlite: delete auth method %q: revoking tokens: %w", id, err)
		}
		return nil
	})
}
