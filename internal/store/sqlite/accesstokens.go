package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const accessTokenCols = `id, hash, identity_id, auth_method_id, auth_method_type, client_secret_id,
	created_at, last_renewed_at, ttl, max_ttl, period, expires_at, num_uses, num_uses_limit,
	metadata, last_used_at, revoked_at`

// scanAccessToken reads accessTokenCols, then extra.
func scanAccessToken(r rowScanner, extra ...any) (store.AccessToken, error) {
	var (
		t                                        store.AccessToken
		md                                       string
		created, renewed, expires, used, revoked sql.NullInt64
	)
	dest := append([]any{&t.ID, &t.Hash, &t.IdentityID, &t.AuthMethodID, &t.AuthMethodType, &t.ClientSecretID,
		&created, &renewed, &t.TTL, &t.MaxTTL, &t.Period, &expires, &t.NumUses, &t.NumUsesLimit,
		&md, &used, &revoked}, extra...)
	if err := r.Scan(dest...); err != nil {
		return store.AccessToken{}, err
	}
	var err error
	if t.Metadata, err = decodeStringMap(md); err != nil {
		return store.AccessToken{}, fmt.Errorf("access token %q metadata: %w", t.ID, err)
	}
	t.CreatedAt, t.LastRenewedAt, t.ExpiresAt = fromMicros(created), fromMicros(renewed), fromMicros(expires)
	t.LastUsedAt, t.RevokedAt = fromMicros(used), fromMicros(revoked)
	return t, nil
}

// CreateAccessToken stores a new access token, committed with the other
// inserts waiting at that moment (groupcommit.go).
func (s *Store) CreateAccessToken(ctx context.Context, t store.AccessToken) error {
	if err := checkText("create access token", t.ID, t.IdentityID, t.AuthMethodID, string(t.AuthMethodType), t.ClientSecretID); err != nil {
		return err
	}
	args, err := tokenArgs(t)
	if err == nil {
		err = s.groupExec(ctx, s.stmts.createToken, args...)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create access token %q: %w", t.ID, mapErr(err))
	}
	return nil
}

