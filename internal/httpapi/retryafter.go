package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"time"
)

// retryAfterer is an error that says when to try again (a rate limit, a
// store outage).
type retryAfterer interface {
	RetryAfter() time.Duration
}

// SetRetryAfter sets the Retry-After header (whole seconds, at least 1)
// when err, or an error it wraps, says when to try again, and on every
// store outage (StoreUnavailable). Each front end's writeError calls it.
func SetRetryAfter(h http.Header, err error) {
	var ra retryAfterer
	if !errors.As(err, &ra) {
		if StoreUnavailable(err) {
			h.Set("Retry-After", RetryAfterUnavailable)
		}
		return
	}
	secs := max(int64(math.Ceil(ra.RetryAfter().Seconds())), 1)
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
}
