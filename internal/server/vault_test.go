package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The Vault-compatible Kubernetes auth method (issue 6) over HTTP: mounts,
// config, roles, login and the token endpoints, in Vault's wire shapes.

// newVaultServer is a test server on a fixed clock (so TTLs read back
// exactly) with the in-pod fallback off.
func newVaultServer(t *testing.T) (*testServer, *testClock) {
	t.Helper()
	clock := &testClock{t: time.Now()}
	return newVaultServerWith(t, server.Config{Now: clock.Now}), clock
}

// newVaultServerWith fills in a fresh store and, unless cfg names one, no
// pod service-account directory.
func newVaultServerWith(t *testing.T, cfg server.Config) *testServer {
	t.Helper()
	if cfg.Storage == "" && !cfg.Dev {
		cfg.Storage = "sqlite://" + filepath.Join(t.TempDir(), "g.db")
	}
	if cfg.PodServiceAccountDir == "" {
		cfg.PodServiceAccountDir = "-"
	}
	return newTestServerWith(t, cfg)
}

// vault sends a Vault API request (path after /v1/) with the token in
// X-Vault-Token.
func (ts *testServer) vault(method, path, tok string, body any) result {
	ts.t.Helper()
	return ts.doHeaders(method, "/v1/"+path, body, map[string]string{"X-Vault-Token": tok})
}

// vaultOK sends a request that must succeed (200 or 204).
func (ts *testServer) vaultOK(method, path, tok string, body any) result {
	ts.t.Helper()
	r := ts.vault(method, path, tok, body)
	if r.status != 200 && r.status != 204 {
		ts.t.Fatalf("%s %s: %d %s", method, path, r.status, r.raw)
	}
	return r
}

// vaultErrorOK checks a Vault error answer: the status, a body holding
// only "errors", an empty list for a plain 404, else one message holding
// want; 403s start "permission denied" (once).
func vaultErrorOK(t *testing.T, r result, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d; body %s", r.status, status, r.raw)
	}
	if len(r.body) != 1 {
		t.Errorf("error body has keys %v, want only errors: %s", keysOf(r.body), r.raw)
	}
	list, ok := r.body["errors"].([]any)
	if !ok {
		t.Fatalf("error body has no errors list: %s", r.raw)
	}
	if status == 404 && want == "" {
		if len(list) != 0 {
			t.Errorf("404 errors = %v, want []", list)
		}
		return
	}
	if len(list) != 1 {
		t.Fatalf("errors = %v, want one message", list)
	}
	msg, _ := list[0].(string)
	if status == 403 && !strings.HasPrefix(msg, "permission denied") {
		t.Errorf("403 message %q does not start with permission denied", msg)
	}
	if strings.Contains(msg, "permission denied: permission denied") {
		t.Errorf("message says permission denied twice: %q", msg)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("message %q does not say %q", msg, want)
	}
}

// noContent checks a write answered 204 with no body.
func noContent(t *testing.T, r result) {
	t.Helper()
	if r.status != 204 || r.raw != "" {
		t.Fatalf("want 204 without a body, got %d %s", r.status, r.raw)
	}
}

// dataOf is the data object of a successful read.
func dataOf(t *testing.T, r result) map[string]any {
	t.Helper()
	return objectOf(t, r, "data")
}

// objectOf is the object under key of a 200 answer.
func objectOf(t *testing.T, r result, key string) map[string]any {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	o, ok := r.body[key].(map[string]any)
	if !ok {
		t.Fatalf("no %s object: %s", key, r.raw)
	}
	return o
}

