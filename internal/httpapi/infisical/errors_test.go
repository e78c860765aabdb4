package infisical

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/logtest"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/universalauth"
)

// syncBuffer is a log sink the code under test and the test may share.
type syncBuffer = logtest.Buffer

// TestWriteError is the table from domain errors to Infisical's status and
// body {reqId, statusCode, message, error}: every code, field errors as
// the message array, and internal errors logged but never shown.
func TestWriteError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		err     error
		status  int
		errName string
		message any
		logged  bool
	}{
		{"internal", errs.Wrap(errors.New("disk on fire: secret-cause"), "storing"), 500, "InternalServerError", "Something went wrong", true},
		{"plain error", errors.New("boom secret-cause"), 500, "InternalServerError", "Something went wrong", true},
		{"wrapped", fmt.Errorf("ctx: %w", errs.New(errs.BadRequest, "bad thing")), 400, "BadRequest", "bad thing", false},
		{"validation", errs.Validation(errs.FieldError{Path: "kubernetesHost", Message: "Required"}), 422, "ValidationFailure",
			[]any{map[string]any{"path": "kubernetesHost", "message": "Required"}}, false},
		{"validation without fields", &errs.Error{Code: errs.Invalid, Message: "body is empty"}, 422, "ValidationFailure",
			[]any{map[string]any{"path": "", "message": "body is empty"}}, false},
		{"named", errs.Because(errs.Unauthenticated, token.ErrExpired, "the token has expired"), 401, "TokenExpired", "the token has expired", false},
		{"named through a wrap", fmt.Errorf("login: %w", &errs.Error{Code: errs.BadRequest, Message: "check failed",
			Err: fmt.Errorf("%w: %w", kubeauth.ErrConnectionRefused, errors.New("dial: secret-cause"))}), 400, "KubernetesConnectionRefused", "check failed", false},
		{"forbidden", errs.New(errs.Forbidden, "not an admin"), 403, "PermissionDenied", "not an admin", false},
		{"not found", errs.New(errs.NotFound, "no such identity"), 404, "NotFound", "no such identity", false},
		{"conflict", errs.New(errs.Conflict, "exists"), 409, "Conflict", "exists", false},
		{"too large", errs.New(errs.TooLarge, "big"), 413, "PayloadTooLarge", "big", false},
		{"too many", errs.New(errs.TooManyRequests, "slow"), 429, "TooManyRequests", "slow", false},
		{"bad gateway", errs.New(errs.BadGateway, "API server down"), 502, "BadGateway", "API server down", false},
		{"unavailable", errs.New(errs.Unavailable, "store down"), 503, "ServiceUnavailable", "store down", false}, // logged once per outage, by internal/store/bounded
		{"not implemented", errs.New(errs.NotImplemented, "gateway"), 501, "NotImplemented", "gateway", false},
		{"unknown code", &errs.Error{Code: errs.Code(99), Message: "odd"}, 500, "InternalServerError", "odd", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := &syncBuffer{}
			w := httptest.NewRecorder()
			writeError(w, httptest.NewRequest("GET", "/api/v1/identities", nil), slog.New(slog.NewTextHandler(logs, nil)), tc.err)
			var body map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %s: %v", w.Body, err)
			}
			if w.Code != tc.status || body["statusCode"] != float64(tc.status) || body["error"] != tc.errName {
				t.Errorf("status %d, body %s; want %d %s", w.Code, w.Body, tc.status, tc.errName)
			}
			want, _ := json.Marshal(tc.message)
			if got, _ := json.Marshal(body["message"]); !bytes.Equal(got, want) {
				t.Errorf("message = %s, want %s", got, want)
			}
			if _, ok := body["reqId"]; !ok || len(body) != 4 {
				t.Errorf("body keys: %s", w.Body)
			}
			if strings.Contains(w.Body.String(), "secret-cause") {
				t.Errorf("the cause reached the body: %s", w.Body)
			}
			if got := logs.String() != ""; got != tc.logged {
				t.Errorf("logged = %v, want %v", got, tc.logged)
			}
		})
	}
	for c := errs.Internal; c <= errs.NotImplemented; c++ {
		if _, ok := statusOf[c]; !ok {
			t.Errorf("statusOf has no status for %v", c)
		}
		if _, ok := codeNames[c]; !ok {
			t.Errorf("codeNames has no name for %v", c)
		}
	}
}

