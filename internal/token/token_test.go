package token_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// countingStore counts token lookups, to prove malformed tokens never
// reach the store.
type countingStore struct {
	store.Store
	lookups atomic.Int64
}

func (c *countingStore) GetTokenCheck(ctx context.Context, h []byte) (store.TokenCheck, error) {
	c.lookups.Add(1)
	return c.Store.GetTokenCheck(ctx, h)
}

var client = netip.MustParseAddr("10.1.2.3")

type fixture struct {
	store  *countingStore
	clock  *clock
	tokens *token.Service
	method store.AuthMethod
}

func newFixture(t testing.TB, maxAge time.Duration) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: &countingStore{Store: st}, clock: &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
	f.tokens = token.NewService(f.store, f.clock.Now, maxAge)
	now := f.clock.Now()
	ident := store.Identity{ID: "11111111-1111-4111-8111-111111111111", Name: "app", Role: store.RoleNoAccess, CreatedAt: now, UpdatedAt: now}
	if err := st.CreateIdentity(ctx, ident); err != nil {
		t.Fatal(err)
	}
	f.method = store.AuthMethod{
		ID: "22222222-2222-4222-8222-222222222222", IdentityID: ident.ID, Type: store.AuthMethodUniversal,
		Config: json.RawMessage(`{}`), TokenPolicy: store.TokenPolicy{TrustedIPs: []string{"0.0.0.0/0", "::/0"}},
		CreatedAt: now, UpdatedAt: now,
	}
	if err := st.CreateAuthMethod(ctx, f.method); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) issue(t testing.TB, p store.TokenPolicy) string {
	t.Helper()
	issued, err := f.tokens.Issue(context.Background(), token.IssueRequest{
		IdentityID: f.method.IdentityID, AuthMethodID: f.method.ID, AuthMethodType: f.method.Type, Policy: p,
	})
	if err != nil {
		t.Fatal(err)
	}
	return issued.Token.Reveal()
}

// wantErr checks err's code and kind (nil kind = don't care; code 0 and
// nil kind = success).
func wantErr(t *testing.T, err error, code errs.Code, kind error) {
	t.Helper()
	if kind == nil && code == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("want %v error, got success", kind)
	}
	e := errs.As(err)
	if e.Code != code || (kind != nil && !errors.Is(err, kind)) {
		t.Fatalf("got %v (code %v), want %v (code %v)", err, e.Code, kind, code)
	}
}

func TestLifetimes(t *testing.T) {
	ctx := context.Background()
	day := 24 * time.Hour
	cases := []struct {
		name       string
		policy     store.TokenPolicy
		maxAge     time.Duration
		wantExpiry time.Duration // after issue
	}{
		{"ttl and max ttl", store.TokenPolicy{TTL: 60, MaxTTL: 300}, 0, 60 * time.Second},
		{"ttl above max ttl is cut", store.TokenPolicy{TTL: 600, MaxTTL: 300}, 0, 300 * time.Second},
		{"ttl 0 means max ttl", store.TokenPolicy{TTL: 0, MaxTTL: 300}, 0, 300 * time.Second},
		{"max ttl 0 means ttl", store.TokenPolicy{TTL: 60, MaxTTL: 0}, 0, 60 * time.Second},
		{"both 0: hard cap", store.TokenPolicy{}, 2 * day, 2 * day},
		{"hard cap below ttl", store.TokenPolicy{TTL: 10 * 86400, MaxTTL: 20 * 86400}, 3 * day, 3 * day},
		{"periodic", store.TokenPolicy{Period: 120, TTL: 60, MaxTTL: 90}, 0, 120 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.maxAge)
			start := f.clock.Now()
			raw := f.issue(t, tc.policy)
			rec, err := f.tokens.Lookup(ctx, raw, client)
			wantErr(t, err, 0, nil)
			if got := rec.ExpiresAt.Sub(start); got != tc.wantExpiry {
				t.Fatalf("expires after %v, want %v", got, tc.wantExpiry)
			}
			if got := token.ExpiresIn(rec, start); got != int64(tc.wantExpiry/time.Second) {
				t.Errorf("ExpiresIn = %d", got)
			}
			f.clock.Advance(tc.wantExpiry - time.Second)
			_, err = f.tokens.Authenticate(ctx, raw, client)
			wantErr(t, err, 0, nil)
			f.clock.Advance(time.Second)
			_, err = f.tokens.Authenticate(ctx, raw, client)
			if err == nil {
				t.Fatal("token still valid at its expiry")
			}
			wantErr(t, err, errs.Unauthenticated, nil)
		})
	}
}