// strs turns a JSON list into strings; nil when v is not a list.
func strs(v any) []string {
	l, ok := v.([]any)
	if !ok {
		return nil
	}
	out := make([]string, 0, len(l))
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// kubeMount enables a Kubernetes mount at path and configures it for
// cluster c with a permitted reviewer; extra adds or (nil) removes config
// fields.
func (ts *testServer) kubeMount(path string, c *kubetest.Cluster, extra map[string]any) {
	ts.t.Helper()
	ts.vaultOK("POST", "sys/auth/"+path, ts.root, map[string]any{"type": "kubernetes"})
	ts.vaultOK("PUT", "auth/"+path+"/config", ts.root, vaultConfig(c, c.ReviewerToken("kube-system", "gatehouse"), extra))
}

func vaultConfig(c *kubetest.Cluster, reviewer string, extra map[string]any) map[string]any {
	return withFields(map[string]any{"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": reviewer}, extra)
}

// vaultRole writes a role that must be accepted.
func (ts *testServer) vaultRole(mount, name string, body map[string]any) {
	ts.t.Helper()
	ts.vaultOK("PUT", "auth/"+mount+"/role/"+name, ts.root, body)
}

func (ts *testServer) vaultLogin(mount, role, jwt string) result {
	ts.t.Helper()
	return ts.vault("POST", "auth/"+mount+"/login", "", map[string]any{"role": role, "jwt": jwt})
}

// authOf is the auth block of a successful login.
func authOf(t *testing.T, r result) map[string]any {
	t.Helper()
	a := objectOf(t, r, "auth")
	if tok, _ := a["client_token"].(string); tok == "" {
		t.Fatalf("login answered no client_token: %s", r.raw)
	}
	return a
}

// loginToken logs in and returns the client token.
func (ts *testServer) loginToken(mount, role, jwt string) string {
	ts.t.Helper()
	return authOf(ts.t, ts.vaultLogin(mount, role, jwt))["client_token"].(string)
}

// anyRole allows every service account.
var anyRole = map[string]any{"bound_service_account_names": "*", "bound_service_account_namespaces": "*"}

// privateKeyPEM is a PEM private key: neither a CA certificate nor a
// public key.
func privateKeyPEM(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

func sortedKeys(m map[string]any) []string {
	ks := keysOf(m)
	slices.Sort(ks)
	return ks
}

// TestVaultSysAuth: enabling (POST and PUT), listing in Vault's shape,
// refusing duplicates and other types, admin only, and disabling a mount
// revokes the tokens issued through it.
func TestVaultSysAuth(t *testing.T) {
	ts, _ := newVaultServer(t)
	member := ts.tokenFor(ts.createIdentity("operator", "member"), store.TokenPolicy{})

	noContent(t, ts.vault("POST", "sys/auth/k8s-a", ts.root, map[string]any{"type": "kubernetes", "description": "cluster A"}))
	noContent(t, ts.vault("PUT", "sys/auth/team/k8s-b/", ts.root, map[string]any{"type": "kubernetes"}))

	list := ts.vault("GET", "sys/auth", ts.root, nil)
	if list.status != 200 {
		t.Fatalf("list: %d %s", list.status, list.raw)
	}
	for _, k := range []string{"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"} {
		if _, ok := list.body[k]; !ok {
			t.Errorf("sys/auth lacks %q: %s", k, list.raw)
		}
	}
	data := dataOf(t, list)
	want := map[string]string{"token/": "token", "k8s-a/": "kubernetes", "team/k8s-b/": "kubernetes"}
	for where, mounts := range map[string]map[string]any{"top level": list.body, "data": data} {
		for path, typ := range want {
			m, ok := mounts[path].(map[string]any)
			if !ok {
				t.Errorf("%s: no %s: %s", where, path, list.raw)
				continue
			}
			if m["type"] != typ {
				t.Errorf("%s: %s type = %v, want %s", where, path, m["type"], typ)
			}
			if acc, _ := m["accessor"].(string); acc == "" {
				t.Errorf("%s: %s has no accessor", where, path)
			}
			if _, ok := m["config"].(map[string]any); !ok {
				t.Errorf("%s: %s has no config object", where, path)
			}
		}
	}
	if len(data) != len(want) {
		t.Errorf("data has mounts %v, want %d", sortedKeys(data), len(want))
	}
	if d := data["k8s-a/"].(map[string]any)["description"]; d != "cluster A" {
		t.Errorf("description = %v", d)
	}
	if data["k8s-a/"].(map[string]any)["accessor"] == data["team/k8s-b/"].(map[string]any)["accessor"] {
		t.Error("two mounts share an accessor")
	}
	before := sortedKeys(data)

	cases := []struct {
		name, method, path, tok string
		body                    any
		status                  int
		msg                     string
	}{
		{"duplicate path", "POST", "sys/auth/k8s-a", ts.root, map[string]any{"type": "kubernetes"}, 400, "path is already in use at k8s-a/"},
		{"duplicate path with slash", "PUT", "sys/auth/k8s-a/", ts.root, map[string]any{"type": "kubernetes"}, 400, "already in use"},
		{"other type", "POST", "sys/auth/approle", ts.root, map[string]any{"type": "approle"}, 400, "plugin not found in the catalog: approle"},
		{"no type", "POST", "sys/auth/nothing", ts.root, map[string]any{"description": "x"}, 400, "missing type"},
		{"reserved token path", "POST", "sys/auth/token", ts.root, map[string]any{"type": "kubernetes"}, 400, "reserved"},
		{"bad path", "POST", "sys/auth/bad%20path", ts.root, map[string]any{"type": "kubernetes"}, 400, "invalid mount path"},
		{"not JSON", "POST", "sys/auth/k8s-c", ts.root, `{"type":`, 400, "not valid JSON"},
		{"member enables", "POST", "sys/auth/k8s-c", member, map[string]any{"type": "kubernetes"}, 403, "requires the admin role"},
		{"member lists", "GET", "sys/auth", member, nil, 403, "requires the admin role"},
		{"member disables", "DELETE", "sys/auth/k8s-a", member, nil, 403, "requires the admin role"},
		{"no token", "POST", "sys/auth/k8s-c", "", map[string]any{"type": "kubernetes"}, 403, "no token"},
		{"bad token", "GET", "sys/auth", "gth_nonsense", nil, 403, ""},
		{"wrong method", "PATCH", "sys/auth/k8s-a", ts.root, map[string]any{}, 405, "unsupported operation"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vaultErrorOK(t, ts.vault(tc.method, tc.path, tc.tok, tc.body), tc.status, tc.msg)
			if after := sortedKeys(dataOf(t, ts.vault("GET", "sys/auth", ts.root, nil))); !slices.Equal(after, before) {
				t.Errorf("mounts changed: %v, was %v", after, before)
			}
		})
	}

	// Disabling revokes the mount's tokens, and only its.
	c := kubetest.New(t)
	ts.vaultOK("PUT", "auth/k8s-a/config", ts.root, vaultConfig(c, c.ReviewerToken("kube-system", "gatehouse"), nil))
	ts.vaultOK("PUT", "auth/team/k8s-b/config", ts.root, vaultConfig(c, c.ReviewerToken("kube-system", "gatehouse"), nil))
	ts.vaultRole("k8s-a", "web", anyRole)
	ts.vaultRole("team/k8s-b", "web", anyRole)
	tokA := ts.loginToken("k8s-a", "web", c.Token("apps", "web"))
	tokB := ts.loginToken("team/k8s-b", "web", c.Token("apps", "web"))
	if r := ts.vault("GET", "auth/token/lookup-self", tokA, nil); r.status != 200 {
		t.Fatalf("lookup-self before disable: %d %s", r.status, r.raw)
	}
	noContent(t, ts.vault("DELETE", "sys/auth/k8s-a", ts.root, nil))
	vaultErrorOK(t, ts.vault("GET", "auth/token/lookup-self", tokA, nil), 403, "permission denied")
	if r := ts.vault("GET", "auth/token/lookup-self", tokB, nil); r.status != 200 {
		t.Errorf("a token of another mount stopped working: %d %s", r.status, r.raw)
	}
	if _, ok := dataOf(t, ts.vault("GET", "sys/auth", ts.root, nil))["k8s-a/"]; ok {
		t.Error("disabled mount still listed")
	}
	vaultErrorOK(t, ts.vault("GET", "auth/k8s-a/config", ts.root, nil), 404, "")
	vaultErrorOK(t, ts.vault("GET", "auth/k8s-a/role/web", ts.root, nil), 404, "")
	noContent(t, ts.vault("DELETE", "sys/auth/k8s-a", ts.root, nil)) // absent: still 204

	// Enabled again at the same path: nothing of the old mount survives.
	noContent(t, ts.vault("POST", "sys/auth/k8s-a", ts.root, map[string]any{"type": "kubernetes"}))
	vaultErrorOK(t, ts.vault("LIST", "auth/k8s-a/role", ts.root, nil), 404, "")
	vaultErrorOK(t, ts.vault("GET", "auth/k8s-a/config", ts.root, nil), 404, "")
	vaultErrorOK(t, ts.vault("GET", "auth/token/lookup-self", tokA, nil), 403, "permission denied")
}

// TestVaultConfig: a write answers 204 and replaces the whole config; a
// read shows every field, pem_keys as a list and token_reviewer_jwt_set
// instead of the JWT; bad input is a 400 that changes nothing; unknown
// fields are ignored with a warning.
func TestVaultConfig(t *testing.T) {
	ts, _ := newVaultServer(t)
	c := kubetest.New(t)
	other := kubetest.New(t)
	reviewer := c.ReviewerToken("kube-system", "gatehouse")
	member := ts.tokenFor(ts.createIdentity("reader", "member"), store.TokenPolicy{})
	noAccess := ts.tokenFor(ts.createIdentity("robot", "no-access"), store.TokenPolicy{})
	var raws []string // every answer, to prove the reviewer JWT never leaves
	call := func(method, path, tok string, body any) result {
		t.Helper()
		r := ts.vault(method, path, tok, body)
		raws = append(raws, r.raw)
		return r
	}
	read := func() map[string]any {
		t.Helper()
		return dataOf(t, call("GET", "auth/kubernetes/config", ts.root, nil))
	}

	ts.vaultOK("POST", "sys/auth/kubernetes", ts.root, map[string]any{"type": "kubernetes"})
	vaultErrorOK(t, call("GET", "auth/kubernetes/config", ts.root, nil), 404, "")

	// Every field, a bare host, pem_keys as a JSON list.
	keys := []string{c.SigningKeyPEM(), other.SigningKeyPEM()}
	noContent(t, call("PUT", "auth/kubernetes/config", ts.root, map[string]any{
		"kubernetes_host": c.Host(), "kubernetes_ca_cert": c.CAPEM(), "token_reviewer_jwt": reviewer,
		"pem_keys": keys, "issuer": c.Issuer(), "disable_iss_validation": false, "disable_local_ca_jwt": true,
	}))
	got := read()
	wantKeys(t, "config", got, "kubernetes_host", "kubernetes_ca_cert", "pem_keys", "issuer",
		"disable_iss_validation", "disable_local_ca_jwt", "token_reviewer_jwt_set", "token_review_mode", "use_annotations_as_alias_metadata")
	for k, v := range map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": c.CAPEM(), "issuer": c.Issuer(),
		"disable_iss_validation": false, "disable_local_ca_jwt": true, "token_reviewer_jwt_set": true, "token_review_mode": "api",
		"use_annotations_as_alias_metadata": false,
	} {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	if pk := strs(got["pem_keys"]); len(pk) != 2 || pk[0] != strings.TrimSpace(keys[0]) || pk[1] != strings.TrimSpace(keys[1]) {
		t.Errorf("pem_keys = %v", got["pem_keys"])
	}

	// A write replaces the whole config: omitted fields return to defaults.
	noContent(t, call("POST", "auth/kubernetes/config", ts.root, map[string]any{"kubernetes_host": c.URL()}))
	got = read()
	for k, v := range map[string]any{
		"kubernetes_host": c.URL(), "kubernetes_ca_cert": "", "issuer": "",
		"disable_iss_validation": true, "disable_local_ca_jwt": false, "token_reviewer_jwt_set": false,
	} {
		if got[k] != v {
			t.Errorf("after replace: %s = %#v, want %#v", k, got[k], v)
		}
	}
	if pk, ok := got["pem_keys"].([]any); !ok || len(pk) != 0 {
		t.Errorf("after replace: pem_keys = %#v, want []", got["pem_keys"])
	}

	// pem_keys as a comma-separated string; booleans as strings.
	noContent(t, call("PUT", "auth/kubernetes/config", ts.root, map[string]any{
		"kubernetes_host": c.URL(), "pem_keys": strings.Join(keys, ","), "disable_iss_validation": "false",
	}))
	got = read()
	if pk := strs(got["pem_keys"]); len(pk) != 2 || pk[0] != strings.TrimSpace(keys[0]) || pk[1] != strings.TrimSpace(keys[1]) {
		t.Errorf("comma-separated pem_keys = %v", got["pem_keys"])
	}
	if got["disable_iss_validation"] != false {
		t.Errorf(`disable_iss_validation "false" read back as %v`, got["disable_iss_validation"])
	}

	// Unknown fields: 200 with Vault's warning, the rest stored.
	r := call("PUT", "auth/kubernetes/config", ts.root, vaultConfig(c, reviewer, map[string]any{"x": 1, "audiences": "a"}))
	if r.status != 200 {
		t.Fatalf("config with unknown fields: %d %s", r.status, r.raw)
	}
	if w := strs(r.body["warnings"]); len(w) != 1 || w[0] != "Endpoint ignored these unrecognized parameters: [audiences x]" {
		t.Errorf("warnings = %v", r.body["warnings"])
	}
	got = read()
	if got["kubernetes_ca_cert"] != c.CAPEM() || got["token_reviewer_jwt_set"] != true {
		t.Errorf("config with unknown fields not stored: %v", got)
	}

	// Members may read; only admins write; no-access may do neither.
	if r := call("GET", "auth/kubernetes/config", member, nil); r.status != 200 {
		t.Errorf("member reading config: %d %s", r.status, r.raw)
	}
	vaultErrorOK(t, call("GET", "auth/kubernetes/config", noAccess, nil), 403, "requires the member or admin role")

	stored := read()
	host := c.URL()
	priv := privateKeyPEM(t)
	cases := []struct {
		name   string
		tok    string
		body   any
		status int
		msg    string
	}{
		{"missing kubernetes_host", ts.root, map[string]any{"kubernetes_ca_cert": c.CAPEM()}, 400, "kubernetes_host"},
		{"blank kubernetes_host", ts.root, map[string]any{"kubernetes_host": "  "}, 400, "kubernetes_host"},
		{"CA not PEM", ts.root, map[string]any{"kubernetes_host": host, "kubernetes_ca_cert": "not a certificate"}, 400, "kubernetes_ca_cert"},
		{"CA is a private key", ts.root, map[string]any{"kubernetes_host": host, "kubernetes_ca_cert": priv}, 400, "kubernetes_ca_cert"},
		{"pem_keys entry not PEM", ts.root, map[string]any{"kubernetes_host": host, "pem_keys": []string{c.SigningKeyPEM(), "garbage"}}, 400, "pem_keys: key 2"},
		{"pem_keys private key", ts.root, map[string]any{"kubernetes_host": host, "pem_keys": priv}, 400, "pem_keys"},
		{"pem_keys not strings", ts.root, map[string]any{"kubernetes_host": host, "pem_keys": 7}, 400, "pem_keys"},
		{"bad boolean", ts.root, map[string]any{"kubernetes_host": host, "disable_iss_validation": "maybe"}, 400, "disable_iss_validation"},
		{"reviewer not a JWT", ts.root, map[string]any{"kubernetes_host": host, "token_reviewer_jwt": "not-a-jwt"}, 400, "token_reviewer_jwt"},
		{"unknown review mode", ts.root, map[string]any{"kubernetes_host": host, "token_review_mode": "tunnel"}, 400, `token_review_mode must be "api" (TokenReview, the default), "local"`},
		{"gateway mode without a gateway", ts.root, map[string]any{"kubernetes_host": host, "token_review_mode": "gateway"}, 400, `token_review_mode "gateway" needs gateway_id or gateway_pool_id`},
		{"both gateway and pool", ts.root, map[string]any{"token_review_mode": "gateway", "gateway_id": "0f5d3b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f", "gateway_pool_id": "0f5d3b0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"}, 400, "not both"},
		{"review mode in capitals", ts.root, map[string]any{"kubernetes_host": host, "token_review_mode": "LOCAL"}, 400, "token_review_mode must be"},
		{"review mode not a string", ts.root, map[string]any{"kubernetes_host": host, "token_review_mode": true}, 400, "token_review_mode"},
		{"local mode without host", ts.root, map[string]any{"token_review_mode": "local"}, 400, "kubernetes_host is required"},
		{"local mode, pem_keys without issuer", ts.root, map[string]any{"kubernetes_host": host, "token_review_mode": "local", "pem_keys": c.SigningKeyPEM()}, 400,
			`issuer is required with pem_keys when token_review_mode is "local"`},
		{"local mode, pem_keys without issuer, iss validation on", ts.root, map[string]any{"kubernetes_host": host, "token_review_mode": "local",
			"pem_keys": c.SigningKeyPEM(), "disable_iss_validation": false}, 400, "issuer is required"},
		{"not JSON", ts.root, `{"kubernetes_host":`, 400, "not valid JSON"},
		{"member writes", member, map[string]any{"kubernetes_host": host}, 403, "requires the admin role"},
		{"no token", "", map[string]any{"kubernetes_host": host}, 403, "no token"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vaultErrorOK(t, call("PUT", "auth/kubernetes/config", tc.tok, tc.body), tc.status, tc.msg)
			if after := read(); !equalJSON(after, stored) {
				t.Errorf("config changed: %v, was %v", after, stored)
			}
		})
	}

	// A mount that does not exist has no config.
	vaultErrorOK(t, call("GET", "auth/nowhere/config", ts.root, nil), 404, "")
	vaultErrorOK(t, call("PUT", "auth/nowhere/config", ts.root, map[string]any{"kubernetes_host": host}), 404, "")

	raws = append(raws, ts.do("GET", "/api/v1/audit-logs?limit=100", ts.root, nil).raw)
	for _, raw := range raws {
		if strings.Contains(raw, reviewer) {
			t.Fatalf("an answer holds the token reviewer JWT: %s", raw)
		}
	}
}