// TestErrorNames: each domain failure that has a name of its own in
// Infisical's "error" field gets it, whichever code it comes with.
func TestErrorNames(t *testing.T) {
	t.Parallel()
	want := map[error]string{
		token.ErrMalformed: "TokenMalformed", token.ErrInvalid: "TokenInvalid", token.ErrExpired: "TokenExpired",
		token.ErrRevoked: "TokenRevoked", token.ErrMaxTTLReached: "TokenMaxTTLReached",
		token.ErrUsesExhausted: "TokenUsesExhausted", token.ErrIPDenied: "TokenIPDenied",
		universalauth.ErrLockedOut:    "LockedOut",
		kubeauth.ErrTokenReview:       "KubernetesTokenReviewError",
		kubeauth.ErrConnectionRefused: "KubernetesConnectionRefused",
		kubeauth.ErrHostNotFound:      "KubernetesHostNotFound",
		kubeauth.ErrConnectionTimeout: "KubernetesConnectionTimeout",
		kubeauth.ErrCertificate:       "KubernetesCertificateError",
		kubeauth.ErrAPI:               "KubernetesApiError",
		kubeauth.ErrUsername:          "KubernetesUsernameParseError",
		kubeauth.ErrMalformedJWT:      "KubernetesJwtMalformed",
		kubeauth.ErrIssuerDiscovery:   "KubernetesIssuerDiscoveryError",
		kubeauth.ErrObjectRead:        "KubernetesObjectReadError",
		gateway.ErrNotFound:           "GatewayNotFound",
		gateway.ErrNotConnected:       "GatewayNotConnected",
		gateway.ErrConnectionLost:     "GatewayConnectionLost",
		gateway.ErrTimeout:            "GatewayTimeout",
		gateway.ErrRelayRefused:       "GatewayRelayRefused",
		gateway.ErrUpstream:           "GatewayKubernetesApiError",
		gateway.ErrForbidden:          "GatewayPermissionDenied",
		gateway.ErrInUse:              "GatewayInUse",
		gateway.ErrReviewerRejected:   "GatewayTokenReviewerRejected",
	}
	if len(want) != len(names) {
		t.Errorf("%d names, want %d", len(names), len(want))
	}
	for kind, name := range want {
		err := errs.Because(errs.Unauthenticated, kind, "refused")
		if got := errorName(err, errs.As(err)); got != name {
			t.Errorf("%v: %q, want %q", kind, got, name)
		}
	}
	limited := &errs.Error{Code: errs.TooManyRequests, Message: "slow down", Err: &ratelimit.Error{Wait: time.Second}}
	if got := errorName(limited, limited); got != "RateLimitExceeded" {
		t.Errorf("rate limit: %q", got)
	}
}

// TestPanicIsThisAPIsError: a handler's panic is answered in Infisical's
// error body (500 InternalServerError), and logged with its value.
func TestPanicIsThisAPIsError(t *testing.T) {
	t.Parallel()
	logs := &syncBuffer{}
	a := &API{Deps: Deps{Logger: slog.New(slog.NewTextHandler(logs, nil))}}
	w := httptest.NewRecorder()
	a.serve(func(*http.Request) (int, any, error) { panic("handler bug") }).ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/identities", nil))
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 500 || body["error"] != "InternalServerError" || body["message"] != "Something went wrong" {
		t.Fatalf("%d %s (%v)", w.Code, w.Body, err)
	}
	if !strings.Contains(logs.String(), "handler bug") {
		t.Errorf("panic not logged: %s", logs)
	}
}
