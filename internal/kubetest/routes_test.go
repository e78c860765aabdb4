package kubetest

import (
	"bytes"
	"encoding/json"
	"testing"

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