func equalJSON(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		switch v := v.(type) {
		case []any:
			if !slices.Equal(strs(v), strs(b[k])) {
				return false
			}
		default:
			if b[k] != v {
				return false
			}
		}
	}
	return true
}

// roleKeys are the fields every role read shows.
var roleKeys = []string{"bound_service_account_names", "bound_service_account_namespaces", "bound_service_account_namespace_selector", "audience", "alias_name_source",
	"token_ttl", "token_max_ttl", "token_explicit_max_ttl", "token_period", "token_policies", "token_bound_cidrs",
	"token_num_uses", "token_no_default_policy", "token_type",
	"policies", "bound_cidrs", "ttl", "max_ttl", "period", "num_uses"}

// TestVaultRoles: create, read, update (merging), delete, list (LIST and
// GET ?list=true), case-insensitive names, and validation.
func TestVaultRoles(t *testing.T) {
	ts, _ := newVaultServer(t)
	ts.vaultOK("POST", "sys/auth/kubernetes", ts.root, map[string]any{"type": "kubernetes"})
	member := ts.tokenFor(ts.createIdentity("reader", "member"), store.TokenPolicy{})
	const base = "auth/kubernetes/role"
	readRole := func(name string) map[string]any {
		t.Helper()
		return dataOf(t, ts.vault("GET", base+"/"+name, ts.root, nil))
	}

	// Nothing to list yet: 404 with no errors.
	vaultErrorOK(t, ts.vault("LIST", base, ts.root, nil), 404, "")
	vaultErrorOK(t, ts.vault("GET", base+"?list=true", ts.root, nil), 404, "")

	// Create with the least a role needs: every field reads back, zeros
	// as 0 and empty lists as [] (the legacy names too). Without an
	// audience the write answers Vault's warning.
	r := ts.vault("POST", base+"/Minimal", ts.root, map[string]any{
		"bound_service_account_names": []string{"web"}, "bound_service_account_namespaces": "apps",
	})
	if w := strs(r.body["warnings"]); r.status != 200 || len(w) != 1 || w[0] != "Role Minimal does not have an audience configured. "+
		"While audiences are not required, consider specifying one if your use case would benefit from additional JWT claim verification." {
		t.Errorf("role without an audience: %d %s, want 200 with Vault's warning", r.status, r.raw)
	}
	r = ts.vault("GET", base+"/minimal", ts.root, nil)
	got := dataOf(t, r)
	wantKeys(t, "role", got, roleKeys...)
	for k, v := range map[string]any{
		"audience": "", "alias_name_source": "serviceaccount_uid", "token_ttl": 0.0, "token_max_ttl": 0.0,
		"token_explicit_max_ttl": 0.0, "token_period": 0.0, "token_num_uses": 0.0, "token_no_default_policy": false, "token_type": "default",
		"ttl": 0.0, "max_ttl": 0.0, "period": 0.0, "num_uses": 0.0,
	} {
		if got[k] != v {
			t.Errorf("default %s = %#v, want %#v", k, got[k], v)
		}
	}
	for _, k := range []string{"token_policies", "token_bound_cidrs", "policies", "bound_cidrs"} {
		if l, ok := got[k].([]any); !ok || len(l) != 0 {
			t.Errorf("%s = %#v, want []", k, got[k])
		}
	}
	if !strings.Contains(r.raw, `"token_policies":[]`) || !strings.Contains(r.raw, `"token_bound_cidrs":[]`) {
		t.Errorf("empty lists are not [] in %s", r.raw)
	}
	if n := strs(got["bound_service_account_names"]); !slices.Equal(n, []string{"web"}) {
		t.Errorf("bound names = %v", n)
	}

	// Every field set, with the names' case mixed.
	noContent(t, ts.vault("PUT", base+"/Web-App", ts.root, map[string]any{
		"bound_service_account_names": "web, web-*", "bound_service_account_namespaces": []string{"apps", "team-*"},
		"audience": "vault", "alias_name_source": "serviceaccount_name", "token_ttl": "1h", "token_max_ttl": 7200,
		"token_explicit_max_ttl": "3h", "token_period": "0", "token_policies": "Read,deploy", "token_bound_cidrs": []string{"10.0.0.0/8"},
		"token_num_uses": "5", "token_no_default_policy": true, "token_type": "service",
	}))
	got = readRole("WEB-APP")
	for k, v := range map[string]any{
		"audience": "vault", "alias_name_source": "serviceaccount_name", "token_ttl": 3600.0, "token_max_ttl": 7200.0,
		"token_explicit_max_ttl": 10800.0, "token_period": 0.0, "token_num_uses": 5.0, "token_no_default_policy": true, "token_type": "service",
	} {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}
	for k, v := range map[string][]string{
		"bound_service_account_names": {"web", "web-*"}, "bound_service_account_namespaces": {"apps", "team-*"},
		"token_policies": {"deploy", "read"}, "token_bound_cidrs": {"10.0.0.0/8"},
	} {
		if l := strs(got[k]); !slices.Equal(l, v) {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}

	// Update merges: omitted fields keep their values.
	noContent(t, ts.vault("POST", base+"/web-app", ts.root, map[string]any{"token_ttl": 600}))
	got = readRole("web-app")
	if got["token_ttl"] != 600.0 || got["token_max_ttl"] != 7200.0 || got["audience"] != "vault" ||
		!slices.Equal(strs(got["bound_service_account_names"]), []string{"web", "web-*"}) || !slices.Equal(strs(got["token_policies"]), []string{"deploy", "read"}) {
		t.Errorf("update did not merge: %v", got)
	}
	// An update is validated against the merged role.
	vaultErrorOK(t, ts.vault("PUT", base+"/web-app", ts.root, map[string]any{"token_max_ttl": 300}), 400, "token_ttl should not be greater than token_max_ttl")
	vaultErrorOK(t, ts.vault("PUT", base+"/web-app", ts.root, map[string]any{"bound_service_account_names": []string{}}), 400, `"bound_service_account_names" can not be empty`)
	if got := readRole("web-app"); got["token_max_ttl"] != 7200.0 || len(strs(got["bound_service_account_names"])) != 2 {
		t.Errorf("a refused update changed the role: %v", got)
	}

	// LIST and GET ?list=true: stored lower-case, sorted.
	for _, req := range []struct{ method, path string }{{"LIST", base}, {"LIST", base + "/"}, {"GET", base + "?list=true"}} {
		keys := strs(dataOf(t, ts.vault(req.method, req.path, ts.root, nil))["keys"])
		if !slices.Equal(keys, []string{"minimal", "web-app"}) {
			t.Errorf("%s %s keys = %v", req.method, req.path, keys)
		}
	}
	if keys := strs(dataOf(t, ts.vault("LIST", base, member, nil))["keys"]); len(keys) != 2 {
		t.Errorf("member list: %v", keys)
	}

	// Delete answers 204, also when absent; then reads are 404.
	noContent(t, ts.vault("DELETE", base+"/Web-App", ts.root, nil))
	vaultErrorOK(t, ts.vault("GET", base+"/web-app", ts.root, nil), 404, "")
	noContent(t, ts.vault("DELETE", base+"/web-app", ts.root, nil))
	noContent(t, ts.vault("DELETE", base+"/never-was", ts.root, nil))
	noContent(t, ts.vault("DELETE", base+"/minimal", ts.root, nil))
	vaultErrorOK(t, ts.vault("LIST", base, ts.root, nil), 404, "")
	vaultErrorOK(t, ts.vault("GET", base+"?list=true", ts.root, nil), 404, "")

	// "*" in both lists is allowed (Vault allows it since vault#11054).
	ts.vaultOK("PUT", base+"/everyone", ts.root, anyRole)
	// Vault's role names: word characters, with '-', '.' and '@' inside.
	for _, name := range []string{"svc@team.example", "a", "a_b", "A.b-c@d"} {
		ts.vaultOK("PUT", base+"/"+name, ts.root, anyRole)
		if got := readRole(name); !slices.Equal(strs(got["bound_service_account_names"]), []string{"*"}) {
			t.Errorf("role %q reads back as %v", name, got)
		}
		noContent(t, ts.vault("DELETE", base+"/"+name, ts.root, nil))
	}

	valid := func(extra map[string]any) map[string]any {
		return withFields(map[string]any{"bound_service_account_names": "web", "bound_service_account_namespaces": "apps"}, extra)
	}
	bad := []struct {
		name   string
		role   string
		tok    string
		body   any
		status int
		msg    string
	}{
		{"no bound names", "r", ts.root, valid(map[string]any{"bound_service_account_names": nil}), 400, `"bound_service_account_names" can not be empty`},
		{"no bound namespaces", "r", ts.root, valid(map[string]any{"bound_service_account_namespaces": nil}), 400, `"bound_service_account_namespaces" can not be empty`},
		{"empty bound names", "r", ts.root, valid(map[string]any{"bound_service_account_names": ""}), 400, "can not be empty"},
		{"* mixed in names", "r", ts.root, valid(map[string]any{"bound_service_account_names": []string{"*", "web"}}), 400, `can not mix "*" with values`},
		{"* mixed in namespaces", "r", ts.root, valid(map[string]any{"bound_service_account_namespaces": "apps,*"}), 400, `can not mix "*" with values`},
		{"ttl not a duration", "r", ts.root, valid(map[string]any{"token_ttl": "abc"}), 400, `"token_ttl"`},
		{"negative ttl", "r", ts.root, valid(map[string]any{"token_ttl": -1}), 400, `"token_ttl"`},
		{"negative max ttl string", "r", ts.root, valid(map[string]any{"token_max_ttl": "-5m"}), 400, `"token_max_ttl"`},
		{"negative period", "r", ts.root, valid(map[string]any{"token_period": -1}), 400, `"token_period"`},
		{"fractional ttl", "r", ts.root, valid(map[string]any{"token_ttl": 1.5}), 400, `"token_ttl"`},
		{"legacy ttl not a duration", "r", ts.root, valid(map[string]any{"ttl": "abc"}), 400, "ttl"},
		{"negative uses", "r", ts.root, valid(map[string]any{"token_num_uses": -1}), 400, `"token_num_uses"`},
		{"ttl above max ttl", "r", ts.root, valid(map[string]any{"token_ttl": "2h", "token_max_ttl": "1h"}), 400, "token_ttl should not be greater than token_max_ttl"},
		{"batch tokens", "r", ts.root, valid(map[string]any{"token_type": "batch"}), 400, `token_type "batch" is not supported`},
		{"unknown token type", "r", ts.root, valid(map[string]any{"token_type": "weird"}), 400, "token_type"},
		{"bad alias source", "r", ts.root, valid(map[string]any{"alias_name_source": "pod"}), 400, "alias_name_source"},
		{"bad CIDR", "r", ts.root, valid(map[string]any{"token_bound_cidrs": "not-a-cidr"}), 400, "token_bound_cidrs"},
		{"policies not strings", "r", ts.root, valid(map[string]any{"token_policies": 5}), 400, "token_policies"},
		{"bad boolean", "r", ts.root, valid(map[string]any{"token_no_default_policy": "perhaps"}), 400, "token_no_default_policy"},
		{"bad role name", "-r", ts.root, valid(nil), 400, "invalid role name"},
		{"not JSON", "r", ts.root, `{"bound_service_account_names":`, 400, "not valid JSON"},
		{"member writes", "r", member, valid(nil), 403, "requires the admin role"},
		{"no token", "r", "", valid(nil), 403, "no token"},
		{"unknown mount", "r", ts.root, valid(nil), 404, ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			path := base + "/" + tc.role
			if tc.name == "unknown mount" {
				path = "auth/nowhere/role/r"
			}
			vaultErrorOK(t, ts.vault("PUT", path, tc.tok, tc.body), tc.status, tc.msg)
			vaultErrorOK(t, ts.vault("GET", base+"/"+tc.role, ts.root, nil), 404, "")
		})
	}
	vaultErrorOK(t, ts.vault("DELETE", base+"/everyone", member, nil), 403, "requires the admin role")

	// Durations: integer seconds, numeric strings, Go-style strings.
	durations := []struct {
		in   any
		want float64
	}{{3600, 3600}, {"3600", 3600}, {"1h", 3600}, {"90m", 5400}, {"1h30m", 5400}, {0, 0}}
	for _, d := range durations {
		ts.vaultOK("PUT", base+"/durations", ts.root, valid(map[string]any{"token_ttl": d.in, "token_period": d.in}))
		if got := readRole("durations"); got["token_ttl"] != d.want || got["token_period"] != d.want {
			t.Errorf("token_ttl %#v read back as %v, token_period as %v; want %v", d.in, got["token_ttl"], got["token_period"], d.want)
		}
	}

	// Legacy names; the new name wins when both are sent.
	legacy := []struct {
		name  string
		body  map[string]any
		field string
		want  any
	}{
		{"policies", map[string]any{"policies": "b,a"}, "token_policies", []string{"a", "b"}},
		{"ttl", map[string]any{"ttl": "1h"}, "token_ttl", 3600.0},
		{"max_ttl", map[string]any{"max_ttl": 7200}, "token_max_ttl", 7200.0},
		{"period", map[string]any{"period": "30m"}, "token_period", 1800.0},
		{"num_uses", map[string]any{"num_uses": 4}, "token_num_uses", 4.0},
		{"bound_cidrs", map[string]any{"bound_cidrs": "10.1.0.0/16"}, "token_bound_cidrs", []string{"10.1.0.0/16"}},
		{"token_policies wins", map[string]any{"token_policies": "new", "policies": "old"}, "token_policies", []string{"new"}},
		{"token_ttl wins", map[string]any{"token_ttl": 60, "ttl": 120}, "token_ttl", 60.0},
		{"token_max_ttl wins", map[string]any{"token_max_ttl": "2h", "max_ttl": "1h"}, "token_max_ttl", 7200.0},
		{"token_period wins", map[string]any{"token_period": 60, "period": 120}, "token_period", 60.0},
		{"token_num_uses wins", map[string]any{"token_num_uses": 2, "num_uses": 9}, "token_num_uses", 2.0},
		{"token_bound_cidrs wins", map[string]any{"token_bound_cidrs": "10.2.0.0/16", "bound_cidrs": "10.3.0.0/16"}, "token_bound_cidrs", []string{"10.2.0.0/16"}},
	}
	for i, tc := range legacy {
		t.Run("legacy "+tc.name, func(t *testing.T) {
			name := "legacy-" + string(rune('a'+i))
			ts.vaultOK("PUT", base+"/"+name, ts.root, valid(tc.body))
			got := readRole(name)
			switch want := tc.want.(type) {
			case []string:
				if l := strs(got[tc.field]); !slices.Equal(l, want) {
					t.Errorf("%s = %v, want %v", tc.field, got[tc.field], want)
				}
			default:
				if got[tc.field] != want {
					t.Errorf("%s = %v, want %v", tc.field, got[tc.field], want)
				}
			}
		})
	}
	// The legacy names show the values too.
	got = readRole("legacy-a")
	if l := strs(got["policies"]); !slices.Equal(l, []string{"a", "b"}) {
		t.Errorf("legacy policies not shown: %v", got)
	}

	// Unknown fields are ignored with Vault's warning; the role is stored.
	r = ts.vault("PUT", base+"/warned", ts.root, valid(map[string]any{"audiences": "typo", "bound_claims": 1}))
	if r.status != 200 {
		t.Fatalf("role with unknown fields: %d %s", r.status, r.raw)
	}
	if w := strs(r.body["warnings"]); len(w) != 2 || !strings.HasPrefix(w[0], "Role warned does not have an audience") ||
		w[1] != "Endpoint ignored these unrecognized parameters: [audiences bound_claims]" {
		t.Errorf("warnings = %v", r.body["warnings"])
	}
	if got := readRole("warned"); got["audience"] != "" || !slices.Equal(strs(got["bound_service_account_names"]), []string{"web"}) {
		t.Errorf("role with unknown fields: %v", got)
	}
}

