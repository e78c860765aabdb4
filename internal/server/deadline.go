package server

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/store/bounded"
)

// writeTimeout is the HTTP server's WriteTimeout: past it, a response can
// no longer be written.
const writeTimeout = 60 * time.Second

// requestTimeout is the deadline of every request's context, early enough
// that its answer (a 503 when the store stalled) can still be written: a
// login never commits a token that its client cannot receive. Each store
// call is bounded further by the store timeout.
const requestTimeout = writeTimeout - 10*time.Second

// withDeadline gives each request's context a deadline d from its start.
func withDeadline(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// checkStoreTimeout refuses a store timeout that would let a store call
// outlive the request that made it.
func checkStoreTimeout(d time.Duration) error {
	if d < 0 || d >= requestTimeout {
		return fmt.Errorf("the store timeout (%v) must be positive and under %v (0 = the default, %v)", d, requestTimeout, bounded.DefaultTimeout)
	}
	return nil
}
