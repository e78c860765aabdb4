package vault

import (
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
)

// limitLogin refuses a login once its source address has used its
// allowance (Deps.LoginLimiter), before the body is read, answering as a
// Vault rate-limit quota does: 429 with Retry-After.
func (a *API) limitLogin(fn handlerFunc) handlerFunc {
	return func(r *http.Request) (int, any, error) {
		if err := a.LoginLimiter.Allow(httpapi.ClientIP(r)); err != nil {
			e := errs.New(errs.TooManyRequests, "request path %q: rate limit quota exceeded", strings.TrimPrefix(r.URL.Path, "/v1/"))
			e.Err = err
			return 0, nil, e
		}
		return fn(r)
	}
}
