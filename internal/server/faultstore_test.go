package server_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// faultStore is a store.Store that fails chosen methods as an unreachable
// database would (a wrapped store.ErrUnavailable), and can record which
// methods a request calls. Every method of store.Store goes through hit.
type faultStore struct {
	store.Store
	mu        sync.Mutex
	failing   map[string]bool
	recording bool
	calls     []string // methods called while recording, first call order
}

func newFaultStore(s store.Store) *faultStore {
	return &faultStore{Store: s, failing: map[string]bool{}}
}

// fail makes the named methods fail until heal.
func (f *faultStore) fail(methods ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range methods {
		f.failing[m] = true
	}
}

func (f *faultStore) heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.failing)
}

// record starts recording calls; stop returns them.
func (f *faultStore) record() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recording, f.calls = true, nil
}

func (f *faultStore) stop() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recording = false
	return f.calls
}

func (f *faultStore) hit(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.recording && !slices.Contains(f.calls, method) {
		f.calls = append(f.calls, method)
	}
	if f.failing[method] {
		return fmt.Errorf("faultstore: %s: dial tcp 127.0.0.1:5432: connect: connection refused: %w", method, store.ErrUnavailable)
	}
	return nil
}

// The methods of store.Store, each through hit.

func (f *faultStore) Ping(ctx context.Context) error {
	if err := f.hit("Ping"); err != nil {
		return err
	}
	return f.Store.Ping(ctx)
}

func (f *faultStore) GetMeta(ctx context.Context, key string) (string, error) {
	if err := f.hit("GetMeta"); err != nil {
		var z0 string
		return z0, err
	}
	return f.Store.GetMeta(ctx, key)
}

func (f *faultStore) PutMetaIfAbsent(ctx context.Context, key, value string) (bool, error) {
	if err := f.hit("PutMetaIfAbsent"); err != nil {
		var z0 bool
		return z0, err
	}
	return f.Store.PutMetaIfAbsent(ctx, key, value)
}

func (f *faultStore) CreateIdentity(ctx context.Context, id store.Identity) error {
	if err := f.hit("CreateIdentity"); err != nil {
		return err
	}
	return f.Store.CreateIdentity(ctx, id)
}

func (f *faultStore) GetIdentity(ctx context.Context, id string) (store.Identity, error) {
	if err := f.hit("GetIdentity"); err != nil {
		var z0 store.Identity
		return z0, err
	}
	return f.Store.GetIdentity(ctx, id)
}

func (f *faultStore) ListIdentities(ctx context.Context, offset, limit int) ([]store.Identity, int, error) {
	if err := f.hit("ListIdentities"); err != nil {
		var z0 []store.Identity
		var z1 int
		return z0, z1, err
	}
	return f.Store.ListIdentities(ctx, offset, limit)
}

func (f *faultStore) UpdateIdentity(ctx context.Context, id string, update func(*store.Identity) error) (store.Identity, error) {
	if err := f.hit("UpdateIdentity"); err != nil {
		var z0 store.Identity
		return z0, err
	}
	return f.Store.UpdateIdentity(ctx, id, update)
}

func (f *faultStore) DeleteIdentity(ctx context.Context, id string, now time.Time) error {
	if err := f.hit("DeleteIdentity"); err != nil {
		return err
	}
	return f.Store.DeleteIdentity(ctx, id, now)
}

func (f *faultStore) CreateAuthMethod(ctx context.Context, m store.AuthMethod) error {
	if err := f.hit("CreateAuthMethod"); err != nil {
		return err
	}
	return f.Store.CreateAuthMethod(ctx, m)
}

func (f *faultStore) GetAuthMethod(ctx context.Context, id string) (store.AuthMethod, error) {
	if err := f.hit("GetAuthMethod"); err != nil {
		var z0 store.AuthMethod
		return z0, err
	}
	return f.Store.GetAuthMethod(ctx, id)
}

func (f *faultStore) GetAuthMethodByIdentity(ctx context.Context, identityID string, typ store.AuthMethodType) (store.AuthMethod, error) {
	if err := f.hit("GetAuthMethodByIdentity"); err != nil {
		var z0 store.AuthMethod
		return z0, err
	}
	return f.Store.GetAuthMethodByIdentity(ctx, identityID, typ)
}

func (f *faultStore) GetAuthMethodByLookupKey(ctx context.Context, typ store.AuthMethodType, key string) (store.AuthMethod, error) {
	if err := f.hit("GetAuthMethodByLookupKey"); err != nil {
		var z0 store.AuthMethod
		return z0, err
	}
	return f.Store.GetAuthMethodByLookupKey(ctx, typ, key)
}

func (f *faultStore) ListAuthMethods(ctx context.Context, identityID string) ([]store.AuthMethod, error) {
	if err := f.hit("ListAuthMethods"); err != nil {
		var z0 []store.AuthMethod
		return z0, err
	}
	return f.Store.ListAuthMethods(ctx, identityID)
}

