package bounded

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The store.Store methods, each bounded by call (Close is not).

func (b *Store) Ping(ctx context.Context) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.Ping(ctx) })
}

// Close closes the wrapped store.
func (b *Store) Close() error { return b.s.Close() }

func (b *Store) GetMeta(ctx context.Context, key string) (string, error) {
	return call(ctx, b, func(ctx context.Context) (string, error) { return b.s.GetMeta(ctx, key) })
}

func (b *Store) PutMetaIfAbsent(ctx context.Context, key, value string) (bool, error) {
	return call(ctx, b, func(ctx context.Context) (bool, error) { return b.s.PutMetaIfAbsent(ctx, key, value) })
}

func (b *Store) CreateIdentity(ctx context.Context, id store.Identity) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.CreateIdentity(ctx, id) })
}

func (b *Store) GetIdentity(ctx context.Context, id string) (store.Identity, error) {
	return call(ctx, b, func(ctx context.Context) (store.Identity, error) { return b.s.GetIdentity(ctx, id) })
}

func (b *Store) ListIdentities(ctx context.Context, offset, limit int) ([]store.Identity, int, error) {
	type r struct {
		v []store.Identity
		n int
	}
	x, err := call(ctx, b, func(ctx context.Context) (r, error) {
		v, n, err := b.s.ListIdentities(ctx, offset, limit)
		return r{v, n}, err
	})
	return x.v, x.n, err
}

func (b *Store) UpdateIdentity(ctx context.Context, id string, update func(*store.Identity) error) (store.Identity, error) {
	return call(ctx, b, func(ctx context.Context) (store.Identity, error) { return b.s.UpdateIdentity(ctx, id, update) })
}

func (b *Store) DeleteIdentity(ctx context.Context, id string, now time.Time) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.DeleteIdentity(ctx, id, now) })
}

func (b *Store) CreateAuthMethod(ctx context.Context, m store.AuthMethod) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.CreateAuthMethod(ctx, m) })
}

func (b *Store) GetAuthMethod(ctx context.Context, id string) (store.AuthMethod, error) {
	return call(ctx, b, func(ctx context.Context) (store.AuthMethod, error) { return b.s.GetAuthMethod(ctx, id) })
}

func (b *Store) GetAuthMethodByIdentity(ctx context.Context, identityID string, typ store.AuthMethodType) (store.AuthMethod, error) {
	return call(ctx, b, func(ctx context.Context) (store.AuthMethod, error) {
		return b.s.GetAuthMethodByIdentity(ctx, identityID, typ)
	})
}

func (b *Store) GetAuthMethodByLookupKey(ctx context.Context, typ store.AuthMethodType, key string) (store.AuthMethod, error) {
	return call(ctx, b, func(ctx context.Context) (store.AuthMethod, error) {
		return b.s.GetAuthMethodByLookupKey(ctx, typ, key)
	})
}

func (b *Store) ListAuthMethods(ctx context.Context, identityID string) ([]store.AuthMethod, error) {
	return call(ctx, b, func(ctx context.Context) ([]store.AuthMethod, error) { return b.s.ListAuthMethods(ctx, identityID) })
}

func (b *Store) UpdateAuthMethod(ctx context.Context, id string, update func(*store.AuthMethod) error) (store.AuthMethod, error) {
	return call(ctx, b, func(ctx context.Context) (store.AuthMethod, error) { return b.s.UpdateAuthMethod(ctx, id, update) })
}

func (b *Store) DeleteAuthMethod(ctx context.Context, id string, now time.Time) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.DeleteAuthMethod(ctx, id, now) })
}

func (b *Store) CreateIdentityWithAuthMethod(ctx context.Context, id store.Identity, m store.AuthMethod) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.CreateIdentityWithAuthMethod(ctx, id, m) })
}

func (b *Store) ListAuthMethodsByMount(ctx context.Context, mountPath string) ([]store.AuthMethod, error) {
	return call(ctx, b, func(ctx context.Context) ([]store.AuthMethod, error) {
		return b.s.ListAuthMethodsByMount(ctx, mountPath)
	})
}

