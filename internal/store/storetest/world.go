package storetest

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// world is a small populated store: two identities, their auth methods,
// client secrets and tokens, and a root token. Tests act on it and then
// compare a snapshot of everything it holds with what they expect, so that
// "nothing else changed" is checked as carefully as the change itself.
//
//	identity a: method aKube (tokens aKube, aKubeRevoked)
//	            method aUA   secret aSecret1 (tokens aUA1, aUA1b, aUA1Revoked)
//	                         secret aSecret2 (token aUA2)
//	                         (token aUANoSecret: minted without a secret)
//	identity b: method bUA   secret bSecret (token bUA)
//	identity c: no methods
//	root token root
type world struct {
	identities map[string]store.Identity
	methods    map[string]store.AuthMethod
	secrets    map[string]store.ClientSecret
	tokens     map[string]store.AccessToken
}

// revokedEarly is when the world's already-revoked tokens were revoked.
var revokedEarly = at(50)

func buildWorld(t *testing.T, s store.Store) *world {
	t.Helper()
	w := &world{
		identities: map[string]store.Identity{},
		methods:    map[string]store.AuthMethod{},
		secrets:    map[string]store.ClientSecret{},
		tokens:     map[string]store.AccessToken{},
	}
	w.identities["a"] = createIdentity(t, s, newIdentity(at(0)))
	w.identities["b"] = createIdentity(t, s, newIdentity(at(1)))
	w.identities["c"] = createIdentity(t, s, newIdentity(at(2)))
	a, b := w.identities["a"].ID, w.identities["b"].ID

	w.methods["aKube"] = createAuthMethod(t, s, newAuthMethod(a, store.AuthMethodKubernetes, at(10)))
	w.methods["aUA"] = createAuthMethod(t, s, newAuthMethod(a, store.AuthMethodUniversal, at(11)))
	w.methods["bUA"] = createAuthMethod(t, s, newAuthMethod(b, store.AuthMethodUniversal, at(12)))

	w.secrets["aSecret1"] = createClientSecret(t, s, newClientSecret(w.methods["aUA"].ID, at(20)))
	w.secrets["aSecret2"] = createClientSecret(t, s, newClientSecret(w.methods["aUA"].ID, at(21)))
	w.secrets["bSecret"] = createClientSecret(t, s, newClientSecret(w.methods["bUA"].ID, at(22)))

	tok := func(name, method, secret string, created time.Time, revoked bool) {
		var secretID string
		if secret != "" {
			secretID = w.secrets[secret].ID
		}
		tk := newAccessToken(w.methods[method], secretID, created)
		if revoked {
			tk.RevokedAt = revokedEarly
		}
		w.tokens[name] = createAccessToken(t, s, tk)
	}
	tok("aKube", "aKube", "", at(30), false)
	tok("aKubeRevoked", "aKube", "", at(31), true)
	tok("aUA1", "aUA", "aSecret1", at(32), false)
	tok("aUA1b", "aUA", "aSecret1", at(33), false)
	tok("aUA1Revoked", "aUA", "aSecret1", at(34), true)
	tok("aUA2", "aUA", "aSecret2", at(35), false)
	tok("aUANoSecret", "aUA", "", at(36), false)
	tok("bUA", "bUA", "bSecret", at(37), false)
	w.tokens["root"] = createAccessToken(t, s, newRootToken(at(38)))
	return w
}

// notFound stands in a snapshot for a lookup that gave ErrNotFound.
type notFound struct{}

// snapshot maps what was looked up ("token/aUA1", "methods-of/a", ...) to
// what the store returned.
type snapshot map[string]any

