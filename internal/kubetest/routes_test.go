package kubetest

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
)

func TestRoutes(t *testing.T) {
	t.Parallel()
	c := New(t)
	public := New(t, WithPublicIssuerDiscovery(), WithIssuer("https://issuer.example.com"))
	sa := c.Token("ns", "app")
	delegator := c.ReviewerToken("kube-system", "gatehouse")
	admin := c.AdminToken()

	tests := []struct {
		name        string
		cluster     *Cluster
		method      string
		path        string
		bearer      string
		wantCode    int
		wantReason  metav1.StatusReason
		wantMessage string
	}{
		{name: "version, anonymous", method: "GET", path: "/version", wantCode: 200},
		{name: "healthz, anonymous", method: "GET", path: "/healthz", wantCode: 200},
		{name: "version, bad bearer", method: "GET", path: "/version", bearer: "nope", wantCode: 401,
			wantReason: metav1.StatusReasonUnauthorized, wantMessage: "Unauthorized"},
		{name: "jwks, service account", method: "GET", path: "/openid/v1/jwks", bearer: sa, wantCode: 200},
		{name: "discovery, service account", method: "GET", path: "/.well-known/openid-configuration", bearer: sa, wantCode: 200},
		{name: "jwks, anonymous", method: "GET", path: "/openid/v1/jwks", wantCode: 403,
			wantReason: metav1.StatusReasonForbidden, wantMessage: `forbidden: User "system:anonymous" cannot get path "/openid/v1/jwks"`},
		{name: "jwks, anonymous, public discovery", cluster: public, method: "GET", path: "/openid/v1/jwks", wantCode: 200},
		{name: "discovery, anonymous, public discovery", cluster: public, method: "GET", path: "/.well-known/openid-configuration", wantCode: 200},
		{name: "unknown path, admin", method: "GET", path: "/nope", bearer: admin, wantCode: 404,
			wantReason: metav1.StatusReasonNotFound, wantMessage: "the server could not find the requested resource"},
		{name: "unknown path, service account", method: "GET", path: "/nope", bearer: sa, wantCode: 403,
			wantReason: metav1.StatusReasonForbidden, wantMessage: `forbidden: User "system:serviceaccount:ns:app" cannot get path "/nope"`},
		{name: "namespaced tokenreviews, admin", method: "POST", path: "/apis/authentication.k8s.io/v1/namespaces/ns/tokenreviews", bearer: admin, wantCode: 404,
			wantReason: metav1.StatusReasonNotFound, wantMessage: "the server could not find the requested resource"},
		{name: "list tokenreviews, admin", method: "GET", path: tokenReviewsPath, bearer: admin, wantCode: 405,
			wantReason: metav1.StatusReasonMethodNotAllowed, wantMessage: "the server does not allow this method on the requested resource"},
		{name: "list tokenreviews, auth-delegator", method: "GET", path: tokenReviewsPath, bearer: delegator, wantCode: 403,
			wantReason:  metav1.StatusReasonForbidden,
			wantMessage: `tokenreviews.authentication.k8s.io is forbidden: User "system:serviceaccount:kube-system:gatehouse" cannot list resource "tokenreviews" in API group "authentication.k8s.io" at the cluster scope`},
		{name: "post version, admin", method: "POST", path: "/version", bearer: admin, wantCode: 405,
			wantReason: metav1.StatusReasonMethodNotAllowed, wantMessage: "the server does not allow this method on the requested resource"},
		{name: "get a namespaced resource, service account", method: "GET", path: "/api/v1/namespaces/ns/serviceaccounts/app", bearer: sa, wantCode: 403,
			wantReason:  metav1.StatusReasonForbidden,
			wantMessage: `serviceaccounts "app" is forbidden: User "system:serviceaccount:ns:app" cannot get resource "serviceaccounts" in API group "" in the namespace "ns"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := tt.cluster
			if cl == nil {
				cl = c
			}
			res := do(t, cl, tt.method, tt.path, tt.bearer, "", nil)
			if res.code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", res.code, tt.wantCode, res.body)
			}
			if tt.wantCode >= 400 {
				st := decodeStatus(t, res.body)
				if st.Reason != tt.wantReason || st.Message != tt.wantMessage {
					t.Errorf("status = %s\nwant reason %s message %q", res.body, tt.wantReason, tt.wantMessage)
				}
			}
		})
	}
}

func TestDiscoveryDocuments(t *testing.T) {
	t.Parallel()
	c := New(t, WithPublicIssuerDiscovery())

	res := do(t, c, "GET", "/version", "", "", nil)
	var v version.Info
	if err := json.Unmarshal(res.body, &v); err != nil || v.Major != "1" || v.GitVersion == "" {
		t.Errorf("version = %s (%v)", res.body, err)
	}

	res = do(t, c, "GET", "/.well-known/openid-configuration", "", "", nil)
	var cfg struct {
		Issuer  string   `json:"issuer"`
		JWKSURI string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.Unmarshal(res.body, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != DefaultIssuer || cfg.JWKSURI != c.URL()+"/openid/v1/jwks" || len(cfg.Algs) != 1 || cfg.Algs[0] != "RS256" {
		t.Errorf("openid-configuration = %s", res.body)
	}
	if res.header.Get("Cache-Control") != "public, max-age=3600" {
		t.Errorf("Cache-Control = %q", res.header.Get("Cache-Control"))
	}

	res = do(t, c, "GET", "/openid/v1/jwks", "", "", nil)
	if !bytes.Equal(res.body, c.JWKS()) || res.header.Get("Content-Type") != "application/jwk-set+json" {
		t.Errorf("jwks = %s (%s)", res.body, res.header.Get("Content-Type"))
	}
}

// TestDiscoveryAccess: who may read the discovery documents, as RBAC's
// default system:service-account-issuer-discovery binding says.
func TestDiscoveryAccess(t *testing.T) {
	t.Parallel()
	c := New(t)
	noAnon := New(t, WithAnonymousAuth(false))
	unbound := New(t, WithoutIssuerDiscoveryBinding())
	cannotGet := func(user, path string) string {
		return `forbidden: User "` + user + `" cannot get path "` + path + `"`
	}
	tests := []struct {
		name     string
		cluster  *Cluster
		bearer   string
		wantCode int
		wantMsg  string
	}{
		{"service account", c, c.Token("ns", "app"), 200, ""},
		{"reviewer", c, c.ReviewerToken("kube-system", "gatehouse"), 200, ""},
		{"admin", c, c.AdminToken(), 200, ""},
		{"expired service account token", c, c.Token("ns", "app", ExpiresIn(-time.Hour)), 401, "Unauthorized"},
		{"token of another cluster", c, noAnon.Token("ns", "app"), 401, "Unauthorized"},
		{"token for another audience", c, c.Token("ns", "app", Audiences("vault")), 401, "Unauthorized"},
		{"anonymous", c, "", 403, cannotGet("system:anonymous", "/openid/v1/jwks")},
		{"anonymous, anonymous auth off", noAnon, "", 401, "Unauthorized"},
		{"service account, binding removed", unbound, unbound.Token("ns", "app"), 403, cannotGet("system:serviceaccount:ns:app", "/openid/v1/jwks")},
		{"admin, binding removed", unbound, unbound.AdminToken(), 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/openid/v1/jwks", "/.well-known/openid-configuration"} {
				res := do(t, tt.cluster, "GET", path, tt.bearer, "", nil)
				if res.code != tt.wantCode {
					t.Fatalf("%s: status %d, want %d: %s", path, res.code, tt.wantCode, res.body)
				}
				if tt.wantCode != 200 {
					want := strings.ReplaceAll(tt.wantMsg, "/openid/v1/jwks", path)
					if st := decodeStatus(t, res.body); st.Message != want {
						t.Errorf("%s: message %q, want %q", path, st.Message, want)
					}
				}
			}
		})
	}
}

// TestDiscoveryFaultsAndCalls: faults injected into discovery reads act
// before authentication, leave TokenReviews alone, and every read is
// recorded with its bearer and answer.
func TestDiscoveryFaultsAndCalls(t *testing.T) {
	t.Parallel()
	c := New(t)
	sa := c.Token("ns", "app")
	reviewer := c.ReviewerToken("kube-system", "gatehouse")

	c.FailNextDiscovery(FaultInternalError, 1)
	c.FailNextDiscovery(FaultGarbage, 1)
	c.FailNextDiscovery(FaultOversized, 1)
	if res := do(t, c, "GET", "/openid/v1/jwks", sa, "", nil); res.code != 500 || decodeStatus(t, res.body).Code != 500 {
		t.Errorf("internal error: %d %s", res.code, res.body)
	}
	if tr := mustReview(t, c, reviewer, sa); !tr.Status.Authenticated {
		t.Errorf("a discovery fault reached a TokenReview: %+v", tr.Status)
	}
	if res := do(t, c, "GET", "/.well-known/openid-configuration", "", "", nil); res.code != 200 || json.Valid(res.body) {
		t.Errorf("garbage (before authentication): %d %s", res.code, res.body)
	}
	if res := do(t, c, "GET", "/openid/v1/jwks", sa, "", nil); res.code != 200 || len(res.body) <= oversizedBytes {
		t.Errorf("oversized: %d, %d bytes", res.code, len(res.body))
	}
	c.FailAllDiscovery(FaultTooManyRequests)
	if res := do(t, c, "GET", "/openid/v1/jwks", sa, "", nil); res.code != 429 {
		t.Errorf("FailAllDiscovery: %d", res.code)
	}
	c.ClearFaults()
	if res := do(t, c, "GET", "/openid/v1/jwks", sa, "", nil); res.code != 200 || !bytes.Equal(res.body, c.JWKS()) {
		t.Errorf("after ClearFaults: %d %s", res.code, res.body)
	}
	do(t, c, "GET", "/version", "", "", nil) // not a discovery read

	calls := c.DiscoveryCalls()
	want := []DiscoveryCall{
		{"/openid/v1/jwks", sa, 500, FaultInternalError},
		{"/.well-known/openid-configuration", "", 200, FaultGarbage},
		{"/openid/v1/jwks", sa, 200, FaultOversized},
		{"/openid/v1/jwks", sa, 429, FaultTooManyRequests},
		{"/openid/v1/jwks", sa, 200, FaultNone},
	}
	if !slices.Equal(calls, want) {
		t.Errorf("DiscoveryCalls = %+v\nwant %+v", calls, want)
	}
	if c.TokenReviewCount() != 1 {
		t.Errorf("TokenReviewCount = %d", c.TokenReviewCount())
	}
}
