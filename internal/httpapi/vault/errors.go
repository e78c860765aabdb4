// Package vault serves the HashiCorp Vault API surface that Vault's Go
// client and Vault Agent use against a Kubernetes auth method: sys/health,
// the token self-service endpoints and (in later work) auth mounts, config,
// roles and login, in Vault's wire shapes and conventions.
package vault

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// errInvalidText answers a value the store cannot keep (store.ErrInvalid):
// the caller's fault, never "unavailable".
var errInvalidText = errs.New(errs.Invalid, "a value holds a character that cannot be stored (NUL or invalid UTF-8)")

// statusOf is the one table from domain error codes to HTTP status. Vault
// answers a missing or bad token with 403, not 401.
var statusOf = map[errs.Code]int{
	errs.Internal:        http.StatusInternalServerError,
	errs.Invalid:         http.StatusBadRequest,
	errs.BadRequest:      http.StatusBadRequest,
	errs.Unauthenticated: http.StatusForbidden,
	errs.Forbidden:       http.StatusForbidden,
	errs.NotFound:        http.StatusNotFound,
	errs.Conflict:        http.StatusBadRequest,
	errs.TooLarge:        http.StatusRequestEntityTooLarge,
	errs.TooManyRequests: http.StatusTooManyRequests,
	errs.BadGateway:      http.StatusForbidden,
	errs.Unavailable:     http.StatusServiceUnavailable,
	errs.NotImplemented:  http.StatusNotImplemented,
	errs.Timeout:         http.StatusGatewayTimeout,
}

// errorBody is Vault's error body.
type errorBody struct {
	Errors []string `json:"errors"`
}

// writeError turns any error into Vault's error body. It is the only place
// that writes one.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if errors.Is(err, store.ErrInvalid) {
		err = errInvalidText
	}
	e := errs.As(err)
	if httpapi.StoreUnavailable(err) {
		e = httpapi.AsUnavailable(err)
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	msgs := []string{message(e)}
	switch e.Code {
	case errs.NotFound:
		msgs = []string{} // Vault: absent object → 404 {"errors":[]}
	case errs.Internal:
		logger.ErrorContext(r.Context(), "request failed", "request_id", httpapi.RequestID(r), "route", r.Pattern, "err", err)
		msgs = []string{"internal error"}
	case errs.Unavailable:
		// The store outage itself is logged once, where it is seen
		// (internal/store/bounded).
		logger.DebugContext(r.Context(), "request failed: store unavailable", "request_id", httpapi.RequestID(r), "route", r.Pattern, "err", err)
	}
	httpapi.SetRetryAfter(w.Header(), err)
	httpapi.WriteJSON(w, status, errorBody{Errors: msgs})
}

// message words an error as Vault does: failures of authentication and
// permission start with "permission denied", followed (unlike Vault) by the
// actual reason.
func message(e *errs.Error) string {
	msg := e.Message
	if e.Code == errs.Invalid && len(e.Fields) > 0 {
		f := e.Fields[0]
		if f.Path != "" {
			msg = f.Path + ": " + f.Message
		} else {
			msg = f.Message
		}
	}
	switch e.Code {
	case errs.Unauthenticated, errs.Forbidden, errs.BadGateway:
		if msg == "" {
			return "permission denied"
		}
		if strings.HasPrefix(msg, "permission denied") {
			return msg // already worded so (identity.Principal's checks)
		}
		return "permission denied: " + msg
	}
	return msg
}
