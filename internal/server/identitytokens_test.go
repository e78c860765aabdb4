package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func TestIdentityTokensList(t *testing.T) {
	ts := newTestServer(t)
	id := ts.createIdentity("worker", "member")
	other := ts.createIdentity("other", "member")
	var values []string
	for i := 0; i < 3; i++ {
		values = append(values, ts.tokenFor(id, store.TokenPolicy{TTL: 3600}))
	}
	ts.tokenFor(other, store.TokenPolicy{TTL: 3600})
	// A revoked token is not listed.
	if r := ts.do("POST", "/api/v1/auth/token/revoke", "", map[string]string{"accessToken": values[0]}); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.raw)
	}

	r := ts.do("GET", "/api/v1/identities/"+id+"/tokens", ts.root, nil)
	if r.status != 200 {
		t.Fatalf("list: %d %s", r.status, r.raw)
	}
	tokens := r.body["tokens"].([]any)
	if len(tokens) != 2 || r.body["totalCount"].(float64) != 2 {
		t.Fatalf("list: %s", r.raw)
	}
	for _, v := range values {
		if strings.Contains(r.raw, v) {
			t.Error("the list holds a token value")
		}
	}
	if strings.Contains(r.raw, `"hash"`) {
		t.Error("the list holds a hash")
	}
	first := tokens[0].(map[string]any)
	if first["identityId"] != id || first["accessTokenTTL"].(float64) != 3600 {
		t.Errorf("token: %v", first)
	}

	r = ts.do("GET", "/api/v1/identities/"+id+"/tokens?offset=1&limit=1", ts.root, nil)
	if r.status != 200 || len(r.body["tokens"].([]any)) != 1 || r.body["totalCount"].(float64) != 2 {
		t.Errorf("page: %d %s", r.status, r.raw)
	}

	tokID := first["id"].(string)
	r = ts.do("GET", "/api/v1/identities/"+id+"/tokens/"+tokID, ts.root, nil)
	if r.status != 200 || r.body["token"].(map[string]any)["id"] != tokID {
		t.Errorf("get: %d %s", r.status, r.raw)
	}
	// Another identity's token is not found under this one.
	if r := ts.do("GET", "/api/v1/identities/"+other+"/tokens/"+tokID, ts.root, nil); r.status != http.StatusNotFound {
		t.Errorf("get under another identity: %d", r.status)
	}
}

func TestIdentityTokensRefusals(t *testing.T) {
	ts := newTestServer(t)
	id := ts.createIdentity("worker", "member")
	member := ts.tokenFor(ts.createIdentity("reader", "member"), store.TokenPolicy{TTL: 3600})
	cases := []struct {
		name, path, tok string
		status          int
		errName         string
	}{
		{"member", "/api/v1/identities/" + id + "/tokens", member, http.StatusForbidden, "PermissionDenied"},
		{"no token", "/api/v1/identities/" + id + "/tokens", "", http.StatusUnauthorized, ""},
		{"unknown identity", "/api/v1/identities/6c1f3f4e-7d59-4a8e-9a43-2f9d51f0c1aa/tokens", ts.root, http.StatusNotFound, "NotFound"},
		{"bad identity id", "/api/v1/identities/nope/tokens", ts.root, http.StatusUnprocessableEntity, "ValidationFailure"},
		{"limit too large", "/api/v1/identities/" + id + "/tokens?limit=101", ts.root, http.StatusUnprocessableEntity, "ValidationFailure"},
		{"member get", "/api/v1/identities/" + id + "/tokens/6c1f3f4e-7d59-4a8e-9a43-2f9d51f0c1aa", member, http.StatusForbidden, "PermissionDenied"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := ts.do("GET", tc.path, tc.tok, nil)
			if tc.errName != "" {
				errorBodyOK(t, r, tc.status, tc.errName)
			} else if r.status != tc.status {
				t.Errorf("status %d, want %d", r.status, tc.status)
			}
		})
	}
}
