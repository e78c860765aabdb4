package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/yamux"

	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

// LoginFunc logs the gateway in to the server and returns an access token.
type LoginFunc func(ctx context.Context, hc *http.Client, serverURL string) (secret.Secret, error)

// AgentConfig configures the gateway process.
type AgentConfig struct {
	ServerURL string // the Gatehouse server's base URL
	// ServerCAFile, when set, alone verifies the server's certificate;
	// else the system roots do.
	ServerCAFile string
	Login        LoginFunc
	Name         string
	Pool         string // a pool name or ID; "" = none declared
	Version      string
	Handler      http.Handler // what the gateway serves (a *Handler)
	Logger       *slog.Logger
	Metrics      *Metrics
	// BackoffMin and BackoffMax bound the wait before reconnecting (1 s
	// and 1 min when 0); Keepalive is the session ping interval.
	BackoffMin, BackoffMax time.Duration
	Keepalive              time.Duration
	// DrainTimeout bounds the wait for calls in flight at shutdown.
	DrainTimeout time.Duration
}

// Agent is the gateway process's connection loop.
type Agent struct {
	cfg   AgentConfig
	hc    *http.Client
	ready atomic.Bool
	id    atomic.Value // string: the gateway ID the server gave
}

// NewAgent returns an Agent.
func NewAgent(cfg AgentConfig) (*Agent, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = time.Minute
	}
	if cfg.Keepalive <= 0 {
		cfg.Keepalive = DefaultHeartbeat
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.ServerCAFile != "" {
		pem, err := os.ReadFile(cfg.ServerCAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the server CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("the server CA file holds no PEM certificate")
		}
		tlsConf.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		// The upgrade needs HTTP/1.1: no HTTP/2.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	a := &Agent{cfg: cfg, hc: &http.Client{Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	a.id.Store("")
	return a, nil
}

// Ready reports whether the session with the server is up.
func (a *Agent) Ready() bool { return a.ready.Load() }

// GatewayID is the ID the server gave this gateway ("" before the first
// connection).
func (a *Agent) GatewayID() string { return a.id.Load().(string) }

// Backoff is the wait before reconnect attempt n (0 = the first retry):
// min·2ⁿ capped at max, of which the upper half is random (equal jitter),
// so gateways that lost the server together do not return together.
func Backoff(n int, min, max time.Duration, rnd func(int64) int64) time.Duration {
	d := min
	for i := 0; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + time.Duration(rnd(int64(half)+1))
}

// Run connects, serves and reconnects until ctx is done; then it drains
// the calls in flight and closes the session.
func (a *Agent) Run(ctx context.Context) error {
	failures := 0
	for {
		a.cfg.Metrics.attempt()
		served, err := a.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if served {
			failures = 0
		}
		wait := Backoff(failures, a.cfg.BackoffMin, a.cfg.BackoffMax, rand.Int64N)
		failures++
		a.cfg.Logger.Warn("gateway disconnected; reconnecting", "err", err, "in", wait.Round(time.Millisecond))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// session makes one connection and serves it until it ends; served says
// whether the server accepted it.
func (a *Agent) session(ctx context.Context) (served bool, err error) {
	tok, err := a.cfg.Login(ctx, a.hc, a.cfg.ServerURL)
	if err != nil {
		return false, fmt.Errorf("logging in: %w", err)
	}
	// The connection outlives ctx by the drain: it has its own context.
	connCtx, cancelConn := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelConn()
	req, err := http.NewRequestWithContext(connCtx, http.MethodGet, strings.TrimRight(a.cfg.ServerURL, "/")+ConnectPath, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", UpgradeProtocol)
	req.Header.Set("Authorization", "Bearer "+tok.Reveal())
	req.Header.Set(HeaderName, a.cfg.Name)
	req.Header.Set(HeaderVersion, a.cfg.Version)
	if a.cfg.Pool != "" {
		req.Header.Set(HeaderPool, a.cfg.Pool)
	}
	stop := context.AfterFunc(ctx, cancelConn) // until upgraded, shutdown cancels at once
	resp, err := a.hc.Do(req)
	stopped := stop()
	if err != nil {
		return false, fmt.Errorf("connecting to %s: %w", a.cfg.ServerURL, err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
		return false, fmt.Errorf("the server refused the gateway (HTTP %d): %s", resp.StatusCode, serverMessage(raw))
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok || !stopped {
		resp.Body.Close()
		return false, errors.New("the server's upgrade answer is not usable")
	}
	ys, err := yamux.Server(newFrameWriter(rwc), yamuxConfig(a.cfg.Keepalive))
	if err != nil {
		rwc.Close()
		return false, err
	}
	sess := newSession(ys)
	a.id.Store(resp.Header.Get(HeaderID))
	a.cfg.Logger.Info("gateway connected", "server", a.cfg.ServerURL, "gateway_id", resp.Header.Get(HeaderID), "name", a.cfg.Name)
	srv := newStreamServer(a.cfg.Handler, a.cfg.Logger)
	served = true
	a.ready.Store(true)
	a.cfg.Metrics.setConnected(true)
	defer func() {
		a.ready.Store(false)
		a.cfg.Metrics.setConnected(false)
	}()
	serveDone := make(chan struct{})
	go func() { srv.serve(sess); close(serveDone) }()
	select {
	case <-ctx.Done():
		// Graceful drain: the server opens no new streams (GoAway), the
		// calls in flight finish, then the session closes.
		_ = sess.GoAway()
		a.cfg.Logger.Info("gateway draining: no new calls, finishing those in flight", "within", a.cfg.DrainTimeout)
		dctx, cancel := context.WithTimeout(context.Background(), a.cfg.DrainTimeout)
		srv.drain(dctx)
		cancel()
		srv.stop()
		sess.Close()
		<-serveDone
		return true, nil
	case <-sess.CloseChan():
		srv.stop()
		<-serveDone
		return true, errors.New("the session with the server closed")
	}
}

func serverMessage(raw []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(raw, &m) == nil && m.Message != "" {
		return clip(m.Message, 500)
	}
	return clip(strings.TrimSpace(string(raw)), 200)
}

// UniversalAuthLogin logs in with a Universal Auth client ID and secret.
func UniversalAuthLogin(clientID string, clientSecret secret.Secret) LoginFunc {
	return func(ctx context.Context, hc *http.Client, serverURL string) (secret.Secret, error) {
		return postLogin(ctx, hc, serverURL+"/api/v1/auth/universal-auth/login",
			map[string]string{"clientId": clientID, "clientSecret": clientSecret.Reveal()})
	}
}

// KubernetesLogin logs in with Kubernetes Auth (api mode on the server),
// with the service-account token read from tokenFile at each login.
func KubernetesLogin(identityID, tokenFile string) LoginFunc {
	return func(ctx context.Context, hc *http.Client, serverURL string) (secret.Secret, error) {
		jwt, err := os.ReadFile(tokenFile)
		if err != nil {
			return "", fmt.Errorf("reading the service-account token: %w", err)
		}
		return postLogin(ctx, hc, serverURL+"/api/v1/auth/kubernetes-auth/login",
			map[string]string{"identityId": identityID, "jwt": strings.TrimSpace(string(jwt))})
	}
}

func postLogin(ctx context.Context, hc *http.Client, url string, body map[string]string) (secret.Secret, error) {
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("login refused (HTTP %d): %s", resp.StatusCode, serverMessage(raw))
	}
	var out struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.AccessToken == "" {
		return "", errors.New("the login answer holds no access token")
	}
	return secret.Secret(out.AccessToken), nil
}
