package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

const grantExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// newIssuerServer is newTestServerWith on a listener bound first, so that
// the issuer URL is the test server's own.
func newIssuerServer(t *testing.T, cfg server.Config) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Storage == "" {
		cfg.Storage = "sqlite://" + filepath.Join(t.TempDir(), "g.db")
	}
	cfg.OIDC.Issuer = "http://" + ln.Addr().String()
	ts := &testServer{t: t}
	cfg.Out = &ts.out
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	ts.srv = srv
	ts.http = httptest.NewUnstartedServer(srv.Handler())
	ts.http.Listener.Close()
	ts.http.Listener = ln
	ts.http.Start()
	t.Cleanup(func() {
		ts.http.Close()
		srv.Close()
	})
	for _, line := range strings.Split(ts.out.String(), "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(l, "gth_") {
			ts.root = l
		}
	}
	if ts.root == "" {
		issued, err := srv.Tokens().IssueRoot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ts.root = issued.Token.Reveal()
	}
	return ts
}

// postForm posts an application/x-www-form-urlencoded body.
func (ts *testServer) postForm(path, bearerTok string, form url.Values) (result, http.Header) {
	ts.t.Helper()
	req, err := http.NewRequest("POST", ts.http.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if bearerTok != "" {
		req.Header.Set("Authorization", "Bearer "+bearerTok)
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r, resp.Header
}

func exchangeForm(subject string, audiences ...string) url.Values {
	f := url.Values{"grant_type": {grantExchange}, "subject_token": {subject},
		"subject_token_type": {oidc.TokenTypeAccessToken}}
	for _, a := range audiences {
		f.Add("audience", a)
	}
	return f
}

// exchange exchanges subject for a JWT and fails the test unless it works.
func (ts *testServer) exchange(subject string, audiences ...string) string {
	ts.t.Helper()
	r, h := ts.postForm("/oauth2/token", "", exchangeForm(subject, audiences...))
	if r.status != 200 {
		ts.t.Fatalf("exchange: %d %s", r.status, r.raw)
	}
	if h.Get("Cache-Control") != "no-store" || r.body["issued_token_type"] != oidc.TokenTypeJWT || r.body["token_type"] != "N_A" {
		ts.t.Errorf("exchange response: %v %s", h, r.raw)
	}
	return r.body["access_token"].(string)
}

func (ts *testServer) setAudiences(identityID string, auds ...string) {
	ts.t.Helper()
	r := ts.do("PUT", "/api/v1/identities/"+identityID+"/exchange-audiences", ts.root, map[string]any{"audiences": auds})
	if r.status != 200 {
		ts.t.Fatalf("set audiences: %d %s", r.status, r.raw)
	}
}

func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	sig, err := jose.ParseSigned(jwt, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	return sig.Signatures[0].Header.KeyID
}

// claimsOf decodes a verified token's claims.
func claimsOf(t *testing.T, idt *gooidc.IDToken) map[string]any {
	t.Helper()
	var c map[string]any
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

var rotatingConfig = oidc.Config{Rotation: 4 * time.Hour, PublishLead: time.Hour, Refresh: time.Minute, MaxTTL: time.Hour}

// TestExchangeVerifiedByGoOIDC: a verifier built on go-oidc discovers the
// issuer, verifies exchanged JWTs, keeps verifying across a key rotation
// without a restart, and refuses a wrong audience, an expired JWT and one
// signed by a key that was never published.
func TestExchangeVerifiedByGoOIDC(t *testing.T) {
	clock := &testClock{t: time.Now().UTC()}
	ts := newIssuerServer(t, server.Config{Now: clock.Now, OIDC: rotatingConfig})
	issuer := ts.srv.OIDC().Issuer()
	id, tok := ts.uaToken("member")
	ts.setAudiences(id, "sts.amazonaws.com", "https://*.example.com")

	ctx := gooidc.ClientContext(context.Background(), ts.http.Client())
	provider, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		t.Fatal(err)
	}
	verifier := func(aud string, now func() time.Time) *gooidc.IDTokenVerifier {
		return provider.VerifierContext(ctx, &gooidc.Config{ClientID: aud, Now: now})
	}
	sts := verifier("sts.amazonaws.com", clock.Now)

	jwt := ts.exchange(tok, "sts.amazonaws.com")
	idt, err := sts.Verify(ctx, jwt)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	c := claimsOf(t, idt)
	if c["sub"] != id || c["iss"] != issuer || c["aud"] != "sts.amazonaws.com" || c["gatehouse.dev/identity_name"] != "ua-member" ||
		c["gatehouse.dev/auth_method"] != "universal-auth" || c["jti"] == "" || c["exp"].(float64)-c["iat"].(float64) != 3600 ||
		c["nbf"] != c["iat"] || c["gatehouse.dev/kubernetes"] != nil {
		t.Errorf("claims: %v", c)
	}

	// Several audiences, one by glob; each verifier accepts it.
	multi := ts.exchange(tok, "sts.amazonaws.com", "https://api.example.com")
	for _, aud := range []string{"sts.amazonaws.com", "https://api.example.com"} {
		if _, err := verifier(aud, clock.Now).Verify(ctx, multi); err != nil {
			t.Errorf("audience %s: %v", aud, err)
		}
	}
	// Refusals.
	if _, err := verifier("https://other.example.org", clock.Now).Verify(ctx, jwt); err == nil {
		t.Error("a verifier for another audience accepted the JWT")
	}
	later := func() time.Time { return clock.Now().Add(time.Hour + time.Second) }
	if _, err := verifier("sts.amazonaws.com", later).Verify(ctx, jwt); err == nil {
		t.Error("an expired JWT verified")
	}
	if _, err := sts.Verify(ctx, rogueJWT(t, issuer, id, clock.Now())); err == nil {
		t.Error("a JWT signed by an unpublished key verified")
	}

	// Rotation: the next key is published first, signs an hour later, and
	// the same verifier (no restart) verifies JWTs of both keys.
	oldKid := kidOf(t, jwt)
	clock.Advance(4 * time.Hour)
	refresh(t, ts)
	var jwks struct{ Keys []map[string]any }
	ts.getJSON("/.well-known/jwks.json", &jwks)
	if len(jwks.Keys) != 2 {
		t.Fatalf("after the rotation is due, JWKS has %d keys, want 2", len(jwks.Keys))
	}
	clock.Advance(time.Hour - time.Minute)
	beforeSwitch := ts.exchange(tok, "sts.amazonaws.com")
	if kidOf(t, beforeSwitch) != oldKid {
		t.Error("the new key signed before its publish lead")
	}
	clock.Advance(time.Minute)
	refresh(t, ts)
	afterSwitch := ts.exchange(tok, "sts.amazonaws.com")
	if kidOf(t, afterSwitch) == oldKid {
		t.Fatal("the new key does not sign after the lead")
	}
	for name, j := range map[string]string{"old key": beforeSwitch, "new key": afterSwitch} {
		if _, err := sts.Verify(ctx, j); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func refresh(t *testing.T, ts *testServer) {
	t.Helper()
	if err := ts.srv.OIDC().Keys().Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (ts *testServer) getJSON(path string, v any) http.Header {
	ts.t.Helper()
	resp, err := ts.http.Client().Get(ts.http.URL + path)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		ts.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		ts.t.Fatal(err)
	}
	return resp.Header
}

// rogueJWT is a well-formed JWT for issuer, signed by a key the issuer
// never published.
func rogueJWT(t *testing.T, issuer, sub string, now time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: key, KeyID: "rogue"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(map[string]any{"iss": issuer, "sub": sub, "aud": "sts.amazonaws.com",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := jws.CompactSerialize()
	return s
}

// TestDiscoveryAndJWKS: the documents a cloud provider reads, with their
// caching headers; the JWKS answers a conditional request with 304.
func TestDiscoveryAndJWKS(t *testing.T) {
	ts := newIssuerServer(t, server.Config{})
	issuer := ts.srv.OIDC().Issuer()
	var doc map[string]any
	h := ts.getJSON("/.well-known/openid-configuration", &doc)
	if !strings.HasPrefix(h.Get("Cache-Control"), "public, max-age=") {
		t.Errorf("discovery Cache-Control %q", h.Get("Cache-Control"))
	}
	for k, v := range map[string]string{"issuer": issuer, "jwks_uri": issuer + "/.well-known/jwks.json",
		"token_endpoint": issuer + "/oauth2/token", "introspection_endpoint": issuer + "/oauth2/introspect"} {
		if doc[k] != v {
			t.Errorf("%s = %v, want %s", k, doc[k], v)
		}
	}
	for _, k := range []string{"response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported"} {
		if l, ok := doc[k].([]any); !ok || len(l) == 0 {
			t.Errorf("%s missing: %v", k, doc[k])
		}
	}
	var jwks struct{ Keys []map[string]any }
	h = ts.getJSON("/.well-known/jwks.json", &jwks)
	if len(jwks.Keys) != 1 || jwks.Keys[0]["alg"] != "ES256" || jwks.Keys[0]["kty"] != "EC" || jwks.Keys[0]["d"] != nil {
		t.Errorf("JWKS %v", jwks)
	}
	etag := h.Get("ETag")
	if etag == "" || !strings.HasPrefix(h.Get("Cache-Control"), "public, max-age=") {
		t.Errorf("JWKS headers %v", h)
	}
	req, _ := http.NewRequest("GET", ts.http.URL+"/.well-known/jwks.json", nil)
	req.Header.Set("If-None-Match", etag)
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional JWKS request: %d, want 304", resp.StatusCode)
	}
}
