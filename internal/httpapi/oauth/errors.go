package oauth

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// errorBody is RFC 6749 section 5.2's error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// codeInvalidRequest is RFC 6749's code for a malformed request.
const codeInvalidRequest = "invalid_request"

// oauthCodes are the RFC 6749 / RFC 8693 error codes of the exchange's
// refusals, by the sentinel in their chain.
var oauthCodes = []struct {
	kind error
	code string
}{
	{oidc.ErrInvalidRequest, codeInvalidRequest},
	{oidc.ErrInvalidGrant, "invalid_grant"},
	{oidc.ErrInvalidTarget, "invalid_target"},
	{oidc.ErrUnsupportedGrantType, "unsupported_grant_type"},
}

// oauthCode is err's RFC 6749 code, or "" when it has none of its own.
func oauthCode(err error) string {
	for _, c := range oauthCodes {
		if errors.Is(err, c.kind) {
			return c.code
		}
	}
	return ""
}

// writeError turns any error into an RFC 6749 error body. It is the only
// place that writes one.
//
//   - a store outage: 503 temporarily_unavailable with Retry-After;
//   - an exchange refusal (oidc.ErrInvalidGrant, ...): 400 with its code;
//   - Invalid, BadRequest, TooLarge: 400 invalid_request (413 for size);
//   - Unauthenticated (the caller's own credential, at introspection): 401
//     invalid_token with WWW-Authenticate (RFC 6750);
//   - Forbidden: 403 insufficient_scope;
//   - BadGateway (a Kubernetes API server failed): 502 server_error;
//   - anything else: 500 server_error, logged, without a description.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if errors.Is(err, store.ErrInvalid) {
		err = errs.Because(errs.BadRequest, oidc.ErrInvalidRequest, "a value holds a character that cannot be stored (NUL or invalid UTF-8)")
	}
	e := errs.As(err)
	unavailable := httpapi.StoreUnavailable(err)
	if unavailable {
		e = httpapi.AsUnavailable(err)
	}
	status, body := http.StatusInternalServerError, errorBody{Error: "server_error"}
	switch code := oauthCode(err); {
	case unavailable:
		status, body = http.StatusServiceUnavailable, errorBody{Error: "temporarily_unavailable", Description: e.Message}
		// The outage itself is logged once, where it is seen
		// (internal/store/bounded).
		logger.DebugContext(r.Context(), "request failed: store unavailable", "request_id", httpapi.RequestID(r), "route", r.Pattern, "err", err)
	case code != "":
		status, body = http.StatusBadRequest, errorBody{Error: code, Description: e.Message}
	case e.Code == errs.Invalid || e.Code == errs.BadRequest || e.Code == errs.NotFound:
		status, body = http.StatusBadRequest, errorBody{Error: codeInvalidRequest, Description: message(e)}
	case e.Code == errs.TooLarge:
		status, body = http.StatusRequestEntityTooLarge, errorBody{Error: codeInvalidRequest, Description: e.Message}
	case e.Code == errs.Unauthenticated:
		status, body = http.StatusUnauthorized, errorBody{Error: "invalid_token", Description: e.Message}
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	case e.Code == errs.Forbidden:
		status, body = http.StatusForbidden, errorBody{Error: "insufficient_scope", Description: e.Message}
	case e.Code == errs.TooManyRequests:
		status, body = http.StatusTooManyRequests, errorBody{Error: "slow_down", Description: e.Message}
	case e.Code == errs.BadGateway: // a Kubernetes API server, in a login
		status, body = http.StatusBadGateway, errorBody{Error: "server_error", Description: e.Message}
	default:
		logger.ErrorContext(r.Context(), "request failed", "request_id", httpapi.RequestID(r), "route", r.Pattern, "err", err)
	}
	httpapi.SetRetryAfter(w.Header(), err)
	noStore(w)
	httpapi.WriteJSON(w, status, body)
}

func message(e *errs.Error) string {
	if e.Code == errs.Invalid && len(e.Fields) > 0 {
		return e.Fields[0].Path + ": " + e.Fields[0].Message
	}
	return e.Message
}

// noStore marks a response that must not be cached (RFC 6749 5.1).
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}
