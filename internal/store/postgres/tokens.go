package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const accessTokenColumns = `id, hash, identity_id, auth_method_id, auth_method_type, client_secret_id,
	created_at, last_renewed_at, ttl, max_ttl, period, expires_at,
	num_uses, num_uses_limit, metadata, last_used_at, revoked_at`

func scanAccessToken(row pgx.Row, extra ...any) (store.AccessToken, error) {
	var (
		t        store.AccessToken
		typ      string
		metadata []byte
	)
	dest := append([]any{&t.ID, &t.Hash, &t.IdentityID, &t.AuthMethodID, &typ, &t.ClientSecretID,
		timeDest{&t.CreatedAt}, timeDest{&t.LastRenewedAt}, &t.TTL, &t.MaxTTL, &t.Period,
		timeDest{&t.ExpiresAt}, &t.NumUses, &t.NumUsesLimit, &metadata,
		timeDest{&t.LastUsedAt}, timeDest{&t.RevokedAt}}, extra...)
	if err := row.Scan(dest...); err != nil {
		return store.AccessToken{}, err
	}
	t.AuthMethodType = store.AuthMethodType(typ)
	if err := json.Unmarshal(metadata, &t.Metadata); err != nil {
		return store.AccessToken{}, err
	}
	if t.Metadata == nil {
		t.Metadata = map[string]string{}
	}
	return t, nil
}

// CreateAccessToken stores a new access token.
func (s *Store) CreateAccessToken(ctx context.Context, t store.AccessToken) error {
	args, err := tokenArgs(t)
	if err == nil {
		_, err = s.pool.Exec(ctx, sqlCreateToken, args...)
	}
	if err != nil {
		return wrapErr("create access token", err)
	}
	return nil
}

// IssueAccessToken writes a login's secret use, token and audit event (and
// deletes its lockout record, refusing when it is locked) in one transaction, its statements sent as one batch: one commit instead of
// three, and three round trips (BEGIN, the batch, COMMIT) instead of
// three statements' each. When the secret cannot be used (the UPDATE
// returns no row, which is not an error to the server), the batch's
// inserts are rolled back with it.
func (s *Store) IssueAccessToken(ctx context.Context, w store.TokenIssue) error {
	tok, err := tokenArgs(w.Token)
	if err != nil {
		return wrapErr("issue access token", err)
	}
	ev, err := auditArgs(w.Event)
	if err != nil {
		return wrapErr("issue access token", err)
	}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if k := w.Lockout; k != nil {
			// Waits for a concurrent failure holding the row: a lock it
			// sets refuses this login.
			b.Queue(`WITH d AS (DELETE FROM login_lockouts WHERE auth_method_id = $1 AND client_ip = $2 RETURNING locked_until)
				SELECT COALESCE((SELECT locked_until > $3 FROM d), false)`, k.AuthMethodID, k.ClientIP, timeArg(w.Token.CreatedAt))
		}
		if w.ClientSecretID != "" {
			b.Queue(sqlConsumeClientSecret, w.ClientSecretID, timeArg(w.Token.CreatedAt))
		}
		b.Queue(sqlCreateToken, tok...)
		b.Queue(sqlAppendAuditEvent, ev...)
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		if w.Lockout != nil {
			var locked bool
			if err := br.QueryRow().Scan(&locked); err != nil {
				return err
			}
			if locked {
				return store.ErrLocked
			}
		}
		if w.ClientSecretID != "" {
			var id string
			if err := br.QueryRow().Scan(&id); err != nil {
				return err
			}
		}
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		return br.Close()
	})
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.whyNotUsable(ctx, `SELECT revoked_at IS NULL FROM client_secrets WHERE id = $1`, w.ClientSecretID)
	}
	if err != nil {
		return wrapErr("issue access token", err)
	}
	return nil
}

