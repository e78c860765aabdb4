package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// The bench runs every server it measures as a process of its own, so
// that each has its own Go scheduler, heap and RSS, and the load generator
// is the same process with the same costs in every scenario. Gatehouse is
// its real binary; the baseline servers are this binary started again with
// roleEnv naming the role. A role prints one JSON line (its helperInfo) on
// stdout when it is ready and serves until SIGTERM or until its stdin
// closes (the bench died).
const roleEnv = "GATEHOUSE_BENCH_ROLE"

const (
	roleNetHTTP   = "nethttp"   // the trivial net/http server
	roleKube      = "kubetest"  // the test Kubernetes API server
	roleGatehouse = "gatehouse" // gatehouse under a CPU profiler (--server-cpuprofile)
)

// helperInfo is what a role reports when it is ready.
type helperInfo struct {
	URL         string `json:"url"`
	CAPEM       string `json:"caPEM,omitempty"`
	ReviewerJWT string `json:"reviewerJWT,omitempty"`
	LoginJWT    string `json:"loginJWT,omitempty"`
	// SigningKeyPEM is the test cluster's service-account signing public
	// key, for Vault's pem_keys.
	SigningKeyPEM string `json:"signingKeyPEM,omitempty"`
}

// runRole runs a role and returns the process's exit status.
func runRole(role string, args []string) int {
	var err error
	switch role {
	case roleNetHTTP:
		err = serveNetHTTP()
	case roleKube:
		err = serveKube(args)
	case roleGatehouse:
		err = serveProfiledGatehouse(args)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "gatehouse-bench %s: %v\n", role, err)
		return 1
	}
	return 0
}

// untilStopped waits for SIGTERM/SIGINT or for stdin to close.
func untilStopped() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
}

func announce(info helperInfo) error {
	return json.NewEncoder(os.Stdout).Encode(info)
}

// trivialBody is the baseline's whole answer, about the size of the
// smallest JSON a token check answers.
var trivialBody = []byte(`{"ok":true}` + "\n")

// serveNetHTTP is the ceiling for everything that needs no outside call:
// a net/http server with the same timeouts as gatehouse's, whose handler
// writes a constant JSON body. No middleware, no store, no logging.
func serveNetHTTP() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write(trivialBody)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = srv.Serve(ln) }()
	if err := announce(helperInfo{URL: "http://" + ln.Addr().String()}); err != nil {
		return err
	}
	untilStopped()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

// kubeReviewer and kubeLogin are the service accounts of the Kubernetes
// scenarios: the one gatehouse reviews with (system:auth-delegator) and the
// workload that logs in.
const (
	kubeReviewerNS, kubeReviewerName = "kube-system", "gatehouse-reviewer"
	kubeLoginNS, kubeLoginName       = "bench", "app"
)

// serveKube runs the test Kubernetes API server with the given TokenReview
// latency and reports its CA, a reviewer token and a login token.
func serveKube(args []string) error {
	fs := flag.NewFlagSet(roleKube, flag.ContinueOnError)
	latency := fs.Duration("latency", 0, "added latency of each TokenReview")
	http1 := fs.Bool("http1", false, "speak HTTP/1.1 only (no h2 in ALPN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var opts []kubetest.Option
	if *http1 {
		opts = append(opts, kubetest.WithHTTP1Only())
	}
	c, err := kubetest.Start(opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetLatency(*latency)
	c.CreateServiceAccount(kubeLoginNS, kubeLoginName)
	info := helperInfo{
		URL:         c.URL(),
		CAPEM:       c.CAPEM(),
		ReviewerJWT: c.ReviewerToken(kubeReviewerNS, kubeReviewerName, kubetest.ExpiresIn(24*time.Hour)),
		LoginJWT:    c.Token(kubeLoginNS, kubeLoginName, kubetest.ExpiresIn(24*time.Hour)),

		SigningKeyPEM: c.SigningKeyPEM(),
	}
	if err := announce(info); err != nil {
		return err
	}
	untilStopped()
	return nil
}

// serveProfiledGatehouse is `gatehouse server` wired exactly as
// cmd/gatehouse wires it (internal/server with its defaults), with a CPU
// profile written when it stops. It is only used with --server-cpuprofile:
// the figures of a normal run come from the real gatehouse binary.
func serveProfiledGatehouse(args []string) error {
	fs := flag.NewFlagSet(roleGatehouse, flag.ContinueOnError)
	listen := fs.String("listen", "", "address")
	storage := fs.String("storage", "", "store URL")
	logLevel := fs.String("log-level", "info", "log level")
	profile := fs.String("cpuprofile", "", "CPU profile file")
	// The arguments are those the gatehouse binary gets (targets.go):
	// every one must be accepted here too, with the same meaning.
	loginRate := fs.Float64("login-rate-limit", 0, "logins per second per address (0 = no limit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	f, err := os.Create(*profile)
	if err != nil {
		return err
	}
	defer f.Close()
	srv, err := server.New(ctx, server.Config{
		Listen: *listen, Storage: *storage, EncryptionKey: os.Getenv("GATEHOUSE_ENCRYPTION_KEY"),
		Logger: logger, Out: os.Stderr, LoginRateLimit: *loginRate,
	})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		srv.Close()
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		srv.Close()
		return err
	}
	defer pprof.StopCPUProfile()
	return srv.Serve(ctx)
}