// IssueAccessToken writes a login's secret use, token and audit event (and
// deletes its lockout record, refusing when it is locked) as one unit of the next group (groupcommit.go): one commit for the three.
func (s *Store) IssueAccessToken(ctx context.Context, w store.TokenIssue) error {
	if err := checkText("issue access token", w.ClientSecretID, w.Token.ID, w.Token.IdentityID, w.Token.AuthMethodID, string(w.Token.AuthMethodType), w.Token.ClientSecretID, w.Event.ID, w.Event.Type, w.Event.RequestID, w.Event.ActorID, w.Event.IdentityID, w.Event.AuthMethod, w.Event.ClientIP, w.Event.Reason); err != nil {
		return err
	}
	tok, err := tokenArgs(w.Token)
	if err != nil {
		return fmt.Errorf("sqlite: issue access token: %w", mapErr(err))
	}
	ev, err := auditArgs(w.Event)
	if err != nil {
		return fmt.Errorf("sqlite: issue access token: %w", mapErr(err))
	}
	err = s.groupUnit(ctx, func(ctx context.Context, bind binder) error {
		if k := w.Lockout; k != nil {
			// The record goes with the login, unless it is locked: then
			// the unit is refused (store.ErrLocked) and the delete undone.
			var until sql.NullInt64
			err := bind(s.stmts.clearLockout).QueryRowContext(ctx, k.AuthMethodID, k.ClientIP).Scan(&until)
			switch {
			case err == nil && until.Valid && until.Int64 > w.Token.CreatedAt.UnixMicro():
				return store.ErrLocked
			case err != nil && !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		if w.ClientSecretID != "" {
			var id string
			if err := bind(s.stmts.consumeClientSecretID).QueryRowContext(ctx, micros(w.Token.CreatedAt), w.ClientSecretID).Scan(&id); err != nil {
				return err
			}
		}
		if _, err := bind(s.stmts.createToken).ExecContext(ctx, tok...); err != nil {
			return err
		}
		_, err := bind(s.stmts.appendAuditEvent).ExecContext(ctx, ev...)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return s.whyNotUsable(ctx, `SELECT revoked_at FROM client_secrets WHERE id = ?`, "client secret", w.ClientSecretID)
	}
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("sqlite: issue access token: %w", err)
	}
	if err != nil {
		return fmt.Errorf("sqlite: issue access token %q: %w", w.Token.ID, mapErr(err))
	}
	return nil
}

// tokenArgs are the arguments of sqlCreateToken.
func tokenArgs(t store.AccessToken) ([]any, error) {
	md, err := encodeJSON(t.Metadata, "{}")
	if err != nil {
		return nil, err
	}
	return []any{t.ID, t.Hash, t.IdentityID, t.AuthMethodID, t.AuthMethodType, t.ClientSecretID,
		micros(t.CreatedAt), micros(t.LastRenewedAt), t.TTL, t.MaxTTL, t.Period, micros(t.ExpiresAt),
		t.NumUses, t.NumUsesLimit, md, micros(t.LastUsedAt), micros(t.RevokedAt)}, nil
}

// GetAccessToken returns one access token.
func (s *Store) GetAccessToken(ctx context.Context, id string) (store.AccessToken, error) {
	if err := checkText("get access token", id); err != nil {
		return store.AccessToken{}, err
	}
	t, err := scanAccessToken(s.read.QueryRowContext(ctx, `SELECT `+accessTokenCols+` FROM access_tokens WHERE id = ?`, id))
	if err != nil {
		return store.AccessToken{}, notFound(err, "access token %q", id)
	}
	return t, nil
}

// GetAccessTokenByHash returns the access token with that hash.
func (s *Store) GetAccessTokenByHash(ctx context.Context, hash []byte) (store.AccessToken, error) {
	t, err := scanAccessToken(s.stmts.tokenByHash.QueryRowContext(ctx, hash))
	if err != nil {
		return store.AccessToken{}, notFound(err, "access token by hash")
	}
	return t, nil
}

// GetTokenCheck returns the token with that hash, its method's trusted IPs
// and its identity's role, in one prepared statement.
func (s *Store) GetTokenCheck(ctx context.Context, hash []byte) (store.TokenCheck, error) {
	var ips, role sql.NullString
	t, err := scanAccessToken(s.stmts.tokenCheck.QueryRowContext(ctx, hash), &ips, &role)
	if err != nil {
		return store.TokenCheck{}, notFound(err, "access token by hash")
	}
	c := store.TokenCheck{Token: t, AuthMethodFound: ips.Valid, IdentityRole: store.Role(role.String)}
	if ips.Valid {
		if c.TrustedIPs, err = decodeStrings(ips.String); err != nil {
			return store.TokenCheck{}, fmt.Errorf("sqlite: auth method %q trusted IPs: %w", t.AuthMethodID, err)
		}
	}
	return c, nil
}

// UseAccessToken counts one use of an unrevoked token below its limit and
// sets LastUsedAt, in one UPDATE. When no row is updated, a second read
// tells "at the limit" from "absent or revoked"; it decides only which error
// to return, so a change between the two cannot let a use through.
func (s *Store) UseAccessToken(ctx context.Context, id string, now time.Time) (store.AccessToken, error) {
	if err := checkText("use access token", id); err != nil {
		return store.AccessToken{}, err
	}
	var t store.AccessToken
	err := s.groupQueryRow(ctx, s.stmts.useToken, func(r *sql.Row) (err error) {
		t, err = scanAccessToken(r)
		return err
	}, micros(now), id)
	if err == nil {
		return t, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return store.AccessToken{}, fmt.Errorf("sqlite: use access token %q: %w", id, err)
	}
	return store.AccessToken{}, s.whyNotUsable(ctx, `SELECT revoked_at FROM access_tokens WHERE id = ?`, "access token", id)
}

// RenewAccessToken sets LastRenewedAt and ExpiresAt of an unrevoked token.
func (s *Store) RenewAccessToken(ctx context.Context, id string, renewedAt, expiresAt time.Time) (store.AccessToken, error) {
	if err := checkText("renew access token", id); err != nil {
		return store.AccessToken{}, err
	}
	t, err := scanAccessToken(s.write.QueryRowContext(ctx, `UPDATE access_tokens
		SET last_renewed_at = ?, expires_at = ?
		WHERE id = ? AND revoked_at IS NULL
		RETURNING `+accessTokenCols, micros(renewedAt), micros(expiresAt), id))
	if err != nil {
		return store.AccessToken{}, notFound(err, "live access token %q", id)
	}
	return t, nil
}

// RevokeAccessTokens sets RevokedAt = now on the unrevoked tokens the filter
// selects. A filter must set exactly one field: an empty one would select
// every token.
func (s *Store) RevokeAccessTokens(ctx context.Context, f store.TokenFilter, now time.Time) (int64, error) {
	if err := checkText("revoke access tokens", f.ID, f.IdentityID, f.AuthMethodID, f.ClientSecretID); err != nil {
		return 0, err
	}
	if err := checkNow(now); err != nil {
		return 0, err
	}
	var col, val string
	n := 0
	for _, c := range []struct{ col, val string }{
		{"id", f.ID}, {"identity_id", f.IdentityID}, {"auth_method_id", f.AuthMethodID}, {"client_secret_id", f.ClientSecretID},
	} {
		if c.val != "" {
			col, val = c.col, c.val
			n++
		}
	}
	if n != 1 {
		return 0, fmt.Errorf("sqlite: revoke access tokens: the filter must set exactly one field, not %d", n)
	}
	// col is one of the four names above, never caller input.
	res, err := s.write.ExecContext(ctx, `UPDATE access_tokens SET revoked_at = ?
		WHERE `+col+` = ? AND revoked_at IS NULL`, micros(now), val)
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke access tokens: %w", mapErr(err))
	}
	count, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke access tokens: %w", mapErr(err))
	}
	return count, nil
}

