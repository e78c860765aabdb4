package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestMain lets this test binary play the bench's helper roles: the bench
// starts its baseline servers by running its own executable again, which
// under `go test` is this binary.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role, os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestSmoke runs `gatehouse-bench --smoke` end to end on loopback: it
// builds and starts a real gatehouse server and the baseline servers,
// seeds a small store (--seed-tokens), runs every scenario for a second and
// fails on any request error or failed setup. Speed is not judged.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"--smoke", "--json", "--seed-tokens", "2000"}, &stdout, &stderr)
	t.Logf("bench log:\n%s", stderr.String())
	if code != exitOK {
		t.Fatalf("gatehouse-bench --smoke exited %d; output:\n%s", code, stdout.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("decoding the JSON report: %v\n%s", err, stdout.String())
	}
	if got, want := len(rep.Results), len(registry()); got != want {
		t.Fatalf("%d results, want one per scenario (%d)", got, want)
	}
	for _, r := range rep.Results {
		switch {
		case r.Skipped != "":
			// Only what this build cannot do yet may be skipped.
			if !strings.Contains(r.Skipped, "universal auth") && !strings.Contains(r.Skipped, "Vault API's kubernetes auth") {
				t.Errorf("%s skipped: %s", r.Name, r.Skipped)
			}
		case r.SetupError != "":
			t.Errorf("%s: setup failed: %s", r.Name, r.SetupError)
		case r.Load.Errors > 0:
			t.Errorf("%s: %d errors: %q", r.Name, r.Load.Errors, r.Load.ErrorSamples)
		case r.Load.Requests == 0 || r.Load.RPS <= 0:
			t.Errorf("%s: no requests measured", r.Name)
		case r.Ceiling != "" && r.Ratio == nil:
			t.Errorf("%s: no ratio to %s", r.Name, r.Ceiling)
		}
	}
	if rep.Seed == nil || rep.Seed.Tokens != 2000 || rep.Seed.StartToReady <= 0 {
		t.Errorf("seeding not reported: %+v", rep.Seed)
	}
	if tokenPattern.MatchString(stdout.String() + stderr.String()) {
		t.Error("an access token appears in the bench's output")
	}
}

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	var h histogram
	for i := 1; i <= 100_000; i++ {
		h.record(time.Duration(i) * time.Microsecond) // 1 µs .. 100 ms, uniform
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{
		{0.50, 50 * time.Millisecond},
		{0.90, 90 * time.Millisecond},
		{0.99, 99 * time.Millisecond},
		{1.00, 100 * time.Millisecond},
		{0.00001, time.Microsecond},
	}
	for _, tc := range tests {
		got := h.quantile(tc.q)
		if diff := float64(got-tc.want) / float64(tc.want); diff > 0.004 || diff < -0.004 {
			t.Errorf("quantile(%v) = %v, want %v ± 0.4%%", tc.q, got, tc.want)
		}
	}
	if h.n != 100_000 || time.Duration(h.max) != 100*time.Millisecond {
		t.Errorf("n = %d, max = %v", h.n, time.Duration(h.max))
	}
	var empty histogram
	if q := empty.quantile(0.99); q != 0 {
		t.Errorf("empty quantile = %v, want 0", q)
	}
}

func TestHistogramBuckets(t *testing.T) {
	t.Parallel()
	// Every value lies in its bucket's range and bucket indexes only grow.
	prev := -1
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<20 + 12345, 1 << 40, 1<<63 - 1, 1 << 63, ^uint64(0)} {
		i := bucketOf(v)
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("bucketOf(%d) = %d holding [%d, %d]", v, i, lo, hi)
		}
		if i < prev || i >= histBuckets {
			t.Errorf("bucketOf(%d) = %d after %d (of %d)", v, i, prev, histBuckets)
		}
		prev = i
	}
}

func TestRequireLoopback(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:8080", true},
		{"127.3.4.5:1", true},
		{"[::1]:443", true},
		{"10.0.0.1:80", false},
		{"localhost:80", false}, // names are refused: nothing here needs DNS
		{"example.com:443", false},
		{"[::]:80", false},
	}
	for _, tc := range tests {
		if err := requireLoopback(tc.addr); (err == nil) != tc.ok {
			t.Errorf("requireLoopback(%q) = %v, want ok %v", tc.addr, err, tc.ok)
		}
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr bool
		check   func(options) bool
	}{
		{"defaults", nil, false, func(o options) bool {
			return o.concurrency == 64 && o.duration == 10*time.Second && o.kubeLatency == time.Millisecond
		}},
		{"smoke", []string{"--smoke"}, false, func(o options) bool {
			return o.concurrency == 8 && o.duration == time.Second && o.warmup == 200*time.Millisecond
		}},
		{"smoke, explicit flags win", []string{"--smoke", "--concurrency", "3"}, false, func(o options) bool {
			return o.concurrency == 3 && o.duration == time.Second
		}},
		{"scenarios", []string{"--scenarios", "token-check-vault, baseline-nethttp"}, false, func(o options) bool {
			return len(o.scenarios) == 2 && o.scenarios[0] == "token-check-vault"
		}},
		{"open loop", []string{"--rate", "5000", "--seed-tokens", "10"}, false, func(o options) bool {
			return o.rate == 5000 && o.seedTokens == 10
		}},
		{"zero concurrency", []string{"--concurrency", "0"}, true, nil},
		{"negative rate", []string{"--rate", "-1"}, true, nil},
		{"seeding needs sqlite", []string{"--seed-tokens", "10", "--storage", "postgres://x/y"}, true, nil},
		{"sqlite storage refused", []string{"--storage", "sqlite:///tmp/x.db"}, true, nil},
		{"bad log level", []string{"--server-log-level", "loud"}, true, nil},
		{"stray argument", []string{"now"}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseFlags(tc.args, new(bytes.Buffer))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.check != nil && !tc.check(o) {
				t.Errorf("options %+v", o)
			}
		})
	}
}

