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
type loadConfig struct {
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
	Requests     int64         `json:"requests"` // recorded (after warm-up)
	Errors       int64         `json:"errors"`   // warm-up included
	Elapsed      time.Duration `json:"elapsedNs"`
	RPS          float64       `json:"requestsPerSecond"`
	P50          time.Duration `json:"p50Ns"`
	P90          time.Duration `json:"p90Ns"`
	P99          time.Duration `json:"p99Ns"`
	Max          time.Duration `json:"maxNs"`
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