// TestVaultLogin: a successful login's auth block, glob matching, bound
// CIDRs, and every failure class answered 403 "permission denied: <why>"
// (400 for a bad request) with no token.
func TestVaultLogin(t *testing.T) {
	ts, _ := newVaultServer(t)
	c := kubetest.New(t)
	other := kubetest.New(t)
	ts.kubeMount("kubernetes", c, nil)
	role := func(name string, extra map[string]any) {
		t.Helper()
		body := map[string]any{"bound_service_account_names": "*", "bound_service_account_namespaces": "*"}
		for k, v := range extra {
			body[k] = v
		}
		ts.vaultRole("kubernetes", name, body)
	}
	role("web", map[string]any{"bound_service_account_names": "web-*,api", "bound_service_account_namespaces": []string{"team-*"},
		"token_policies": "zeta,Alpha", "token_num_uses": 3})
	role("any", nil)
	role("hour", map[string]any{"token_ttl": "1h"})
	role("capped", map[string]any{"token_max_ttl": "30m"})
	role("explicit", map[string]any{"token_ttl": "2h", "token_explicit_max_ttl": 600})
	role("no-default", map[string]any{"token_no_default_policy": true, "token_policies": "ops"})
	role("cidr-in", map[string]any{"token_bound_cidrs": "127.0.0.0/8,::1/128"})
	role("cidr-out", map[string]any{"bound_cidrs": []string{"10.0.0.0/8"}})
	role("aud", map[string]any{"audience": "vault"})

	const defaultTTL = 768 * 3600.0
	successes := []struct {
		name, role, ns, sa string
		lease              float64
		policies           []string
		numUses            float64
	}{
		{"glob name and namespace", "web", "team-a", "web-1", defaultTTL, []string{"alpha", "default", "zeta"}, 3},
		{"exact name, other glob namespace", "web", "team-payments", "api", defaultTTL, []string{"alpha", "default", "zeta"}, 3},
		{"role name in any case", "WEB", "team-b", "web-frontend", defaultTTL, []string{"alpha", "default", "zeta"}, 3},
		{"default TTL 768h", "any", "apps", "app", defaultTTL, []string{"default"}, 0},
		{"role TTL", "hour", "apps", "app", 3600, []string{"default"}, 0},
		{"capped by max TTL", "capped", "apps", "app", 1800, []string{"default"}, 0},
		{"capped by explicit max TTL", "explicit", "apps", "app", 600, []string{"default"}, 0},
		{"no default policy", "no-default", "apps", "app", defaultTTL, []string{"ops"}, 0},
		{"caller inside bound CIDRs", "cidr-in", "apps", "app", defaultTTL, []string{"default"}, 0},
	}
	for _, tc := range successes {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.vaultLogin("kubernetes", tc.role, c.Token(tc.ns, tc.sa))
			a := authOf(t, r)
			wantKeys(t, "auth", a, "client_token", "accessor", "policies", "token_policies", "metadata", "lease_duration",
				"renewable", "entity_id", "token_type", "orphan", "mfa_requirement", "num_uses")
			sa, _ := c.ServiceAccount(tc.ns, tc.sa)
			md, _ := a["metadata"].(map[string]any)
			wantKeys(t, "metadata", md, "role", "service_account_name", "service_account_namespace", "service_account_secret_name", "service_account_uid")
			if md["role"] != strings.ToLower(tc.role) || md["service_account_name"] != tc.sa || md["service_account_namespace"] != tc.ns ||
				md["service_account_secret_name"] != "" || md["service_account_uid"] != sa.UID {
				t.Errorf("metadata = %v (uid %s)", md, sa.UID)
			}
			if p := strs(a["policies"]); !slices.Equal(p, tc.policies) {
				t.Errorf("policies = %v, want %v", p, tc.policies)
			}
			if p := strs(a["token_policies"]); !slices.Equal(p, tc.policies) {
				t.Errorf("token_policies = %v, want %v", p, tc.policies)
			}
			if a["lease_duration"] != tc.lease || a["renewable"] != true || a["token_type"] != "service" || a["orphan"] != true || a["num_uses"] != tc.numUses {
				t.Errorf("auth = %v", a)
			}
			if acc, _ := a["accessor"].(string); acc == "" {
				t.Error("no accessor")
			}
			if e, _ := a["entity_id"].(string); e == "" {
				t.Error("no entity_id")
			}
			if r.body["data"] != nil || r.body["lease_duration"] != 0.0 {
				t.Errorf("envelope = %s", r.raw)
			}
			// The token works from the caller's address.
			if r := ts.vault("GET", "auth/token/lookup-self", a["client_token"].(string), nil); r.status != 200 {
				t.Errorf("lookup-self with the new token: %d %s", r.status, r.raw)
			}
		})
	}

	// The same role's tokens share its entity; another role's do not.
	e1 := authOf(t, ts.vaultLogin("kubernetes", "any", c.Token("apps", "a")))["entity_id"]
	e2 := authOf(t, ts.vaultLogin("kubernetes", "any", c.Token("apps", "b")))["entity_id"]
	e3 := authOf(t, ts.vaultLogin("kubernetes", "hour", c.Token("apps", "a")))["entity_id"]
	if e1 != e2 || e1 == e3 {
		t.Errorf("entity ids: any %v, %v; hour %v", e1, e2, e3)
	}

	// The audience matrix. A role audience is what TokenReview asks for;
	// without one the review asks for the JWT's own aud, so any token
	// the API server accepts for its own aud logs in.
	apiAud := c.APIAudiences()
	audiences := []struct {
		role, tokenAud string
		ok             bool
		asked          []string
	}{
		{"any", "vault", true, []string{"vault"}},
		{"any", "other", true, []string{"other"}},
		{"any", "", true, apiAud},
		{"aud", "vault", true, []string{"vault"}},
		{"aud", "other", false, []string{"vault"}},
		{"aud", "", false, []string{"vault"}},
	}
	for _, tc := range audiences {
		name := "role aud unset"
		if tc.role == "aud" {
			name = "role aud vault"
		}
		name += ", token aud "
		if tc.tokenAud == "" {
			name += "API server default"
		} else {
			name += tc.tokenAud
		}
		t.Run(name, func(t *testing.T) {
			var opts []kubetest.TokenOption
			if tc.tokenAud != "" {
				opts = append(opts, kubetest.Audiences(tc.tokenAud))
			}
			r := ts.vaultLogin("kubernetes", tc.role, c.Token("apps", "app", opts...))
			if tc.ok {
				authOf(t, r)
			} else {
				vaultErrorOK(t, r, 403, "permission denied: ")
				if !strings.Contains(r.raw, "audience") {
					t.Errorf("the refusal does not name the audience: %s", r.raw)
				}
			}
			if call, ok := c.LastTokenReview(); !ok || !slices.Equal(call.Audiences, tc.asked) {
				t.Errorf("TokenReview asked for audiences %v, want %v", call.Audiences, tc.asked)
			}
		})
	}

	// Failures on this mount.
	c.CreateServiceAccount("apps", "doomed")
	deleted := c.Token("apps", "doomed")
	c.DeleteServiceAccount("apps", "doomed")
	failures := []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"missing role", map[string]any{"jwt": c.Token("apps", "app")}, 400, "missing role"},
		{"empty role", map[string]any{"role": "", "jwt": c.Token("apps", "app")}, 400, "missing role"},
		{"missing jwt", map[string]any{"role": "any"}, 400, "missing jwt"},
		{"blank jwt", map[string]any{"role": "any", "jwt": "  "}, 400, "missing jwt"},
		{"unknown role", map[string]any{"role": "nope", "jwt": c.Token("apps", "app")}, 400, `invalid role name "nope"`},
		{"invalid role name", map[string]any{"role": "-x", "jwt": c.Token("apps", "app")}, 400, `invalid role name "-x"`},
		{"wrong service account name", map[string]any{"role": "web", "jwt": c.Token("team-a", "db")}, 403,
			`permission denied: service account name not authorized: "db" is not in the role's bound_service_account_names`},
		{"name glob is anchored", map[string]any{"role": "web", "jwt": c.Token("team-a", "my-web-1")}, 403, "service account name not authorized"},
		{"wrong namespace", map[string]any{"role": "web", "jwt": c.Token("prod", "web-1")}, 403,
			`permission denied: namespace not authorized: the service account's namespace "prod" is not in the role's bound_service_account_namespaces`},
		{"namespace glob is anchored", map[string]any{"role": "web", "jwt": c.Token("my-team-a", "web-1")}, 403, "namespace not authorized"},
		{"caller outside bound CIDRs", map[string]any{"role": "cidr-out", "jwt": c.Token("apps", "app")}, 403,
			`permission denied: source address "127.0.0.1" unauthorized through CIDR restrictions on the role`},
		{"expired token", map[string]any{"role": "any", "jwt": c.Token("apps", "app", kubetest.ExpiresIn(-2*time.Minute))}, 403, "expired"},
		{"deleted service account", map[string]any{"role": "any", "jwt": deleted}, 403, `serviceaccounts "doomed" not found`},
		{"token of another cluster", map[string]any{"role": "any", "jwt": other.Token("apps", "app")}, 403, "invalid bearer token"},
		{"not a JWT", map[string]any{"role": "any", "jwt": "not.a.jwt"}, 403, "not a well-formed JWT"},
		{"jwt not a string", map[string]any{"role": "any", "jwt": 5}, 400, "jwt"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			vaultErrorOK(t, ts.vault("POST", "auth/kubernetes/login", "", tc.body), tc.status, tc.msg)
		})
	}
	vaultErrorOK(t, ts.vaultLogin("nowhere", "any", c.Token("apps", "app")), 404, "")
	vaultErrorOK(t, ts.vault("GET", "auth/kubernetes/login", "", nil), 405, "unsupported operation")
	ts.vaultOK("POST", "sys/auth/unconfigured", ts.root, map[string]any{"type": "kubernetes"})
	ts.vaultRole("unconfigured", "any", anyRole)
	vaultErrorOK(t, ts.vaultLogin("unconfigured", "any", c.Token("apps", "app")), 400, "could not load backend configuration")
}

