// Command gatehouse-bench is Gatehouse's load benchmark (issue 7). It
// starts everything it measures on 127.0.0.1 — a real `gatehouse server`
// on a fresh store, a trivial net/http server and the test Kubernetes API
// server, each in a process of its own — sets scenarios up over the HTTP
// API, drives each with a closed loop of concurrent keep-alive clients for
// a fixed time, and prints a Markdown table (or JSON) of requests/s,
// latency quantiles, errors, server RSS and the ratio to each scenario's
// ceiling. It stops everything it started and exits non-zero on any
// request error or failed setup.
//
//	go run ./cmd/gatehouse-bench                  # every scenario, 64 workers, 10 s each
//	go run ./cmd/gatehouse-bench --smoke          # a few seconds, for CI: fails on errors, not speed
//	go run ./cmd/gatehouse-bench --list
//	go run ./cmd/gatehouse-bench --seed-tokens 1000000   # 1 M live tokens in the store first (seed.go)
//	go run ./cmd/gatehouse-bench --rate 20000           # open loop: 20 k requests/s offered to each scenario
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role, os.Args[1:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command's flags.
type options struct {
	gatehouseBin     string
	storage          string
	concurrency      int
	rate             float64
	seedTokens       int
	duration         time.Duration
	warmup           time.Duration
	maxRequests      int64
	maxErrors        int64
	scenarios        []string
	smoke            bool
	json             bool
	list             bool
	kubeLatency      time.Duration
	kubeHTTP2        bool
	serverLogLevel   string
	serverCPUProfile string
}

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // a request error or a failed setup
	exitUsage  = 2
)

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	var scenarios string
	fs := flag.NewFlagSet("gatehouse-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.gatehouseBin, "gatehouse-bin", "", "gatehouse binary to run (default: go build ./cmd/gatehouse into a temp dir)")
	fs.StringVar(&o.storage, "storage", "", "gatehouse store: a fresh postgres://... database (default: SQLite in a temp dir). The key comes from GATEHOUSE_ENCRYPTION_KEY or is generated")
	fs.IntVar(&o.concurrency, "concurrency", 64, "concurrent closed-loop workers")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: send this many requests/s in every scenario, whatever the answers, with latency measured from each request's due time; --concurrency is then the most in flight (0: closed loop)")
	fs.IntVar(&o.seedTokens, "seed-tokens", 0, "SQLite only: before the scenarios, stop gatehouse, add this many live tokens of one Universal Auth identity to its store, restart it and measure start-up to ready (adds the token-check-seeded scenario's tokens)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "unrecorded warm-up per scenario")
	fs.Int64Var(&o.maxRequests, "max-requests", 5_000_000, "cap on requests per scenario, warm-up included")
	fs.Int64Var(&o.maxErrors, "max-errors", 1000, "a scenario stops after this many errors")
	fs.StringVar(&scenarios, "scenarios", "", "comma-separated scenarios to run (default all; the baselines they compare with are added)")
	fs.BoolVar(&o.smoke, "smoke", false, "CI mode: 1 s per scenario, 200 ms warm-up, 8 workers (explicit flags win); fails on errors, not on speed")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of the Markdown table")
	fs.BoolVar(&o.list, "list", false, "list the scenarios and exit")
	fs.DurationVar(&o.kubeLatency, "kube-latency", time.Millisecond, "latency the test Kubernetes API server adds to each TokenReview")
	fs.BoolVar(&o.kubeHTTP2, "kube-http2", false, "talk HTTP/2 to the test Kubernetes API server instead of keep-alive HTTP/1.1")
	fs.StringVar(&o.serverLogLevel, "server-log-level", "info", "gatehouse --log-level (info, the default, writes an access-log line per request)")
	fs.StringVar(&o.serverCPUProfile, "server-cpuprofile", "", "write a CPU profile of the gatehouse server to this file (runs internal/server inside this binary instead of the gatehouse binary)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if o.smoke {
		if !set["duration"] {
			o.duration = time.Second
		}
		if !set["warmup"] {
			o.warmup = 200 * time.Millisecond
		}
		if !set["concurrency"] {
			o.concurrency = 8
		}
	}
	for n := range strings.SplitSeq(scenarios, ",") {
		if n = strings.TrimSpace(n); n != "" {
			o.scenarios = append(o.scenarios, n)
		}
	}
	switch {
	case o.concurrency < 1 || o.concurrency > 4096:
		return o, errors.New("--concurrency must be from 1 to 4096")
	case o.rate < 0 || o.rate > 1e6:
		return o, errors.New("--rate must be from 0 to 1000000 requests/s")
	case o.seedTokens < 0 || o.seedTokens > maxSeedTokens:
		return o, fmt.Errorf("--seed-tokens must be from 0 to %d", maxSeedTokens)
	case o.seedTokens > 0 && o.storage != "":
		return o, errors.New("--seed-tokens needs the default SQLite store")
	case o.duration <= 0 || o.duration > time.Hour:
		return o, errors.New("--duration must be positive and at most 1h")
	case o.warmup < 0 || o.warmup > 10*time.Minute:
		return o, errors.New("--warmup must be from 0 to 10m")
	case o.maxRequests < 1:
		return o, errors.New("--max-requests must be positive")
	case o.maxErrors < 1:
		return o, errors.New("--max-errors must be positive")
	case o.kubeLatency < 0 || o.kubeLatency > 10*time.Second:
		return o, errors.New("--kube-latency must be from 0 to 10s")
	case o.storage != "" && !strings.HasPrefix(o.storage, "postgres://") && !strings.HasPrefix(o.storage, "postgresql://"):
		return o, errors.New("--storage takes a postgres:// URL (SQLite is the default, in a temp dir)")
	}
	switch o.serverLogLevel {
	case "debug", "info", "warn", "error":
	default:
		return o, fmt.Errorf("--server-log-level %q: want debug, info, warn or error", o.serverLogLevel)
	}
	return o, nil
}

// run is the whole command; it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-bench:", err)
		return exitUsage
	}
	if opts.list {
		var b strings.Builder
		listScenarios(&b)
		fmt.Fprint(stdout, b.String())
		return exitOK
	}
	selected, err := selectScenarios(opts.scenarios)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-bench:", err)
		return exitUsage
	}
	rep := report{Machine: readMachine(), Settings: settingsOf(opts), Started: time.Now().UTC()}
	e, err := newEnv(opts, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-bench:", err)
		return exitFailed
	}
	for _, sc := range selected {
		if ctx.Err() != nil {
			break
		}
		rep.Results = append(rep.Results, runScenario(ctx, e, sc))
	}
	rep.Seed = e.seed
	if err := e.Close(); err != nil {
		fmt.Fprintln(stderr, "gatehouse-bench: stopping servers:", err)
	}
	rep.finish(selected)
	if opts.json {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeMarkdown(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "gatehouse-bench:", err)
		return exitFailed
	}
	if ctx.Err() != nil {
		fmt.Fprintln(stderr, "gatehouse-bench: interrupted")
		return exitFailed
	}
	if rep.failed() {
		fmt.Fprintln(stderr, "gatehouse-bench: FAILED: a scenario had request errors or could not be set up (see the table)")
		return exitFailed
	}
	return exitOK
}

