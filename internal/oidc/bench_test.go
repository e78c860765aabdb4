package oidc_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

// world is a real service on a SQLite store: an identity with Universal
// Auth allowed sts.amazonaws.com, and an access token of it.
type world struct {
	svc   *oidc.Service
	tok   secret.Secret
	admin identity.Principal
}

func newWorld(tb testing.TB, alg string) world {
	tb.Helper()
	ctx := context.Background()
	st := openStore(tb)
	now := time.Now
	cfg := testConfig
	cfg.Algorithm = alg
	keys, err := oidc.NewKeys(ctx, st, newSealKey(tb), cfg, now, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tokens := token.NewService(st, now, 0)
	svc := oidc.NewService(keys, st, tokens, audit.New(st, now, nil), now)
	t0 := now()
	id := store.Identity{ID: uuid.NewString(), Name: "app", Role: store.RoleMember, CreatedAt: t0, UpdatedAt: t0}
	m := store.AuthMethod{ID: uuid.NewString(), IdentityID: id.ID, Type: store.AuthMethodUniversal, LookupKey: uuid.NewString(),
		Config: json.RawMessage(`{}`), TokenPolicy: store.TokenPolicy{TrustedIPs: []string{"0.0.0.0/0", "::/0"}}, CreatedAt: t0, UpdatedAt: t0}
	if err := st.CreateIdentity(ctx, id); err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateAuthMethod(ctx, m); err != nil {
		tb.Fatal(err)
	}
	if err := st.SetExchangeAudiences(ctx, id.ID, []string{"sts.amazonaws.com"}, t0); err != nil {
		tb.Fatal(err)
	}
	issued, err := tokens.Issue(ctx, token.IssueRequest{IdentityID: id.ID, AuthMethodID: m.ID, AuthMethodType: m.Type, Policy: m.TokenPolicy})
	if err != nil {
		tb.Fatal(err)
	}
	return world{svc: svc, tok: issued.Token, admin: identity.Principal{Root: true, Role: store.RoleAdmin}}
}

var client = netip.MustParseAddr("127.0.0.1")

// BenchmarkSign is the ceiling of an exchange: signing alone.
func BenchmarkSign(b *testing.B) {
	for _, alg := range []string{oidc.ES256, oidc.RS256} {
		b.Run(alg, func(b *testing.B) {
			c := newClock()
			keys := newKeys(b, openStore(b), newSealKey(b), c, oidc.Config{Algorithm: alg})
			payload := []byte(`{"iss":"https://issuer.test","sub":"4b8f0c8e-8f55-4f61-9d1b-7a0d2e0f3c11","aud":"sts.amazonaws.com","iat":1767000000,"nbf":1767000000,"exp":1767003600,"jti":"abcdefghijklmnopqrstuv"}`)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := keys.Sign(payload, c.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCeiling is the ceiling of token-exchange against
// baseline-nethttp: a net/http server whose handler answers at once (as
// the baseline's does), and one whose handler signs one ES256 JWT and
// answers it, each driven by 64 keep-alive clients in this process. The
// ratio of their ns/op is the best an exchange could do if it did nothing
// but sign.
func BenchmarkCeiling(b *testing.B) {
	c := newClock()
	keys := newKeys(b, openStore(b), newSealKey(b), c, oidc.Config{Algorithm: oidc.ES256})
	payload := []byte(`{"iss":"https://issuer.test","sub":"4b8f0c8e-8f55-4f61-9d1b-7a0d2e0f3c11","aud":"sts.amazonaws.com","iat":1767000000,"nbf":1767000000,"exp":1767003600,"jti":"abcdefghijklmnopqrstuv"}`)
	for _, sign := range []bool{false, true} {
		name := "nethttp"
		if sign {
			name = "nethttp+ES256"
		}
		b.Run(name, func(b *testing.B) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body := []byte("ok\n")
				if sign {
					jwt, _, err := keys.Sign(payload, c.Now())
					if err != nil {
						http.Error(w, err.Error(), http.StatusInternalServerError)
						return
					}
					body = []byte(jwt)
				}
				w.Write(body)
			}))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer client.CloseIdleConnections()
			b.SetParallelism(32)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := client.Get(srv.URL)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

// BenchmarkExchange is a whole exchange: token check, identity and
// allow-list reads, signing, the audit event.
func BenchmarkExchange(b *testing.B) {
	w := newWorld(b, oidc.ES256)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := w.svc.Exchange(ctx, oidc.ExchangeRequest{SubjectToken: w.tok, Audiences: []string{"sts.amazonaws.com"}, ClientIP: client}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExchangeParallel is exchanges from many goroutines at once, as
// a loaded server runs them: their audit events share the store's group
// commits.
func BenchmarkExchangeParallel(b *testing.B) {
	w := newWorld(b, oidc.ES256)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := w.svc.Exchange(ctx, oidc.ExchangeRequest{SubjectToken: w.tok, Audiences: []string{"sts.amazonaws.com"}, ClientIP: client}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkIntrospect(b *testing.B) {
	w := newWorld(b, oidc.ES256)
	ctx := context.Background()
	out, err := w.svc.Exchange(ctx, oidc.ExchangeRequest{SubjectToken: w.tok, Audiences: []string{"sts.amazonaws.com"}, ClientIP: client})
	if err != nil {
		b.Fatal(err)
	}
	for name, tok := range map[string]secret.Secret{"access-token": w.tok, "jwt": out.JWT} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				in, err := w.svc.Introspect(ctx, w.admin, tok)
				if err != nil || !in.Active {
					b.Fatalf("%v %v", in.Active, err)
				}
			}
		})
	}
}

// TestExchangeAndIntrospectDomain checks the benchmarks' world: an
// exchange's claims and the introspection of both kinds of token.
func TestExchangeAndIntrospectDomain(t *testing.T) {
	w := newWorld(t, oidc.RS256)
	ctx := context.Background()
	out, err := w.svc.Exchange(ctx, oidc.ExchangeRequest{SubjectToken: w.tok, Audiences: []string{"sts.amazonaws.com"}, Scope: "read", ClientIP: client})
	if err != nil {
		t.Fatal(err)
	}
	if out.Claims.Scope != "read" || out.ExpiresIn != 3600 || out.Claims.IdentityName != "app" {
		t.Errorf("claims %+v, expires in %d", out.Claims, out.ExpiresIn)
	}
	for _, tok := range []secret.Secret{w.tok, out.JWT, out.JWT} { // the JWT twice: verified, then cached
		in, err := w.svc.Introspect(ctx, w.admin, tok)
		if err != nil || !in.Active || in.Claims.Subject == "" {
			t.Errorf("introspect: %+v %v", in, err)
		}
	}
	if in, _ := w.svc.Introspect(ctx, w.admin, out.JWT); in.Claims.IdentityName != "app" || in.Claims.Scope != "read" {
		t.Errorf("cached JWT claims: %+v", in.Claims)
	}
	if _, err := w.svc.Introspect(ctx, identity.Principal{IdentityID: "x", Role: store.RoleNoAccess}, out.JWT); err == nil {
		t.Error("a no-access principal introspected")
	}
}
