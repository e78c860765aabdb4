package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// call serves one JSON request on h and decodes the answer.
func call(tb testing.TB, h http.Handler, method, path, bearerTok string, body any) map[string]any {
	tb.Helper()
	b, _ := json.Marshal(body)
	req := httptest.NewRequest(method, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if bearerTok != "" {
		req.Header.Set("Authorization", "Bearer "+bearerTok)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	if rec.Code != 200 {
		tb.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body.String())
	}
	return out
}

// FuzzTokenEndpoint sends arbitrary bodies to POST /oauth2/token: the
// answer is never a 5xx; a refusal is an RFC 6749 body with a known code
// and no token; a success carries a JWT that the issuer's own keys verify.
func FuzzTokenEndpoint(f *testing.F) {
	var out bytes.Buffer
	srv, err := server.New(context.Background(), server.Config{Storage: "sqlite://" + filepath.Join(f.TempDir(), "g.db"), Out: &out,
		OIDC: oidc.Config{Issuer: "https://gatehouse.test"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	var root string
	for _, l := range strings.Split(out.String(), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "gth_") {
			root = l
		}
	}
	h := srv.Handler()
	id := call(f, h, "POST", "/api/v1/identities", root, map[string]any{"name": "fuzz", "role": "member"})["identity"].(map[string]any)["id"].(string)
	clientID := call(f, h, "POST", "/api/v1/auth/universal-auth/identities/"+id, root, map[string]any{})["identityUniversalAuth"].(map[string]any)["clientId"].(string)
	secret := call(f, h, "POST", "/api/v1/auth/universal-auth/identities/"+id+"/client-secrets", root, map[string]any{})["clientSecret"].(string)
	tok := call(f, h, "POST", "/api/v1/auth/universal-auth/login", "", map[string]any{"clientId": clientID, "clientSecret": secret})["accessToken"].(string)
	call(f, h, "PUT", "/api/v1/identities/"+id+"/exchange-audiences", root, map[string]any{"audiences": []string{"sts.amazonaws.com", "https://*.example.com"}})

	valid := exchangeForm(tok, "sts.amazonaws.com").Encode()
	f.Add(valid, "application/x-www-form-urlencoded")
	f.Add(valid+"&audience=https://a.example.com", "application/x-www-form-urlencoded")
	f.Add(valid+"&grant_type=x", "application/x-www-form-urlencoded")
	f.Add(strings.Replace(valid, "access_token", "jwt", 1), "application/x-www-form-urlencoded")
	f.Add(`{"grant_type":"x"}`, "application/json")
	f.Add("%zz&&==", "application/x-www-form-urlencoded; charset=utf-8")
	f.Add("audience=%00", "application/x-www-form-urlencoded")
	known := map[string]bool{"invalid_request": true, "invalid_grant": true, "invalid_target": true, "unsupported_grant_type": true, "slow_down": true}
	f.Fuzz(func(t *testing.T, body, contentType string) {
		req := httptest.NewRequest("POST", "/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var got map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
			t.Fatalf("%d, not JSON: %q", rec.Code, rec.Body.String())
		}
		switch {
		case rec.Code >= 500:
			t.Fatalf("%d %v", rec.Code, got)
		case rec.Code == http.StatusOK:
			jwt, _ := got["access_token"].(string)
			if _, err := srv.OIDC().Keys().Verify(jwt); err != nil {
				t.Fatalf("200 without a verifiable JWT: %v", got)
			}
		default:
			if code, _ := got["error"].(string); !known[code] || got["access_token"] != nil {
				t.Fatalf("%d %v", rec.Code, got)
			}
		}
	})
}