// setupTimeout bounds one scenario's setup (a server start included).
const setupTimeout = 3 * time.Minute

// runScenario sets one scenario up and drives it.
func runScenario(ctx context.Context, e *env, sc scenario) result {
	res := result{Name: sc.name, About: sc.about, Ceiling: sc.ceiling}
	if sc.target != nil {
		res.Target, res.targetP99 = sc.target.String(), sc.target.maxP99
	}
	sctx, cancel := context.WithTimeout(ctx, setupTimeout)
	p, err := sc.setup(sctx, e)
	cancel()
	var skip *skipError
	switch {
	case errors.As(err, &skip):
		res.Skipped = skip.reason
		e.logf("%s: skipped: %s", sc.name, skip.reason)
		return res
	case err != nil:
		res.SetupError = err.Error()
		e.logf("%s: setup failed: %v", sc.name, err)
		return res
	}
	res.Note = p.note
	client, err := p.client(e.opts.concurrency)
	if err != nil {
		res.SetupError = err.Error()
		return res
	}
	defer client.CloseIdleConnections()
	cfg := loadConfig{
		rate: e.opts.rate, concurrency: e.opts.concurrency, warmup: e.opts.warmup, duration: e.opts.duration,
		maxRequests: e.opts.maxRequests, maxErrors: e.opts.maxErrors,
	}
	if cfg.rate > 0 {
		e.logf("%s: open loop at %.0f req/s (at most %d in flight), %s warm-up + %s", sc.name, cfg.rate, cfg.concurrency, cfg.warmup, cfg.duration)
	} else {
		e.logf("%s: %d workers, %s warm-up + %s", sc.name, cfg.concurrency, cfg.warmup, cfg.duration)
	}
	p.server.ResetPeak()
	busy0, self0, srv0, bes0 := machineBusy(), processCPUTime(os.Getpid()), p.server.CPUTime(), p.beside.CPUTime()
	t0 := time.Now()
	res.Load = runLoad(ctx, cfg, client, p.req)
	wall := time.Since(t0)
	busy1, self1, srv1, bes1 := machineBusy(), processCPUTime(os.Getpid()), p.server.CPUTime(), p.beside.CPUTime()
	if m, err := p.server.Memory(); err == nil {
		res.Memory = &m
	}
	if busy1 > busy0 && wall > 0 {
		// CPU the rest of the machine used meanwhile, in cores: on a
		// shared machine this is what competed with the run.
		other := (busy1 - busy0) - (self1 - self0) - (srv1 - srv0) - (bes1 - bes0)
		res.OtherCPU = max(float64(other)/float64(wall), 0)
		if p.beside != nil {
			res.BesideName = p.beside.name
			res.BesideCPU = float64(bes1-bes0) / float64(wall)
		}
		res.ServerCPU = float64(srv1-srv0) / float64(wall)
		res.LoadGenCPU = float64(self1-self0) / float64(wall)
	}
	if done, werr := p.server.Exited(); done {
		res.SetupError = fmt.Sprintf("the server exited during the run (%v):\n%s", werr, p.server.Tail())
	}
	e.logf("%s: %.0f req/s, p99 %s, %d errors", sc.name, res.Load.RPS, formatMS(res.Load.P99), res.Load.Errors)
	return res
}

// tlsSettings describe a TLS target.
type tlsSettings struct {
	caPEM string
	http2 bool
}
