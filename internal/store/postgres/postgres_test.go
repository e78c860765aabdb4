package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres"
	"github.com/gatehouse-dev/gatehouse/internal/store/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.RunMain(m) }

// open returns a Store on a fresh database, closed when t ends.
func open(t testing.TB) *postgres.Store {
	t.Helper()
	return openURL(t, pgtest.URL(t))
}

// openURL opens a Store with a small pool: tests run in parallel, each
// with its own pool, against one server.
func openURL(t testing.TB, rawURL string) *postgres.Store {
	t.Helper()
	u, err := url.Parse(rawURL)
	mustNil(t, err)
	q := u.Query()
	q.Set("pool_max_conns", "4")
	u.RawQuery = q.Encode()
	s, err := postgres.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func hash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

// TestReplicas opens two Stores (two pools, like two server replicas) on
// one database at the same moment, then spends a token limited to 10 uses
// with 200 concurrent calls spread over both.
func TestReplicas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := pgtest.URL(t)

	var replicas [2]*postgres.Store
	var wg sync.WaitGroup
	errs := make([]error, len(replicas))
	for i := range replicas {
		wg.Go(func() {
			replicas[i], errs[i] = postgres.Open(ctx, dbURL)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: Open: %v", i, err)
		}
		t.Cleanup(func() { replicas[i].Close() })
	}

	tok := store.AccessToken{
		ID: "tok", Hash: hash("tok"), IdentityID: "id", AuthMethodID: "am",
		AuthMethodType: store.AuthMethodUniversal, CreatedAt: t0, LastRenewedAt: t0,
		ExpiresAt: t0.Add(time.Hour), NumUsesLimit: 10,
	}
	mustNil(t, replicas[0].CreateAccessToken(ctx, tok))

	var ok, limited, other atomic.Int64
	for i := range 200 {
		wg.Go(func() {
			_, err := replicas[i%2].UseAccessToken(ctx, tok.ID, t0.Add(time.Duration(i)*time.Second))
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, store.ErrLimitReached):
				limited.Add(1)
			default:
				other.Add(1)
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 10 || limited.Load() != 190 || other.Load() != 0 {
		t.Errorf("successes %d, limit reached %d, other errors %d; want 10, 190, 0", ok.Load(), limited.Load(), other.Load())
	}
	got, err := replicas[1].GetAccessToken(ctx, tok.ID)
	mustNil(t, err)
	if got.NumUses != 10 {
		t.Errorf("NumUses = %d, want 10", got.NumUses)
	}
}

// TestReopen: Open on a migrated database applies nothing and records each
// migration once.
func TestReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := pgtest.URL(t)
	a := openURL(t, dbURL)
	mustNil(t, a.CreateIdentity(ctx, store.Identity{ID: "i1", Name: "one", Role: store.RoleMember}))
	b := openURL(t, dbURL)
	if _, err := b.GetIdentity(ctx, "i1"); err != nil {
		t.Fatalf("data lost on reopen: %v", err)
	}
	versions, err := postgres.AppliedMigrations(ctx, b)
	mustNil(t, err)
	if len(versions) != len(postgres.MigrationVersions()) {
		t.Errorf("schema_migrations holds %v, want %v", versions, postgres.MigrationVersions())
	}
}

// TestMigrationsOnlyAdd keeps migrations safe for a replica still running
// the previous release.
func TestMigrationsOnlyAdd(t *testing.T) {
	for name, sql := range postgres.MigrationSQL() {
		upper := strings.ToUpper(sql)
		for _, bad := range []string{"DROP TABLE", "DROP COLUMN", "TRUNCATE", "DELETE FROM", "RENAME "} {
			if strings.Contains(upper, bad) {
				t.Errorf("%s contains %q: migrations must not destroy or rename", name, bad)
			}
		}
	}
}

// TestConcurrentUpdates: updaters on one row, from two pools, never lose a
// change.
func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dbURL := pgtest.URL(t)
	a, b := openURL(t, dbURL), openURL(t, dbURL)
	mustNil(t, a.CreateIdentity(ctx, store.Identity{ID: "i1", Name: "n", Role: store.RoleMember, CreatedAt: t0}))
	mustNil(t, a.CreateAuthMethod(ctx, store.AuthMethod{ID: "am1", IdentityID: "i1", Type: store.AuthMethodUniversal}))

	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		s := []*postgres.Store{a, b}[i%2]
		wg.Go(func() {
			_, err := s.UpdateIdentity(ctx, "i1", func(id *store.Identity) error {
				id.Metadata = append(id.Metadata, store.MetadataEntry{Key: fmt.Sprint(i), Value: "v"})
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			_, err = s.UpdateAuthMethod(ctx, "am1", func(m *store.AuthMethod) error {
				m.TokenPolicy.TTL++
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	id, err := a.GetIdentity(ctx, "i1")
	mustNil(t, err)
	if len(id.Metadata) != n {
		t.Errorf("%d metadata entries, want %d", len(id.Metadata), n)
	}
	m, err := b.GetAuthMethod(ctx, "am1")
	mustNil(t, err)
	if m.TokenPolicy.TTL != n {
		t.Errorf("TTL = %d, want %d", m.TokenPolicy.TTL, n)
	}
}

// TestSmoke walks the main paths once; the conformance suite covers them
// in depth.
func TestSmoke(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)

	mustNil(t, s.Ping(ctx))
	_, err := s.GetMeta(ctx, "k")
	wantErr(t, err, store.ErrNotFound)
	won, err := s.PutMetaIfAbsent(ctx, "k", "v1")
	mustNil(t, err)
	again, err := s.PutMetaIfAbsent(ctx, "k", "v2")
	mustNil(t, err)
	v, err := s.GetMeta(ctx, "k")
	mustNil(t, err)
	if !won || again || v != "v1" {
		t.Errorf("PutMetaIfAbsent: %v %v %q", won, again, v)
	}

	local := time.FixedZone("x", 3600)
	ident := store.Identity{ID: "i1", Name: "one", Role: store.RoleAdmin,
		CreatedAt: t0.Add(1234567 * time.Nanosecond).In(local)}
	mustNil(t, s.CreateIdentity(ctx, ident))
	wantErr(t, s.CreateIdentity(ctx, ident), store.ErrAlreadyExists)
	got, err := s.GetIdentity(ctx, "i1")
	mustNil(t, err)
	if want := t0.Add(1234 * time.Microsecond); got.CreatedAt != want || !got.UpdatedAt.IsZero() || got.Metadata == nil {
		t.Errorf("identity read back as %+v; want CreatedAt %v UTC, zero UpdatedAt, empty Metadata", got, want)
	}
	mustNil(t, s.CreateIdentity(ctx, store.Identity{ID: "i2", Name: "two", Role: store.RoleMember, CreatedAt: t0}))
	list, total, err := s.ListIdentities(ctx, 1, 10)
	mustNil(t, err)
	if total != 2 || len(list) != 1 || list[0].ID != "i1" {
		t.Errorf("ListIdentities(1, 10) = %v, %d", list, total)
	}
	list, total, err = s.ListIdentities(ctx, 5, 10)
	mustNil(t, err)
	if total != 2 || len(list) != 0 {
		t.Errorf("ListIdentities(5, 10) = %v, %d", list, total)
	}

	errStop := errors.New("stop")
	_, err = s.UpdateIdentity(ctx, "i1", func(*store.Identity) error { return errStop })
	if err != errStop {
		t.Errorf("updater error came back as %v", err)
	}
	_, err = s.UpdateIdentity(ctx, "nope", func(*store.Identity) error { return nil })
	wantErr(t, err, store.ErrNotFound)

	cfg := json.RawMessage(`{"b":1,  "a":[2]}`)
	am := store.AuthMethod{ID: "am1", IdentityID: "i1", Type: store.AuthMethodUniversal, LookupKey: "client-1",
		Config: cfg, TokenPolicy: store.TokenPolicy{TTL: 60, TrustedIPs: []string{"10.0.0.0/8"}}}
	mustNil(t, s.CreateAuthMethod(ctx, am))
	wantErr(t, s.CreateAuthMethod(ctx, store.AuthMethod{ID: "am2", IdentityID: "i1", Type: store.AuthMethodUniversal}), store.ErrAlreadyExists)
	wantErr(t, s.CreateAuthMethod(ctx, store.AuthMethod{ID: "am2", IdentityID: "i2", Type: store.AuthMethodUniversal, LookupKey: "client-1"}), store.ErrAlreadyExists)
	wantErr(t, s.CreateAuthMethod(ctx, store.AuthMethod{ID: "am2", IdentityID: "nope", Type: store.AuthMethodUniversal}), store.ErrNotFound)
	mustNil(t, s.CreateAuthMethod(ctx, store.AuthMethod{ID: "am2", IdentityID: "i2", Type: store.AuthMethodUniversal}))
	mustNil(t, s.CreateAuthMethod(ctx, store.AuthMethod{ID: "am3", IdentityID: "i1", Type: store.AuthMethodKubernetes}))
	gotAM, err := s.GetAuthMethodByLookupKey(ctx, store.AuthMethodUniversal, "client-1")
	mustNil(t, err)
	if string(gotAM.Config) != string(cfg) || gotAM.TokenPolicy.TrustedIPs[0] != "10.0.0.0/8" {
		t.Errorf("auth method read back as %+v", gotAM)
	}
	_, err = s.GetAuthMethodByLookupKey(ctx, store.AuthMethodUniversal, "")
	wantErr(t, err, store.ErrNotFound)
	ams, err := s.ListAuthMethods(ctx, "i1")
	mustNil(t, err)
	if len(ams) != 2 || ams[0].Type != store.AuthMethodKubernetes || ams[1].TokenPolicy.TrustedIPs == nil {
		t.Errorf("ListAuthMethods = %+v", ams)
	}
	_, err = s.UpdateAuthMethod(ctx, "am2", func(m *store.AuthMethod) error { m.LookupKey = "client-1"; return nil })
	wantErr(t, err, store.ErrAlreadyExists)

	cs := store.ClientSecret{ID: "cs1", AuthMethodID: "am1", Hash: hash("secret"), NumUsesLimit: 1, CreatedAt: t0}
	mustNil(t, s.CreateClientSecret(ctx, cs))
	wantErr(t, s.CreateClientSecret(ctx, store.ClientSecret{ID: "cs2", AuthMethodID: "am1", Hash: hash("secret")}), store.ErrAlreadyExists)
	wantErr(t, s.CreateClientSecret(ctx, store.ClientSecret{ID: "cs2", AuthMethodID: "nope", Hash: hash("x")}), store.ErrNotFound)
	login := func(id, secretID string) error {
		return s.IssueAccessToken(ctx, store.TokenIssue{ClientSecretID: secretID,
			Token: store.AccessToken{ID: id, Hash: hash(id), IdentityID: "i1", AuthMethodID: "am1",
				AuthMethodType: store.AuthMethodUniversal, ClientSecretID: secretID, CreatedAt: t0},
			Event: store.AuditEvent{ID: "event-" + id, Time: t0, Type: "login", Success: true}})
	}
	mustNil(t, login("login-1", "cs1"))
	used, err := s.GetClientSecret(ctx, "cs1")
	mustNil(t, err)
	if used.NumUses != 1 {
		t.Errorf("NumUses = %d", used.NumUses)
	}
	wantErr(t, login("login-2", "cs1"), store.ErrLimitReached)
	wantErr(t, login("login-3", "nope"), store.ErrNotFound)

	tok := store.AccessToken{ID: "t1", Hash: hash("t1"), IdentityID: "i1", AuthMethodID: "am1",
		AuthMethodType: store.AuthMethodUniversal, ClientSecretID: "cs1", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	mustNil(t, s.CreateAccessToken(ctx, tok))
	root := store.AccessToken{ID: "root", Hash: hash("root"), AuthMethodType: store.AuthMethodRoot, CreatedAt: t0}
	mustNil(t, s.CreateAccessToken(ctx, root))
	wantErr(t, s.CreateAccessToken(ctx, store.AccessToken{ID: "t2", Hash: hash("t1")}), store.ErrAlreadyExists)
	gotTok, err := s.GetAccessTokenByHash(ctx, hash("t1"))
	mustNil(t, err)
	if gotTok.Metadata == nil || gotTok.ExpiresAt != t0.Add(time.Hour) {
		t.Errorf("token read back as %+v", gotTok)
	}
	if _, err := s.UseAccessToken(ctx, "t1", t0); err != nil {
		t.Fatal(err)
	}
	_, err = s.RevokeClientSecret(ctx, "cs1", t0)
	mustNil(t, err)
	_, err = s.UseAccessToken(ctx, "t1", t0)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.RenewAccessToken(ctx, "t1", t0, t0.Add(time.Hour))
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, login("login-4", "cs1"), store.ErrNotFound)

	_, err = s.RevokeAccessTokens(ctx, store.TokenFilter{}, t0)
	if err == nil {
		t.Error("RevokeAccessTokens with an empty filter succeeded")
	}

	mustNil(t, s.DeleteIdentity(ctx, "i1", t0))
	wantErr(t, s.DeleteIdentity(ctx, "i1", t0), store.ErrNotFound)
	_, err = s.GetAuthMethod(ctx, "am1")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetClientSecret(ctx, "cs1")
	wantErr(t, err, store.ErrNotFound)
	n, err := s.PurgeAccessTokens(ctx, t0.Add(time.Second))
	mustNil(t, err)
	if n != 2 { // t1 and login-1's token
		t.Errorf("purged %d tokens, want 2", n)
	}
	if _, err := s.GetAccessToken(ctx, "root"); err != nil {
		t.Errorf("root token purged: %v", err)
	}

	for i := range 3 {
		mustNil(t, s.AppendAuditEvent(ctx, store.AuditEvent{ID: fmt.Sprint("e", i), Time: t0, Type: "login"}))
	}
	events, total, err := s.ListAuditEvents(ctx, 0, 2)
	mustNil(t, err)
	if total != 4 || len(events) != 2 || events[0].ID != "e2" || events[0].Details == nil { // login-1's event and e0..e2
		t.Errorf("ListAuditEvents = %+v, %d", events, total)
	}
}

func benchToken(i int) store.AccessToken {
	id := fmt.Sprintf("tok-%d", i)
	return store.AccessToken{
		ID: id, Hash: hash(id), IdentityID: "identity", AuthMethodID: "method",
		AuthMethodType: store.AuthMethodKubernetes, CreatedAt: t0, LastRenewedAt: t0,
		TTL: 3600, ExpiresAt: t0.Add(time.Hour), Metadata: map[string]string{"k": "v"},
	}
}

func BenchmarkGetAccessTokenByHash(b *testing.B) {
	ctx := context.Background()
	s := open(b)
	const n = 1000
	for i := range n {
		mustNil(b, s.CreateAccessToken(ctx, benchToken(i)))
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.GetAccessTokenByHash(ctx, benchToken(i%n).Hash); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkUseAccessToken(b *testing.B) {
	ctx := context.Background()
	s := open(b)
	const n = 100
	for i := range n {
		mustNil(b, s.CreateAccessToken(ctx, benchToken(i)))
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.UseAccessToken(ctx, benchToken(int(next.Add(1))%n).ID, t0); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkCreateAccessToken(b *testing.B) {
	ctx := context.Background()
	s := open(b)
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.CreateAccessToken(ctx, benchToken(int(next.Add(1)))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
