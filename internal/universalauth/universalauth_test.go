package universalauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authmethod"
	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/sqlite"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/universalauth"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

var root = identity.Principal{Root: true, Role: store.RoleAdmin}

type fixture struct {
	tb    testing.TB
	store store.Store
	clock *clock
	svc   *universalauth.Service
	ids   *identity.Service
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "ua.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return newFixtureOn(tb, st)
}

// newFixtureOn is newFixture on a store of the caller's.
func newFixtureOn(tb testing.TB, st store.Store) *fixture {
	tb.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	log := audit.New(st, c.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &fixture{
		tb: tb, store: st, clock: c,
		svc: universalauth.NewService(st, token.NewService(st, c.Now, 0), log, c.Now),
		ids: identity.NewService(st, log, c.Now),
	}
}

// attach creates an identity with Universal Auth.
func (f *fixture) attach(in universalauth.Input) universalauth.Method {
	f.tb.Helper()
	v, err := f.ids.Create(context.Background(), root, identity.CreateInput{Name: "app", Role: store.RoleMember})
	if err != nil {
		f.tb.Fatal(err)
	}
	m, err := f.svc.Attach(context.Background(), root, v.ID, in)
	if err != nil {
		f.tb.Fatal(err)
	}
	return m
}

func (f *fixture) secret(m universalauth.Method, in universalauth.SecretInput) universalauth.CreatedSecret {
	f.tb.Helper()
	cs, err := f.svc.CreateClientSecret(context.Background(), root, m.IdentityID, in)
	if err != nil {
		f.tb.Fatal(err)
	}
	return cs
}

func (f *fixture) login(m universalauth.Method, sec secret.Secret, ip string) (token.Issued, error) {
	return f.svc.Login(context.Background(), universalauth.LoginInput{
		ClientID: m.ClientID, ClientSecret: sec, ClientIP: netip.MustParseAddr(ip)})
}

// lastEvent returns the newest audit event.
func (f *fixture) lastEvent() store.AuditEvent {
	f.tb.Helper()
	evs, _, err := f.store.ListAuditEvents(context.Background(), 0, 1)
	if err != nil || len(evs) != 1 {
		f.tb.Fatalf("audit log: %v %v", evs, err)
	}
	return evs[0]
}

// auditText is the whole audit log as JSON, to search for leaked secrets.
func (f *fixture) auditText() string {
	f.tb.Helper()
	evs, _, err := f.store.ListAuditEvents(context.Background(), 0, 0)
	if err != nil {
		f.tb.Fatal(err)
	}
	b, _ := json.Marshal(evs)
	return string(b)
}

func ptr[T any](v T) *T { return &v }

func ips(s ...string) *[]authmethod.TrustedIP {
	out := []authmethod.TrustedIP{}
	for _, v := range s {
		out = append(out, authmethod.TrustedIP{IPAddress: v})
	}
	return &out
}

// wantErr checks a domain error's code and, when msg is set, its message.
func wantErr(t *testing.T, err error, code errs.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %v", code)
	}
	if got := errs.CodeOf(err); got != code {
		t.Fatalf("error %v has code %v, want %v", err, got, code)
	}
	if msg != "" && !strings.Contains(errs.As(err).Message, msg) {
		t.Errorf("message %q, want it to contain %q", errs.As(err).Message, msg)
	}
}

