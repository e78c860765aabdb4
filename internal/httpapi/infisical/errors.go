// Package infisical serves the Infisical machine-identity API: identities,
// auth methods, logins and token endpoints, in Infisical's wire shapes.
package infisical

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/universalauth"
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

// codeNames are the "error" of each code, unless the failure has a name
// of its own (names).
var codeNames = map[errs.Code]string{
	errs.Internal:        "InternalServerError",
	errs.Invalid:         "ValidationFailure",
	errs.BadRequest:      "BadRequest",
	errs.Unauthenticated: "Unauthorized",
	errs.Forbidden:       "PermissionDenied",
	errs.NotFound:        "NotFound",
	errs.Conflict:        "Conflict",
	errs.TooLarge:        "PayloadTooLarge",
	errs.TooManyRequests: "TooManyRequests",
	errs.BadGateway:      "BadGateway",
	errs.Unavailable:     "ServiceUnavailable",
	errs.NotImplemented:  "NotImplemented",
	errs.Timeout:         "GatewayTimeout",
}

// names are the failures with an "error" of their own, by the domain
// sentinel in their chain; the first that matches wins.
var names = []struct {
	kind error
	name string
}{
	{token.ErrMalformed, "TokenMalformed"},
	{token.ErrInvalid, "TokenInvalid"},
	{token.ErrExpired, "TokenExpired"},
	{token.ErrRevoked, "TokenRevoked"},
	{token.ErrMaxTTLReached, "TokenMaxTTLReached"},
	{token.ErrUsesExhausted, "TokenUsesExhausted"},
	{token.ErrIPDenied, "TokenIPDenied"},
	{universalauth.ErrLockedOut, "LockedOut"},
	// A gateway's failure before the Kubernetes failure it may wrap.
	{gateway.ErrNotFound, "GatewayNotFound"},
	{gateway.ErrNotConnected, "GatewayNotConnected"},
	{gateway.ErrConnectionLost, "GatewayConnectionLost"},
	{gateway.ErrTimeout, "GatewayTimeout"},
	{gateway.ErrRelayRefused, "GatewayRelayRefused"},
	{gateway.ErrUpstream, "GatewayKubernetesApiError"},
	{gateway.ErrForbidden, "GatewayPermissionDenied"},
	{gateway.ErrInUse, "GatewayInUse"},
	{gateway.ErrReviewerRejected, "GatewayTokenReviewerRejected"},
	{kubeauth.ErrTokenReview, "KubernetesTokenReviewError"},
	{kubeauth.ErrConnectionRefused, "KubernetesConnectionRefused"},
	{kubeauth.ErrHostNotFound, "KubernetesHostNotFound"},
	{kubeauth.ErrConnectionTimeout, "KubernetesConnectionTimeout"},
	{kubeauth.ErrCertificate, "KubernetesCertificateError"},
	{kubeauth.ErrAPI, "KubernetesApiError"},
	{kubeauth.ErrUsername, "KubernetesUsernameParseError"},
	{kubeauth.ErrMalformedJWT, "KubernetesJwtMalformed"},
	{kubeauth.ErrIssuerDiscovery, "KubernetesIssuerDiscoveryError"},
	{kubeauth.ErrObjectRead, "KubernetesObjectReadError"},
}

// errorName is Infisical's "error" for err, whose domain error is e.
func errorName(err error, e *errs.Error) string {
	var limited *ratelimit.Error
	if errors.As(err, &limited) {
		return "RateLimitExceeded"
	}
	for _, n := range names {
		if errors.Is(err, n.kind) {
			return n.name
		}
	}
	if name, ok := codeNames[e.Code]; ok {
		return name
	}
	return codeNames[errs.Internal]
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
	if httpapi.StoreUnavailable(err) {
		e = httpapi.AsUnavailable(err)
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	body := errorBody{ReqID: httpapi.RequestID(r), StatusCode: status, Message: e.Message, Error: errorName(err, e)}
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
		// The store outage itself is logged once, where it is seen
		// (internal/store/bounded).
		logger.DebugContext(r.Context(), "request failed: store unavailable", "request_id", body.ReqID, "route", r.Pattern, "err", err)
	}
	httpapi.SetRetryAfter(w.Header(), err)
	httpapi.WriteJSON(w, status, body)
}
