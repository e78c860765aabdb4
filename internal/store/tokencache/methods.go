package tokencache

import (
	"context"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The rest of store.Store, one method at a time (see the package comment):
// reads pass through; writes that may change a kept answer empty the cache
// after the store has answered.

func (c *Store) Ping(ctx context.Context) error { return c.s.Ping(ctx) }

// Close empties the cache and closes the wrapped store.
func (c *Store) Close() error {
	defer func() {
		c.mu.Lock()
		c.emptyLocked()
		c.mu.Unlock()
	}()
	return c.s.Close()
}

func (c *Store) GetMeta(ctx context.Context, key string) (string, error) {
	return c.s.GetMeta(ctx, key)
}

// PutMetaIfAbsent changes no kept answer.
func (c *Store) PutMetaIfAbsent(ctx context.Context, key, value string) (bool, error) {
	return c.s.PutMetaIfAbsent(ctx, key, value)
}

// Identities.

// CreateIdentity changes no kept answer: answers for a missing identity
// are never kept.
func (c *Store) CreateIdentity(ctx context.Context, id store.Identity) error {
	return c.s.CreateIdentity(ctx, id)
}

func (c *Store) GetIdentity(ctx context.Context, id string) (store.Identity, error) {
	return c.s.GetIdentity(ctx, id)
}

func (c *Store) ListIdentities(ctx context.Context, offset, limit int) ([]store.Identity, int, error) {
	return c.s.ListIdentities(ctx, offset, limit)
}

// UpdateIdentity may change a role: empties the cache.
func (c *Store) UpdateIdentity(ctx context.Context, id string, update func(*store.Identity) error) (store.Identity, error) {
	defer c.flush()
	return c.s.UpdateIdentity(ctx, id, update)
}

// DeleteIdentity revokes tokens: empties the cache.
func (c *Store) DeleteIdentity(ctx context.Context, id string, now time.Time) error {
	defer c.flush()
	return c.s.DeleteIdentity(ctx, id, now)
}

// Auth methods.

// CreateAuthMethod changes no kept answer: answers for a missing method
// are never kept.
func (c *Store) CreateAuthMethod(ctx context.Context, m store.AuthMethod) error {
	return c.s.CreateAuthMethod(ctx, m)
}

func (c *Store) GetAuthMethod(ctx context.Context, id string) (store.AuthMethod, error) {
	return c.s.GetAuthMethod(ctx, id)
}

// GetAuthMethodByIdentity and GetAuthMethodByLookupKey: login.go.

func (c *Store) ListAuthMethods(ctx context.Context, identityID string) ([]store.AuthMethod, error) {
	return c.s.ListAuthMethods(ctx, identityID)
}

// UpdateAuthMethod may change trusted IPs: empties the cache.
func (c *Store) UpdateAuthMethod(ctx context.Context, id string, update func(*store.AuthMethod) error) (store.AuthMethod, error) {
	defer c.flush()
	return c.s.UpdateAuthMethod(ctx, id, update)
}

// DeleteAuthMethod revokes tokens: empties the cache.
func (c *Store) DeleteAuthMethod(ctx context.Context, id string, now time.Time) error {
	defer c.flush()
	return c.s.DeleteAuthMethod(ctx, id, now)
}

// CreateIdentityWithAuthMethod changes no kept answer: answers for a
// missing identity or method are never kept.
func (c *Store) CreateIdentityWithAuthMethod(ctx context.Context, id store.Identity, m store.AuthMethod) error {
	return c.s.CreateIdentityWithAuthMethod(ctx, id, m)
}

func (c *Store) ListAuthMethodsByMount(ctx context.Context, mountPath string) ([]store.AuthMethod, error) {
	return c.s.ListAuthMethodsByMount(ctx, mountPath)
}

// Vault auth mounts.

// CreateMount changes no kept answer: a new mount has no roles yet.
func (c *Store) CreateMount(ctx context.Context, m store.Mount) error {
	return c.s.CreateMount(ctx, m)
}

func (c *Store) GetMount(ctx context.Context, path string) (store.Mount, error) {
	return c.s.GetMount(ctx, path)
}

func (c *Store) ListMounts(ctx context.Context) ([]store.Mount, error) {
	return c.s.ListMounts(ctx)
}

// UpdateMount changes no kept answer: a mount's config (cluster, keys) is
// read at login, never by a token check.
func (c *Store) UpdateMount(ctx context.Context, path string, update func(*store.Mount) error) (store.Mount, error) {
	return c.s.UpdateMount(ctx, path, update)
}

// DeleteMount revokes tokens and deletes identities: empties the cache.
func (c *Store) DeleteMount(ctx context.Context, path string, now time.Time) error {
	defer c.flush()
	return c.s.DeleteMount(ctx, path, now)
}

// Client secrets.

// CreateClientSecret changes no kept answer.
func (c *Store) CreateClientSecret(ctx context.Context, cs store.ClientSecret) error {
	return c.s.CreateClientSecret(ctx, cs)
}

func (c *Store) GetClientSecret(ctx context.Context, id string) (store.ClientSecret, error) {
	return c.s.GetClientSecret(ctx, id)
}

// GetClientSecretByHash: login.go.

func (c *Store) ListClientSecrets(ctx context.Context, authMethodID string) ([]store.ClientSecret, error) {
	return c.s.ListClientSecrets(ctx, authMethodID)
}

// RevokeClientSecret revokes tokens: empties the cache.
func (c *Store) RevokeClientSecret(ctx context.Context, id string, now time.Time) (store.ClientSecret, error) {
	defer c.flush()
	return c.s.RevokeClientSecret(ctx, id, now)
}

// Login lockouts change no token check.

func (c *Store) RecordLoginFailure(ctx context.Context, key store.LockoutKey, now time.Time, p store.LockoutPolicy) (store.Lockout, bool, error) {
	return c.s.RecordLoginFailure(ctx, key, now, p)
}

func (c *Store) GetLockout(ctx context.Context, key store.LockoutKey) (store.Lockout, error) {
	return c.s.GetLockout(ctx, key)
}

func (c *Store) ClearLockout(ctx context.Context, key store.LockoutKey) error {
	return c.s.ClearLockout(ctx, key)
}

func (c *Store) ClearLockouts(ctx context.Context, authMethodID string) (int64, error) {
	return c.s.ClearLockouts(ctx, authMethodID)
}

func (c *Store) ListActiveLockouts(ctx context.Context, authMethodID string, now time.Time) ([]store.Lockout, error) {
	return c.s.ListActiveLockouts(ctx, authMethodID, now)
}

// Access tokens.

// CreateAccessToken changes no kept answer: a new token is not in the
// cache.
func (c *Store) CreateAccessToken(ctx context.Context, t store.AccessToken) error {
	return c.s.CreateAccessToken(ctx, t)
}

// IssueAccessToken changes no kept answer: it creates a token and an
// audit event and counts a client-secret use.
func (c *Store) IssueAccessToken(ctx context.Context, w store.TokenIssue) error {
	return c.s.IssueAccessToken(ctx, w)
}

func (c *Store) GetAccessToken(ctx context.Context, id string) (store.AccessToken, error) {
	return c.s.GetAccessToken(ctx, id)
}

func (c *Store) ListAccessTokens(ctx context.Context, identityID string, now time.Time, offset, limit int) ([]store.AccessToken, int, error) {
	return c.s.ListAccessTokens(ctx, identityID, now, offset, limit)
}

func (c *Store) GetAccessTokenByHash(ctx context.Context, hash []byte) (store.AccessToken, error) {
	return c.s.GetAccessTokenByHash(ctx, hash)
}

// UseAccessToken counts a use in the store: the token's kept answer gets
// the new record; a refused use changed nothing; any other failure has an
// unknown effect and empties the cache.
func (c *Store) UseAccessToken(ctx context.Context, id string, now time.Time) (store.AccessToken, error) {
	t, err := c.s.UseAccessToken(ctx, id, now)
	if err == nil {
		c.used(t)
	} else {
		c.drop(t, err)
	}
	return t, err
}

// RenewAccessToken changes the token it renews: drops it (everything, when
// it fails).
func (c *Store) RenewAccessToken(ctx context.Context, id string, renewedAt, expiresAt time.Time) (store.AccessToken, error) {
	t, err := c.s.RenewAccessToken(ctx, id, renewedAt, expiresAt)
	c.drop(t, err)
	return t, err
}

// RevokeAccessTokens empties the cache.
func (c *Store) RevokeAccessTokens(ctx context.Context, f store.TokenFilter, now time.Time) (int64, error) {
	defer c.flush()
	return c.s.RevokeAccessTokens(ctx, f, now)
}

// RevokeRootTokens empties the cache.
func (c *Store) RevokeRootTokens(ctx context.Context, exceptID string, now time.Time) (int64, error) {
	defer c.flush()
	return c.s.RevokeRootTokens(ctx, exceptID, now)
}

// PurgeAccessTokens deletes tokens: empties the cache.
func (c *Store) PurgeAccessTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	defer c.flush()
	return c.s.PurgeAccessTokens(ctx, cutoff)
}

// Audit log: changes no token check.

func (c *Store) AppendAuditEvent(ctx context.Context, e store.AuditEvent) error {
	return c.s.AppendAuditEvent(ctx, e)
}

func (c *Store) PurgeAuditEvents(ctx context.Context, before time.Time) (int64, error) {
	return c.s.PurgeAuditEvents(ctx, before)
}

func (c *Store) ListAuditEvents(ctx context.Context, offset, limit int) ([]store.AuditEvent, int, error) {
	return c.s.ListAuditEvents(ctx, offset, limit)
}

func (c *Store) FilterAuditEvents(ctx context.Context, f store.AuditFilter, offset, limit int) ([]store.AuditEvent, int, error) {
	return c.s.FilterAuditEvents(ctx, f, offset, limit)
}

func (c *Store) CountAuditOutcomes(ctx context.Context, f store.AuditFilter, bucket time.Duration) ([]store.AuditCount, error) {
	return c.s.CountAuditOutcomes(ctx, f, bucket)
}