func TestAttachDefaultsAndValidation(t *testing.T) {
	f := newFixture(t)
	m := f.attach(universalauth.Input{})
	want := universalauth.Method{
		ID: m.ID, ClientID: m.ClientID, IdentityID: m.IdentityID,
		ClientSecretTrustedIPs: []string{"0.0.0.0/0", "::/0"},
		TokenPolicy:            store.TokenPolicy{TTL: 2592000, MaxTTL: 2592000, TrustedIPs: []string{"0.0.0.0/0", "::/0"}},
		Lockout:                universalauth.LockoutSettings{Enabled: true, Threshold: 3, DurationSeconds: 300, CounterResetSeconds: 30},
		CreatedAt:              f.clock.Now(), UpdatedAt: f.clock.Now(),
	}
	if !jsonEqual(m, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", m, want)
	}
	if len(m.ClientID) != 36 || m.ClientID == m.ID {
		t.Errorf("client ID %q is not a fresh UUID", m.ClientID)
	}

	cases := []struct {
		name   string
		in     universalauth.Input
		code   errs.Code
		fields []string
	}{
		{"threshold 0", universalauth.Input{LockoutThreshold: ptr[int64](0)}, errs.Invalid, []string{"lockoutThreshold"}},
		{"threshold 31", universalauth.Input{LockoutThreshold: ptr[int64](31)}, errs.Invalid, []string{"lockoutThreshold"}},
		{"duration 29", universalauth.Input{LockoutDurationSeconds: ptr[int64](29)}, errs.Invalid, []string{"lockoutDurationSeconds"}},
		{"duration 86401", universalauth.Input{LockoutDurationSeconds: ptr[int64](86401)}, errs.Invalid, []string{"lockoutDurationSeconds"}},
		{"counter reset 4", universalauth.Input{LockoutCounterResetSeconds: ptr[int64](4)}, errs.Invalid, []string{"lockoutCounterResetSeconds"}},
		{"counter reset 3601", universalauth.Input{LockoutCounterResetSeconds: ptr[int64](3601)}, errs.Invalid, []string{"lockoutCounterResetSeconds"}},
		{"bad client secret IP", universalauth.Input{ClientSecretTrustedIPs: ips("10.0.0.0/8", "nope")}, errs.Invalid, []string{"clientSecretTrustedIps.1.ipAddress"}},
		{"empty client secret IPs", universalauth.Input{ClientSecretTrustedIPs: ips()}, errs.Invalid, []string{"clientSecretTrustedIps"}},
		{"every schema failure at once", universalauth.Input{
			Token:            authmethod.PolicyInput{TTL: ptr[int64](0), TrustedIPs: ips("300.0.0.1")},
			LockoutThreshold: ptr[int64](99), ClientSecretTrustedIPs: ips("x"),
		}, errs.Invalid, []string{"accessTokenTTL", "accessTokenTrustedIps.0.ipAddress", "clientSecretTrustedIps.0.ipAddress", "lockoutThreshold"}},
		{"TTL above max TTL", universalauth.Input{Token: authmethod.PolicyInput{TTL: ptr[int64](100), MaxTTL: ptr[int64](50)}}, errs.BadRequest, nil},
		{"schema failure wins over TTL rule", universalauth.Input{Token: authmethod.PolicyInput{TTL: ptr[int64](100), MaxTTL: ptr[int64](50)}, LockoutThreshold: ptr[int64](0)}, errs.Invalid, []string{"lockoutThreshold"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := f.ids.Create(context.Background(), root, identity.CreateInput{Name: "x"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.svc.Attach(context.Background(), root, v.ID, tc.in)
			wantErr(t, err, tc.code, "")
			var got []string
			for _, fe := range errs.As(err).Fields {
				got = append(got, fe.Path)
			}
			if strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Errorf("field paths %v, want %v", got, tc.fields)
			}
			if _, err := f.store.GetAuthMethodByIdentity(context.Background(), v.ID, store.AuthMethodUniversal); err == nil {
				t.Error("a method was stored by a failed attach")
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestLoginOutcomes tries each way a login can end. Each case comes from
// its own address, so that the failures do not add up to a lockout.
func TestLoginOutcomes(t *testing.T) {
	f := newFixture(t)
	m := f.attach(universalauth.Input{})
	other := f.attach(universalauth.Input{})
	fenced := f.attach(universalauth.Input{ClientSecretTrustedIPs: ips("10.9.0.0/16", "2001:db8::/32")})

	good := f.secret(m, universalauth.SecretInput{})
	revoked := f.secret(m, universalauth.SecretInput{})
	if _, err := f.svc.RevokeClientSecret(context.Background(), root, m.IdentityID, revoked.Record.ID); err != nil {
		t.Fatal(err)
	}
	expiring := f.secret(m, universalauth.SecretInput{TTL: ptr[int64](60)})
	once := f.secret(m, universalauth.SecretInput{NumUsesLimit: ptr[int64](1)})
	if _, err := f.login(m, once.Secret, "10.0.0.1"); err != nil {
		t.Fatalf("first use of a one-use secret: %v", err)
	}
	othersSecret := f.secret(other, universalauth.SecretInput{})
	fencedSecret := f.secret(fenced, universalauth.SecretInput{})
	neverStored, _ := secret.Generate(secret.KindClientSecret)
	damaged := []byte(good.Secret.Reveal()) // one character changed: the checksum fails
	damaged[10] ^= 'a' ^ 'b'
	if damaged[10] != 'a' && damaged[10] != 'b' {
		damaged[10] = 'a'
	}
	f.clock.Advance(60 * time.Second) // expiring is now expired

	cases := []struct {
		name     string
		method   universalauth.Method
		clientID string // overrides the method's
		secret   secret.Secret
		ip       string
		code     errs.Code // 0: success
		msg      string
		reason   string
	}{
		{"success", m, "", good.Secret, "10.0.1.1", 0, "", ""},
		{"secret with surrounding space", m, "", " " + good.Secret + "\n", "10.0.1.2", 0, "", ""},
		{"wrong secret", m, "", neverStored, "10.0.2.1", errs.Unauthenticated, "invalid credentials", "no client secret matches"},
		{"malformed secret", m, "", "hunter2", "10.0.2.2", errs.Unauthenticated, "invalid credentials", "malformed client secret"},
		{"damaged secret", m, "", secret.Secret(damaged), "10.0.2.3", errs.Unauthenticated, "invalid credentials", "malformed client secret"},
		{"revoked secret", m, "", revoked.Secret, "10.0.2.4", errs.Unauthenticated, "invalid credentials", "is revoked"},
		{"expired secret", m, "", expiring.Secret, "10.0.2.5", errs.Unauthenticated, "invalid credentials", "expired at"},
		{"exhausted secret", m, "", once.Secret, "10.0.2.6", errs.Unauthenticated, "invalid credentials", "has used all of its 1 uses"},
		{"another client's secret", m, "", othersSecret.Secret, "10.0.2.7", errs.Unauthenticated, "invalid credentials", "belongs to another client ID"},
		{"unknown client ID", m, "7b0c3a0e-7a44-4c55-9f3e-2b8f7f1c0d11", good.Secret, "10.0.2.8", errs.Unauthenticated, "invalid credentials", "unknown client ID"},
		{"empty client ID", m, " ", good.Secret, "10.0.2.9", errs.Unauthenticated, "invalid credentials", "unknown client ID"},
		{"untrusted address", fenced, "", fencedSecret.Secret, "192.0.2.1", errs.Forbidden, "192.0.2.1", "address 192.0.2.1 is not in clientSecretTrustedIps"},
		{"trusted address", fenced, "", fencedSecret.Secret, "10.9.3.4", 0, "", ""},
		{"trusted IPv6 address", fenced, "", fencedSecret.Secret, "2001:db8::5", 0, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := universalauth.LoginInput{ClientID: tc.method.ClientID, ClientSecret: tc.secret, ClientIP: netip.MustParseAddr(tc.ip)}
			if tc.clientID != "" {
				in.ClientID = tc.clientID
			}
			issued, err := f.svc.Login(context.Background(), in)
			ev := f.lastEvent()
			if ev.Type != audit.TypeLogin || ev.ClientIP != tc.ip || ev.AuthMethod != "universal-auth" {
				t.Errorf("audit event %+v", ev)
			}
			if tc.code == 0 {
				if err != nil {
					t.Fatalf("login: %v", err)
				}
				rec := issued.Record
				if rec.IdentityID != tc.method.IdentityID || rec.AuthMethodID != tc.method.ID || rec.ClientSecretID == "" ||
					rec.TTL != tc.method.TokenPolicy.TTL || !strings.HasPrefix(issued.Token.Reveal(), "gth_") {
					t.Errorf("issued %+v", rec)
				}
				if !ev.Success || ev.Details["accessor"] != rec.ID || ev.IdentityID != tc.method.IdentityID {
					t.Errorf("success audited as %+v", ev)
				}
				return
			}
			wantErr(t, err, tc.code, tc.msg)
			if tc.code == errs.Unauthenticated && errs.As(err).Message != "invalid credentials" {
				t.Errorf("401 message %q, want exactly \"invalid credentials\"", errs.As(err).Message)
			}
			if ev.Success || !strings.Contains(ev.Reason, tc.reason) {
				t.Errorf("audit reason %q, want it to contain %q", ev.Reason, tc.reason)
			}
		})
	}
	log := f.auditText()
	for _, s := range []secret.Secret{good.Secret, revoked.Secret, expiring.Secret, once.Secret, othersSecret.Secret, fencedSecret.Secret, neverStored} {
		if strings.Contains(log, s.Reveal()) || strings.Contains(log, s.Reveal()[5:20]) {
			t.Fatal("the audit log holds a client secret")
		}
	}
}

// TestLoginAuditNeverRecordsWhatIsNotAClientID: a secret pasted into the
// clientId field must not end up in the audit log.
func TestLoginAuditNeverRecordsWhatIsNotAClientID(t *testing.T) {
	f := newFixture(t)
	m := f.attach(universalauth.Input{})
	cs := f.secret(m, universalauth.SecretInput{})
	_, err := f.svc.Login(context.Background(), universalauth.LoginInput{ClientID: cs.Secret.Reveal(), ClientSecret: cs.Secret, ClientIP: netip.MustParseAddr("10.0.0.1")})
	wantErr(t, err, errs.Unauthenticated, "invalid credentials")
	if strings.Contains(f.auditText(), cs.Secret.Reveal()) {
		t.Fatal("the audit log holds the secret sent as a client ID")
	}
	if got := f.lastEvent().Details["clientId"]; got != "(not a UUID)" {
		t.Errorf("clientId recorded as %q", got)
	}
}

// TestLockout: lockoutThreshold failures within the window lock (client
// ID, address) for the duration; other addresses are unaffected; a
// success resets the counter; clearing and disabling work.
func TestLockout(t *testing.T) {
	f := newFixture(t)
	m := f.attach(universalauth.Input{LockoutThreshold: ptr[int64](3), LockoutDurationSeconds: ptr[int64](60), LockoutCounterResetSeconds: ptr[int64](10)})
	good := f.secret(m, universalauth.SecretInput{}).Secret
	wrong, _ := secret.Generate(secret.KindClientSecret)
	const a, b = "203.0.113.1", "203.0.113.2"
	ctx := context.Background()

	type step struct {
		name    string
		advance time.Duration
		ip      string
		sec     secret.Secret
		code    errs.Code // 0: success
		msg     string
	}
	run := func(t *testing.T, steps []step) {
		t.Helper()
		for _, st := range steps {
			f.clock.Advance(st.advance)
			_, err := f.login(m, st.sec, st.ip)
			if st.code == 0 {
				if err != nil {
					t.Fatalf("%s: %v", st.name, err)
				}
				continue
			}
			if err == nil || errs.CodeOf(err) != st.code || !strings.Contains(errs.As(err).Message, st.msg) {
				t.Fatalf("%s: got %v, want %v %q", st.name, err, st.code, st.msg)
			}
			if st.code == errs.TooManyRequests && !errors.Is(err, universalauth.ErrLockedOut) {
				t.Errorf("%s: %v is not ErrLockedOut", st.name, err)
			}
		}
	}
	t.Run("engages after the threshold and releases after the duration", func(t *testing.T) {
		run(t, []step{
			{"failure 1", 0, a, wrong, errs.Unauthenticated, "invalid credentials"},
			{"failure 2", time.Second, a, wrong, errs.Unauthenticated, "invalid credentials"},
			{"window passed: counting restarts", 10 * time.Second, a, wrong, errs.Unauthenticated, "invalid credentials"},
			{"failure 2 again", time.Second, a, wrong, errs.Unauthenticated, "invalid credentials"},
			{"failure 3 locks (still the generic answer)", time.Second, a, wrong, errs.Unauthenticated, "invalid credentials"},
			{"locked: the right secret is refused too", 0, a, good, errs.TooManyRequests, "try again in 60 seconds"},
			{"another address is not locked", 0, b, good, 0, ""},
			{"still locked one second before the end", 59 * time.Second, a, good, errs.TooManyRequests, "try again in 1 seconds"},
			{"released", time.Second, a, good, 0, ""},
		})
	})
	t.Run("a success resets the counter", func(t *testing.T) {
		f.clock.Advance(time.Hour)
		run(t, []step{
			{"failure 1", 0, a, wrong, errs.Unauthenticated, "invalid credentials"},
			{"failure 2", 0, a, wrong, errs.Unauthenticated, "invalid credentials"},
			{"success", 0, a, good, 0, ""},
			{"failure 1 after reset", 0, a, wrong, errs.Unauthenticated, "invalid credentials"},
			{"failure 2 after reset", 0, a, wrong, errs.Unauthenticated, "invalid credentials"},
			{"not locked", 0, a, good, 0, ""},
		})
	})
	t.Run("expired and used-up secrets do not count", func(t *testing.T) {
		f.clock.Advance(time.Hour)
		once := f.secret(m, universalauth.SecretInput{NumUsesLimit: ptr[int64](1)}).Secret
		short := f.secret(m, universalauth.SecretInput{TTL: ptr[int64](1)}).Secret
		run(t, []step{
			{"use the one use", 0, a, once, 0, ""},
			{"used up 1", time.Second, a, once, errs.Unauthenticated, "invalid credentials"},
			{"used up 2", 0, a, once, errs.Unauthenticated, "invalid credentials"},
			{"expired", 0, a, short, errs.Unauthenticated, "invalid credentials"},
			{"not locked", 0, a, good, 0, ""},
		})
	})
	t.Run("shown, cleared, disabled", func(t *testing.T) {
		f.clock.Advance(time.Hour)
		run(t, []step{
			{"failure 1", 0, a, wrong, errs.Unauthenticated, ""},
			{"failure 2", 0, a, wrong, errs.Unauthenticated, ""},
			{"failure 3", 0, a, wrong, errs.Unauthenticated, ""},
			{"locked", 0, a, good, errs.TooManyRequests, ""},
		})
		ls, err := f.svc.ActiveLockouts(ctx, root, m.IdentityID)
		if err != nil || len(ls) != 1 || ls[0].ClientIP != a || ls[0].FailedAttempts != 3 || !ls[0].LockedUntil.Equal(f.clock.Now().Add(time.Minute)) {
			t.Fatalf("ActiveLockouts = %+v, %v", ls, err)
		}
		n, err := f.svc.ClearLockouts(ctx, root, m.IdentityID)
		if err != nil || n != 1 {
			t.Fatalf("ClearLockouts = %d, %v; want 1", n, err)
		}
		run(t, []step{{"cleared", 0, a, good, 0, ""}})
		if ls, _ := f.svc.ActiveLockouts(ctx, root, m.IdentityID); len(ls) != 0 {
			t.Errorf("ActiveLockouts after clearing = %+v", ls)
		}

		if _, err := f.svc.Update(ctx, root, m.IdentityID, universalauth.Input{LockoutEnabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		var steps []step
		for i := range 10 {
			steps = append(steps, step{"failure " + string(rune('0'+i)), 0, a, wrong, errs.Unauthenticated, "invalid credentials"})
		}
		run(t, append(steps, step{"lockout disabled: never locked", 0, a, good, 0, ""}))
	})
}

// TestConcurrentLoginsOnALimitedSecret: 100 logins at once with a secret
// good for 5 uses issue exactly 5 tokens.
func TestConcurrentLoginsOnALimitedSecret(t *testing.T) {
	f := newFixture(t)
	m := f.attach(universalauth.Input{})
	cs := f.secret(m, universalauth.SecretInput{NumUsesLimit: ptr[int64](5)})
	const n = 100
	errsOf := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errsOf[i] = f.login(m, cs.Secret, "10.0.0.1")
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for _, err := range errsOf {
		switch {
		case err == nil:
			ok++
		case errs.CodeOf(err) != errs.Unauthenticated:
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 5 {
		t.Errorf("%d logins succeeded, want exactly 5", ok)
	}
	n5, err := f.store.RevokeAccessTokens(context.Background(), store.TokenFilter{ClientSecretID: cs.Record.ID}, f.clock.Now())
	if err != nil || n5 != 5 {
		t.Errorf("%d tokens minted with the secret (%v), want 5", n5, err)
	}
}

// BenchmarkUniversalAuthLogin measures one successful login on SQLite:
// client-ID lookup, trusted-IP check, lockout read, secret parse, hash
// lookup, use count, token issue and the audit event.
func BenchmarkUniversalAuthLogin(b *testing.B) {
	f := newFixture(b)
	m := f.attach(universalauth.Input{})
	cs := f.secret(m, universalauth.SecretInput{})
	in := universalauth.LoginInput{ClientID: m.ClientID, ClientSecret: cs.Secret, ClientIP: netip.MustParseAddr("10.0.0.1")}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.svc.Login(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