func (f *faultStore) UpdateAuthMethod(ctx context.Context, id string, update func(*store.AuthMethod) error) (store.AuthMethod, error) {
	if err := f.hit("UpdateAuthMethod"); err != nil {
		var z0 store.AuthMethod
		return z0, err
	}
	return f.Store.UpdateAuthMethod(ctx, id, update)
}

func (f *faultStore) DeleteAuthMethod(ctx context.Context, id string, now time.Time) error {
	if err := f.hit("DeleteAuthMethod"); err != nil {
		return err
	}
	return f.Store.DeleteAuthMethod(ctx, id, now)
}

func (f *faultStore) CreateIdentityWithAuthMethod(ctx context.Context, id store.Identity, m store.AuthMethod) error {
	if err := f.hit("CreateIdentityWithAuthMethod"); err != nil {
		return err
	}
	return f.Store.CreateIdentityWithAuthMethod(ctx, id, m)
}

func (f *faultStore) ListAuthMethodsByMount(ctx context.Context, mountPath string) ([]store.AuthMethod, error) {
	if err := f.hit("ListAuthMethodsByMount"); err != nil {
		var z0 []store.AuthMethod
		return z0, err
	}
	return f.Store.ListAuthMethodsByMount(ctx, mountPath)
}

func (f *faultStore) CreateMount(ctx context.Context, m store.Mount) error {
	if err := f.hit("CreateMount"); err != nil {
		return err
	}
	return f.Store.CreateMount(ctx, m)
}

func (f *faultStore) GetMount(ctx context.Context, path string) (store.Mount, error) {
	if err := f.hit("GetMount"); err != nil {
		var z0 store.Mount
		return z0, err
	}
	return f.Store.GetMount(ctx, path)
}

func (f *faultStore) ListMounts(ctx context.Context) ([]store.Mount, error) {
	if err := f.hit("ListMounts"); err != nil {
		var z0 []store.Mount
		return z0, err
	}
	return f.Store.ListMounts(ctx)
}

func (f *faultStore) UpdateMount(ctx context.Context, path string, update func(*store.Mount) error) (store.Mount, error) {
	if err := f.hit("UpdateMount"); err != nil {
		var z0 store.Mount
		return z0, err
	}
	return f.Store.UpdateMount(ctx, path, update)
}

func (f *faultStore) DeleteMount(ctx context.Context, path string, now time.Time) error {
	if err := f.hit("DeleteMount"); err != nil {
		return err
	}
	return f.Store.DeleteMount(ctx, path, now)
}

func (f *faultStore) CreateClientSecret(ctx context.Context, s store.ClientSecret) error {
	if err := f.hit("CreateClientSecret"); err != nil {
		return err
	}
	return f.Store.CreateClientSecret(ctx, s)
}

func (f *faultStore) GetClientSecret(ctx context.Context, id string) (store.ClientSecret, error) {
	if err := f.hit("GetClientSecret"); err != nil {
		var z0 store.ClientSecret
		return z0, err
	}
	return f.Store.GetClientSecret(ctx, id)
}

func (f *faultStore) GetClientSecretByHash(ctx context.Context, hash []byte) (store.ClientSecret, error) {
	if err := f.hit("GetClientSecretByHash"); err != nil {
		var z0 store.ClientSecret
		return z0, err
	}
	return f.Store.GetClientSecretByHash(ctx, hash)
}

func (f *faultStore) ListClientSecrets(ctx context.Context, authMethodID string) ([]store.ClientSecret, error) {
	if err := f.hit("ListClientSecrets"); err != nil {
		var z0 []store.ClientSecret
		return z0, err
	}
	return f.Store.ListClientSecrets(ctx, authMethodID)
}

func (f *faultStore) RevokeClientSecret(ctx context.Context, id string, now time.Time) (store.ClientSecret, error) {
	if err := f.hit("RevokeClientSecret"); err != nil {
		var z0 store.ClientSecret
		return z0, err
	}
	return f.Store.RevokeClientSecret(ctx, id, now)
}

func (f *faultStore) RecordLoginFailure(ctx context.Context, key store.LockoutKey, now time.Time, p store.LockoutPolicy) (store.Lockout, bool, error) {
	if err := f.hit("RecordLoginFailure"); err != nil {
		var z0 store.Lockout
		return z0, false, err
	}
	return f.Store.RecordLoginFailure(ctx, key, now, p)
}

func (f *faultStore) GetLockout(ctx context.Context, key store.LockoutKey) (store.Lockout, error) {
	if err := f.hit("GetLockout"); err != nil {
		var z0 store.Lockout
		return z0, err
	}
	return f.Store.GetLockout(ctx, key)
}

func (f *faultStore) ClearLockout(ctx context.Context, key store.LockoutKey) error {
	if err := f.hit("ClearLockout"); err != nil {
		return err
	}
	return f.Store.ClearLockout(ctx, key)
}

