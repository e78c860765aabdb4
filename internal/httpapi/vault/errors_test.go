package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

// TestWriteError is the table from domain errors to Vault's status and
// body: every code, the 404 with an empty list, "permission denied" on
// 401/403-class errors (once), field errors, and internal errors that are
// logged but never shown.
func TestWriteError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		err    error
		status int
		msgs   []string
		logged bool
	}{
		{"internal", errs.Wrap(errors.New("disk on fire: secret-cause"), "storing role"), 500, []string{"internal error"}, true},
		{"plain error", errors.New("boom secret-cause"), 500, []string{"internal error"}, true},
		{"wrapped domain error", fmt.Errorf("ctx: %w", errs.New(errs.BadRequest, "missing role")), 400, []string{"missing role"}, false},
		{"invalid with field", errs.Validation(errs.FieldError{Path: "kubernetes_host", Message: "bad port"}), 400, []string{"kubernetes_host: bad port"}, false},
		{"invalid field without path", errs.Validation(errs.FieldError{Message: "body is empty"}), 400, []string{"body is empty"}, false},
		{"bad request", errs.New(errs.BadRequest, "invalid role name"), 400, []string{"invalid role name"}, false},
		{"unauthenticated", errs.New(errs.Unauthenticated, "token expired"), 403, []string{"permission denied: token expired"}, false},
		{"unauthenticated, no message", errs.New(errs.Unauthenticated, ""), 403, []string{"permission denied"}, false},
		{"forbidden already worded", errs.New(errs.Forbidden, "permission denied: needs admin"), 403, []string{"permission denied: needs admin"}, false},
		{"bad gateway", errs.New(errs.BadGateway, "API server unreachable"), 403, []string{"permission denied: API server unreachable"}, false},
		{"not found", errs.New(errs.NotFound, "role \"x\" not found"), 404, []string{}, false},
		{"conflict", errs.New(errs.Conflict, "path is already in use"), 400, []string{"path is already in use"}, false},
		{"too large", errs.New(errs.TooLarge, "body too large"), 413, []string{"body too large"}, false},
		{"too many", errs.New(errs.TooManyRequests, "slow down"), 429, []string{"slow down"}, false},
		{"unavailable", errs.New(errs.Unavailable, "store unreachable"), 503, []string{"store unreachable"}, false}, // logged once per outage, by internal/store/bounded
		{"not implemented", errs.New(errs.NotImplemented, "gateway mode"), 501, []string{"gateway mode"}, false},
		{"unknown code", &errs.Error{Code: errs.Code(99), Message: "odd"}, 500, []string{"odd"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			w := httptest.NewRecorder()
			r := httptest.NewRequest("GET", "/v1/auth/kubernetes/role/x", nil)
			writeError(w, r, slog.New(slog.NewTextHandler(logs, nil)), tc.err)
			if w.Code != tc.status {
				t.Errorf("status = %d, want %d", w.Code, tc.status)
			}
			if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			var body map[string][]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || len(body) != 1 || body["errors"] == nil {
				t.Fatalf("body = %s, want only a list of errors", w.Body)
			}
			if !slices.Equal(body["errors"], tc.msgs) {
				t.Errorf("errors = %q, want %q", body["errors"], tc.msgs)
			}
			if strings.Contains(w.Body.String(), "secret-cause") {
				t.Errorf("the cause reached the body: %s", w.Body)
			}
			if got := logs.String() != ""; got != tc.logged {
				t.Errorf("logged = %v, want %v: %s", got, tc.logged, logs)
			}
		})
	}
}

// TestPanicIsThisAPIsError: a handler's panic is answered in Vault's error
// body (500 {"errors":["internal error"]}), and logged with its value.
func TestPanicIsThisAPIsError(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	a := &API{Deps: Deps{Logger: slog.New(slog.NewTextHandler(logs, nil))}}
	w := httptest.NewRecorder()
	a.serve(func(*http.Request) (int, any, error) { panic("handler bug") }).ServeHTTP(w, httptest.NewRequest("GET", "/v1/sys/health", nil))
	if w.Code != 500 || strings.TrimSpace(w.Body.String()) != `{"errors":["internal error"]}` {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if !strings.Contains(logs.String(), "handler bug") {
		t.Errorf("panic not logged: %s", logs)
	}
}

// TestStatusOfCoversEveryCode: every domain code has a status.
func TestStatusOfCoversEveryCode(t *testing.T) {
	t.Parallel()
	for c := errs.Internal; c <= errs.NotImplemented; c++ {
		if _, ok := statusOf[c]; !ok {
			t.Errorf("statusOf has no status for %v", c)
		}
	}
}

// TestMethodNotAllowed: a known path with another method is a 405 in
// Vault's body.
func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, c := range []struct{ method, path string }{
		{"DELETE", "sys/auth"},
		{"GET", "sys/auth/kubernetes"},
		{"DELETE", "auth/kubernetes/config"},
		{"GET", "auth/kubernetes/login"},
		{"POST", "auth/kubernetes/role"},
		{"PATCH", "auth/kubernetes/role/web"},
	} {
		a := f.do(c.method, c.path, f.root, nil)
		if a.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s = %d, want 405", c.method, c.path, a.status)
			continue
		}
		wantError(t, a, 405, "unsupported operation")
	}
}