func TestSelectScenariosAddsCeilings(t *testing.T) {
	t.Parallel()
	got, err := selectScenarios([]string{"token-check-vault"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sc := range got {
		names = append(names, sc.name)
	}
	if strings.Join(names, ",") != "baseline-nethttp,token-check-vault" {
		t.Errorf("selected %v, want the baseline first, then the scenario", names)
	}
	if _, err := selectScenarios([]string{"nope"}); err == nil {
		t.Error("an unknown scenario was accepted")
	}
}

// TestRunLoadCountsErrors checks that non-2xx answers and failed body
// checks are errors, that the run stops by itself, and that the request
// cap holds.
func TestRunLoadCountsErrors(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 10 {
		case 0:
			http.Error(w, "boom", http.StatusInternalServerError)
		case 5:
			_, _ = io.WriteString(w, "something else")
		default:
			_, _ = io.WriteString(w, "ok")
		}
	}))
	defer srv.Close()
	client := newClient(4, nil)
	defer client.CloseIdleConnections()
	req := request{
		new: func(ctx context.Context) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		},
		check: wantBody([]byte("ok")),
	}
	cfg := loadConfig{concurrency: 4, duration: 10 * time.Second, maxRequests: 200, maxErrors: 1000}
	res := runLoad(t.Context(), cfg, client, req)
	if got := n.Load(); got != 200 {
		t.Errorf("server saw %d requests, want the cap (200)", got)
	}
	if res.Requests != 200 || res.Errors != 40 {
		t.Errorf("requests %d, errors %d; want 200 and 40", res.Requests, res.Errors)
	}
	if !strings.Contains(res.StoppedBy, "request cap") {
		t.Errorf("stopped by %q, want the request cap", res.StoppedBy)
	}
	if len(res.ErrorSamples) != 2 {
		t.Errorf("error samples %q, want the 500 and the failed check", res.ErrorSamples)
	}
}

// TestRunLoadOpenLoop checks that the open loop offers its rate whatever
// the server does, and that a slow server is charged for the queue it
// causes: with one worker and answers taking at least 20 ms, request k
// (due at 5k ms) cannot be sent before 20k ms nor answered before
// 20k+20 ms, so its latency counted from its due time is at least
// 15k+20 ms; a closed loop (coordinated omission) would report about
// 20 ms for every one. Only bounds that follow from the code and the
// server's sleep are asserted, none that depends on how fast the machine
// is: how many requests go out in the second differs from run to run on
// a loaded machine, so the latency bound is computed from that number.
func TestRunLoadOpenLoop(t *testing.T) {
	t.Parallel()
	const (
		rate     = 200 // 1 request every 5 ms
		duration = time.Second
		due      = 200 // requests due in duration at rate
	)
	tests := []struct {
		name        string
		delay       time.Duration
		concurrency int
	}{
		{"keeps the rate", 0, 8},
		{"no coordinated omission", 20 * time.Millisecond, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(tc.delay) // the server's slowness under test, not a wait for the test
				_, _ = io.WriteString(w, "ok")
			}))
			defer srv.Close()
			client := newClient(tc.concurrency, nil)
			defer client.CloseIdleConnections()
			req := request{new: func(ctx context.Context) (*http.Request, error) {
				return http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
			}}
			cfg := loadConfig{rate: rate, concurrency: tc.concurrency, duration: duration, maxRequests: 10_000, maxErrors: 10}
			res := runLoad(t.Context(), cfg, client, req)
			if res.Errors != 0 || res.Rate != rate || res.StoppedBy != "" {
				t.Fatalf("errors %d, rate %v, stopped by %q", res.Errors, res.Rate, res.StoppedBy)
			}
			// Every due request is either sent (and, without warm-up,
			// recorded) or counted unsent; none is sent early or twice.
			if res.Requests+res.Unsent != due {
				t.Errorf("%d sent + %d unsent, want the %d due in %v at %d/s", res.Requests, res.Unsent, due, duration, rate)
			}
			if res.Requests < 1 {
				t.Fatalf("no request sent")
			}
			if tc.delay == 0 {
				return
			}
			// One worker, each answer taking >= 20 ms: at most 1 s / 20 ms
			// (+1 for the boundary) requests can go out, the rest are
			// unsent.
			if most := int64(duration/tc.delay) + 1; res.Requests > most {
				t.Errorf("%d requests sent by one worker against a %v server, want at most %d", res.Requests, tc.delay, most)
			}
			// The last request sent, k = Requests-1, waited in the queue.
			k := time.Duration(res.Requests - 1)
			if least := k*(tc.delay-time.Second/rate) + tc.delay; res.Max < least {
				t.Errorf("max latency %v over %d requests, want at least %v (latency counted from the due time)", res.Max, res.Requests, least)
			}
			if res.P99 > res.Max || res.P50 > res.P99 {
				t.Errorf("quantiles out of order: p50 %v, p99 %v, max %v", res.P50, res.P99, res.Max)
			}
		})
	}
}
