package httpapi

import (
	"errors"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// RetryAfterUnavailable is the Retry-After (seconds) of a 503 answered
// while the store is unavailable.
const RetryAfterUnavailable = "2"

// StoreUnavailable reports whether err says the store is unreachable,
// overloaded or timed out, at whatever step of a request it failed (a
// token check, a login's lookup, the token's issue): such a request is
// answered 503 with Retry-After, never 500. It also holds for a domain
// error of code Unavailable.
func StoreUnavailable(err error) bool {
	return errors.Is(err, store.ErrUnavailable) || errs.Is(err, errs.Unavailable)
}

// AsUnavailable returns err as the domain error a front end maps to 503:
// err itself when it is one, or an Unavailable error keeping err as its
// cause (SetRetryAfter adds the header).
func AsUnavailable(err error) *errs.Error {
	if e := errs.As(err); e.Code == errs.Unavailable {
		return e
	}
	return &errs.Error{Code: errs.Unavailable, Message: "the store is unavailable; try again shortly", Err: err}
}
