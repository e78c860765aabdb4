package kubetest

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"maps"
	"slices"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestTokenShape(t *testing.T) {
	t.Parallel()
	clk := NewManualClock(epoch)
	c := New(t, WithClock(clk.Now))
	sa := c.CreateServiceAccount("team-a", "app")
	pod := c.CreatePod("team-a", "app-1", "app")

	token := c.Token("team-a", "app")
	header := jwtPart(t, token, 0)
	if len(header) != 2 || header["alg"] != "RS256" || header["kid"] != c.KeyID() {
		t.Errorf("header = %v", header)
	}
	claims := jwtPart(t, token, 1)
	if keys := slices.Sorted(maps.Keys(claims)); !slices.Equal(keys, []string{"aud", "exp", "iat", "iss", "jti", "kubernetes.io", "nbf", "sub"}) {
		t.Errorf("claims = %v", keys)
	}
	if aud, ok := claims["aud"].([]any); !ok || len(aud) != 1 || aud[0] != DefaultIssuer {
		t.Errorf("aud = %#v, want a one-element array", claims["aud"])
	}
	if claims["iss"] != DefaultIssuer || claims["sub"] != "system:serviceaccount:team-a:app" {
		t.Errorf("iss/sub = %v/%v", claims["iss"], claims["sub"])
	}
	if claims["iat"] != float64(epoch.Unix()) || claims["nbf"] != claims["iat"] || claims["exp"] != float64(epoch.Add(time.Hour).Unix()) {
		t.Errorf("iat/nbf/exp = %v/%v/%v", claims["iat"], claims["nbf"], claims["exp"])
	}
	want := map[string]any{"namespace": "team-a", "serviceaccount": map[string]any{"name": "app", "uid": sa.UID}}
	if got, _ := json.Marshal(claims["kubernetes.io"]); string(got) != string(mustJSON(want)) {
		t.Errorf("kubernetes.io = %s", got)
	}

	bound := jwtPart(t, c.Token("team-a", "app", BoundToPod(pod)), 1)["kubernetes.io"]
	want["pod"] = map[string]any{"name": "app-1", "uid": pod.UID}
	want["node"] = map[string]any{"name": pod.NodeName, "uid": pod.NodeUID}
	if got, _ := json.Marshal(bound); string(got) != string(mustJSON(want)) {
		t.Errorf("pod-bound kubernetes.io = %s", got)
	}

	legacy := jwtPart(t, c.LegacyToken("team-a", "app"), 1)
	if keys := slices.Sorted(maps.Keys(legacy)); !slices.Equal(keys, []string{
		"iss",
		"kubernetes.io/serviceaccount/namespace",
		"kubernetes.io/serviceaccount/secret.name",
		"kubernetes.io/serviceaccount/service-account.name",
		"kubernetes.io/serviceaccount/service-account.uid",
		"sub",
	}) {
		t.Errorf("legacy claims = %v", keys)
	}
	if legacy["iss"] != LegacyIssuer || legacy["kubernetes.io/serviceaccount/service-account.uid"] != sa.UID {
		t.Errorf("legacy claims = %v", legacy)
	}
}

func TestTokenOptions(t *testing.T) {
	t.Parallel()
	clk := NewManualClock(epoch)
	c := New(t, WithClock(clk.Now), WithIssuer("https://oidc.example.com/cluster-1"), WithAPIAudiences("api", "gatehouse"))

	claims := jwtPart(t, c.Token("ns", "app"), 1)
	if claims["iss"] != "https://oidc.example.com/cluster-1" || len(claims["aud"].([]any)) != 2 {
		t.Errorf("defaults: %v", claims)
	}
	claims = jwtPart(t, c.Token("ns", "app", Audiences("vault"), ExpiresIn(10*time.Minute)), 1)
	if claims["aud"].([]any)[0] != "vault" || claims["exp"] != float64(epoch.Add(10*time.Minute).Unix()) {
		t.Errorf("audiences/expiry: %v", claims)
	}
	claims = jwtPart(t, c.Token("ns", "app", IssuedAt(epoch.Add(time.Hour)), ExpiresAt(epoch.Add(3*time.Hour))), 1)
	if claims["iat"] != float64(epoch.Add(time.Hour).Unix()) || claims["exp"] != float64(epoch.Add(3*time.Hour).Unix()) {
		t.Errorf("issued at / expires at: %v", claims)
	}
	if h := jwtPart(t, c.Token("ns", "app", KeyID("")), 0); len(h) != 1 {
		t.Errorf("KeyID(\"\") header = %v", h)
	}
	claims = jwtPart(t, c.Token("ns", "app", ClaimServiceAccountUID("stale"), ClaimIssuer("x")), 1)
	if claims["iss"] != "x" || claims["kubernetes.io"].(map[string]any)["serviceaccount"].(map[string]any)["uid"] != "stale" {
		t.Errorf("claim overrides: %v", claims)
	}

	// A token with several API audiences reviews for all it shares.
	tr := mustReview(t, c, c.AdminToken(), c.Token("ns", "app"))
	if !slices.Equal(tr.Status.Audiences, []string{"api", "gatehouse"}) {
		t.Errorf("audiences = %q", tr.Status.Audiences)
	}

	defer func() {
		if recover() == nil {
			t.Error("binding a token to another account's pod did not panic")
		}
	}()
	c.Token("ns", "other", BoundToPod(c.CreatePod("ns", "p", "app")))
}

