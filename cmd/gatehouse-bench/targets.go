package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
	"github.com/gatehouse-dev/gatehouse/internal/server"
)

// env owns everything a run starts: a temp dir, the gatehouse server and
// the baseline helpers. Each is started on first use and stopped by Close.
type env struct {
	opts options
	log  io.Writer
	dir  string

	gatehouse    *gatehouseTarget
	gatehouseErr error       // a failed seeding, not retried
	seed         *seedResult // --seed-tokens: what seeding measured
	nethttp      *helperTarget
	kube         *helperTarget
	kubeHTTP1    *helperTarget // a second test API server, HTTP/1.1 only
	procs        []*proc

	setupClient *http.Client // setup calls, loopback only like the load

	uaMu      sync.Mutex // guards uaMissing, uaClients and uaToks (see universalAuthToken)
	uaMissing bool
	uaClients map[int64]uaClient
	uaToks    map[int64]string
}

func newEnv(opts options, log io.Writer) (*env, error) {
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return nil, err
	}
	return &env{opts: opts, log: log, dir: dir, setupClient: newClient(1, nil), uaClients: map[int64]uaClient{}, uaToks: map[int64]string{}}, nil
}

// Close stops every process (SIGTERM, then kill) and removes the temp dir.
func (e *env) Close() error {
	e.setupClient.CloseIdleConnections()
	var errs []error
	for i := len(e.procs) - 1; i >= 0; i-- {
		if err := e.procs[i].Stop(stopTimeout); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(e.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "gatehouse-bench: "+format+"\n", args...)
}

// gatehouseTarget is a running `gatehouse server`.
type gatehouseTarget struct {
	proc      *proc
	url       string
	rootToken string
	storage   string // redacted for display
}

// readyTimeout bounds the wait for a server's /readyz (a PostgreSQL store
// may need a while to migrate).
const readyTimeout = 60 * time.Second

// Gatehouse starts the gatehouse server (once). With --seed-tokens it
// then stops it, seeds its store and starts it again (seed.go).
func (e *env) Gatehouse(ctx context.Context) (*gatehouseTarget, error) {
	if e.gatehouse != nil || e.gatehouseErr != nil {
		return e.gatehouse, e.gatehouseErr
	}
	storage := e.opts.storage
	dbPath := filepath.Join(e.dir, "gatehouse-data", "gatehouse.db")
	if storage == "" {
		storage = "sqlite://" + dbPath
	}
	g, fresh, err := e.startGatehouse(ctx, storage, "")
	if err != nil {
		return nil, err
	}
	e.gatehouse = g
	if e.opts.seedTokens > 0 {
		if err := e.seedAndRestart(ctx, g, storage, dbPath, fresh); err != nil {
			e.gatehouse, e.gatehouseErr = nil, fmt.Errorf("seeding %d tokens: %w", e.opts.seedTokens, err)
			return nil, e.gatehouseErr
		}
	}
	return e.gatehouse, nil
}

// seedAndRestart logs in once as a Universal Auth identity, seeds the
// store with copies of that token while the server is stopped, then starts
// it again and times its start-up.
func (e *env) seedAndRestart(ctx context.Context, g *gatehouseTarget, storage, dbPath string, fresh time.Duration) error {
	tmpl, err := e.universalAuthToken(ctx, g, 0)
	if err != nil {
		return err
	}
	e.logf("seeding %d tokens into %s (server stopped)", e.opts.seedTokens, g.storage)
	seed, err := e.seedStore(ctx, g, dbPath, tmpl)
	if err != nil {
		return err
	}
	e.logf("seeded %d tokens in %s", seed.Tokens, seed.Took.Round(time.Millisecond))
	if fi, err := os.Stat(dbPath); err == nil {
		seed.DBBytes = fi.Size()
	}
	g2, ready, err := e.startGatehouse(ctx, storage, g.rootToken)
	if err != nil {
		return fmt.Errorf("restarting on the seeded store: %w", err)
	}
	seed.StartToReady, seed.FreshStartToReady = ready, fresh
	if m, err := g2.proc.Memory(); err == nil {
		seed.RSSReady = m.RSS
	}
	e.logf("gatehouse ready %s after process start on the seeded store", ready.Round(time.Millisecond))
	e.gatehouse, e.seed = g2, seed
	return nil
}

// startGatehouse starts a gatehouse server on storage and waits for it
// to be ready; it returns the time from process start to the first 200
// from /readyz. root is the root token of a store that is not fresh ("":
// the server prints one).
func (e *env) startGatehouse(ctx context.Context, storage, root string) (*gatehouseTarget, time.Duration, error) {
	bin, args, err := e.gatehouseCommand(ctx)
	if err != nil {
		return nil, 0, err
	}
	procEnv, err := gatehouseEnviron(storage)
	if err != nil {
		return nil, 0, err
	}
	if e.opts.serverCPUProfile != "" {
		procEnv = append(procEnv, roleEnv+"="+roleGatehouse)
	}
	// A free port is found by binding :0 and closing it; another process
	// could take it in between, so a start that fails that way is retried.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, 0, err
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		// The login scenarios come from one address, far past the
		// per-address login rate limit: off, to measure the server itself.
		full := append(append([]string(nil), args...), "--listen", addr, "--storage", storage, "--log-level", e.opts.serverLogLevel,
			"--login-rate-limit", "0")
		tokens := make(chan string, 1)
		t0 := time.Now()
		p, err := startProc("gatehouse", bin, full, procEnv, nil, func(line []byte) {
			if m := tokenPattern.Find(line); m != nil {
				if _, perr := secret.Parse(secret.KindAccessToken, string(m)); perr == nil {
					select {
					case tokens <- string(m):
					default:
					}
				}
			}
		})
		if err != nil {
			return nil, 0, err
		}
		e.procs = append(e.procs, p)
		base := "http://" + addr
		if err := waitReady(ctx, p, base+"/readyz", readyPollFast); err != nil {
			_ = p.Stop(stopTimeout)
			lastErr = err
			if strings.Contains(p.Tail(), "address already in use") {
				continue
			}
			return nil, 0, err
		}
		ready := time.Since(t0)
		if root == "" {
			if root, err = rootToken(tokens); err != nil {
				return nil, 0, err
			}
		}
		g := &gatehouseTarget{proc: p, url: base, rootToken: root, storage: server.RedactStorageURL(storage)}
		e.logf("gatehouse server up at %s (pid %d, storage %s)", base, p.cmd.Process.Pid, g.storage)
		return g, ready, nil
	}
	return nil, 0, lastErr
}