func TestRenewalShortenedAtAndRefusedAfterMaxTTL(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	start := f.clock.Now()
	raw := f.issue(t, store.TokenPolicy{TTL: 100, MaxTTL: 250})

	f.clock.Advance(90 * time.Second)
	rec, err := f.tokens.Renew(ctx, raw, client, 0)
	wantErr(t, err, 0, nil)
	if got := rec.ExpiresAt.Sub(start); got != 190*time.Second {
		t.Fatalf("after first renewal expires at +%v, want +190s", got)
	}
	if got := token.ExpiresIn(rec, f.clock.Now()); got != 100 {
		t.Errorf("expiresIn = %d, want 100", got)
	}

	f.clock.Advance(90 * time.Second) // +180
	rec, err = f.tokens.Renew(ctx, raw, client, 0)
	wantErr(t, err, 0, nil)
	if got := token.ExpiresIn(rec, f.clock.Now()); got != 70 {
		t.Errorf("renewal near max TTL: expiresIn = %d, want 70 (shortened at the max TTL)", got)
	}

	f.clock.Advance(70 * time.Second) // +250: max TTL reached
	_, err = f.tokens.Renew(ctx, raw, client, 0)
	wantErr(t, err, errs.Unauthenticated, token.ErrMaxTTLReached)
	_, err = f.tokens.Authenticate(ctx, raw, client)
	wantErr(t, err, errs.Unauthenticated, token.ErrMaxTTLReached)
}

func TestRenewAfterExpiryFails(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	raw := f.issue(t, store.TokenPolicy{TTL: 60, MaxTTL: 600})
	f.clock.Advance(61 * time.Second)
	_, err := f.tokens.Renew(ctx, raw, client, 0)
	wantErr(t, err, errs.Unauthenticated, token.ErrExpired)
}

func TestRenewIncrementCappedByMaxTTL(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	raw := f.issue(t, store.TokenPolicy{TTL: 60, MaxTTL: 600})
	rec, err := f.tokens.Renew(ctx, raw, client, 3600)
	wantErr(t, err, 0, nil)
	if got := token.ExpiresIn(rec, f.clock.Now()); got != 600 {
		t.Errorf("increment 3600 with max TTL 600: expiresIn = %d, want 600", got)
	}
}

func TestPeriodicTokensLiveWhileRenewed(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 48*time.Hour)
	raw := f.issue(t, store.TokenPolicy{Period: 86400})
	for i := 0; i < 6; i++ { // six days, beyond the 2-day hard cap
		f.clock.Advance(23 * time.Hour)
		rec, err := f.tokens.Renew(ctx, raw, client, 0)
		wantErr(t, err, 0, nil)
		if got := token.ExpiresIn(rec, f.clock.Now()); got != 86400 {
			t.Fatalf("renewal %d: expiresIn = %d, want one period", i, got)
		}
	}
	f.clock.Advance(24 * time.Hour) // missed a period
	_, err := f.tokens.Authenticate(ctx, raw, client)
	wantErr(t, err, errs.Unauthenticated, token.ErrExpired)
}

func TestUseLimit(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	raw := f.issue(t, store.TokenPolicy{NumUsesLimit: 3})
	for i := 0; i < 3; i++ {
		_, err := f.tokens.Authenticate(ctx, raw, client)
		wantErr(t, err, 0, nil)
		if i == 0 {
			// Renewal and lookup spend no use.
			_, err = f.tokens.Renew(ctx, raw, client, 0)
			wantErr(t, err, 0, nil)
			_, err = f.tokens.Lookup(ctx, raw, client)
			wantErr(t, err, 0, nil)
		}
	}
	_, err := f.tokens.Authenticate(ctx, raw, client)
	wantErr(t, err, errs.Unauthenticated, token.ErrUsesExhausted)
	_, err = f.tokens.Renew(ctx, raw, client, 0)
	wantErr(t, err, errs.Unauthenticated, token.ErrUsesExhausted)
}

