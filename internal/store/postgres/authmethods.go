package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const authMethodColumns = `id, identity_id, type, lookup_key, config, sealed_secret,
	token_ttl, token_max_ttl, token_period, token_num_uses_limit, token_trusted_ips,
	created_at, updated_at, mount_path`

// scanAuthMethod reads authMethodColumns, then extra.
func scanAuthMethod(row pgx.Row, extra ...any) (store.AuthMethod, error) {
	var (
		m      store.AuthMethod
		typ    string
		config []byte
		mount  pgtype.Text
	)
	dest := append([]any{&m.ID, &m.IdentityID, &typ, &m.LookupKey, &config, &m.SealedSecret,
		&m.TokenPolicy.TTL, &m.TokenPolicy.MaxTTL, &m.TokenPolicy.Period,
		&m.TokenPolicy.NumUsesLimit, &m.TokenPolicy.TrustedIPs,
		timeDest{&m.CreatedAt}, timeDest{&m.UpdatedAt}, &mount}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.AuthMethod{}, err
	}
	m.Type = store.AuthMethodType(typ)
	m.MountPath = mount.String
	if config != nil {
		m.Config = json.RawMessage(config)
	}
	if len(m.SealedSecret) == 0 {
		m.SealedSecret = nil
	}
	if m.TokenPolicy.TrustedIPs == nil {
		m.TokenPolicy.TrustedIPs = []string{}
	}
	return m, nil
}

// authMethodArgs are the values of authMethodColumns.
func authMethodArgs(m store.AuthMethod) []any {
	var mount any // NULL outside any mount
	if m.MountPath != "" {
		mount = m.MountPath
	}
	trusted := m.TokenPolicy.TrustedIPs
	if trusted == nil {
		trusted = []string{}
	}
	return []any{m.ID, m.IdentityID, string(m.Type), m.LookupKey, configArg(m.Config), bytesArg(m.SealedSecret),
		m.TokenPolicy.TTL, m.TokenPolicy.MaxTTL, m.TokenPolicy.Period,
		m.TokenPolicy.NumUsesLimit, trusted,
		timeArg(m.CreatedAt), timeArg(m.UpdatedAt), mount}
}

// CreateAuthMethod stores a new auth method. The identity and mount
// foreign keys give ErrNotFound for a missing identity or mount.
func (s *Store) CreateAuthMethod(ctx context.Context, m store.AuthMethod) error {
	return insertAuthMethod(ctx, s.pool, m)
}

// execer is *pgxpool.Pool or pgx.Tx.
type execer interface {
	Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error)
}

func insertAuthMethod(ctx context.Context, db execer, m store.AuthMethod) error {
	_, err := db.Exec(ctx, `INSERT INTO auth_methods (`+authMethodColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, authMethodArgs(m)...)
	if err != nil {
		return wrapErr("create auth method", err)
	}
	return nil
}

// CreateIdentityWithAuthMethod stores an identity and its first auth method
// in one transaction: if either insert fails, neither is kept.
func (s *Store) CreateIdentityWithAuthMethod(ctx context.Context, id store.Identity, m store.AuthMethod) error {
	if m.IdentityID != id.ID {
		return fmt.Errorf("postgres: create identity %q with auth method %q: the method belongs to identity %q", id.ID, m.ID, m.IdentityID)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := insertIdentity(ctx, tx, id); err != nil {
			return err
		}
		return insertAuthMethod(ctx, tx, m)
	})
}

// GetAuthMethod returns one auth method.
func (s *Store) GetAuthMethod(ctx context.Context, id string) (store.AuthMethod, error) {
	return s.getAuthMethod(ctx, "get auth method", `id = $1`, id)
}

// GetAuthMethodByIdentity returns the identity's method of type typ.
func (s *Store) GetAuthMethodByIdentity(ctx context.Context, identityID string, typ store.AuthMethodType) (store.AuthMethod, error) {
	return s.getAuthMethod(ctx, "get auth method by identity", `identity_id = $1 AND type = $2`, identityID, string(typ))
}

