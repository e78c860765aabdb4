package gateway

import (
	"context"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// upstreamEnv is a TLS API server double and an Upstream pointed at it.
type upstreamEnv struct {
	srv   *httptest.Server
	up    *Upstream
	dials atomic.Int64
	dir   string
}

func newUpstreamEnv(t *testing.T, path string, h http.HandlerFunc) *upstreamEnv {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	e := &upstreamEnv{srv: srv, dir: t.TempDir()}
	ca := filepath.Join(e.dir, "ca.crt")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	e.writeToken(t, "gateway-token\n")
	e.up = &Upstream{URL: srv.URL + path, CAFile: ca, TokenFile: filepath.Join(e.dir, "token")}
	uc, err := e.up.current()
	if err != nil {
		t.Fatal(err)
	}
	dial := uc.dial
	uc.dial = func(ctx context.Context) (net.Conn, error) {
		e.dials.Add(1)
		return dial(ctx)
	}
	return e
}

func (e *upstreamEnv) writeToken(t *testing.T, tok string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(e.dir, "token"), []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestUpstreamCall: the gateway's request carries its token, the JSON
// body and the URL's path prefix; calls one after the other share one
// kept connection; a chunked answer is read whole.
func TestUpstreamCall(t *testing.T) {
	e := newUpstreamEnv(t, "/prefix/", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/prefix"+tokenReviewPath || r.Header.Get("Authorization") != "Bearer gateway-token" ||
			r.Header.Get("Content-Type") != "application/json" || string(b) != `{"spec":{}}` || r.Host == "" {
			t.Errorf("the API server got %s %s, %q, %q", r.Method, r.URL.Path, r.Header, b)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"status":`)
		w.(http.Flusher).Flush() // chunked from here
		_, _ = io.WriteString(w, `{"authenticated":true}}`)
	})
	for i := range 3 {
		ans, err := e.up.call(context.Background(), http.MethodPost, tokenReviewPath, []byte(`{"spec":{}}`))
		if err != nil || ans.code != http.StatusCreated || ans.contentType != "application/json" || string(ans.body) != `{"status":{"authenticated":true}}` {
			t.Fatalf("call %d: %+v, %v", i, ans, err)
		}
	}
	if n := e.dials.Load(); n != 1 {
		t.Fatalf("three calls one after the other opened %d connections; want one kept", n)
	}
}

// TestUpstreamToken: a token file that does not hold one token is
// refused before anything is sent (no header can be smuggled in).
func TestUpstreamToken(t *testing.T) {
	var got atomic.Int64
	e := newUpstreamEnv(t, "", func(w http.ResponseWriter, r *http.Request) { got.Add(1) })
	for _, tok := range []string{"", "  \n", "a\r\nX-Injected: 1", "two words"} {
		e.writeToken(t, tok)
		e.up.tokenFile = cachedFile{} // read it again now
		if _, err := e.up.call(context.Background(), http.MethodGet, JWKSPath, nil); err == nil || !strings.Contains(err.Error(), "does not hold a token") {
			t.Errorf("token %q: %v; want it refused", tok, err)
		}
	}
	if got.Load() != 0 {
		t.Fatalf("the API server got %d requests with a bad token", got.Load())
	}
}

// TestUpstreamTooLarge: an answer past the limit is a 502 from the
// gateway's handler, not a cut body.
func TestUpstreamTooLarge(t *testing.T) {
	e := newUpstreamEnv(t, "", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, strings.Repeat("x", maxAnswerBytes+1))
	})
	rec := httptest.NewRecorder()
	(&Handler{Upstream: e.up}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, JWKSPath, nil))
	if rec.Code != http.StatusBadGateway || rec.Header().Get(HeaderUpstreamError) == "" || !strings.Contains(rec.Body.String(), "larger than") {
		t.Fatalf("an answer past the limit: %d %q", rec.Code, rec.Body.String())
	}
}
