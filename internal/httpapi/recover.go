package httpapi

import (
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/gatehouse-dev/gatehouse/internal/errs"
)

// Call runs a front end's handler, turning a panic into an Internal error
// (with the stack, for the log) so that the front end answers it in its
// own error shape, as it answers every other failure. http.ErrAbortHandler
// still aborts the request.
func Call(fn func(*http.Request) (int, any, error), r *http.Request) (status int, body any, err error) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			err = PanicError(p)
		}
	}()
	return fn(r)
}

// PanicError is the Internal error a recovered panic p becomes, with the
// stack for the log.
func PanicError(p any) error {
	return &errs.Error{Code: errs.Internal, Message: "internal error", Err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
}