// TestVaultLoginClusterChecks: local checks with pem_keys (signature,
// issuer, expiry) before an always-made TokenReview, and failures of the
// reviewer and the API server, each 403 with its reason.
func TestVaultLoginClusterChecks(t *testing.T) {
	ts, _ := newVaultServer(t)
	c := kubetest.New(t)
	other := kubetest.New(t)
	keys := []string{c.SigningKeyPEM()}
	mounts := map[string]map[string]any{
		"pem":         {"pem_keys": keys},
		"iss-on":      {"pem_keys": keys, "issuer": c.Issuer(), "disable_iss_validation": false},
		"iss-wrong":   {"pem_keys": keys, "issuer": "https://issuer.example", "disable_iss_validation": false},
		"iss-off":     {"pem_keys": keys, "issuer": "https://issuer.example"},
		"iss-default": {"pem_keys": keys, "disable_iss_validation": false},
		"down":        {"kubernetes_host": refusedAddr(t)},
	}
	for path, extra := range mounts {
		ts.kubeMount(path, c, extra)
		ts.vaultRole(path, "app", anyRole)
	}
	ts.vaultOK("POST", "sys/auth/no-perm", ts.root, map[string]any{"type": "kubernetes"})
	ts.vaultOK("PUT", "auth/no-perm/config", ts.root, vaultConfig(c, c.ReviewerToken("kube-system", "losing-rights"), nil))
	c.RevokeAuthDelegator("kube-system", "losing-rights")
	ts.vaultRole("no-perm", "app", anyRole)
	ts.kubeMount("plain", c, nil)
	ts.vaultRole("plain", "app", anyRole)

	good := c.Token("apps", "app")
	cases := []struct {
		name     string
		mount    string
		jwt      string
		fault    kubetest.Fault
		ok       bool
		msg      string
		reviewed bool // a TokenReview was made
	}{
		{"pem_keys: good token, still reviewed", "pem", good, 0, true, "", true},
		{"pem_keys: signed by another key", "pem", c.Token("apps", "app", kubetest.SignedWith(other.SigningKey())), 0, false,
			"permission denied: the jwt's signature does not verify with any of the configured public keys (pem_keys)", false},
		{"pem_keys: token of another cluster", "pem", other.Token("apps", "app"), 0, false, "pem_keys", false},
		{"pem_keys: expired", "pem", c.Token("apps", "app", kubetest.ExpiresIn(-2*time.Minute)), 0, false, "permission denied: the jwt has expired", false},
		{"issuer validated: right issuer", "iss-on", good, 0, true, "", true},
		{"issuer validated: wrong iss claim", "iss-on", c.Token("apps", "app", kubetest.ClaimIssuer("https://evil.example")), 0, false, "issuer (iss)", false},
		{"issuer validated: token not from the configured issuer", "iss-wrong", good, 0, false, `issuer (iss) "` + c.Issuer() + `"`, false},
		{"issuer not validated: configured issuer ignored", "iss-off", good, 0, true, "", true},
		{"issuer validated without an issuer: nothing to check (Vault)", "iss-default", good, 0, true, "", true},
		{"reviewer without system:auth-delegator", "no-perm", good, 0, false, "system:auth-delegator", true},
		{"API server down", "down", good, 0, false, "was refused", false},
		{"API server failing", "plain", good, kubetest.FaultInternalError, false, "HTTP 500", true},
		{"API server answering garbage", "plain", good, kubetest.FaultGarbage, false, "not a TokenReview", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Cleanup(c.ClearFaults)
			if tc.fault != kubetest.FaultNone {
				c.FailAll(tc.fault)
			}
			reviews := c.TokenReviewCount()
			r := ts.vaultLogin(tc.mount, "app", tc.jwt)
			if tc.ok {
				authOf(t, r)
			} else {
				vaultErrorOK(t, r, 403, tc.msg)
			}
			if reviewed := c.TokenReviewCount() > reviews; reviewed != tc.reviewed {
				t.Errorf("TokenReview made = %v, want %v", reviewed, tc.reviewed)
			}
		})
	}
	// The reviewer's 403 says which answer the API server gave.
	r := ts.vaultLogin("no-perm", "app", good)
	vaultErrorOK(t, r, 403, "403")
}