func TestUseLimitUnderConcurrency(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	raw := f.issue(t, store.TokenPolicy{NumUsesLimit: 10})
	var ok, exhausted atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.tokens.Authenticate(ctx, raw, client)
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, token.ErrUsesExhausted):
				exhausted.Add(1)
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10 || exhausted.Load() != 190 {
		t.Fatalf("%d succeeded and %d were refused; want exactly 10 and 190", ok.Load(), exhausted.Load())
	}
}

func TestTrustedIPsFollowTheCurrentConfig(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	setIPs := func(ips ...string) {
		t.Helper()
		_, err := f.store.UpdateAuthMethod(ctx, f.method.ID, func(m *store.AuthMethod) error {
			m.TokenPolicy.TrustedIPs = ips
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	raw := f.issue(t, store.TokenPolicy{})
	setIPs("10.0.0.0/8", "2001:db8::/32", "192.168.7.7/32")
	cases := []struct {
		addr string
		ok   bool
	}{
		{"10.1.2.3", true},
		{"::ffff:10.9.9.9", true}, // IPv4-mapped matches its IPv4 form
		{"2001:db8::1", true},
		{"192.168.7.7", true},
		{"192.168.7.8", false},
		{"11.0.0.1", false},
		{"2001:db9::1", false},
	}
	for _, tc := range cases {
		_, err := f.tokens.Authenticate(ctx, raw, netip.MustParseAddr(tc.addr))
		if tc.ok {
			wantErr(t, err, 0, nil)
			continue
		}
		wantErr(t, err, errs.Forbidden, token.ErrIPDenied)
		if want := netip.MustParseAddr(tc.addr).Unmap().String(); !strings.Contains(err.Error(), want) {
			t.Errorf("denial for %s does not name the address: %v", tc.addr, err)
		}
		if strings.Contains(err.Error(), "10.0.0.0/8") {
			t.Errorf("denial reveals the allowlist: %v", err)
		}
	}
	// Tightening the list applies to tokens already issued.
	setIPs("10.1.0.0/16")
	_, err := f.tokens.Authenticate(ctx, raw, netip.MustParseAddr("10.2.0.1"))
	wantErr(t, err, errs.Forbidden, token.ErrIPDenied)
}

func TestRejectedTokens(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	good := f.issue(t, store.TokenPolicy{})
	revokedTok := f.issue(t, store.TokenPolicy{})
	if _, err := f.tokens.RevokePresented(ctx, revokedTok, client); err != nil {
		t.Fatal(err)
	}
	unknown, _ := secret.Generate(secret.KindAccessToken)
	flipped := []byte(good)
	if flipped[10] == 'a' {
		flipped[10] = 'b'
	} else {
		flipped[10] = 'a'
	}
	cases := []struct {
		name, raw    string
		kind         error
		touchesStore bool
	}{
		{"empty", "", token.ErrMalformed, false},
		{"garbage", "hello", token.ErrMalformed, false},
		{"jwt", "eyJhbGciOiJIUzI1NiJ9.e30.sig", token.ErrMalformed, false},
		{"bad checksum", string(flipped), token.ErrMalformed, false},
		{"client secret kind", mustSecret(t, secret.KindClientSecret), token.ErrMalformed, false},
		{"unknown", unknown.Reveal(), token.ErrInvalid, true},
		{"revoked", revokedTok, token.ErrRevoked, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.store.lookups.Load()
			_, err := f.tokens.Authenticate(ctx, tc.raw, client)
			wantErr(t, err, errs.Unauthenticated, tc.kind)
			if touched := f.store.lookups.Load() != before; touched != tc.touchesStore {
				t.Errorf("store touched = %v, want %v", touched, tc.touchesStore)
			}
		})
	}
}

func mustSecret(t *testing.T, k secret.Kind) string {
	s, err := secret.Generate(k)
	if err != nil {
		t.Fatal(err)
	}
	return s.Reveal()
}

func TestRevokeScopes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	a := f.issue(t, store.TokenPolicy{})
	b := f.issue(t, store.TokenPolicy{})
	n, err := f.store.RevokeAccessTokens(ctx, store.TokenFilter{AuthMethodID: f.method.ID}, time.Now())
	if err != nil || n != 2 {
		t.Fatalf("revoked %d, %v; want 2", n, err)
	}
	for _, raw := range []string{a, b} {
		_, err := f.tokens.Authenticate(ctx, raw, client)
		wantErr(t, err, errs.Unauthenticated, token.ErrRevoked)
	}
}

func TestPurge(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	f.issue(t, store.TokenPolicy{TTL: 60})
	live := f.issue(t, store.TokenPolicy{TTL: 7200})
	f.clock.Advance(2 * time.Hour)
	n, err := f.tokens.Purge(ctx, time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	if _, err := f.tokens.Lookup(ctx, live, client); err == nil {
		t.Fatal("token at its expiry still valid")
	}
}

func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		if _, err := secret.Generate(secret.KindAccessToken); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	f := newFixture(b, 0)
	for b.Loop() {
		f.issue(b, store.TokenPolicy{TTL: 3600})
	}
}

// BenchmarkAuthenticate is the full check path: parse → lookup → limits
// → trusted IPs.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name   string
		policy store.TokenPolicy
	}{
		{"unlimited", store.TokenPolicy{}},
		{"use-limited", store.TokenPolicy{NumUsesLimit: 1 << 40}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, 0)
			raw := f.issue(b, bc.policy)
			for b.Loop() {
				if _, err := f.tokens.Authenticate(ctx, raw, client); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Authenticate returns the identity's current role, read with the token;
// a root token has no identity.
func TestAuthenticateIdentityRole(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, 0)
	raw := f.issue(t, store.TokenPolicy{NumUsesLimit: 10})
	for _, role := range []store.Role{store.RoleNoAccess, store.RoleAdmin} {
		_, err := f.store.UpdateIdentity(ctx, f.method.IdentityID, func(id *store.Identity) error {
			id.Role = role
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		c, err := f.tokens.Authenticate(ctx, raw, client)
		if err != nil {
			t.Fatal(err)
		}
		if c.IdentityRole != role || c.Record.IdentityID != f.method.IdentityID {
			t.Errorf("got role %q of %q, want %q of %q", c.IdentityRole, c.Record.IdentityID, role, f.method.IdentityID)
		}
	}
	root, err := f.tokens.IssueRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.tokens.Authenticate(ctx, root.Token.Reveal(), client)
	if err != nil || c.IdentityRole != "" {
		t.Errorf("root token: role %q, err %v; want no role", c.IdentityRole, err)
	}
}

// failingIssue refuses every IssueAccessToken.
type failingIssue struct{ store.Store }

func (failingIssue) IssueAccessToken(context.Context, store.TokenIssue) error {
	return errors.New("disk full")
}

// TestIssueLeavesTheCallersEvent: Issue writes the login's event as a
// success naming the token, on a copy: when storing fails, the caller's
// event (which it then records as a failure) names no token.
func TestIssueLeavesTheCallersEvent(t *testing.T) {
	f := newFixture(t, 0)
	ev := &store.AuditEvent{Type: "login", Details: map[string]string{"clientId": "c"}}
	svc := token.NewService(failingIssue{f.store}, f.clock.Now, 0)
	if _, err := svc.Issue(t.Context(), token.IssueRequest{IdentityID: f.method.IdentityID, AuthMethodID: f.method.ID,
		AuthMethodType: f.method.Type, Event: ev}); err == nil {
		t.Fatal("Issue succeeded on a store that refuses it")
	}
	if _, ok := ev.Details["accessor"]; ok || ev.Success || len(ev.Details) != 1 {
		t.Errorf("the caller's event was changed: %+v", ev)
	}
}
