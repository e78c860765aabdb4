package server_test

import (
	"context"
	"net/netip"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/server"
)

func (ts *testServer) introspect(caller, tok string) result {
	ts.t.Helper()
	r, h := ts.postForm("/oauth2/introspect", caller, url.Values{"token": {tok}})
	if r.status == 200 && h.Get("Cache-Control") != "no-store" {
		ts.t.Errorf("introspection Cache-Control %q", h.Get("Cache-Control"))
	}
	return r
}

// inactive fails unless r is exactly {"active": false}.
func inactive(t *testing.T, what string, r result) {
	t.Helper()
	if r.status != 200 || len(r.body) != 1 || r.body["active"] != false {
		t.Errorf("%s: %d %s, want exactly {\"active\":false}", what, r.status, r.raw)
	}
}

// TestIntrospection: RFC 7662 answers, field by field, for an access token
// and an exchanged JWT; inactive for anything invalid, revoked, expired or
// unknown; introspecting spends none of the token's uses; only member and
// admin identities may introspect.
func TestIntrospection(t *testing.T) {
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	ts := newIssuerServer(t, server.Config{Now: clock.Now})
	issuer := ts.srv.OIDC().Issuer()
	_, rs := ts.uaToken("member") // the resource server
	id, tok := ts.uaLoginWith("app", map[string]any{"accessTokenNumUsesLimit": 3, "accessTokenTTL": 600})
	ts.setAudiences(id, "sts.amazonaws.com", "https://api.example.com")

	// An access token, many times: none of its 3 uses is spent.
	var r result
	for range 5 {
		r = ts.introspect(rs, tok)
	}
	b := r.body
	if r.status != 200 || b["active"] != true || b["sub"] != id || b["token_type"] != "Bearer" || b["iss"] != issuer ||
		b["gatehouse.dev/auth_method"] != "universal-auth" ||
		b["client_id"] == nil || b["iat"] != float64(clock.Now().Unix()) || b["exp"] != float64(clock.Now().Add(600*time.Second).Unix()) ||
		b["aud"] != nil || b["jti"] != nil {
		t.Errorf("access token: %d %s", r.status, r.raw)
	}
	// An exchanged JWT (spending use 1 of 3).
	jwt := ts.exchange(tok, "sts.amazonaws.com", "https://api.example.com")
	r = ts.introspect(rs, jwt)
	b = r.body
	aud, _ := b["aud"].([]any)
	if r.status != 200 || b["active"] != true || b["sub"] != id || b["iss"] != issuer || len(aud) != 2 || aud[0] != "sts.amazonaws.com" ||
		b["exp"] != float64(clock.Now().Add(600*time.Second).Unix()) || b["iat"] != float64(clock.Now().Unix()) || b["jti"] == nil ||
		b["gatehouse.dev/identity_name"] != "app" {
		t.Errorf("JWT: %d %s", r.status, r.raw)
	}
	// Uses 2 and 3 are still there after all the introspections.
	ts.exchange(tok, "sts.amazonaws.com")
	ts.exchange(tok, "sts.amazonaws.com")
	inactive(t, "a used-up token", ts.introspect(rs, tok))

	inactive(t, "unknown", ts.introspect(rs, "gth_"+"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"))
	inactive(t, "garbage", ts.introspect(rs, "not a token"))
	inactive(t, "a JWT from another issuer", ts.introspect(rs, rogueJWT(t, "https://elsewhere.example", id, clock.Now())))
	inactive(t, "a JWT signed by an unpublished key", ts.introspect(rs, rogueJWT(t, issuer, id, clock.Now())))

	// Revoked: inactive at once. Expired: inactive.
	_, tok2 := ts.uaLoginWith("app2", map[string]any{"accessTokenTTL": 120})
	if r := ts.introspect(rs, tok2); r.body["active"] != true {
		t.Fatalf("live: %s", r.raw)
	}
	if _, err := ts.srv.Tokens().RevokePresented(context.Background(), tok2, netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	inactive(t, "revoked", ts.introspect(rs, tok2))
	clock.Advance(601 * time.Second)
	inactive(t, "an expired JWT", ts.introspect(rs, jwt))
	clock.Advance(-601 * time.Second)

	// Callers: no token 401, a no-access identity 403.
	r = ts.introspect("", jwt)
	if r.status != 401 || r.body["error"] != "invalid_token" {
		t.Errorf("no caller token: %d %s", r.status, r.raw)
	}
	_, noAccess := ts.uaToken("no-access")
	r = ts.introspect(noAccess, jwt)
	if r.status != 403 || r.body["error"] != "insufficient_scope" {
		t.Errorf("no-access caller: %d %s", r.status, r.raw)
	}
	r, _ = ts.postForm("/oauth2/introspect", rs, url.Values{"token": {jwt, jwt}})
	if r.status != 400 || r.body["error"] != "invalid_request" {
		t.Errorf("token twice: %d %s", r.status, r.raw)
	}
}
