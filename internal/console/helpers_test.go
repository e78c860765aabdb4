package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

const rootToken = "console-test-root"

// env is a running development server with the console.
type env struct {
	t   *testing.T
	gh  *server.Server
	srv *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	gh, err := server.New(context.Background(), server.Config{Dev: true, DevRootToken: rootToken, Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gh.Handler())
	t.Cleanup(func() {
		srv.Close()
		gh.Close()
	})
	return &env{t: t, gh: gh, srv: srv}
}

// api calls the JSON API as tok and decodes the answer into a map.
func (e *env) api(method, path, tok string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// identity creates an identity and returns its id.
func (e *env) identity(name, role string) string {
	e.t.Helper()
	st, out := e.api("POST", "/api/v1/identities", rootToken, map[string]any{"name": name, "role": role})
	if st != 200 {
		e.t.Fatalf("create identity: %d %v", st, out)
	}
	return out["identity"].(map[string]any)["id"].(string)
}

// tokenFor issues an access token for an identity.
func (e *env) tokenFor(identityID string) string {
	e.t.Helper()
	issued, err := e.gh.Tokens().Issue(context.Background(), token.IssueRequest{IdentityID: identityID, AuthMethodType: store.AuthMethodUniversal})
	if err != nil {
		e.t.Fatal(err)
	}
	return issued.Token.Reveal()
}

// browser is one console user: a cookie jar and the last CSRF value seen.
type browser struct {
	e      *env
	client *http.Client
	csrf   string
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// page is an answer.
type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.e.t.Helper()
	resp, err := b.client.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(body), header: resp.Header}
}

func (b *browser) get(path string) page {
	b.e.t.Helper()
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(req)
}

// post submits a form with the last CSRF value seen (unless form has one)
// and the headers a same-origin browser sends.
func (b *browser) post(path string, form url.Values) page {
	b.e.t.Helper()
	return b.postHeaders(path, form, map[string]string{"Origin": b.e.srv.URL, "Sec-Fetch-Site": "same-origin"})
}

func (b *browser) postHeaders(path string, form url.Values, headers map[string]string) page {
	b.e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return b.do(req)
}

// signIn signs in with tok and loads the dashboard (for its CSRF value).
func (b *browser) signIn(tok string) {
	b.e.t.Helper()
	b.get("/ui/signin")
	p := b.post("/ui/signin", url.Values{"token": {tok}})
	if p.status != http.StatusSeeOther || p.location != "/ui/" {
		b.e.t.Fatalf("sign-in: %d %q %s", p.status, p.location, p.body)
	}
	if p := b.get("/ui/"); p.status != 200 {
		b.e.t.Fatalf("dashboard after sign-in: %d", p.status)
	}
}

// mustContain fails unless body holds every one of want.
func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func mustNotContain(t *testing.T, body string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(body, w) {
			t.Errorf("page holds %q", w)
		}
	}
}
