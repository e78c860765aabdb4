package infisical

import (
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
)

// limitLogin refuses a login once its source address has used its
// allowance (Deps.LoginLimiter), before the body is read, answering as
// Infisical's own rate limiter does: 429 RateLimitExceeded with
// Retry-After.
func (a *API) limitLogin(fn func(*http.Request) (int, any, error)) func(*http.Request) (int, any, error) {
	return func(r *http.Request) (int, any, error) {
		if err := a.LoginLimiter.Allow(httpapi.ClientIP(r)); err != nil {
			secs := int64(1)
			var rl *ratelimit.Error
			if errors.As(err, &rl) {
				secs = rl.RetryAfterSeconds()
			}
			e := errs.New(errs.TooManyRequests, "Rate limit exceeded. Please try again in %d seconds", secs)
			e.Err = err
			return 0, nil, e
		}
		return fn(r)
	}
}
