package kubetest

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Fault is a failure the cluster can inject into TokenReview requests
// (FailNext, FailAll) or into reads of the issuer-discovery documents
// (FailNextDiscovery, FailAllDiscovery).
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
	// FaultGarbage answers the success status (201 to a TokenReview, 200
	// to a discovery read) with a body that is not JSON, as a broken proxy
	// in front of the API server might.
	FaultGarbage
	// FaultDrop closes the connection without answering.
	FaultDrop
	// FaultOversized answers the success status with 1 MiB of JSON, as a
	// proxy serving something else at the API server's address might.
	FaultOversized
)

// oversizedBytes is the size of FaultOversized's answer.
const oversizedBytes = 1 << 20

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
	case FaultOversized:
		return "oversized"
	}
	return "unknown"
}

// faults holds the faults injected into one kind of request; its own
// mutex keeps it off Cluster.mu.
type faults struct {
	mu      sync.Mutex
	queue   []Fault // one per coming request
	sticky  Fault   // for every request once the queue is empty
	latency time.Duration
}

func (fs *faults) failNext(f Fault, n int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for range n {
		fs.queue = append(fs.queue, f)
	}
}

func (fs *faults) failAll(f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.sticky = f
}

func (fs *faults) setLatency(d time.Duration) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.latency = d
}

func (fs *faults) clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.queue = nil
	fs.sticky = FaultNone
	fs.latency = 0
}

// next takes the fault for one request.
func (fs *faults) next() (Fault, time.Duration) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.queue) > 0 {
		f := fs.queue[0]
		fs.queue = fs.queue[1:]
		return f, fs.latency
	}
	return fs.sticky, fs.latency
}

// FailNext makes the next n TokenReview requests fail with f, after any
// faults already queued.
func (c *Cluster) FailNext(f Fault, n int) { c.faults.failNext(f, n) }

// FailAll makes every TokenReview request fail with f (once queued faults
// are used up) until ClearFaults. FailAll(FaultNone) turns it off.
func (c *Cluster) FailAll(f Fault) { c.faults.failAll(f) }

// SetLatency delays every TokenReview request by d (real time) before it is
// answered or failed. A request waiting out its delay ends when the client
// gives up or the cluster closes.
func (c *Cluster) SetLatency(d time.Duration) { c.faults.setLatency(d) }

// FailNextDiscovery makes the next n reads of /openid/v1/jwks or
// /.well-known/openid-configuration fail with f, after any already queued.
// Faults act before authentication, as a proxy's would.
func (c *Cluster) FailNextDiscovery(f Fault, n int) { c.discoveryFaults.failNext(f, n) }

// FailAllDiscovery makes every read of the discovery documents fail with f
// (once queued faults are used up) until ClearFaults.
func (c *Cluster) FailAllDiscovery(f Fault) { c.discoveryFaults.failAll(f) }

// SetDiscoveryLatency delays every read of the discovery documents by d,
// as SetLatency does TokenReviews.
func (c *Cluster) SetDiscoveryLatency(d time.Duration) { c.discoveryFaults.setLatency(d) }

// ClearFaults removes queued and standing faults and the latencies, of
// TokenReviews and discovery reads alike.
func (c *Cluster) ClearFaults() {
	c.faults.clear()
	c.discoveryFaults.clear()
}

// answer serves one request that faults from fs may hit: it takes the
// fault, waits out the latency, then drops the connection or writes the
// fault's answer or, with no fault, normal()'s. record sees the answer
// (nil when dropped) before it is written, so a client that has its
// answer sees the call recorded.
func (c *Cluster) answer(w http.ResponseWriter, r *http.Request, fs *faults, okCode int, normal func() *response, record func(*response, Fault)) {
	fault, latency := fs.next()
	if !c.wait(r, latency) || fault == FaultDrop {
		// The client left, the cluster is closing, or the fault says so:
		// end the connection rather than return, which net/http would
		// answer as an empty 200.
		record(nil, fault)
		drop(w)
		return
	}
	resp := faultResponse(fault, okCode)
	if resp == nil {
		resp = normal()
	}
	record(resp, fault)
	resp.write(w)
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

// faultResponse is the answer a fault gives to a request whose success
// status is okCode, or nil for FaultNone and FaultDrop.
func faultResponse(f Fault, okCode int) *response {
	switch f {
	case FaultInternalError:
		return statusResponse(apierrors.NewInternalError(errors.New("kubetest: injected fault")))
	case FaultTooManyRequests:
		resp := statusResponse(apierrors.NewTooManyRequests("Too many requests, please try again later.", 1))
		resp.header.Set("Retry-After", "1")
		return resp
	case FaultGarbage:
		return &response{
			code:   okCode,
			header: http.Header{"Content-Type": {"application/json"}},
			raw:    []byte("<html><body><h1>502 Bad Gateway</h1></body></html>\n{\"kind\":\"TokenRev"),
		}
	case FaultOversized:
		return &response{
			code:   okCode,
			header: http.Header{"Content-Type": {"application/json"}},
			raw:    []byte(`{"padding":"` + strings.Repeat("x", oversizedBytes) + `"}`),
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

// DiscoveryCall is one read of /.well-known/openid-configuration or
// /openid/v1/jwks the cluster received.
type DiscoveryCall struct {
	// Path is the request's path.
	Path string
	// Bearer is the request's bearer token, "" when it sent none.
	Bearer string
	// StatusCode is the HTTP status answered, 0 for a dropped connection.
	StatusCode int
	// Fault is the injected fault, if any.
	Fault Fault
}

const keptCalls = 256

type recorder struct {
	mu          sync.Mutex
	requests    int
	connections int
	reviews     int
	calls       []TokenReviewCall // the last keptCalls
	hook        func(TokenReviewCall)
	discovery   []DiscoveryCall // the last keptCalls
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

// DiscoveryCalls are the most recent reads of the issuer-discovery
// documents (up to 256), oldest first.
func (c *Cluster) DiscoveryCalls() []DiscoveryCall {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	return slices.Clone(c.rec.discovery)
}

func (c *Cluster) recordDiscovery(call DiscoveryCall) {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	c.rec.discovery = keepLast(append(c.rec.discovery, call))
}

// keepLast is calls without all but the last keptCalls.
func keepLast[T any](calls []T) []T {
	if len(calls) > keptCalls {
		return slices.Clone(calls[len(calls)-keptCalls:])
	}
	return calls
}

// ConnectionCount is how many TCP connections the server has accepted,
// whether or not their TLS handshake succeeded: with RequestCount it shows
// whether a client reuses its connections.
func (c *Cluster) ConnectionCount() int {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	return c.rec.connections
}

func (c *Cluster) countConnection() {
	c.rec.mu.Lock()
	defer c.rec.mu.Unlock()
	c.rec.connections++
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
	c.rec.calls = keepLast(append(c.rec.calls, call))
	hook := c.rec.hook
	c.rec.mu.Unlock()
	if hook != nil {
		hook(call)
	}
}