// TestVaultMountsIsolated: two mounts for two clusters, with the same role
// names, never accept each other's tokens.
func TestVaultMountsIsolated(t *testing.T) {
	ts, _ := newVaultServer(t)
	a := kubetest.New(t)
	b := kubetest.New(t)
	ts.kubeMount("cluster-a", a, nil)
	ts.kubeMount("cluster-b", b, nil)
	ts.kubeMount("cluster-b-pem", b, map[string]any{"pem_keys": b.SigningKeyPEM()})
	for _, m := range []string{"cluster-a", "cluster-b", "cluster-b-pem"} {
		ts.vaultRole(m, "web", map[string]any{"bound_service_account_names": "web", "bound_service_account_namespaces": "apps"})
	}
	tokA := a.Token("apps", "web")
	tokB := b.Token("apps", "web")

	cases := []struct {
		mount, jwt string
		ok         bool
	}{
		{"cluster-a", tokA, true},
		{"cluster-b", tokB, true},
		{"cluster-b-pem", tokB, true},
		{"cluster-b", tokA, false},
		{"cluster-b-pem", tokA, false},
		{"cluster-a", tokB, false},
	}
	for _, tc := range cases {
		from := "cluster-a"
		if tc.jwt == tokB {
			from = "cluster-b"
		}
		t.Run("token of "+from+" on "+tc.mount, func(t *testing.T) {
			ra, rb := a.TokenReviewCount(), b.TokenReviewCount()
			r := ts.vaultLogin(tc.mount, "web", tc.jwt)
			if !tc.ok {
				vaultErrorOK(t, r, 403, "permission denied: ")
			} else if p := ts.vault("GET", "auth/token/lookup-self", authOf(t, r)["client_token"].(string), nil); dataOf(t, p)["path"] != "auth/"+tc.mount+"/login" {
				t.Errorf("token path = %v", dataOf(t, p)["path"])
			}
			// Each mount asks only its own cluster.
			onA, onB := a.TokenReviewCount() > ra, b.TokenReviewCount() > rb
			if strings.HasPrefix(tc.mount, "cluster-a") && onB || strings.HasPrefix(tc.mount, "cluster-b") && onA {
				t.Errorf("mount %s reviewed on the other cluster (a: %v, b: %v)", tc.mount, onA, onB)
			}
		})
	}

	// Deleting a role on one mount leaves the same-named role on the other.
	noContent(t, ts.vault("DELETE", "auth/cluster-a/role/web", ts.root, nil))
	vaultErrorOK(t, ts.vaultLogin("cluster-a", "web", tokA), 400, `invalid role name "web"`)
	authOf(t, ts.vaultLogin("cluster-b", "web", tokB))
}