// rootTokenEnv names a root token to use when the store is not fresh (a
// reused PostgreSQL database), so none is printed at start.
const rootTokenEnv = "GATEHOUSE_BENCH_ROOT_TOKEN"

func rootToken(printed <-chan string) (string, error) {
	// The token is printed before the server listens; allow the stderr
	// reader a moment to catch up with /readyz.
	select {
	case t := <-printed:
		return t, nil
	case <-time.After(2 * time.Second):
	}
	if t := os.Getenv(rootTokenEnv); t != "" {
		return t, nil
	}
	return "", fmt.Errorf("gatehouse printed no root token: the store is not fresh. Give --storage an empty database, or set %s to a root token of that store (gatehouse operator generate-root)", rootTokenEnv)
}

// gatehouseCommand is the program and leading arguments that run the
// server: the given binary, a fresh build of ./cmd/gatehouse, or (to
// profile) this binary in its gatehouse role.
func (e *env) gatehouseCommand(ctx context.Context) (string, []string, error) {
	if e.opts.serverCPUProfile != "" {
		self, err := os.Executable()
		if err != nil {
			return "", nil, err
		}
		prof, err := filepath.Abs(e.opts.serverCPUProfile)
		if err != nil {
			return "", nil, err
		}
		return self, []string{"--cpuprofile", prof}, nil
	}
	if e.opts.gatehouseBin != "" {
		return e.opts.gatehouseBin, []string{"server"}, nil
	}
	bin := filepath.Join(e.dir, "gatehouse")
	e.logf("building gatehouse (go build ./cmd/gatehouse)")
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(bctx, goTool, "build", "-o", bin, "github.com/gatehouse-dev/gatehouse/cmd/gatehouse").CombinedOutput()
	if err != nil {
		return "", nil, fmt.Errorf("building gatehouse (run inside the module, or give --gatehouse-bin): %v\n%s", err, out)
	}
	return bin, []string{"server"}, nil
}