func TestKeysPublished(t *testing.T) {
	t.Parallel()
	c := New(t)
	token := c.Token("ns", "app")

	var set jose.JSONWebKeySet
	if err := json.Unmarshal(c.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	keys := set.Key(c.KeyID())
	if len(keys) != 1 || keys[0].Algorithm != "RS256" || keys[0].Use != "sig" {
		t.Fatalf("JWKS = %s", c.JWKS())
	}
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	var claims jwt.Claims
	if err := tok.Claims(keys[0].Key, &claims); err != nil {
		t.Errorf("JWKS key does not verify the token: %v", err)
	}

	block, _ := pem.Decode([]byte(c.SigningKeyPEM()))
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("SigningKeyPEM = %q", c.SigningKeyPEM())
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Claims(pub, &claims); err != nil {
		t.Errorf("PEM key does not verify the token: %v", err)
	}
	sum := sha256.Sum256(block.Bytes)
	if kid := base64.RawURLEncoding.EncodeToString(sum[:]); kid != c.KeyID() {
		t.Errorf("kid %q is not the SHA-256 of the PKIX key (%q)", c.KeyID(), kid)
	}
}

// TestRotateSigningKey: after a rotation new tokens carry the new kid, old
// tokens still pass review, and the JWKS lists both keys, the new one
// first; once the old keys are dropped, only the new one is trusted.
func TestRotateSigningKey(t *testing.T) {
	t.Parallel()
	c := New(t)
	other := New(t)
	reviewer := c.AdminToken() // a static token: not signed by the keys that rotate
	oldReviewer := c.ReviewerToken("kube-system", "gatehouse")
	oldKid, oldKey := c.KeyID(), c.SigningKey()
	oldToken := c.Token("ns", "app")

	newKid := c.RotateSigningKey()
	if newKid == oldKid || c.KeyID() != newKid || newKid == other.KeyID() {
		t.Fatalf("kids: old %q, new %q, KeyID %q, other cluster %q", oldKid, newKid, c.KeyID(), other.KeyID())
	}
	newToken := c.Token("ns", "app")
	if kid := jwtPart(t, newToken, 0)["kid"]; kid != newKid {
		t.Errorf("new token's kid = %v, want %q", kid, newKid)
	}
	kids := func() []string {
		t.Helper()
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(do(t, c, "GET", "/openid/v1/jwks", reviewer, "", nil).body, &set); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, k := range set.Keys {
			if k.Use != "sig" || k.Algorithm != "RS256" || !k.IsPublic() {
				t.Errorf("JWKS key %+v", k)
			}
			out = append(out, k.KeyID)
		}
		return out
	}
	if got := kids(); !slices.Equal(got, []string{newKid, oldKid}) {
		t.Errorf("JWKS kids during the rotation = %v, want new then old", got)
	}
	for _, tc := range []struct {
		name  string
		token string
		ok    bool
	}{
		{"old key", oldToken, true},
		{"new key", newToken, true},
		{"old key, no kid: every key is tried", c.Token("ns", "app", SignedWith(oldKey), KeyID("")), true},
		{"foreign key, no kid", c.Token("ns", "app", SignedWith(other.SigningKey()), KeyID("")), false},
	} {
		if tr := mustReview(t, c, reviewer, tc.token); tr.Status.Authenticated != tc.ok {
			t.Errorf("%s during the rotation: %+v", tc.name, tr.Status)
		}
	}

	if res := postReview(t, c, oldReviewer, newToken); res.code != 201 {
		t.Errorf("reviewer token of the old key during the rotation: %d", res.code)
	}

	c.DropOldSigningKeys()
	if res := postReview(t, c, oldReviewer, newToken); res.code != 401 {
		t.Errorf("reviewer token of the dropped key: %d, want 401", res.code)
	}
	if got := kids(); !slices.Equal(got, []string{newKid}) {
		t.Errorf("JWKS kids after the rotation = %v, want only the new one", got)
	}
	if tr := mustReview(t, c, reviewer, oldToken); tr.Status.Error != "[invalid bearer token, invalid signature, no keys found]" {
		t.Errorf("old token after the rotation: %+v", tr.Status)
	}
	if tr := mustReview(t, c, reviewer, newToken); !tr.Status.Authenticated {
		t.Errorf("new token after the rotation: %+v", tr.Status)
	}
}
