// Package infisical serves the Infisical machine-identity API: identities,
// auth methods, logins and token endpoints, in Infisical's wire shapes.
package infisical

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// errInvalidText answers a value the store cannot keep (store.ErrInvalid):
// the caller's fault, never "unavailable".
var errInvalidText = errs.Validation(errs.FieldError{Message: "a value holds a character that cannot be stored (NUL or invalid UTF-8)"})

// statusOf is the one table from domain error codes to HTTP status.
var statusOf = map[errs.Code]int{
	errs.Internal:        http.StatusInternalServerError,
	errs.Invalid:         http.StatusUnprocessableEntity,
	errs.BadRequest:      http.StatusBadRequest,
	errs.Unauthenticated: http.StatusUnauthorized,
	errs.Forbidden:       http.StatusForbidden,
	errs.NotFound:        http.StatusNotFound,
	errs.Conflict:        http.StatusConflict,
	errs.TooLarge:        http.StatusRequestEntityTooLarge,
	errs.TooManyRequests: http.StatusTooManyRequests,
	errs.BadGateway:      http.StatusBadGateway,
	errs.Unavailable:     http.StatusServiceUnavailable,
	errs.NotImplemented:  http.StatusNotImplemented,
	errs.Timeout:         http.StatusGatewayTimeout,
}

// errorBody is Infisical's error body. Message is a string, or for
// ValidationFailure an array of {path, message}.
type errorBody struct {
	ReqID      string `json:"reqId"`
	StatusCode int    `json:"statusCode"`
	Message    any    `json:"message"`
	Error      string `json:"error"`
}

// writeError turns any error into Infisical's error body. It is the only
// place that writes one.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	if errors.Is(err, store.ErrInvalid) {
		err = errInvalidText
	}
	e := errs.As(err)
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	body := errorBody{ReqID: httpapi.RequestID(r), StatusCode: status, Message: e.Message, Error: e.ErrorName()}
	switch {
	case e.Code == errs.Invalid:
		fields := e.Fields
		if fields == nil {
			fields = []errs.FieldError{{Path: "", Message: e.Message}}
		}
		body.Message = fields
	case e.Code == errs.Internal:
		logger.ErrorContext(r.Context(), "request failed", "request_id", body.ReqID, "route", r.Pattern, "err", err)
		body.Message = "Something went wrong"
	case e.Code == errs.Unavailable:
		logger.ErrorContext(r.Context(), "request failed", "request_id", body.ReqID, "route", r.Pattern, "err", err)
	}
	httpapi.SetRetryAfter(w.Header(), err)
	httpapi.WriteJSON(w, status, body)
}