// PurgeAccessTokens deletes tokens revoked or expired before cutoff. Tokens
// that never expire (NULL expires_at) go only once revoked.
func (s *Store) PurgeAccessTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	c := cutoff.UnixMicro()
	res, err := s.write.ExecContext(ctx, `DELETE FROM access_tokens WHERE revoked_at < ? OR expires_at < ?`, c, c)
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge access tokens: %w", mapErr(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: purge access tokens: %w", mapErr(err))
	}
	return n, nil
}

// RevokeRootTokens revokes every unrevoked root token but exceptID.
func (s *Store) RevokeRootTokens(ctx context.Context, exceptID string, now time.Time) (int64, error) {
	if err := checkNow(now); err != nil {
		return 0, err
	}
	res, err := s.write.ExecContext(ctx, `UPDATE access_tokens SET revoked_at = ?
		WHERE auth_method_type = ? AND id <> ? AND revoked_at IS NULL`, micros(now), string(store.AuthMethodRoot), exceptID)
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke root tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: revoke root tokens: %w", err)
	}
	return n, nil
}

// ListAccessTokens returns a page of the identity's live tokens at now,
// newest first, and their count, in one read transaction; the hash is not
// read.
func (s *Store) ListAccessTokens(ctx context.Context, identityID string, now time.Time, offset, limit int) ([]store.AccessToken, int, error) {
	if err := checkText("list access tokens", identityID); err != nil {
		return nil, 0, err
	}
	const live = ` FROM access_tokens WHERE identity_id = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`
	out, total, err := page(ctx, s, `SELECT `+strings.Replace(accessTokenCols, "hash", "NULL", 1)+live+`
		ORDER BY created_at DESC, id LIMIT ? OFFSET ?`, `SELECT count(*)`+live,
		[]any{identityID, now.UnixMicro()}, store.TokenListLimit(limit), max(offset, 0),
		func(r rowScanner) (store.AccessToken, error) { return scanAccessToken(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("sqlite: list access tokens: %w", mapErr(err))
	}
	return out, total, nil
}