const sqlCreateToken = `INSERT INTO access_tokens (` + accessTokenColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`

// tokenArgs are the arguments of sqlCreateToken.
func tokenArgs(t store.AccessToken) ([]any, error) {
	metadata := t.Metadata
	if metadata == nil {
		metadata = map[string]string{}
	}
	metadataJSON, err := jsonArg(metadata)
	if err != nil {
		return nil, err
	}
	return []any{t.ID, t.Hash, t.IdentityID, t.AuthMethodID, string(t.AuthMethodType), t.ClientSecretID,
		timeArg(t.CreatedAt), timeArg(t.LastRenewedAt), t.TTL, t.MaxTTL, t.Period,
		timeArg(t.ExpiresAt), t.NumUses, t.NumUsesLimit, metadataJSON,
		timeArg(t.LastUsedAt), timeArg(t.RevokedAt)}, nil
}

// GetAccessToken returns one access token, revoked or not.
func (s *Store) GetAccessToken(ctx context.Context, id string) (store.AccessToken, error) {
	t, err := scanAccessToken(s.pool.QueryRow(ctx,
		`SELECT `+accessTokenColumns+` FROM access_tokens WHERE id = $1`, id))
	if err != nil {
		return store.AccessToken{}, wrapErr("get access token", err)
	}
	return t, nil
}

// GetAccessTokenByHash returns the access token with that hash.
func (s *Store) GetAccessTokenByHash(ctx context.Context, hash []byte) (store.AccessToken, error) {
	t, err := scanAccessToken(s.pool.QueryRow(ctx,
		`SELECT `+accessTokenColumns+` FROM access_tokens WHERE hash = $1`, hash))
	if err != nil {
		return store.AccessToken{}, wrapErr("get access token by hash", err)
	}
	return t, nil
}

// GetTokenCheck returns the token with that hash, its method's trusted IPs
// and its identity's role, in one statement (one snapshot). The subqueries
// give NULL when the method or the identity is gone: both columns are NOT
// NULL in their tables. pgx prepares and caches the statement per
// connection.
func (s *Store) GetTokenCheck(ctx context.Context, hash []byte) (store.TokenCheck, error) {
	var (
		ips  *[]string
		role *string
	)
	t, err := scanAccessToken(s.pool.QueryRow(ctx, `SELECT `+accessTokenColumns+`,
		(SELECT m.token_trusted_ips FROM auth_methods m WHERE m.id = access_tokens.auth_method_id),
		(SELECT i.role FROM identities i WHERE i.id = access_tokens.identity_id)
		FROM access_tokens WHERE hash = $1`, hash), &ips, &role)
	if err != nil {
		return store.TokenCheck{}, wrapErr("get token check", err)
	}
	c := store.TokenCheck{Token: t, AuthMethodFound: ips != nil}
	if ips != nil {
		c.TrustedIPs = *ips
		if c.TrustedIPs == nil {
			c.TrustedIPs = []string{}
		}
	}
	if role != nil {
		c.IdentityRole = store.Role(*role)
	}
	return c, nil
}

// UseAccessToken adds one use to an unrevoked token below its limit and
// sets LastUsedAt, in one statement, so no number of concurrent requests on
// any number of replicas can exceed the limit.
func (s *Store) UseAccessToken(ctx context.Context, id string, now time.Time) (store.AccessToken, error) {
	t, err := scanAccessToken(s.pool.QueryRow(ctx, `UPDATE access_tokens
		SET num_uses = num_uses + 1, last_used_at = $2
		WHERE id = $1 AND revoked_at IS NULL AND (num_uses_limit = 0 OR num_uses < num_uses_limit)
		RETURNING `+accessTokenColumns, id, timeArg(now)))
	if errors.Is(err, pgx.ErrNoRows) {
		err = s.whyNotUsable(ctx, `SELECT revoked_at IS NULL FROM access_tokens WHERE id = $1`, id)
	}
	if err != nil {
		return store.AccessToken{}, wrapErr("use access token", err)
	}
	return t, nil
}

// RenewAccessToken sets LastRenewedAt and ExpiresAt of an unrevoked token.
func (s *Store) RenewAccessToken(ctx context.Context, id string, renewedAt, expiresAt time.Time) (store.AccessToken, error) {
	t, err := scanAccessToken(s.pool.QueryRow(ctx, `UPDATE access_tokens
		SET last_renewed_at = $2, expires_at = $3
		WHERE id = $1 AND revoked_at IS NULL
		RETURNING `+accessTokenColumns, id, timeArg(renewedAt), timeArg(expiresAt)))
	if err != nil {
		return store.AccessToken{}, wrapErr("renew access token", err)
	}
	return t, nil
}

// errBadFilter: a TokenFilter must select by exactly one field; an empty
// one would select every token.
var errBadFilter = errors.New("token filter must set exactly one field")

// RevokeAccessTokens revokes every unrevoked token the filter selects.
func (s *Store) RevokeAccessTokens(ctx context.Context, f store.TokenFilter, now time.Time) (int64, error) {
	if err := checkNow("revoke access tokens", now); err != nil {
		return 0, err
	}
	var column, value string
	set := 0
	for _, c := range []struct{ column, value string }{
		{"id", f.ID},
		{"identity_id", f.IdentityID},
		{"auth_method_id", f.AuthMethodID},
		{"client_secret_id", f.ClientSecretID},
	} {
		if c.value != "" {
			column, value = c.column, c.value
			set++
		}
	}
	if set != 1 {
		return 0, wrapErr("revoke access tokens", errBadFilter)
	}
	// column is one of the four names above, never caller input.
	tag, err := s.pool.Exec(ctx, `UPDATE access_tokens SET revoked_at = $2
		WHERE `+column+` = $1 AND revoked_at IS NULL`, value, timeArg(now))
	if err != nil {
		return 0, wrapErr("revoke access tokens", err)
	}
	return tag.RowsAffected(), nil
}

// PurgeAccessTokens deletes tokens revoked or expired before cutoff.
func (s *Store) PurgeAccessTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM access_tokens WHERE revoked_at < $1 OR expires_at < $1`, cutoff)
	if err != nil {
		return 0, wrapErr("purge access tokens", err)
	}
	return tag.RowsAffected(), nil
}

// RevokeRootTokens revokes every unrevoked root token but exceptID.
func (s *Store) RevokeRootTokens(ctx context.Context, exceptID string, now time.Time) (int64, error) {
	if err := checkNow("revoke root tokens", now); err != nil {
		return 0, err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE access_tokens SET revoked_at = $3
		WHERE auth_method_type = $1 AND id <> $2 AND revoked_at IS NULL`, string(store.AuthMethodRoot), exceptID, timeArg(now))
	if err != nil {
		return 0, wrapErr("revoke root tokens", err)
	}
	return tag.RowsAffected(), nil
}

// ListAccessTokens returns a page of the identity's live tokens at now,
// newest first, and their count; the hash is not read.
func (s *Store) ListAccessTokens(ctx context.Context, identityID string, now time.Time, offset, limit int) ([]store.AccessToken, int, error) {
	const live = ` FROM access_tokens WHERE identity_id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)`
	return page(ctx, s, "list access tokens",
		`SELECT `+strings.Replace(accessTokenColumns, "hash", "NULL::bytea", 1)+`, count(*) OVER ()`+live+`
		ORDER BY created_at DESC, id OFFSET $3 LIMIT $4`,
		`SELECT count(*)`+live,
		[]any{identityID, now, offsetArg(offset), store.TokenListLimit(limit)}, scanAccessToken)
}