func (f *faultStore) ClearLockouts(ctx context.Context, authMethodID string) (int64, error) {
	if err := f.hit("ClearLockouts"); err != nil {
		var z0 int64
		return z0, err
	}
	return f.Store.ClearLockouts(ctx, authMethodID)
}

func (f *faultStore) ListActiveLockouts(ctx context.Context, authMethodID string, now time.Time) ([]store.Lockout, error) {
	if err := f.hit("ListActiveLockouts"); err != nil {
		var z0 []store.Lockout
		return z0, err
	}
	return f.Store.ListActiveLockouts(ctx, authMethodID, now)
}

func (f *faultStore) CreateAccessToken(ctx context.Context, t store.AccessToken) error {
	if err := f.hit("CreateAccessToken"); err != nil {
		return err
	}
	return f.Store.CreateAccessToken(ctx, t)
}

func (f *faultStore) IssueAccessToken(ctx context.Context, w store.TokenIssue) error {
	if err := f.hit("IssueAccessToken"); err != nil {
		return err
	}
	return f.Store.IssueAccessToken(ctx, w)
}

func (f *faultStore) GetAccessToken(ctx context.Context, id string) (store.AccessToken, error) {
	if err := f.hit("GetAccessToken"); err != nil {
		var z0 store.AccessToken
		return z0, err
	}
	return f.Store.GetAccessToken(ctx, id)
}

func (f *faultStore) GetAccessTokenByHash(ctx context.Context, hash []byte) (store.AccessToken, error) {
	if err := f.hit("GetAccessTokenByHash"); err != nil {
		var z0 store.AccessToken
		return z0, err
	}
	return f.Store.GetAccessTokenByHash(ctx, hash)
}

func (f *faultStore) GetTokenCheck(ctx context.Context, hash []byte) (store.TokenCheck, error) {
	if err := f.hit("GetTokenCheck"); err != nil {
		var z0 store.TokenCheck
		return z0, err
	}
	return f.Store.GetTokenCheck(ctx, hash)
}

func (f *faultStore) UseAccessToken(ctx context.Context, id string, now time.Time) (store.AccessToken, error) {
	if err := f.hit("UseAccessToken"); err != nil {
		var z0 store.AccessToken
		return z0, err
	}
	return f.Store.UseAccessToken(ctx, id, now)
}

func (f *faultStore) RenewAccessToken(ctx context.Context, id string, renewedAt, expiresAt time.Time) (store.AccessToken, error) {
	if err := f.hit("RenewAccessToken"); err != nil {
		var z0 store.AccessToken
		return z0, err
	}
	return f.Store.RenewAccessToken(ctx, id, renewedAt, expiresAt)
}

func (f *faultStore) RevokeAccessTokens(ctx context.Context, filter store.TokenFilter, now time.Time) (int64, error) {
	if err := f.hit("RevokeAccessTokens"); err != nil {
		var z0 int64
		return z0, err
	}
	return f.Store.RevokeAccessTokens(ctx, filter, now)
}

func (f *faultStore) PurgeAccessTokens(ctx context.Context, cutoff time.Time) (int64, error) {
	if err := f.hit("PurgeAccessTokens"); err != nil {
		var z0 int64
		return z0, err
	}
	return f.Store.PurgeAccessTokens(ctx, cutoff)
}

func (f *faultStore) AppendAuditEvent(ctx context.Context, e store.AuditEvent) error {
	if err := f.hit("AppendAuditEvent"); err != nil {
		return err
	}
	return f.Store.AppendAuditEvent(ctx, e)
}

func (f *faultStore) ListAuditEvents(ctx context.Context, offset, limit int) ([]store.AuditEvent, int, error) {
	if err := f.hit("ListAuditEvents"); err != nil {
		var z0 []store.AuditEvent
		var z1 int
		return z0, z1, err
	}
	return f.Store.ListAuditEvents(ctx, offset, limit)
}

func (f *faultStore) CreateConsoleSession(ctx context.Context, s store.ConsoleSession, max int) error {
	if err := f.hit("CreateConsoleSession"); err != nil {
		return err
	}
	return f.Store.CreateConsoleSession(ctx, s, max)
}

func (f *faultStore) GetConsoleSession(ctx context.Context, idHash []byte, now time.Time) (store.ConsoleSession, error) {
	if err := f.hit("GetConsoleSession"); err != nil {
		return store.ConsoleSession{}, err
	}
	return f.Store.GetConsoleSession(ctx, idHash, now)
}

func (f *faultStore) DeleteConsoleSession(ctx context.Context, idHash []byte) error {
	if err := f.hit("DeleteConsoleSession"); err != nil {
		return err
	}
	return f.Store.DeleteConsoleSession(ctx, idHash)
}

func (f *faultStore) PurgeConsoleSessions(ctx context.Context, now time.Time) (int64, error) {
	if err := f.hit("PurgeConsoleSessions"); err != nil {
		return 0, err
	}
	return f.Store.PurgeConsoleSessions(ctx, now)
}
