package tokencache

import (
	"context"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The reads of a login, kept like token checks (same TTL, same emptying,
// same generation check): the auth method by identity or by lookup key
// (a Universal Auth client ID, a Vault role) and the client secret by
// hash. Every write that can change a kept method or secret empties the
// cache: updating or deleting a method, deleting its identity or mount,
// revoking a secret. A secret's use count is the exception, as a
// use-limited token's: IssueAccessToken counts the use in the store in
// the statement that checks the limit and that the secret is unrevoked,
// so a kept secret may show fewer uses than the store for up to TTL, and
// the login that relies on it is refused there all the same.

// kept is an answer kept until expires.
type kept[V any] struct {
	v       V
	expires time.Time
}

// GetAuthMethodByIdentity answers from the cache when it can.
func (c *Store) GetAuthMethodByIdentity(ctx context.Context, identityID string, typ store.AuthMethodType) (store.AuthMethod, error) {
	return keptRead(c, c.methods, "i\x00"+identityID+"\x00"+string(typ), cloneMethod, always[store.AuthMethod],
		func() (store.AuthMethod, error) { return c.s.GetAuthMethodByIdentity(ctx, identityID, typ) })
}

// GetAuthMethodByLookupKey answers from the cache when it can.
func (c *Store) GetAuthMethodByLookupKey(ctx context.Context, typ store.AuthMethodType, key string) (store.AuthMethod, error) {
	return keptRead(c, c.methods, "k\x00"+string(typ)+"\x00"+key, cloneMethod, always[store.AuthMethod],
		func() (store.AuthMethod, error) { return c.s.GetAuthMethodByLookupKey(ctx, typ, key) })
}

// GetClientSecretByHash answers from the cache when it can; only
// unrevoked secrets are kept.
func (c *Store) GetClientSecretByHash(ctx context.Context, hash []byte) (store.ClientSecret, error) {
	read := func() (store.ClientSecret, error) { return c.s.GetClientSecretByHash(ctx, hash) }
	key, ok := keyOf(hash)
	if !ok {
		return read()
	}
	return keptRead(c, c.secrets, key, cloneSecret, func(cs store.ClientSecret) bool { return cs.RevokedAt.IsZero() }, read)
}

// keptRead answers from m when it holds a fresh answer for key, else with
// read, keeping the answer when keep allows and no emptying happened
// meanwhile. Answers go in and out as clones. m is emptied when full
// (logins' reads are few: one per method and secret in use).
func keptRead[K comparable, V any](c *Store, m map[K]kept[V], key K, clone func(V) V, keep func(V) bool, read func() (V, error)) (V, error) {
	if c.peers != nil && !c.live.Load() {
		return read()
	}
	now := c.now()
	c.mu.Lock()
	e, hit := m[key]
	c.mu.Unlock()
	if hit && now.Before(e.expires) {
		return clone(e.v), nil
	}
	gen := c.gen.Load()
	v, err := read()
	if err != nil || !keep(v) {
		return v, err
	}
	c.mu.Lock()
	if c.gen.Load() == gen {
		if len(m) >= c.size {
			clear(m)
		}
		m[key] = kept[V]{v: clone(v), expires: now.Add(c.ttl)}
	}
	c.mu.Unlock()
	return v, nil
}

func always[V any](V) bool { return true }

// cloneMethod copies the method's slices, so that no caller can change
// what the cache keeps or another caller got.
func cloneMethod(m store.AuthMethod) store.AuthMethod {
	m.Config = slices.Clone(m.Config)
	m.SealedSecret = slices.Clone(m.SealedSecret)
	m.TokenPolicy.TrustedIPs = slices.Clone(m.TokenPolicy.TrustedIPs)
	return m
}

func cloneSecret(cs store.ClientSecret) store.ClientSecret {
	cs.Hash = slices.Clone(cs.Hash)
	return cs
}