// gatehouseEnviron is the bench's environment without GATEHOUSE_*
// settings (so the shell cannot change what is measured), plus the
// encryption key a PostgreSQL store requires: GATEHOUSE_ENCRYPTION_KEY as
// given to the bench, or a new one.
func gatehouseEnviron(storage string) ([]string, error) {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEHOUSE_") {
			out = append(out, kv)
		}
	}
	if strings.HasPrefix(storage, "sqlite://") {
		return out, nil // the key file is generated beside the database
	}
	key := os.Getenv("GATEHOUSE_ENCRYPTION_KEY")
	if key == "" {
		k, err := seal.NewKey()
		if err != nil {
			return nil, err
		}
		key = k.Encode()
	}
	return append(out, "GATEHOUSE_ENCRYPTION_KEY="+key), nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// readyPollFast is how often gatehouse's /readyz is polled at start: its
// start-up time is measured to within it.
const readyPollFast = 2 * time.Millisecond

// waitReady polls url every poll until it answers 200, the process exits,
// or readyTimeout passes.
func waitReady(ctx context.Context, p *proc, url string, poll time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if done, err := p.Exited(); done {
			return fmt.Errorf("%s exited before it was ready (%v):\n%s", p.name, err, p.Tail())
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
	return fmt.Errorf("%s not ready at %s after %s:\n%s", p.name, url, readyTimeout, p.Tail())
}

// helperTarget is one of the bench's own servers (a role).
type helperTarget struct {
	proc *proc
	info helperInfo
}

// NetHTTP starts the trivial net/http server (once).
func (e *env) NetHTTP(ctx context.Context) (*helperTarget, error) {
	if e.nethttp == nil {
		h, err := e.startHelper(ctx, roleNetHTTP)
		if err != nil {
			return nil, err
		}
		e.nethttp = h
	}
	return e.nethttp, nil
}

// Kube starts the test Kubernetes API server (once).
func (e *env) Kube(ctx context.Context) (*helperTarget, error) {
	if e.kube == nil {
		h, err := e.startHelper(ctx, roleKube, "--latency", e.opts.kubeLatency.String())
		if err != nil {
			return nil, err
		}
		e.kube = h
	}
	return e.kube, nil
}

// KubeHTTP1 starts a second test Kubernetes API server that speaks
// HTTP/1.1 only (once).
func (e *env) KubeHTTP1(ctx context.Context) (*helperTarget, error) {
	if e.kubeHTTP1 == nil {
		h, err := e.startHelper(ctx, roleKube, "--latency", e.opts.kubeLatency.String(), "--http1")
		if err != nil {
			return nil, err
		}
		e.kubeHTTP1 = h
	}
	return e.kubeHTTP1, nil
}

// helperStartTimeout bounds a helper's start (the Kubernetes one makes an
// RSA key).
const helperStartTimeout = 60 * time.Second

func (e *env) startHelper(ctx context.Context, role string, args ...string) (*helperTarget, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	p, err := startProc(role, self, args, append(os.Environ(), roleEnv+"="+role), pw, nil)
	if err != nil {
		return nil, err
	}
	e.procs = append(e.procs, p)
	infos := make(chan helperInfo, 1)
	go func() {
		br := bufio.NewReader(pr)
		line, err := br.ReadBytes('\n')
		var info helperInfo
		if err == nil && json.Unmarshal(line, &info) == nil {
			infos <- info
		}
		_, _ = io.Copy(io.Discard, br)
	}()
	go func() { <-p.exited; pw.Close() }()
	t := time.NewTimer(helperStartTimeout)
	defer t.Stop()
	select {
	case info := <-infos:
		u, err := url.Parse(info.URL)
		if err != nil {
			return nil, fmt.Errorf("%s: bad URL %q", role, info.URL)
		}
		if err := requireLoopback(u.Host); err != nil {
			return nil, err
		}
		e.logf("%s server up at %s (pid %d)", role, info.URL, p.cmd.Process.Pid)
		return &helperTarget{proc: p, info: info}, nil
	case <-p.exited:
		_, werr := p.Exited()
		return nil, fmt.Errorf("%s helper exited before it was ready (%v):\n%s", role, werr, p.Tail())
	case <-t.C:
		return nil, fmt.Errorf("%s helper not ready after %s:\n%s", role, helperStartTimeout, p.Tail())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// kubeTLS trusts the test cluster's CA only.
func kubeTLS(caPEM string) (*tls.Config, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caPEM)) {
		return nil, errors.New("kubetest: bad CA PEM")
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
