package tokencache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/store/storetest"
	"github.com/gatehouse-dev/gatehouse/internal/store/tokencache"
)

func openSQLite(t testing.TB) store.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// The cache in front of SQLite is still a conforming store.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return tokencache.New(openSQLite(t), 0, 0, nil) })
}

// counting counts the GetTokenCheck calls that reach the store, and can
// hold one up (see TestReadDuringWrite).
type counting struct {
	store.Store
	reads      atomic.Int64
	loginReads atomic.Int64  // of methods and client secrets
	hold       chan struct{} // when set, GetTokenCheck signals held, then waits for it
	held       chan struct{}
}

func (c *counting) GetAuthMethodByIdentity(ctx context.Context, id string, typ store.AuthMethodType) (store.AuthMethod, error) {
	c.loginReads.Add(1)
	return c.Store.GetAuthMethodByIdentity(ctx, id, typ)
}

func (c *counting) GetAuthMethodByLookupKey(ctx context.Context, typ store.AuthMethodType, key string) (store.AuthMethod, error) {
	c.loginReads.Add(1)
	return c.Store.GetAuthMethodByLookupKey(ctx, typ, key)
}

func (c *counting) GetClientSecretByHash(ctx context.Context, h []byte) (store.ClientSecret, error) {
	c.loginReads.Add(1)
	return c.Store.GetClientSecretByHash(ctx, h)
}

