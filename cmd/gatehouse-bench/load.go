package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// loadConfig bounds one scenario's load: concurrency workers in a closed
// loop (each sends its next request when the last one is answered) for
// warmup, unrecorded, then for duration, recorded. A run also ends after
// maxRequests requests in all (warm-up included) or maxErrors errors.
//
// With rate > 0 the loop is open instead: request i is due at
// start + i/rate whatever the answers so far, concurrency is the most
// requests in flight, and each latency is measured from the request's due
// time, not from when a worker got to send it, so a server that falls
// behind is charged for the queue it causes (no coordinated omission).
type loadConfig struct {
	rate        float64 // requests/s, open loop; 0 = closed loop
	concurrency int
	warmup      time.Duration
	duration    time.Duration
	maxRequests int64
	maxErrors   int64
}

// request is one scenario's request: new builds it (a fresh one each time,
// so bodies can be re-read), check judges a 2xx answer's body (nil: any 2xx
// is a success).
type request struct {
	new   func(ctx context.Context) (*http.Request, error)
	check func(body []byte) error
}

// loadResult is what one scenario's load measured.
type loadResult struct {
	Requests int64         `json:"requests"` // recorded (after warm-up)
	Errors   int64         `json:"errors"`   // warm-up included
	Elapsed  time.Duration `json:"elapsedNs"`
	RPS      float64       `json:"requestsPerSecond"`
	P50      time.Duration `json:"p50Ns"`
	P90      time.Duration `json:"p90Ns"`
	P99      time.Duration `json:"p99Ns"`
	Max      time.Duration `json:"maxNs"`
	// Rate is the open loop's intended arrival rate (0: closed loop); Late
	// is how many recorded requests were sent more than 1 ms after their
	// due time because every worker was busy.
	Rate float64 `json:"openLoopRate,omitempty"`
	Late int64   `json:"lateSends,omitempty"`
	// Unsent is how many requests were due before the end but never sent,
	// every worker being busy until then: the rate was not kept.
	Unsent       int64         `json:"unsent,omitempty"`
	Mean         time.Duration `json:"meanNs"`
	ErrorSamples []string      `json:"errorSamples,omitempty"`
	StoppedBy    string        `json:"stoppedBy,omitempty"` // why the run ended before its duration, if it did
}

// maxBody is how much of an answer is read for checking; the rest is
// drained so the connection is reused.
const maxBody = 64 << 10