// TestVaultKubernetesTokens: the token endpoints for a token from a
// Kubernetes login, and revocation by an administrator or by deleting the
// role.
func TestVaultKubernetesTokens(t *testing.T) {
	ts, clock := newVaultServer(t)
	c := kubetest.New(t)
	ts.kubeMount("k8s", c, nil)
	ts.vaultRole("k8s", "app", map[string]any{"bound_service_account_names": "app", "bound_service_account_namespaces": "apps",
		"token_ttl": "1h", "token_max_ttl": "2h", "token_policies": "read"})
	member := ts.tokenFor(ts.createIdentity("operator", "member"), store.TokenPolicy{})
	login := func() (tok, accessor string, auth map[string]any) {
		t.Helper()
		a := authOf(t, ts.vaultLogin("k8s", "app", c.Token("apps", "app")))
		return a["client_token"].(string), a["accessor"].(string), a
	}
	tok, acc, auth := login()
	sa, _ := c.ServiceAccount("apps", "app")

	// lookup-self, by GET and POST, with X-Vault-Token or a bearer.
	for _, r := range []result{
		ts.vault("GET", "auth/token/lookup-self", tok, nil),
		ts.vault("POST", "auth/token/lookup-self", tok, nil),
		ts.do("GET", "/v1/auth/token/lookup-self", tok, nil),
	} {
		d := dataOf(t, r)
		for _, k := range []string{"accessor", "id", "creation_time", "creation_ttl", "issue_time", "expire_time", "display_name", "entity_id",
			"explicit_max_ttl", "meta", "num_uses", "orphan", "path", "policies", "renewable", "ttl", "type"} {
			if _, ok := d[k]; !ok {
				t.Errorf("lookup-self lacks %q", k)
			}
		}
		for k, v := range map[string]any{
			"id": tok, "accessor": acc, "entity_id": auth["entity_id"], "path": "auth/k8s/login", "ttl": 3600.0, "creation_ttl": 3600.0,
			"creation_time": float64(clock.Now().Unix()), "renewable": true, "type": "service", "orphan": true, "num_uses": 0.0,
			"display_name": "k8s-apps-app",
		} {
			if d[k] != v {
				t.Errorf("lookup-self %s = %#v, want %#v", k, d[k], v)
			}
		}
		for _, k := range []string{"issue_time", "expire_time"} {
			if _, err := time.Parse(time.RFC3339Nano, d[k].(string)); err != nil {
				t.Errorf("%s = %v: %v", k, d[k], err)
			}
		}
		if _, ok := d["explicit_max_ttl"].(float64); !ok {
			t.Errorf("explicit_max_ttl = %#v", d["explicit_max_ttl"])
		}
		if p := strs(d["policies"]); !slices.Equal(p, []string{"default", "read"}) {
			t.Errorf("policies = %v", p)
		}
		meta, _ := d["meta"].(map[string]any)
		if meta["role"] != "app" || meta["service_account_name"] != "app" || meta["service_account_namespace"] != "apps" || meta["service_account_uid"] != sa.UID {
			t.Errorf("meta = %v", d["meta"])
		}
	}

	// renew-self: the increment is capped by the max TTL (2h from login).
	r := ts.vault("PUT", "auth/token/renew-self", tok, map[string]any{"increment": 1800})
	if a := r.body["auth"].(map[string]any); r.status != 200 || a["lease_duration"] != 1800.0 || a["client_token"] != tok || a["renewable"] != true || r.body["warnings"] != nil {
		t.Errorf("renew-self 1800: %d %s", r.status, r.raw)
	}
	clock.Advance(20 * time.Minute)
	r = ts.vault("POST", "auth/token/renew-self", tok, map[string]any{"increment": "3h"})
	if r.status != 200 || r.body["auth"].(map[string]any)["lease_duration"] != 6000.0 {
		t.Fatalf("renew-self 3h after 20m: %d %s", r.status, r.raw)
	}
	if w := strs(r.body["warnings"]); len(w) != 1 || !strings.Contains(w[0], "capped") {
		t.Errorf("renew-self warnings = %v", r.body["warnings"])
	}
	if d := dataOf(t, ts.vault("GET", "auth/token/lookup-self", tok, nil)); d["ttl"] != 6000.0 {
		t.Errorf("ttl after renewal = %v", d["ttl"])
	}
	vaultErrorOK(t, ts.vault("PUT", "auth/token/renew-self", "", nil), 403, "permission denied")
	vaultErrorOK(t, ts.vault("PUT", "auth/token/renew-self", tok, map[string]any{"increment": "soon"}), 400, "increment")

	// Administrators: lookup and lookup-accessor.
	d := dataOf(t, ts.vault("POST", "auth/token/lookup", ts.root, map[string]any{"token": tok}))
	if d["id"] != tok || d["accessor"] != acc || d["path"] != "auth/k8s/login" {
		t.Errorf("lookup = %v", d)
	}
	d = dataOf(t, ts.vault("PUT", "auth/token/lookup-accessor", ts.root, map[string]any{"accessor": acc}))
	if d["id"] != "" || d["accessor"] != acc || d["entity_id"] != auth["entity_id"] {
		t.Errorf("lookup-accessor = %v", d)
	}

	tok2, acc2, _ := login()
	tok3, _, _ := login()
	unknownAcc := "7b0c3a0e-7a44-4c55-9f3e-2b8f7f1c0d11"
	admin := []struct {
		name, path, tok string
		body            any
		status          int
		msg             string
	}{
		{"member looks up", "lookup", member, map[string]any{"token": tok}, 403, "requires the admin role"},
		{"login token looks up", "lookup", tok2, map[string]any{"token": tok}, 403, "requires the admin role"},
		{"member revokes", "revoke", member, map[string]any{"token": tok}, 403, "requires the admin role"},
		{"member looks up accessor", "lookup-accessor", member, map[string]any{"accessor": acc}, 403, "requires the admin role"},
		{"member revokes accessor", "revoke-accessor", member, map[string]any{"accessor": acc}, 403, "requires the admin role"},
		{"no token", "lookup", "", map[string]any{"token": tok}, 403, "no token"},
		{"bad token", "lookup", ts.root, map[string]any{"token": "gth_nonsense"}, 403, "permission denied: bad token"},
		{"garbage token", "lookup", ts.root, map[string]any{"token": "not a token"}, 403, "bad token"},
		{"missing token", "lookup", ts.root, map[string]any{}, 400, "missing token"},
		{"unknown accessor", "lookup-accessor", ts.root, map[string]any{"accessor": unknownAcc}, 400, "invalid accessor"},
		{"malformed accessor", "lookup-accessor", ts.root, map[string]any{"accessor": "nope"}, 400, "invalid accessor"},
		{"revoke unknown accessor", "revoke-accessor", ts.root, map[string]any{"accessor": unknownAcc}, 400, "invalid accessor"},
		{"missing accessor", "revoke-accessor", ts.root, map[string]any{}, 400, "missing accessor"},
	}
	for _, tc := range admin {
		t.Run(tc.name, func(t *testing.T) {
			vaultErrorOK(t, ts.vault("POST", "auth/token/"+tc.path, tc.tok, tc.body), tc.status, tc.msg)
			for _, live := range []string{tok, tok2, tok3} {
				if r := ts.vault("GET", "auth/token/lookup-self", live, nil); r.status != 200 {
					t.Fatalf("a refused request revoked a token: %d %s", r.status, r.raw)
				}
			}
		})
	}

	// revoke-accessor, revoke: 204, then the token is dead.
	noContent(t, ts.vault("POST", "auth/token/revoke-accessor", ts.root, map[string]any{"accessor": acc2}))
	vaultErrorOK(t, ts.vault("GET", "auth/token/lookup-self", tok2, nil), 403, "permission denied")
	vaultErrorOK(t, ts.vault("POST", "auth/token/lookup-accessor", ts.root, map[string]any{"accessor": acc2}), 400, "invalid accessor")
	vaultErrorOK(t, ts.vault("POST", "auth/token/revoke-accessor", ts.root, map[string]any{"accessor": acc2}), 400, "invalid accessor")
	noContent(t, ts.vault("PUT", "auth/token/revoke", ts.root, map[string]any{"token": tok3}))
	vaultErrorOK(t, ts.vault("GET", "auth/token/lookup-self", tok3, nil), 403, "permission denied")
	vaultErrorOK(t, ts.vault("POST", "auth/token/lookup", ts.root, map[string]any{"token": tok3}), 403, "bad token")

	// revoke-self: 204, then 403.
	noContent(t, ts.vault("PUT", "auth/token/revoke-self", tok, nil))
	vaultErrorOK(t, ts.vault("GET", "auth/token/lookup-self", tok, nil), 403, "permission denied")
	vaultErrorOK(t, ts.vault("PUT", "auth/token/renew-self", tok, nil), 403, "permission denied")

	// Deleting the role revokes its tokens.
	tok4, _, _ := login()
	tok5, _, _ := login()
	noContent(t, ts.vault("DELETE", "auth/k8s/role/app", ts.root, nil))
	for _, dead := range []string{tok4, tok5} {
		vaultErrorOK(t, ts.vault("GET", "auth/token/lookup-self", dead, nil), 403, "permission denied")
		vaultErrorOK(t, ts.vault("PUT", "auth/token/renew-self", dead, nil), 403, "permission denied")
	}
	vaultErrorOK(t, ts.vaultLogin("k8s", "app", c.Token("apps", "app")), 400, `invalid role name "app"`)
}

