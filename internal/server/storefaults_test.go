package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Item 20 of issue 11: every store call a login or a token check makes,
// failing as an unreachable database does, is a 503 with Retry-After in
// the API's error shape (never a 500), /readyz fails meanwhile, and the
// same request succeeds once the store is back, without a restart.

// newFaultServer is a test server on a fresh SQLite store wrapped in a
// faultStore, on a settable clock.
func newFaultServer(t *testing.T) (*testServer, *faultStore, *testClock) {
	t.Helper()
	clock := &testClock{t: time.Now()}
	var fs *faultStore
	cfg := server.WithStoreWrapper(server.Config{
		Storage: "sqlite://" + filepath.Join(t.TempDir(), "g.db"), Now: clock.Now, PodServiceAccountDir: "-",
	}, func(s store.Store) store.Store { fs = newFaultStore(s); return fs })
	return newTestServerWith(t, cfg), fs, clock
}

// send makes a request and returns the answer with its headers.
func (ts *testServer) send(method, path string, headers map[string]string, body any) (result, http.Header) {
	ts.t.Helper()
	var rd io.Reader
	if body != nil {
		js, err := json.Marshal(body)
		if err != nil {
			ts.t.Fatal(err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, ts.http.URL+path, rd)
	if err != nil {
		ts.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, raw: string(raw)}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r, resp.Header
}

// faultScenario is one request under test: setup prepares a fresh server
// and returns the request; ok is its status when the store works.
type faultScenario struct {
	name  string
	vault bool // Vault's error shape, else Infisical's
	ok    int
	setup func(t *testing.T, ts *testServer) func() (result, http.Header)
}

// tolerated are the store calls whose failure does not fail the request:
// clearing a stale lockout counter after a good login, writing the audit
// event of a token renewal (logged instead).
var tolerated = map[string]bool{"ClearLockout": true, "AppendAuditEvent": true}

// uaLoginScenario logs in with a single-use secret (a login that failed
// must not have spent it); afterGuess first sends a wrong secret, so the
// good login also clears a lockout counter.
func uaLoginScenario(afterGuess bool) func(t *testing.T, ts *testServer) func() (result, http.Header) {
	return func(t *testing.T, ts *testServer) func() (result, http.Header) {
		id, clientID := ts.newUA(map[string]any{"lockoutEnabled": true})
		secret, _ := ts.createSecret(id, map[string]any{"numUsesLimit": 1})
		if afterGuess {
			if r := ts.uaLogin(clientID, neverStored(t), nil); r.status != 401 {
				t.Fatalf("wrong secret: %d %s", r.status, r.raw)
			}
		}
		return func() (result, http.Header) {
			return ts.send("POST", uaBase+"/login", nil, map[string]string{"clientId": clientID, "clientSecret": secret})
		}
	}
}

func kubeLoginScenario(t *testing.T, ts *testServer) func() (result, http.Header) {
	c := kubetest.New(t)
	id := ts.newKube(kubeConfig(c, c.ReviewerToken("kube-system", "gatehouse-reviewer"), nil))
	jwt := c.Token("apps", "web")
	return func() (result, http.Header) {
		return ts.send("POST", kubeBase+"/login", nil, map[string]any{"identityId": id, "jwt": jwt})
	}
}

func vaultLoginScenario(t *testing.T, ts *testServer) func() (result, http.Header) {
	c := kubetest.New(t)
	ts.kubeMount("kubernetes", c, nil)
	ts.vaultRole("kubernetes", "any", anyRole)
	jwt := c.Token("apps", "web")
	return func() (result, http.Header) {
		return ts.send("POST", "/v1/auth/kubernetes/login", nil, map[string]any{"role": "any", "jwt": jwt})
	}
}

// tokenScenario logs in (a use-limited token, so checks spend a use) and
// returns a request made with the token.
func tokenScenario(method, path string, vault bool, body func(tok string) any) func(t *testing.T, ts *testServer) func() (result, http.Header) {
	return func(t *testing.T, ts *testServer) func() (result, http.Header) {
		id, clientID := ts.newUA(map[string]any{"accessTokenNumUsesLimit": 100})
		secret, _ := ts.createSecret(id, nil)
		r := ts.uaLogin(clientID, secret, nil)
		if r.status != 200 {
			t.Fatalf("login: %d %s", r.status, r.raw)
		}
		tok := r.body["accessToken"].(string)
		headers := map[string]string{"Authorization": "Bearer " + tok}
		if vault {
			headers = map[string]string{"X-Vault-Token": tok}
		}
		if body != nil {
			headers = nil
		}
		p := path
		if p == "" {
			p = "/api/v1/identities/" + id
		}
		return func() (result, http.Header) {
			var b any
			if body != nil {
				b = body(tok)
			}
			return ts.send(method, p, headers, b)
		}
	}
}

func accessToken(tok string) any { return map[string]string{"accessToken": tok} }

var faultScenarios = []faultScenario{
	{"universal auth login", false, 200, uaLoginScenario(false)},
	{"universal auth login after a wrong guess", false, 200, uaLoginScenario(true)},
	{"kubernetes auth login", false, 200, kubeLoginScenario},
	{"vault kubernetes login", true, 200, vaultLoginScenario},
	{"infisical authenticated request", false, 200, tokenScenario("GET", "", false, nil)},
	{"infisical token lookup", false, 200, tokenScenario("GET", "/api/v1/auth/token/lookup", false, nil)},
	{"infisical token renew", false, 200, tokenScenario("POST", "/api/v1/auth/token/renew", false, accessToken)},
	{"infisical token revoke", false, 200, tokenScenario("POST", "/api/v1/auth/token/revoke", false, accessToken)},
	{"vault lookup-self", true, 200, tokenScenario("GET", "/v1/auth/token/lookup-self", true, nil)},
	{"vault renew-self", true, 200, tokenScenario("POST", "/v1/auth/token/renew-self", true, nil)},
	{"vault revoke-self", true, 204, tokenScenario("POST", "/v1/auth/token/revoke-self", true, nil)},
}

func TestStoreUnavailableIs503(t *testing.T) {
	for _, sc := range faultScenarios {
		t.Run(sc.name, func(t *testing.T) {
			// Which store calls does the request make?
			ts, fs, _ := newFaultServer(t)
			req := sc.setup(t, ts)
			fs.record()
			r, _ := req()
			calls := fs.stop()
			if r.status != sc.ok {
				t.Fatalf("with a working store: %d %s", r.status, r.raw)
			}
			if len(calls) == 0 {
				t.Fatal("the request made no store call")
			}
			for _, method := range calls {
				t.Run(method, func(t *testing.T) {
					ts, fs, clock := newFaultServer(t)
					req := sc.setup(t, ts)
					fs.fail(method)
					r, h := req()
					if tolerated[method] {
						if r.status != sc.ok {
							t.Errorf("%s failing: %d %s, want %d (best effort)", method, r.status, r.raw, sc.ok)
						}
						return
					}
					unavailableOK(t, r, h, sc.vault)
					if rz := ts.do("GET", "/readyz", "", nil); rz.status != 503 {
						t.Errorf("/readyz during the outage: %d %s", rz.status, rz.raw)
					}
					// The store comes back: the same request succeeds
					// (a single-use secret was not spent), and the
					// server is ready again once the outage has settled.
					fs.heal()
					clock.Advance(3 * time.Second)
					if r, _ := req(); r.status != sc.ok {
						t.Errorf("after the store came back: %d %s", r.status, r.raw)
					}
					if rz := ts.do("GET", "/readyz", "", nil); rz.status != 200 {
						t.Errorf("/readyz after the outage: %d %s", rz.status, rz.raw)
					}
				})
			}
		})
	}
}

// unavailableOK checks a 503 with Retry-After in the API's error shape.
func unavailableOK(t *testing.T, r result, h http.Header, vault bool) {
	t.Helper()
	if h.Get("Retry-After") == "" {
		t.Errorf("no Retry-After on %d %s", r.status, r.raw)
	}
	if vault {
		vaultErrorOK(t, r, 503, "unavailable")
		return
	}
	errorBodyOK(t, r, 503, "ServiceUnavailable")
	if msg, _ := r.body["message"].(string); msg == "" || msg == "Something went wrong" {
		t.Errorf("message = %q", r.body["message"])
	}
}

// /readyz fails while the store does not answer its ping, and stays
// failing until the outage has settled.
func TestReadyzFailsDuringStoreOutage(t *testing.T) {
	ts, fs, clock := newFaultServer(t)
	if r := ts.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Fatalf("/readyz: %d %s", r.status, r.raw)
	}
	fs.fail("Ping")
	if r := ts.do("GET", "/readyz", "", nil); r.status != 503 {
		t.Fatalf("/readyz with the store down: %d %s", r.status, r.raw)
	}
	if r := ts.do("GET", "/healthz", "", nil); r.status != 200 {
		t.Errorf("/healthz with the store down: %d %s", r.status, r.raw)
	}
	fs.heal()
	if r := ts.do("GET", "/readyz", "", nil); r.status != 503 {
		t.Errorf("/readyz right after the store came back (not settled): %d %s", r.status, r.raw)
	}
	clock.Advance(3 * time.Second)
	if r := ts.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Errorf("/readyz after the outage settled: %d %s", r.status, r.raw)
	}
}