func (c *counting) GetTokenCheck(ctx context.Context, h []byte) (store.TokenCheck, error) {
	c.reads.Add(1)
	tc, err := c.Store.GetTokenCheck(ctx, h)
	if c.hold != nil {
		c.held <- struct{}{}
		<-c.hold
	}
	return tc, err
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

type fixture struct {
	inner  *counting
	cache  *tokencache.Store
	clock  *clock
	ident  store.Identity
	method store.AuthMethod
	secret store.ClientSecret
	n      int
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{inner: &counting{Store: openSQLite(t)}, clock: &clock{t: t0}}
	f.cache = tokencache.New(f.inner, 500*time.Millisecond, 0, f.clock.Now)
	f.ident = store.Identity{ID: "11111111-1111-4111-8111-111111111111", Name: "app", Role: store.RoleMember, CreatedAt: t0, UpdatedAt: t0}
	f.method = store.AuthMethod{ID: "22222222-2222-4222-8222-222222222222", IdentityID: f.ident.ID, Type: store.AuthMethodUniversal,
		LookupKey: "client", Config: json.RawMessage(`{}`), TokenPolicy: store.TokenPolicy{TrustedIPs: []string{"0.0.0.0/0"}}, CreatedAt: t0, UpdatedAt: t0}
	f.secret = store.ClientSecret{ID: "33333333-3333-4333-8333-333333333333", AuthMethodID: f.method.ID, Hash: hash("secret"), CreatedAt: t0, UpdatedAt: t0}
	must(t, f.cache.CreateIdentity(ctx, f.ident))
	must(t, f.cache.CreateAuthMethod(ctx, f.method))
	must(t, f.cache.CreateClientSecret(ctx, f.secret))
	return f
}

func hash(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// token stores a token of the fixture's method (with its client secret).
func (f *fixture) token(t *testing.T, limit int64) store.AccessToken {
	t.Helper()
	f.n++
	id := "44444444-4444-4444-8444-44444444444" + string(rune('0'+f.n%10))
	tok := store.AccessToken{ID: id, Hash: hash(id), IdentityID: f.ident.ID, AuthMethodID: f.method.ID,
		AuthMethodType: store.AuthMethodUniversal, ClientSecretID: f.secret.ID, CreatedAt: t0, LastRenewedAt: t0,
		TTL: 3600, ExpiresAt: t0.Add(time.Hour), NumUsesLimit: limit, Metadata: map[string]string{"k": "v"}}
	must(t, f.cache.CreateAccessToken(t.Context(), tok))
	return tok
}

// check reads tok through the cache and reports whether the store was read.
func (f *fixture) check(t *testing.T, tok store.AccessToken) (store.TokenCheck, bool) {
	t.Helper()
	before := f.inner.reads.Load()
	tc, err := f.cache.GetTokenCheck(t.Context(), tok.Hash)
	must(t, err)
	return tc, f.inner.reads.Load() != before
}

func TestHitAndTTL(t *testing.T) {
	f := newFixture(t)
	tok := f.token(t, 0)
	if _, read := f.check(t, tok); !read {
		t.Fatal("first check did not read the store")
	}
	tc, read := f.check(t, tok)
	if read {
		t.Error("second check read the store")
	}
	if tc.Token.ID != tok.ID || tc.IdentityRole != store.RoleMember || !tc.AuthMethodFound {
		t.Errorf("cached answer %+v", tc)
	}
	// Answers are copies: changing one changes neither the cache nor others.
	tc.Token.Metadata["k"] = "changed"
	tc.TrustedIPs[0] = "changed"
	tc, _ = f.check(t, tok)
	if tc.Token.Metadata["k"] != "v" || tc.TrustedIPs[0] != "0.0.0.0/0" {
		t.Errorf("a caller changed the cached answer: %+v", tc)
	}
	f.clock.Advance(499 * time.Millisecond)
	if _, read := f.check(t, tok); read {
		t.Error("check within the TTL read the store")
	}
	f.clock.Advance(time.Millisecond)
	if _, read := f.check(t, tok); !read {
		t.Error("check at the TTL did not read the store")
	}
}

// TestNotKept: revoked tokens, tokens whose method is gone and unknown
// hashes always go to the store.
func TestNotKept(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	revoked := f.token(t, 0)
	if _, err := f.inner.Store.RevokeAccessTokens(ctx, store.TokenFilter{ID: revoked.ID}, t0); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []store.AccessToken{revoked, revoked} {
		if _, read := f.check(t, tok); !read {
			t.Errorf("check of %s answered from the cache", tok.ID)
		}
	}
	before := f.inner.reads.Load()
	for range 2 {
		if _, err := f.cache.GetTokenCheck(ctx, hash("unknown")); err == nil {
			t.Error("unknown hash found")
		}
	}
	if f.inner.reads.Load() != before+2 {
		t.Error("an unknown hash was answered from the cache")
	}
	if f.cache.Len() != 0 {
		t.Errorf("%d answers kept, want none", f.cache.Len())
	}
}

// TestUseLimited: a use-limited token's answer is kept, and a use counted
// in the store refreshes its record without emptying anything; the store
// keeps the last word on the limit and on revocation.
func TestUseLimited(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	tok, other := f.token(t, 2), f.token(t, 0)
	f.check(t, tok)
	f.check(t, other)
	for want := int64(1); want <= 2; want++ {
		used, err := f.cache.UseAccessToken(ctx, tok.ID, t0.Add(time.Minute))
		must(t, err)
		got, read := f.check(t, tok)
		if read || got.Token.NumUses != want || used.NumUses != want || !got.Token.LastUsedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("after use %d: read the store %v, kept record %d uses, store said %d", want, read, got.Token.NumUses, used.NumUses)
		}
	}
	if _, err := f.cache.UseAccessToken(ctx, tok.ID, t0.Add(time.Minute)); !errors.Is(err, store.ErrLimitReached) {
		t.Errorf("use beyond the limit: %v, want ErrLimitReached", err)
	}
	if _, read := f.check(t, other); read {
		t.Error("a use emptied another token's answer")
	}
	// Revoked behind the cache's back (another process): the kept answer
	// looks live, but the use is refused by the store.
	if _, err := f.inner.Store.RevokeAccessTokens(ctx, store.TokenFilter{ID: other.ID}, t0); err != nil {
		t.Fatal(err)
	}
	limited := f.token(t, 5)
	f.check(t, limited)
	if _, err := f.inner.Store.RevokeAccessTokens(ctx, store.TokenFilter{ID: limited.ID}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cache.UseAccessToken(ctx, limited.ID, t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("use of a token revoked in the store: %v, want ErrNotFound", err)
	}
}

// TestWritesInvalidate: every write that can change a kept answer makes
// the next check read the store, and see the change.
func TestWritesInvalidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(ctx context.Context, f *fixture, tok store.AccessToken) error
		check func(t *testing.T, got store.TokenCheck)
	}{
		{"RevokeAccessTokens", func(ctx context.Context, f *fixture, tok store.AccessToken) error {
			_, err := f.cache.RevokeAccessTokens(ctx, store.TokenFilter{ID: tok.ID}, t0.Add(time.Minute))
			return err
		}, func(t *testing.T, got store.TokenCheck) {
			if got.Token.RevokedAt.IsZero() {
				t.Error("revocation not seen")
			}
		}},
		{"RenewAccessToken", func(ctx context.Context, f *fixture, tok store.AccessToken) error {
			_, err := f.cache.RenewAccessToken(ctx, tok.ID, t0.Add(time.Minute), t0.Add(2*time.Hour))
			return err
		}, func(t *testing.T, got store.TokenCheck) {
			if !got.Token.ExpiresAt.Equal(t0.Add(2 * time.Hour)) {
				t.Errorf("renewal not seen: expires %v", got.Token.ExpiresAt)
			}
		}},
		{"UpdateAuthMethod", func(ctx context.Context, f *fixture, tok store.AccessToken) error {
			_, err := f.cache.UpdateAuthMethod(ctx, f.method.ID, func(m *store.AuthMethod) error {
				m.TokenPolicy.TrustedIPs = []string{"10.0.0.0/8"}
				return nil
			})
			return err
		}, func(t *testing.T, got store.TokenCheck) {
			if len(got.TrustedIPs) != 1 || got.TrustedIPs[0] != "10.0.0.0/8" {
				t.Errorf("trusted IPs change not seen: %v", got.TrustedIPs)
			}
		}},
		{"UpdateIdentity", func(ctx context.Context, f *fixture, tok store.AccessToken) error {
			_, err := f.cache.UpdateIdentity(ctx, f.ident.ID, func(id *store.Identity) error {
				id.Role = store.RoleNoAccess
				return nil
			})
			return err
		}, func(t *testing.T, got store.TokenCheck) {
			if got.IdentityRole != store.RoleNoAccess {
				t.Errorf("role change not seen: %q", got.IdentityRole)
			}
		}},
		{"DeleteAuthMethod", func(ctx context.Context, f *fixture, tok store.AccessToken) error {
			return f.cache.DeleteAuthMethod(ctx, f.method.ID, t0.Add(time.Minute))
		}, func(t *testing.T, got store.TokenCheck) {
			if got.AuthMethodFound || got.Token.RevokedAt.IsZero() {
				t.Error("method deletion not seen")
			}
		}},
		{"DeleteIdentity", func(ctx context.Context, f *fixture, tok store.AccessToken) error {
			return f.cache.DeleteIdentity(ctx, f.ident.ID, t0.Add(time.Minute))
		}, func(t *testing.T, got store.TokenCheck) {
			if got.IdentityRole != "" || got.Token.RevokedAt.IsZero() {
				t.Error("identity deletion not seen")
			}
		}},
		{"DeleteMount", func(ctx context.Context, f *fixture, tok store.AccessToken) error {
			// The fixture's identity and method become a mount's role.
			m := store.Mount{Path: "k8s", Type: "kubernetes", Accessor: "auth_kubernetes_1", CreatedAt: t0, UpdatedAt: t0}
			if err := f.cache.CreateMount(ctx, m); err != nil {
				return err
			}
			role := store.Identity{ID: "55555555-5555-4555-8555-555555555555", Name: "role", Role: store.RoleNoAccess, CreatedAt: t0, UpdatedAt: t0}
			rm := store.AuthMethod{ID: "66666666-6666-4666-8666-666666666666", IdentityID: role.ID, Type: store.AuthMethodVaultKubernetes,
				LookupKey: "k8s/web", MountPath: "k8s", Config: json.RawMessage(`{}`), TokenPolicy: store.TokenPolicy{TrustedIPs: []string{"0.0.0.0/0"}}, CreatedAt: t0, UpdatedAt: t0}
			if err := f.cache.CreateIdentityWithAuthMethod(ctx, role, rm); err != nil {
				return err
			}
			roleTok := store.AccessToken{ID: "77777777-7777-4777-8777-777777777777", Hash: hash("role-token"), IdentityID: role.ID, AuthMethodID: rm.ID,
				AuthMethodType: store.AuthMethodVaultKubernetes, CreatedAt: t0, LastRenewedAt: t0, TTL: 3600, ExpiresAt: t0.Add(time.Hour)}
			if err := f.cache.CreateAccessToken(ctx, roleTok); err != nil {
				return err
			}
			if _, err := f.cache.GetTokenCheck(ctx, roleTok.Hash); err != nil {
				return err
			}
			if err := f.cache.DeleteMount(ctx, "k8s", t0.Add(time.Minute)); err != nil {
				return err
			}
			got, err := f.cache.GetTokenCheck(ctx, roleTok.Hash)
			if err != nil {
				return err
			}
			if got.Token.RevokedAt.IsZero() {
				return errors.New("the mount role's token is still live after DeleteMount")
			}
			return nil
		}, func(t *testing.T, got store.TokenCheck) {}},
		{"RevokeClientSecret", func(ctx context.Context, f *fixture, tok store.AccessToken) error {
			_, err := f.cache.RevokeClientSecret(ctx, f.secret.ID, t0.Add(time.Minute))
			return err
		}, func(t *testing.T, got store.TokenCheck) {
			if got.Token.RevokedAt.IsZero() {
				t.Error("revocation with the client secret not seen")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tok := f.token(t, 0)
			f.check(t, tok)
			if _, read := f.check(t, tok); read {
				t.Fatal("not cached to begin with")
			}
			must(t, tc.write(t.Context(), f, tok))
			got, read := f.check(t, tok)
			if !read {
				t.Fatalf("check after %s answered from the cache", tc.name)
			}
			tc.check(t, got)
		})
	}
}

// TestPurgeInvalidates: a purged token is not found any more.
func TestPurgeInvalidates(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	tok := f.token(t, 0)
	f.check(t, tok)
	if _, err := f.cache.PurgeAccessTokens(ctx, t0.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.cache.GetTokenCheck(ctx, tok.Hash); err == nil {
		t.Error("purged token still found")
	}
}

// TestReadDuringWrite: a store read that began before a revocation and
// answers after it (with what it read before) is not kept.
func TestReadDuringWrite(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	tok := f.token(t, 0)
	f.inner.hold, f.inner.held = make(chan struct{}), make(chan struct{})
	done := make(chan store.TokenCheck)
	go func() {
		tc, err := f.cache.GetTokenCheck(ctx, tok.Hash)
		if err != nil {
			t.Error(err)
		}
		done <- tc
	}()
	<-f.inner.held // the read has its (live) answer, not yet returned
	if _, err := f.cache.RevokeAccessTokens(ctx, store.TokenFilter{ID: tok.ID}, t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	close(f.inner.hold)
	if got := <-done; !got.Token.RevokedAt.IsZero() {
		t.Fatal("the held read saw the revocation: the test did not test the race")
	}
	f.inner.hold = nil
	if f.cache.Len() != 0 {
		t.Fatal("the answer of a read older than the revocation was kept")
	}
	if got, _ := f.check(t, tok); got.Token.RevokedAt.IsZero() {
		t.Error("revocation not seen after the race")
	}
}

// TestBounded: the cache never holds more than its size, and making room
// drops the oldest answers kept, never one kept again since.
func TestBounded(t *testing.T) {
	inner := &counting{Store: openSQLite(t)}
	clk := &clock{t: t0}
	c := tokencache.New(inner, time.Second, 20, clk.Now)
	ctx := t.Context()
	toks := make([]store.AccessToken, 100)
	check := func(tok store.AccessToken) {
		t.Helper()
		if _, err := c.GetTokenCheck(ctx, tok.Hash); err != nil {
			t.Fatal(err)
		}
	}
	for i := range toks {
		id := string(rune('a'+i%26)) + string(rune('a'+i/26))
		toks[i] = store.AccessToken{ID: id, Hash: hash(id), AuthMethodType: store.AuthMethodRoot, CreatedAt: t0, LastRenewedAt: t0}
		must(t, c.CreateAccessToken(ctx, toks[i]))
		check(toks[i])
		if n := c.Len(); n > 20 {
			t.Fatalf("%d answers kept, size 20", n)
		}
	}
	// The last 20 are kept: checking them again reads nothing.
	before := inner.reads.Load()
	for _, tok := range toks[80:] {
		check(tok)
	}
	if n := inner.reads.Load() - before; n != 0 {
		t.Fatalf("%d of the 20 newest answers were not kept", n)
	}
	// An answer kept again after it expired leaves a stale record behind;
	// when that record's turn comes, the fresh answer must stay.
	if _, err := c.PurgeAccessTokens(ctx, t0.Add(-time.Hour)); err != nil { // empties the cache: start afresh
		t.Fatal(err)
	}
	for _, tok := range toks[:10] {
		check(tok)
	}
	clk.Advance(2 * time.Second) // all ten expired
	check(toks[0])               // kept again: 11 records, 10 entries
	for _, tok := range toks[20:30] {
		check(tok) // 21 records: the first (toks[0]'s stale one) makes room
	}
	before = inner.reads.Load()
	check(toks[0])
	if inner.reads.Load() != before {
		t.Error("the answer kept again was dropped in place of its stale record")
	}
	if n := c.Len(); n > 20 {
		t.Errorf("%d answers kept, size 20", n)
	}
}

// BenchmarkGetTokenCheck: a cached answer (hit) and a store read (miss,
// with a TTL too short to keep anything).
func BenchmarkGetTokenCheck(b *testing.B) {
	inner := openSQLite(b)
	ctx := b.Context()
	tok := store.AccessToken{ID: "t", Hash: hash("t"), AuthMethodType: store.AuthMethodRoot, CreatedAt: t0, LastRenewedAt: t0, Metadata: map[string]string{}}
	if err := inner.CreateAccessToken(ctx, tok); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name string
		now  func() time.Time
	}{
		{"hit", func() time.Time { return t0 }},
		{"miss", func() func() time.Time {
			var n atomic.Int64
			return func() time.Time { return t0.Add(time.Duration(n.Add(1)) * time.Hour) }
		}()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := tokencache.New(inner, time.Second, 0, bc.now)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.GetTokenCheck(ctx, tok.Hash); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGetTokenCheckFull: checks cycling through twice as many tokens
// as the cache holds, so every check is a store read whose answer must
// make room (the load benchmark's token-check-seeded in miniature).
func BenchmarkGetTokenCheckFull(b *testing.B) {
	inner := openSQLite(b)
	ctx := b.Context()
	const size = 1000
	hashes := make([][]byte, 2*size)
	for i := range hashes {
		id := "t" + strconv.Itoa(i)
		tok := store.AccessToken{ID: id, Hash: hash(id), AuthMethodType: store.AuthMethodRoot, CreatedAt: t0, LastRenewedAt: t0, Metadata: map[string]string{}}
		if err := inner.CreateAccessToken(ctx, tok); err != nil {
			b.Fatal(err)
		}
		hashes[i] = tok.Hash
	}
	c := tokencache.New(inner, time.Second, size, func() time.Time { return t0 })
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetTokenCheck(ctx, hashes[next.Add(1)%int64(len(hashes))]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// peers records the announcements of a shared cache.
type peers struct {
	mu   sync.Mutex
	sent [][]byte // nil entry: everything
}

func (p *peers) Announce(_ context.Context, h []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, h)
	return nil
}

func (p *peers) take() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.sent
	p.sent = nil
	return out
}

// TestShared: a cache shared with other processes keeps answers only while
// the feed of their announcements is up, applies their announcements, and
// announces its own writes: emptyings as everything, renewals as the one
// token; refused writes announce nothing.
func TestShared(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	p := &peers{}
	f.cache = tokencache.NewShared(f.inner, 500*time.Millisecond, 0, f.clock.Now, p)
	tok, other := f.token(t, 0), f.token(t, 0)

	for range 2 {
		if _, read := f.check(t, tok); !read {
			t.Fatal("a check was answered from the cache before the feed was up")
		}
	}
	f.cache.SetLive(true)
	f.check(t, tok)
	f.check(t, other)
	if _, read := f.check(t, tok); read {
		t.Fatal("a check read the store with the feed up")
	}

	// Another process's announcements.
	f.cache.Forget(tok.Hash)
	if _, read := f.check(t, tok); !read {
		t.Error("the token another process announced was answered from the cache")
	}
	if _, read := f.check(t, other); read {
		t.Error("announcing one token dropped another")
	}
	f.cache.Forget(nil)
	if f.cache.Len() != 0 {
		t.Errorf("%d answers kept after an announcement of everything", f.cache.Len())
	}

	// This process's writes.
	f.check(t, tok)
	if _, err := f.cache.RenewAccessToken(ctx, tok.ID, t0, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if got := p.take(); len(got) != 1 || !bytes.Equal(got[0], tok.Hash) {
		t.Errorf("a renewal announced %x, want the one token", got)
	}
	if _, err := f.cache.UseAccessToken(ctx, "55555555-5555-4555-8555-555555555555", t0); err == nil {
		t.Fatal("use of an unknown token succeeded")
	}
	if got := p.take(); len(got) != 0 {
		t.Errorf("a refused use announced %x", got)
	}
	if _, err := f.cache.RevokeAccessTokens(ctx, store.TokenFilter{ID: other.ID}, t0); err != nil {
		t.Fatal(err)
	}
	if got := p.take(); len(got) != 1 || got[0] != nil {
		t.Errorf("a revocation announced %x, want everything", got)
	}

	// The feed goes down: nothing is kept, everything is read.
	f.check(t, tok)
	f.cache.SetLive(false)
	if f.cache.Len() != 0 {
		t.Errorf("%d answers kept with the feed down", f.cache.Len())
	}
	for range 2 {
		if _, read := f.check(t, tok); !read {
			t.Error("a check was answered from the cache with the feed down")
		}
	}
}

// TestLoginReads: a login's reads (the method by identity or by lookup
// key, the secret by hash) are kept like token checks: copies in and out,
// not after a change to the method, the identity or the secret, not for
// unknown keys or revoked secrets, and not past the TTL.
func TestLoginReads(t *testing.T) {
	ctx := t.Context()
	reads := []struct {
		name string
		read func(f *fixture) error
	}{
		{"by identity", func(f *fixture) error {
			_, err := f.cache.GetAuthMethodByIdentity(ctx, f.ident.ID, f.method.Type)
			return err
		}},
		{"by lookup key", func(f *fixture) error {
			_, err := f.cache.GetAuthMethodByLookupKey(ctx, f.method.Type, f.method.LookupKey)
			return err
		}},
		{"secret by hash", func(f *fixture) error {
			_, err := f.cache.GetClientSecretByHash(ctx, f.secret.Hash)
			return err
		}},
	}
	// storeRead reports whether read went to the store.
	storeRead := func(t *testing.T, f *fixture, read func(*fixture) error) bool {
		t.Helper()
		before := f.inner.loginReads.Load()
		must(t, read(f))
		return f.inner.loginReads.Load() != before
	}
	writes := []struct {
		name  string
		write func(f *fixture) error
	}{
		{"UpdateAuthMethod", func(f *fixture) error {
			_, err := f.cache.UpdateAuthMethod(ctx, f.method.ID, func(m *store.AuthMethod) error { m.UpdatedAt = t0.Add(time.Second); return nil })
			return err
		}},
		{"UpdateIdentity", func(f *fixture) error {
			_, err := f.cache.UpdateIdentity(ctx, f.ident.ID, func(i *store.Identity) error { i.Name = "renamed"; return nil })
			return err
		}},
		{"RevokeClientSecret", func(f *fixture) error {
			// A revoked secret is not kept: revoke a second one, so the
			// fixture's stays readable.
			other := store.ClientSecret{ID: "88888888-8888-4888-8888-888888888888", AuthMethodID: f.method.ID, Hash: hash("other"), CreatedAt: t0, UpdatedAt: t0}
			if err := f.cache.CreateClientSecret(ctx, other); err != nil {
				return err
			}
			_, err := f.cache.RevokeClientSecret(ctx, other.ID, t0)
			return err
		}},
	}
	for _, r := range reads {
		t.Run(r.name, func(t *testing.T) {
			f := newFixture(t)
			if !storeRead(t, f, r.read) {
				t.Fatal("the first read did not go to the store")
			}
			if storeRead(t, f, r.read) {
				t.Fatal("the second read went to the store")
			}
			for _, w := range writes {
				must(t, w.write(f))
				if !storeRead(t, f, r.read) {
					t.Errorf("the read after %s was answered from the cache", w.name)
				}
			}
			f.clock.Advance(500 * time.Millisecond)
			if !storeRead(t, f, r.read) {
				t.Error("the read at the TTL was answered from the cache")
			}
		})
	}

	f := newFixture(t)
	m, err := f.cache.GetAuthMethodByLookupKey(ctx, f.method.Type, f.method.LookupKey)
	must(t, err)
	m.Config[0], m.TokenPolicy.TrustedIPs[0] = 'X', "changed"
	m, err = f.cache.GetAuthMethodByLookupKey(ctx, f.method.Type, f.method.LookupKey)
	must(t, err)
	if string(m.Config) != "{}" || m.TokenPolicy.TrustedIPs[0] != "0.0.0.0/0" {
		t.Errorf("a caller changed the kept method: %s %v", m.Config, m.TokenPolicy.TrustedIPs)
	}
	before := f.inner.loginReads.Load()
	for range 2 {
		if _, err := f.cache.GetAuthMethodByLookupKey(ctx, f.method.Type, "unknown"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown lookup key: %v", err)
		}
	}
	if f.inner.loginReads.Load() != before+2 {
		t.Error("an unknown lookup key was answered from the cache")
	}
	_, err = f.cache.RevokeClientSecret(ctx, f.secret.ID, t0)
	must(t, err)
	before = f.inner.loginReads.Load()
	for range 2 {
		cs, err := f.cache.GetClientSecretByHash(ctx, f.secret.Hash)
		must(t, err)
		if cs.RevokedAt.IsZero() {
			t.Error("the revocation of the secret is not seen")
		}
	}
	if f.inner.loginReads.Load() != before+2 {
		t.Error("a revoked secret was answered from the cache")
	}
}