// runLoad drives req with cfg's workers through client and measures.
func runLoad(ctx context.Context, cfg loadConfig, client *http.Client, req request) loadResult {
	var (
		issued, errCount atomic.Int64
		stopReason       atomic.Pointer[string]
		samples          errorSamples
		wg               sync.WaitGroup
	)
	hists := make([]histogram, cfg.concurrency)
	start := time.Now()
	measureFrom := start.Add(cfg.warmup)
	end := measureFrom.Add(cfg.duration)
	stop := func(why string) { stopReason.CompareAndSwap(nil, &why) }
	var (
		next     atomic.Int64 // open loop: the next request's index
		interval time.Duration
		late     atomic.Int64
		sent     atomic.Int64
	)
	if cfg.rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.rate)
	}
	for w := range cfg.concurrency {
		wg.Add(1)
		go func(h *histogram) {
			defer wg.Done()
			var buf bytes.Buffer
			for stopReason.Load() == nil {
				if ctx.Err() != nil {
					stop("interrupted")
					return
				}
				if issued.Add(1) > cfg.maxRequests {
					stop(fmt.Sprintf("request cap (%d) reached", cfg.maxRequests))
					return
				}
				t0 := time.Now()
				if cfg.rate > 0 {
					due := start.Add(time.Duration(next.Add(1)-1) * interval)
					if !due.Before(end) {
						return
					}
					if wait := time.Until(due); wait > 0 {
						if !sleepCtx(ctx, wait) {
							stop("interrupted")
							return
						}
					} else {
						if !time.Now().Before(end) {
							return // due in time but never sent: counted as unsent below
						}
						if wait < -time.Millisecond && !due.Before(measureFrom) {
							late.Add(1)
						}
					}
					sent.Add(1)
					t0 = due
				}
				if !t0.Before(end) {
					return
				}
				err := do(ctx, client, req, &buf)
				d := time.Since(t0)
				if err != nil && ctx.Err() != nil {
					stop("interrupted") // our own cancellation, not the server's error
					return
				}
				if err != nil {
					samples.add(err)
					if errCount.Add(1) >= cfg.maxErrors {
						stop(fmt.Sprintf("error cap (%d) reached", cfg.maxErrors))
					}
				}
				if !t0.Before(measureFrom) {
					h.record(d)
				}
			}
		}(&hists[w])
	}
	wg.Wait()
	finished := time.Now()

	var all histogram
	for i := range hists {
		all.merge(&hists[i])
	}
	res := loadResult{
		Requests: int64(all.n), Errors: errCount.Load(),
		P50: all.quantile(0.50), P90: all.quantile(0.90), P99: all.quantile(0.99),
		Max: time.Duration(all.max), Mean: all.mean(), ErrorSamples: samples.list(),
		Rate: cfg.rate, Late: late.Load(),
	}
	if cfg.rate > 0 && res.StoppedBy == "" {
		due := int64((end.Sub(start) + interval - 1) / interval)
		res.Unsent = max(due-sent.Load(), 0)
	}
	if finished.After(measureFrom) {
		res.Elapsed = finished.Sub(measureFrom)
		res.RPS = float64(res.Requests) / res.Elapsed.Seconds()
	}
	if why := stopReason.Load(); why != nil {
		res.StoppedBy = *why
	}
	return res
}

// sleepCtx sleeps for d; it reports false when ctx ends first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// do sends one request and reads its answer; any transport error, non-2xx
// status or failed check is an error.
func do(ctx context.Context, client *http.Client, req request, buf *bytes.Buffer) error {
	r, err := req.new(ctx)
	if err != nil {
		return err
	}
	resp, err := client.Do(r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf.Reset()
	_, rerr := buf.ReadFrom(io.LimitReader(resp.Body, maxBody))
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, redactTokens(snippet(buf.Bytes())))
	}
	if rerr != nil {
		return fmt.Errorf("reading the answer: %w", rerr)
	}
	if req.check != nil {
		return req.check(buf.Bytes())
	}
	return nil
}

func snippet(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 200 {
		return string(b[:200]) + "…"
	}
	return string(b)
}

// errorSamples keeps the first few distinct error messages.
type errorSamples struct {
	mu   sync.Mutex
	msgs []string
}

const keptErrorSamples = 5

func (s *errorSamples) add(err error) {
	msg := err.Error()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.msgs) >= keptErrorSamples {
		return
	}
	for _, m := range s.msgs {
		if m == msg {
			return
		}
	}
	s.msgs = append(s.msgs, msg)
}

func (s *errorSamples) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// newClient is the load tool's HTTP client: keep-alive HTTP/1.1 with an
// idle pool larger than the number of workers (so no request waits for or
// throws away a connection), no proxy, no compression, and a dialer that
// refuses anything but a loopback address. tlsConfig is nil for plain
// HTTP.
func newClient(concurrency int, tlsConfig *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	idle := 2*concurrency + 16
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			Proxy: nil, // never a proxy from the environment: loopback only
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				if err := requireLoopback(addr); err != nil {
					return nil, err
				}
				return dialer.DialContext(ctx, network, addr)
			},
			TLSClientConfig:     tlsConfig,
			MaxIdleConns:        idle,
			MaxIdleConnsPerHost: idle,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			TLSHandshakeTimeout: 5 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

var errNotLoopback = errors.New("gatehouse-bench only talks to loopback addresses")

// requireLoopback refuses a host:port whose host is not a loopback IP
// address (names are refused too: nothing here needs DNS).
func requireLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q", errNotLoopback, hostport)
	}
	return nil
}