// TestVaultDevEnablesKubernetes: --dev starts with auth/kubernetes enabled.
func TestVaultDevEnablesKubernetes(t *testing.T) {
	ts := newVaultServerWith(t, server.Config{Dev: true})
	m, ok := dataOf(t, ts.vault("GET", "sys/auth", ts.root, nil))["kubernetes/"].(map[string]any)
	if !ok || m["type"] != "kubernetes" {
		t.Fatalf("--dev sys/auth kubernetes/ = %v", m)
	}
	vaultErrorOK(t, ts.vault("GET", "auth/kubernetes/config", ts.root, nil), 404, "")
	c := kubetest.New(t)
	ts.vaultOK("PUT", "auth/kubernetes/config", ts.root, vaultConfig(c, c.ReviewerToken("kube-system", "gatehouse"), nil))
	ts.vaultRole("kubernetes", "app", anyRole)
	authOf(t, ts.vaultLogin("kubernetes", "app", c.Token("apps", "app")))
}

// TestVaultInPodFallback: with disable_local_ca_jwt false, an empty CA or
// reviewer JWT falls back to the pod's own files (the token re-read after
// a minute); with it true they are never used.
func TestVaultInPodFallback(t *testing.T) {
	c := kubetest.New(t)
	dir := t.TempDir()
	podReviewer := c.ReviewerToken("kube-system", "gatehouse-pod")
	writeFile := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeFile("ca.crt", c.CAPEM())
	writeFile("token", podReviewer+"\n")
	clock := &testClock{t: time.Now()}
	ts := newVaultServerWith(t, server.Config{PodServiceAccountDir: dir, Now: clock.Now})
	ts.vaultOK("POST", "sys/auth/kubernetes", ts.root, map[string]any{"type": "kubernetes"})
	ts.vaultRole("kubernetes", "app", anyRole)
	explicit := c.ReviewerToken("kube-system", "explicit")
	config := func(body map[string]any) {
		t.Helper()
		body["kubernetes_host"] = c.URL()
		noContent(t, ts.vault("PUT", "auth/kubernetes/config", ts.root, body))
	}
	bearer := func() string {
		t.Helper()
		call, ok := c.LastTokenReview()
		if !ok {
			t.Fatal("no TokenReview was made")
		}
		return call.Bearer
	}

	// Only the host: the pod's CA and token. Neither is stored.
	config(map[string]any{})
	if d := dataOf(t, ts.vault("GET", "auth/kubernetes/config", ts.root, nil)); d["kubernetes_ca_cert"] != "" || d["token_reviewer_jwt_set"] != false {
		t.Errorf("the pod's files were stored: %v", d)
	}
	authOf(t, ts.vaultLogin("kubernetes", "app", c.Token("apps", "app")))
	if bearer() != podReviewer {
		t.Error("the pod's token was not the reviewer")
	}

	// A configured reviewer JWT wins; the pod's CA is still used.
	config(map[string]any{"token_reviewer_jwt": explicit})
	authOf(t, ts.vaultLogin("kubernetes", "app", c.Token("apps", "app")))
	if bearer() != explicit {
		t.Error("the configured reviewer JWT was not used")
	}

	// A configured CA; the pod's token is the reviewer.
	config(map[string]any{"kubernetes_ca_cert": c.CAPEM()})
	authOf(t, ts.vaultLogin("kubernetes", "app", c.Token("apps", "app")))
	if bearer() != podReviewer {
		t.Error("the pod's token was not the reviewer with a configured CA")
	}

	// The token file is re-read once a minute: projected tokens rotate.
	rotated := c.ReviewerToken("kube-system", "gatehouse-pod", kubetest.ExpiresIn(2*time.Hour))
	writeFile("token", rotated)
	authOf(t, ts.vaultLogin("kubernetes", "app", c.Token("apps", "app")))
	if bearer() != podReviewer {
		t.Error("the token file was re-read within the minute")
	}
	clock.Advance(61 * time.Second)
	authOf(t, ts.vaultLogin("kubernetes", "app", c.Token("apps", "app")))
	if bearer() != rotated {
		t.Error("the rotated token file was not re-read after a minute")
	}

	// disable_local_ca_jwt: the pod's token is not used, so the login JWT
	// is the bearer and (without system:auth-delegator) is refused.
	config(map[string]any{"kubernetes_ca_cert": c.CAPEM(), "disable_local_ca_jwt": true})
	jwt := c.Token("apps", "app")
	vaultErrorOK(t, ts.vaultLogin("kubernetes", "app", jwt), 403, "system:auth-delegator")
	if bearer() != jwt {
		t.Error("with disable_local_ca_jwt the login JWT was not the bearer")
	}
	// Nor is the pod's CA: with none configured, the cluster's
	// certificate cannot be verified and no request reaches it.
	config(map[string]any{"token_reviewer_jwt": explicit, "disable_local_ca_jwt": true})
	requests := c.RequestCount()
	// Without a CA the system roots are used, as in Vault, and they do not
	// hold the test cluster's CA: a 403 that names the TLS failure.
	vaultErrorOK(t, ts.vaultLogin("kubernetes", "app", c.Token("apps", "app")), 403, "TLS certificate verification")
	if c.RequestCount() != requests {
		t.Error("a request reached the API server without a CA to verify it")
	}
}
