package kubetest

import (
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Fault is a failure the cluster can inject into TokenReview requests.
type Fault int

const (
	// FaultNone answers normally.
	FaultNone Fault = iota
	// FaultInternalError answers 500 with an InternalError Status, as an API
	// server whose storage or webhook failed does.
	FaultInternalError
	// FaultTooManyRequests answers 429 with a TooManyRequests Status and
	// Retry-After: 1, as API Priority and Fairness does when it sheds load.
	FaultTooManyRequests
	// FaultGarbage answers 201 with a body that is not JSON, as a broken
	// proxy in front of the API server might.
	FaultGarbage
	// FaultDrop closes the connection without answering.
	FaultDrop
)

func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultInternalError:
		return "internal-error"
	case FaultTooManyRequests:
		return "too-many-requests"
	case FaultGarbage:
		return "garbage"
	case FaultDrop:
		return "drop"
	}
	return "unknown"
}

// faults holds the injected faults; its own mutex keeps it off Cluster.mu.
type faults struct {
	mu      sync.Mutex
	queue   []Fault // one per coming request
	sticky  Fault   // for every request once the queue is empty
	latency time.Duration
}

// FailNext makes the next n TokenReview requests fail with f, after any
// faults already queued.
func (c *Cluster) FailNext(f Fault, n int) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	for range n {
		c.faults.queue = append(c.faults.queue, f)
	}
}

// FailAll makes every TokenReview request fail with f (once queued faults
// are used up) until ClearFaults. FailAll(FaultNone) turns it off.
func (c *Cluster) FailAll(f Fault) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.sticky = f
}

// SetLatency delays every TokenReview request by d (real time) before it is
// answered or failed. A request waiting out its delay ends when the client
// gives up or the cluster closes.
func (c *Cluster) SetLatency(d time.Duration) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.latency = d
}

// ClearFaults removes queued and standing faults and the latency.
func (c *Cluster) ClearFaults() {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	c.faults.queue = nil
	c.faults.sticky = FaultNone
	c.faults.latency = 0
}

// nextFault takes the fault for one request.
func (c *Cluster) nextFault() (Fault, time.Duration) {
	c.faults.mu.Lock()
	defer c.faults.mu.Unlock()
	if len(c.faults.queue) > 0 {
		f := c.faults.queue[0]
		c.faults.queue = c.faults.queue[1:]
		return f, c.faults.latency
	}
	return c.faults.sticky, c.faults.latency
}

// wait sleeps d unless the request or the cluster ends first; it reports
// whether the request should still be answered.
func (c *Cluster) wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-c.done:
		return false
	}
}

// faultResponse is the answer a fault gives, or nil for FaultNone and
// FaultDrop.
func faultResponse(f Fault) *response {
	switch f {
	case FaultInternalError:
		return statusResponse(apierrors.NewInternalError(errors.New("kubetest: injected fault")))
	case FaultTooManyRequests:
		resp := statusResponse(apierrors.NewTooManyRequests("Too many requests, please try again later.", 1))
		resp.header.Set("Retry-After", "1")
		return resp
	case FaultGarbage:
		return &response{
			code:   http.StatusCreated,
			header: http.Header{"Content-Type": {"application/json"}},
			raw:    []byte("<html><body><h1>502 Bad Gateway</h1></body></html>\n{\"kind\":\"TokenRev"),
		}
	}
	return nil
}

// drop closes the client's connection without an answer: hijacked on
// HTTP/1.1, the stream reset on HTTP/2.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// TokenReviewCall is one TokenReview request the cluster received.
type TokenReviewCall struct {
	// Bearer is the request's bearer token, "" when it sent none.
	Bearer string
	// Token and Audiences are spec.token and spec.audiences as sent, when
	// the body could be read as JSON.
	Token     string
	Audiences []string
	// StatusCode is the HTTP status answered, 0 for a dropped connection.
	StatusCode int
	// Fault is the injected fault, if any.
	Fault Fault
	// Authenticated and Error are status.authenticated and status.error of
	// a review that was answered.
	Authenticated bool
	Error         string
}

const keptCalls = 256

type recorder struct {
	mu       sync.Mutex
	requests int
	reviews  int
	calls    []TokenReviewCall // the last keptCalls
	hook     func(TokenReviewCall)
}

// OnTokenReview sets a function called with each TokenReview request just
// before it is answered (nil removes it). It runs on the server's
// goroutine: keep it short and make it safe for concurrent use.
func (c *Cluster) OnTokenReview(hook func(TokenReviewCall)) {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	c.rec.hook = hook
}

// RequestCount is the number of requests received, on any path.
func (c *Cluster) RequestCount() int {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	return c.rec.requests
}

// TokenReviewCount is the number of TokenReview requests answered or
// dropped so far.
func (c *Cluster) TokenReviewCount() int {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	return c.rec.reviews
}

// LastTokenReview is the most recent TokenReview request.
func (c *Cluster) LastTokenReview() (TokenReviewCall, bool) {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	if len(c.rec.calls) == 0 {
		return TokenReviewCall{}, false
	}
	return c.rec.calls[len(c.rec.calls)-1], true
}

// TokenReviews are the most recent TokenReview requests (up to 256), oldest
// first.
func (c *Cluster) TokenReviews() []TokenReviewCall {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	return slices.Clone(c.rec.calls)
}

func (c *Cluster) countRequest() {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	c.rec.requests++
}

// record keeps a call. It runs before the answer is written, so a client
// that has its answer sees the call recorded.
func (c *Cluster) record(call TokenReviewCall) {
	c.rec.mu.Lock()
	c.rec.reviews++
	c.rec.calls = append(c.rec.calls, call)
	if len(c.rec.calls) > keptCalls {
		c.rec.calls = slices.Clone(c.rec.calls[len(c.rec.calls)-keptCalls:])
	}
	hook := c.rec.hook
	c.rec.mu.Unlock()
	if hook != nil {
		hook(call)
	}
}