func (b *Store) CreateMount(ctx context.Context, m store.Mount) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.CreateMount(ctx, m) })
}

func (b *Store) GetMount(ctx context.Context, path string) (store.Mount, error) {
	return call(ctx, b, func(ctx context.Context) (store.Mount, error) { return b.s.GetMount(ctx, path) })
}

func (b *Store) ListMounts(ctx context.Context) ([]store.Mount, error) {
	return call(ctx, b, func(ctx context.Context) ([]store.Mount, error) { return b.s.ListMounts(ctx) })
}

func (b *Store) UpdateMount(ctx context.Context, path string, update func(*store.Mount) error) (store.Mount, error) {
	return call(ctx, b, func(ctx context.Context) (store.Mount, error) { return b.s.UpdateMount(ctx, path, update) })
}

func (b *Store) DeleteMount(ctx context.Context, path string, now time.Time) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.DeleteMount(ctx, path, now) })
}

func (b *Store) CreateClientSecret(ctx context.Context, s store.ClientSecret) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.CreateClientSecret(ctx, s) })
}

func (b *Store) GetClientSecret(ctx context.Context, id string) (store.ClientSecret, error) {
	return call(ctx, b, func(ctx context.Context) (store.ClientSecret, error) { return b.s.GetClientSecret(ctx, id) })
}

func (b *Store) GetClientSecretByHash(ctx context.Context, hash []byte) (store.ClientSecret, error) {
	return call(ctx, b, func(ctx context.Context) (store.ClientSecret, error) { return b.s.GetClientSecretByHash(ctx, hash) })
}

func (b *Store) ListClientSecrets(ctx context.Context, authMethodID string) ([]store.ClientSecret, error) {
	return call(ctx, b, func(ctx context.Context) ([]store.ClientSecret, error) {
		return b.s.ListClientSecrets(ctx, authMethodID)
	})
}

func (b *Store) RevokeClientSecret(ctx context.Context, id string, now time.Time) (store.ClientSecret, error) {
	return call(ctx, b, func(ctx context.Context) (store.ClientSecret, error) { return b.s.RevokeClientSecret(ctx, id, now) })
}

func (b *Store) RecordLoginFailure(ctx context.Context, key store.LockoutKey, now time.Time, p store.LockoutPolicy) (store.Lockout, bool, error) {
	type r struct {
		l       store.Lockout
		counted bool
	}
	res, err := call(ctx, b, func(ctx context.Context) (r, error) {
		l, counted, err := b.s.RecordLoginFailure(ctx, key, now, p)
		return r{l, counted}, err
	})
	return res.l, res.counted, err
}

func (b *Store) GetLockout(ctx context.Context, key store.LockoutKey) (store.Lockout, error) {
	return call(ctx, b, func(ctx context.Context) (store.Lockout, error) { return b.s.GetLockout(ctx, key) })
}

func (b *Store) ClearLockout(ctx context.Context, key store.LockoutKey) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.ClearLockout(ctx, key) })
}

func (b *Store) ClearLockouts(ctx context.Context, authMethodID string) (int64, error) {
	return call(ctx, b, func(ctx context.Context) (int64, error) { return b.s.ClearLockouts(ctx, authMethodID) })
}

func (b *Store) ListActiveLockouts(ctx context.Context, authMethodID string, now time.Time) ([]store.Lockout, error) {
	return call(ctx, b, func(ctx context.Context) ([]store.Lockout, error) {
		return b.s.ListActiveLockouts(ctx, authMethodID, now)
	})
}

func (b *Store) CreateAccessToken(ctx context.Context, t store.AccessToken) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.CreateAccessToken(ctx, t) })
}

func (b *Store) IssueAccessToken(ctx context.Context, w store.TokenIssue) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.IssueAccessToken(ctx, w) })
}

func (b *Store) GetAccessToken(ctx context.Context, id string) (store.AccessToken, error) {
	return call(ctx, b, func(ctx context.Context) (store.AccessToken, error) { return b.s.GetAccessToken(ctx, id) })
}

