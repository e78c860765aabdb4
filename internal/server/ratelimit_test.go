package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// post sends a JSON body and returns the status, the Retry-After header
// and the decoded body.
func (ts *testServer) post(path, body, forwardedFor string) (int, string, map[string]any) {
	ts.t.Helper()
	req, err := http.NewRequest("POST", ts.http.URL+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, resp.Header.Get("Retry-After"), m
}

var loginEndpoints = []struct{ name, path, body string }{
	{"infisical universal-auth", "/api/v1/auth/universal-auth/login", `{"clientId":"nobody","clientSecret":"wrong"}`},
	{"infisical kubernetes-auth", "/api/v1/auth/kubernetes-auth/login", `{"identityId":"nobody","jwt":"x.y.z"}`},
	{"vault auth/kubernetes/login", "/v1/auth/kubernetes/login", `{"role":"r","jwt":"x.y.z"}`},
}

// TestLoginRateLimit: every login endpoint of both APIs answers 429 with
// Retry-After, in its API's error shape, once an address has used its
// burst; other addresses (behind a trusted proxy too) are not affected.
func TestLoginRateLimit(t *testing.T) {
	for _, ep := range loginEndpoints {
		t.Run(ep.name, func(t *testing.T) {
			clock := &testClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
			ts := newTestServerWith(t, server.Config{
				Storage: "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db"), Now: clock.Now,
				LoginRateLimit: 0.5, LoginRateBurst: 3,
				TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")},
			})
			for i := range 3 {
				if status, _, _ := ts.post(ep.path, ep.body, "203.0.113.7"); status == http.StatusTooManyRequests {
					t.Fatalf("login %d of the burst refused", i+1)
				}
			}
			status, retry, body := ts.post(ep.path, ep.body, "203.0.113.7")
			if status != http.StatusTooManyRequests || retry != "2" {
				t.Fatalf("4th login: %d Retry-After %q, want 429 and 2 (%v)", status, retry, body)
			}
			if strings.HasPrefix(ep.path, "/v1/") {
				errsList, _ := body["errors"].([]any)
				if len(errsList) != 1 || !strings.Contains(errsList[0].(string), "rate limit quota exceeded") {
					t.Errorf("Vault body = %v", body)
				}
			} else if body["statusCode"] != float64(429) || body["error"] != "RateLimitExceeded" ||
				body["message"] != "Rate limit exceeded. Please try again in 2 seconds" || !strings.HasPrefix(body["reqId"].(string), "req-") {
				t.Errorf("Infisical body = %v", body)
			}
			// Another client behind the same trusted proxy, and the proxy
			// itself, have their own allowance.
			if status, _, _ := ts.post(ep.path, ep.body, "203.0.113.8"); status == http.StatusTooManyRequests {
				t.Error("another forwarded address was refused")
			}
			if status, _, _ := ts.post(ep.path, ep.body, ""); status == http.StatusTooManyRequests {
				t.Error("the proxy's own address was refused")
			}
			// The bucket refills at the configured rate.
			clock.Advance(2 * time.Second)
			if status, _, _ := ts.post(ep.path, ep.body, "203.0.113.7"); status == http.StatusTooManyRequests {
				t.Error("refused after Retry-After")
			}
		})
	}
}

// TestLoginRateLimitIgnoresUntrustedForwardedFor: without trusted proxies,
// X-Forwarded-For cannot buy a client a fresh allowance.
func TestLoginRateLimitIgnoresUntrustedForwardedFor(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)}
	ts := newTestServerWith(t, server.Config{
		Storage: "sqlite://" + filepath.Join(t.TempDir(), "gatehouse.db"), Now: clock.Now,
		LoginRateLimit: 1, LoginRateBurst: 2,
	})
	ep := loginEndpoints[0]
	for i := range 2 {
		ts.post(ep.path, ep.body, "198.51.100."+string(rune('1'+i)))
	}
	if status, _, _ := ts.post(ep.path, ep.body, "198.51.100.9"); status != http.StatusTooManyRequests {
		t.Errorf("a spoofed X-Forwarded-For got a fresh allowance: %d", status)
	}
	// The limit is per source address across both APIs' logins.
	if status, _, _ := ts.post("/v1/auth/kubernetes/login", `{"role":"r","jwt":"x"}`, ""); status != http.StatusTooManyRequests {
		t.Errorf("the Vault login did not share the address's allowance: %d", status)
	}
}