// snapshot reads back everything the world put in s, through every getter
// and lister.
//
// Client secrets are recorded with UpdatedAt cleared: package store does not
// say whether RevokeClientSecret touches it, so the suite does not hold a
// backend to either answer.
func (w *world) snapshot(t *testing.T, s store.Store) snapshot {
	t.Helper()
	ctx := t.Context()
	sn := snapshot{}
	for name, id := range w.identities {
		sn["identity/"+name] = result[store.Identity](t, name)(s.GetIdentity(ctx, id.ID))
		ms, err := s.ListAuthMethods(ctx, id.ID)
		must(t, err)
		sn["methods-of/"+name] = nonNil(ms)
	}
	for name, m := range w.methods {
		sn["method/"+name] = result[store.AuthMethod](t, name)(s.GetAuthMethod(ctx, m.ID))
		sn["method-by-identity/"+name] = result[store.AuthMethod](t, name)(s.GetAuthMethodByIdentity(ctx, m.IdentityID, m.Type))
		if m.LookupKey != "" {
			sn["method-by-lookup/"+name] = result[store.AuthMethod](t, name)(s.GetAuthMethodByLookupKey(ctx, m.Type, m.LookupKey))
		}
		css, err := s.ListClientSecrets(ctx, m.ID)
		must(t, err)
		for i := range css {
			css[i].UpdatedAt = time.Time{}
		}
		sn["secrets-of/"+name] = nonNil(css)
	}
	for name, cs := range w.secrets {
		sn["secret/"+name] = clearUpdatedAt(result[store.ClientSecret](t, name)(s.GetClientSecret(ctx, cs.ID)))
		sn["secret-by-hash/"+name] = clearUpdatedAt(result[store.ClientSecret](t, name)(s.GetClientSecretByHash(ctx, cs.Hash)))
	}
	for name, tk := range w.tokens {
		sn["token/"+name] = result[store.AccessToken](t, name)(s.GetAccessToken(ctx, tk.ID))
		sn["token-by-hash/"+name] = result[store.AccessToken](t, name)(s.GetAccessTokenByHash(ctx, tk.Hash))
	}
	return sn
}

// result returns a function that records a getter's answer: the value, or
// notFound{} for ErrNotFound. Any other error fails the test.
func result[T any](t *testing.T, name string) func(T, error) any {
	return func(v T, err error) any {
		t.Helper()
		if errors.Is(err, store.ErrNotFound) {
			return notFound{}
		}
		if err != nil {
			t.Fatalf("reading %s: %v", name, err)
		}
		return v
	}
}

func clearUpdatedAt(v any) any {
	if cs, ok := v.(store.ClientSecret); ok {
		cs.UpdatedAt = time.Time{}
		return cs
	}
	return v
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (sn snapshot) clone() snapshot { return maps.Clone(sn) }

// check compares got with the expected snapshot sn.
func (sn snapshot) check(t *testing.T, what string, got snapshot) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(sn)) {
		checkEqual(t, what+": "+k, got[k], sn[k])
	}
}

// Expected changes, applied to a snapshot taken before an operation.

// identityGone: the identity and (by cascade) its methods are gone.
func (sn snapshot) identityGone(w *world, name string) {
	sn["identity/"+name] = notFound{}
	sn["methods-of/"+name] = []store.AuthMethod{}
	for mname, m := range w.methods {
		if m.IdentityID == w.identities[name].ID {
			sn.methodGone(w, mname)
		}
	}
}

// methodGone: the method and (by cascade) its client secrets are gone.
func (sn snapshot) methodGone(w *world, name string) {
	m := w.methods[name]
	sn["method/"+name] = notFound{}
	sn["method-by-identity/"+name] = notFound{}
	if m.LookupKey != "" {
		sn["method-by-lookup/"+name] = notFound{}
	}
	sn["secrets-of/"+name] = []store.ClientSecret{}
	for iname, id := range w.identities {
		if id.ID == m.IdentityID {
			if ms, ok := sn["methods-of/"+iname].([]store.AuthMethod); ok {
				sn["methods-of/"+iname] = slices.DeleteFunc(slices.Clone(ms), func(x store.AuthMethod) bool { return x.ID == m.ID })
			}
		}
	}
	for sname, cs := range w.secrets {
		if cs.AuthMethodID == m.ID {
			sn["secret/"+sname] = notFound{}
			sn["secret-by-hash/"+sname] = notFound{}
		}
	}
}

// secretRevoked: the client secret has RevokedAt = now.
func (sn snapshot) secretRevoked(w *world, name string, now time.Time) {
	for _, k := range []string{"secret/" + name, "secret-by-hash/" + name} {
		cs := sn[k].(store.ClientSecret)
		cs.RevokedAt = now
		sn[k] = cs
	}
	for mname, m := range w.methods {
		if m.ID != w.secrets[name].AuthMethodID {
			continue
		}
		css := slices.Clone(sn["secrets-of/"+mname].([]store.ClientSecret))
		for i := range css {
			if css[i].ID == w.secrets[name].ID {
				css[i].RevokedAt = now
			}
		}
		sn["secrets-of/"+mname] = css
	}
}

// tokensRevoked: the tokens have RevokedAt = now.
func (sn snapshot) tokensRevoked(now time.Time, names ...string) {
	for _, name := range names {
		for _, k := range []string{"token/" + name, "token-by-hash/" + name} {
			tk := sn[k].(store.AccessToken)
			tk.RevokedAt = now
			sn[k] = tk
		}
	}
}