func (b *Store) ListAccessTokens(ctx context.Context, identityID string, now time.Time, offset, limit int) ([]store.AccessToken, int, error) {
	type r struct {
		v []store.AccessToken
		n int
	}
	x, err := call(ctx, b, func(ctx context.Context) (r, error) {
		v, n, err := b.s.ListAccessTokens(ctx, identityID, now, offset, limit)
		return r{v, n}, err
	})
	return x.v, x.n, err
}

func (b *Store) GetAccessTokenByHash(ctx context.Context, hash []byte) (store.AccessToken, error) {
	return call(ctx, b, func(ctx context.Context) (store.AccessToken, error) { return b.s.GetAccessTokenByHash(ctx, hash) })
}

func (b *Store) GetTokenCheck(ctx context.Context, hash []byte) (store.TokenCheck, error) {
	return call(ctx, b, func(ctx context.Context) (store.TokenCheck, error) { return b.s.GetTokenCheck(ctx, hash) })
}

func (b *Store) UseAccessToken(ctx context.Context, id string, now time.Time) (store.AccessToken, error) {
	return call(ctx, b, func(ctx context.Context) (store.AccessToken, error) { return b.s.UseAccessToken(ctx, id, now) })
}

func (b *Store) RenewAccessToken(ctx context.Context, id string, renewedAt, expiresAt time.Time) (store.AccessToken, error) {
	return call(ctx, b, func(ctx context.Context) (store.AccessToken, error) {
		return b.s.RenewAccessToken(ctx, id, renewedAt, expiresAt)
	})
}

func (b *Store) RevokeAccessTokens(ctx context.Context, f store.TokenFilter, now time.Time) (int64, error) {
	return call(ctx, b, func(ctx context.Context) (int64, error) { return b.s.RevokeAccessTokens(ctx, f, now) })
}

func (b *Store) PurgeAccessTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	return call(ctx, b, func(ctx context.Context) (int64, error) { return b.s.PurgeAccessTokens(ctx, cutoff) })
}

func (b *Store) RevokeRootTokens(ctx context.Context, exceptID string, now time.Time) (int64, error) {
	return call(ctx, b, func(ctx context.Context) (int64, error) { return b.s.RevokeRootTokens(ctx, exceptID, now) })
}

func (b *Store) PurgeAuditEvents(ctx context.Context, before time.Time) (int64, error) {
	return call(ctx, b, func(ctx context.Context) (int64, error) { return b.s.PurgeAuditEvents(ctx, before) })
}

func (b *Store) AppendAuditEvent(ctx context.Context, e store.AuditEvent) error {
	return call0(ctx, b, func(ctx context.Context) error { return b.s.AppendAuditEvent(ctx, e) })
}

func (b *Store) ListAuditEvents(ctx context.Context, offset, limit int) ([]store.AuditEvent, int, error) {
	type r struct {
		v []store.AuditEvent
		n int
	}
	x, err := call(ctx, b, func(ctx context.Context) (r, error) {
		v, n, err := b.s.ListAuditEvents(ctx, offset, limit)
		return r{v, n}, err
	})
	return x.v, x.n, err
}

func (b *Store) FilterAuditEvents(ctx context.Context, f store.AuditFilter, offset, limit int) ([]store.AuditEvent, int, error) {
	type r struct {
		v []store.AuditEvent
		n int
	}
	x, err := call(ctx, b, func(ctx context.Context) (r, error) {
		v, n, err := b.s.FilterAuditEvents(ctx, f, offset, limit)
		return r{v, n}, err
	})
	return x.v, x.n, err
}

func (b *Store) CountAuditOutcomes(ctx context.Context, f store.AuditFilter, bucket time.Duration) ([]store.AuditCount, error) {
	return call(ctx, b, func(ctx context.Context) ([]store.AuditCount, error) {
		return b.s.CountAuditOutcomes(ctx, f, bucket)
	})
}
