package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// uaLoginWith creates an identity with Universal Auth configured by attach
// and logs it in; it returns the identity id and the access token.
func (ts *testServer) uaLoginWith(name string, attach map[string]any) (string, string) {
	ts.t.Helper()
	id := ts.createIdentity(name, "member")
	clientID := ts.attachUA(id, attach)["clientId"].(string)
	secret, _ := ts.createSecret(id, map[string]any{})
	r := ts.uaLogin(clientID, secret, nil)
	if r.status != 200 {
		ts.t.Fatalf("login: %d %s", r.status, r.raw)
	}
	return id, r.body["accessToken"].(string)
}

// exchangeRefusals counts the refused exchanges in the audit log.
func (ts *testServer) exchangeRefusals() int {
	ts.t.Helper()
	n := 0
	for _, e := range ts.auditEvents(ts.root) {
		if e["type"] == oidc.TypeTokenExchange && e["success"] == false {
			n++
		}
	}
	return n
}

// TestExchangeRefusals: bad requests and bad subject tokens get RFC 6749
// error codes, nothing is issued, and each refusal is audited.
func TestExchangeRefusals(t *testing.T) {
	clock := &testClock{t: time.Now().UTC()}
	ts := newIssuerServer(t, server.Config{Now: clock.Now})
	id, tok := ts.uaLoginWith("app", map[string]any{})
	ts.setAudiences(id, "sts.amazonaws.com")
	_, unlisted := ts.uaLoginWith("no-audiences", map[string]any{})
	revokedID, revoked := ts.uaLoginWith("revoked", map[string]any{})
	ts.setAudiences(revokedID, "sts.amazonaws.com")
	if _, err := ts.srv.Tokens().RevokePresented(context.Background(), revoked, netip.MustParseAddr("127.0.0.1")); err != nil {
		t.Fatal(err)
	}
	shortID, short := ts.uaLoginWith("short", map[string]any{"accessTokenTTL": 60})
	ts.setAudiences(shortID, "sts.amazonaws.com")
	onceID, once := ts.uaLoginWith("once", map[string]any{"accessTokenNumUsesLimit": 1})
	ts.setAudiences(onceID, "sts.amazonaws.com")
	ts.exchange(once, "sts.amazonaws.com") // the one use
	farID, far := ts.uaLoginWith("elsewhere", map[string]any{"accessTokenTrustedIps": []map[string]string{{"ipAddress": "10.0.0.0/8"}}})
	ts.setAudiences(farID, "sts.amazonaws.com")
	clock.Advance(61 * time.Second) // short has expired

	base := func(sub string) url.Values { return exchangeForm(sub, "sts.amazonaws.com") }
	with := func(f url.Values, k string, v ...string) url.Values { f[k] = v; return f }
	without := func(f url.Values, k string) url.Values { f.Del(k); return f }
	cases := []struct {
		name        string
		form        url.Values
		contentType string // default form
		query       string
		status      int
		code        string
	}{
		{"unknown grant type", with(base(tok), "grant_type", "client_credentials"), "", "", 400, "unsupported_grant_type"},
		{"no grant type", without(base(tok), "grant_type"), "", "", 400, "invalid_request"},
		{"grant type twice", with(base(tok), "grant_type", grantExchange, grantExchange), "", "", 400, "invalid_request"},
		{"no subject token", without(base(tok), "subject_token"), "", "", 400, "invalid_request"},
		{"subject token twice", with(base(tok), "subject_token", tok, tok), "", "", 400, "invalid_request"},
		{"no subject token type", without(base(tok), "subject_token_type"), "", "", 400, "invalid_request"},
		{"unknown subject token type", with(base(tok), "subject_token_type", "urn:ietf:params:oauth:token-type:saml2"), "", "", 400, "invalid_request"},
		{"no audience", without(base(tok), "audience"), "", "", 400, "invalid_request"},
		{"empty audience", with(base(tok), "audience", ""), "", "", 400, "invalid_request"},
		{"audience twice", with(base(tok), "audience", "sts.amazonaws.com", "sts.amazonaws.com"), "", "", 400, "invalid_request"},
		{"audience not allowed", with(base(tok), "audience", "https://evil.example"), "", "", 400, "invalid_target"},
		{"one of two audiences not allowed", with(base(tok), "audience", "sts.amazonaws.com", "https://evil.example"), "", "", 400, "invalid_target"},
		{"audience with a glob", with(base(tok), "audience", "sts.*"), "", "", 400, "invalid_target"},
		{"identity allows no audience", base(unlisted), "", "", 400, "invalid_target"},
		{"resource", with(base(tok), "resource", "https://x"), "", "", 400, "invalid_target"},
		{"requested access token", with(base(tok), "requested_token_type", oidc.TokenTypeAccessToken), "", "", 400, "invalid_request"},
		{"actor token", with(base(tok), "actor_token", tok), "", "", 400, "invalid_request"},
		{"identity id with an access token", with(base(tok), "gatehouse_identity_id", id), "", "", 400, "invalid_request"},
		{"JWT subject without identity id", with(base(tok), "subject_token_type", oidc.TokenTypeJWT), "", "", 400, "invalid_request"},
		{"JSON body", base(tok), "application/json", "", 400, "invalid_request"},
		{"parameters in the URL", base(tok), "", "subject_token=" + tok, 400, "invalid_request"},
		{"revoked subject", base(revoked), "", "", 400, "invalid_grant"},
		{"expired subject", base(short), "", "", 400, "invalid_grant"},
		{"used-up subject", base(once), "", "", 400, "invalid_grant"},
		{"subject from an address outside its trusted IPs", base(far), "", "", 400, "invalid_grant"},
		{"subject from another issuer", base(rogueJWT(t, "https://elsewhere.example", id, clock.Now())), "", "", 400, "invalid_grant"},
		{"unknown subject", base("gth_" + strings.Repeat("A", 43)), "", "", 400, "invalid_grant"},
		{"root token", base(ts.root), "", "", 400, "invalid_grant"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := ts.exchangeRefusals()
			body := c.form.Encode()
			ct := "application/x-www-form-urlencoded"
			if c.contentType != "" {
				ct = c.contentType
				body = `{"grant_type":"` + grantExchange + `","subject_token":"` + tok + `","audience":"sts.amazonaws.com"}`
			}
			target := ts.http.URL + "/oauth2/token"
			if c.query != "" {
				target += "?" + c.query
			}
			req, _ := http.NewRequest("POST", target, strings.NewReader(body))
			req.Header.Set("Content-Type", ct)
			resp, err := ts.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			decodeBody(t, resp, &got)
			if resp.StatusCode != c.status || got["error"] != c.code || got["access_token"] != nil {
				t.Errorf("got %d %v, want %d %s", resp.StatusCode, got, c.status, c.code)
			}
			if d, _ := got["error_description"].(string); strings.Contains(d, tok) || strings.Contains(d, "gth_") {
				t.Errorf("the description holds a token: %q", d)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
			}
			if n := ts.exchangeRefusals(); n != before+1 {
				t.Errorf("%d refusals audited, want 1", n-before)
			}
		})
	}
	// After all that, the good token still exchanges.
	ts.exchange(tok, "sts.amazonaws.com")
}