// GetAuthMethodByLookupKey returns the method of type typ with that lookup
// key. The empty key finds nothing.
func (s *Store) GetAuthMethodByLookupKey(ctx context.Context, typ store.AuthMethodType, key string) (store.AuthMethod, error) {
	return s.getAuthMethod(ctx, "get auth method by lookup key",
		`type = $1 AND lookup_key = $2 AND lookup_key <> ''`, string(typ), key)
}

func (s *Store) getAuthMethod(ctx context.Context, op, where string, args ...any) (store.AuthMethod, error) {
	m, err := scanAuthMethod(s.pool.QueryRow(ctx,
		`SELECT `+authMethodColumns+` FROM auth_methods WHERE `+where, args...))
	if err != nil {
		return store.AuthMethod{}, wrapErr(op, err)
	}
	return m, nil
}

// ListAuthMethods returns an identity's methods ordered by type.
func (s *Store) ListAuthMethods(ctx context.Context, identityID string) ([]store.AuthMethod, error) {
	return list(ctx, s, "list auth methods",
		`SELECT `+authMethodColumns+` FROM auth_methods WHERE identity_id = $1 ORDER BY type`,
		[]any{identityID}, scanAuthMethod)
}

// ListAuthMethodsByMount returns a mount's methods (its roles) ordered by
// lookup key in byte order, as SQLite orders them.
func (s *Store) ListAuthMethodsByMount(ctx context.Context, mountPath string) ([]store.AuthMethod, error) {
	return list(ctx, s, "list auth methods by mount",
		`SELECT `+authMethodColumns+` FROM auth_methods WHERE mount_path = $1 ORDER BY lookup_key COLLATE "C"`,
		[]any{mountPath}, scanAuthMethod)
}

// UpdateAuthMethod locks the method, lets update change it and writes it
// back. ID, IdentityID, Type and MountPath cannot change; a LookupKey that
// another method of the type has is ErrAlreadyExists.
func (s *Store) UpdateAuthMethod(ctx context.Context, id string, update func(*store.AuthMethod) error) (store.AuthMethod, error) {
	keepFixed := func(m *store.AuthMethod) error {
		fixed := *m
		if err := update(m); err != nil {
			return err
		}
		m.ID, m.IdentityID, m.Type, m.MountPath = fixed.ID, fixed.IdentityID, fixed.Type, fixed.MountPath
		return nil
	}
	return updateRow(ctx, s, "update auth method", func(tx pgx.Tx) (store.AuthMethod, error) {
		return scanAuthMethod(tx.QueryRow(ctx, `SELECT `+authMethodColumns+` FROM auth_methods WHERE id = $1 FOR UPDATE`, id))
	}, keepFixed, func(tx pgx.Tx, cur store.AuthMethod) (store.AuthMethod, error) {
		return scanAuthMethod(tx.QueryRow(ctx, `UPDATE auth_methods SET
			identity_id = $2, type = $3, lookup_key = $4, config = $5, sealed_secret = $6,
			token_ttl = $7, token_max_ttl = $8, token_period = $9,
			token_num_uses_limit = $10, token_trusted_ips = $11,
			created_at = $12, updated_at = $13, mount_path = $14
			WHERE id = $1 RETURNING `+authMethodColumns, authMethodArgs(cur)...))
	})
}

// DeleteAuthMethod revokes the tokens the method issued and deletes it; its
// client secrets go with it (ON DELETE CASCADE).
func (s *Store) DeleteAuthMethod(ctx context.Context, id string, now time.Time) error {
	if err := checkNow("delete auth method", now); err != nil {
		return err
	}
	return s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM auth_methods WHERE id = $1`, id)
		if err != nil {
			return wrapErr("delete auth method", err)
		}
		if tag.RowsAffected() == 0 {
			return wrapErr("delete auth method", pgx.ErrNoRows)
		}
		if _, err := tx.Exec(ctx, `UPDATE access_tokens SET revoked_at = $2
			WHERE auth_method_id = $1 AND revoked_at IS NULL`, id, timeArg(now)); err != nil {
			return wrapErr("delete auth method", err)
		}
		return nil
	})
}