func decodeBody(t *testing.T, resp *http.Response, v any) {
	t.Helper()
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("decoding the %d answer: %v", resp.StatusCode, err)
	}
}

// TestAudienceChangeAppliesAtOnce: the allow list is cached, but a change
// on this server applies to the very next exchange.
func TestAudienceChangeAppliesAtOnce(t *testing.T) {
	ts := newIssuerServer(t, server.Config{})
	id, tok := ts.uaLoginWith("app", map[string]any{})
	ts.setAudiences(id, "sts.amazonaws.com")
	ts.exchange(tok, "sts.amazonaws.com")
	ts.setAudiences(id, "https://other.example")
	if r, _ := ts.postForm("/oauth2/token", "", exchangeForm(tok, "sts.amazonaws.com")); r.status != 400 || r.body["error"] != "invalid_target" {
		t.Fatalf("after removing the audience: %d %s", r.status, r.raw)
	}
	ts.exchange(tok, "https://other.example")
	r := ts.do("GET", "/api/v1/identities/"+id+"/exchange-audiences", ts.root, nil)
	if auds, _ := r.body["audiences"].([]any); r.status != 200 || len(auds) != 1 || auds[0] != "https://other.example" {
		t.Errorf("read back: %d %s", r.status, r.raw)
	}
}

// TestExchangeBodyTooLarge: a form over the body limit is a 413 with an
// RFC 6749 body.
func TestExchangeBodyTooLarge(t *testing.T) {
	ts := newIssuerServer(t, server.Config{})
	r, _ := ts.postForm("/oauth2/token", "", url.Values{"grant_type": {grantExchange}, "scope": {strings.Repeat("x", 2<<20)}})
	if r.status != 413 || r.body["error"] != "invalid_request" {
		t.Fatalf("got %d %s", r.status, r.raw[:min(len(r.raw), 200)])
	}
}
