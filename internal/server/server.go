// Package server wires Gatehouse together: it opens the store, checks the
// sealing key, creates the first root token, builds the domain services and
// both HTTP front ends, and runs the HTTP server with graceful shutdown and
// the background token sweeper.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/buildinfo"
	"github.com/gatehouse-dev/gatehouse/internal/clientip"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi/infisical"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi/vault"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/bounded"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/universalauth"
	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// Config is the server's configuration (flags and GATEHOUSE_* variables).
type Config struct {
	Listen string
	// Listener, when set, is already bound (see Bind) and is served
	// instead of Listen; the server owns it from New on, closing it on
	// every failure and on Close.
	Listener          net.Listener
	Storage           string
	TLSCert, TLSKey   string
	TrustedProxies    []netip.Prefix
	EncryptionKey     string // the key itself (GATEHOUSE_ENCRYPTION_KEY)
	EncryptionKeyFile string
	MaxTokenAge       time.Duration
	SweepInterval     time.Duration
	ShutdownTimeout   time.Duration
	Dev               bool
	DevRootToken      string
	// KubeTimeout bounds each call to a Kubernetes API server
	// (kubeauth.DefaultTimeout when 0).
	KubeTimeout time.Duration
	// KubeReviewCacheTTL keeps positive TokenReview answers this long
	// (0 = off; see kubeauth.Service.CacheReviews).
	KubeReviewCacheTTL time.Duration
	// PodServiceAccountDir is where, when Gatehouse runs in a pod, its own
	// service-account CA and token are read from for Vault mounts whose
	// config leaves them empty (vaultauth.DefaultPodDir when ""; "-" = never).
	PodServiceAccountDir string
	// LoginRateLimit is the sustained logins per second allowed from one
	// source address, with LoginRateBurst at once (0 = no limit).
	LoginRateLimit float64
	LoginRateBurst int
	// AuditRetention is how long audit events are kept in the store; the
	// sweeper deletes older ones (0 = keep forever).
	AuditRetention time.Duration
	// AuditFile, when set, receives every audit event as a JSON line too
	// (a file opened for appending, mode 0600; "-" = Stdout).
	AuditFile string
	// Stdout is standard output (os.Stdout when nil), for AuditFile "-".
	Stdout io.Writer

	// RootTokenFile, when set, receives the root token created at the
	// first start (mode 0600, never overwritten) instead of Out.
	RootTokenFile string
	// LogJSON: Logger writes JSON (--log-format json), so the root token
	// notice on Out is a JSON line too.
	LogJSON bool
	// StoreTimeout bounds each store call a request makes
	// (bounded.DefaultTimeout when 0); it must be under the HTTP write
	// timeout, so that a request whose store stalls is still answered (503).
	StoreTimeout time.Duration
	// StoreConnectTimeout is how long a start keeps retrying to reach an
	// unavailable store before giving up (0 = give up at once).
	StoreConnectTimeout time.Duration
	// GatewayTimeout bounds one call through a gateway and GatewayHeartbeat
	// is how often each gateway session is pinged and its identity checked
	// again (gateway.DefaultTimeout and DefaultHeartbeat when 0).
	GatewayTimeout, GatewayHeartbeat time.Duration
	// ReplicaURL is this replica's own URL, reachable by the other replicas
	// (--replica-url): needed by every replica when several share one
	// PostgreSQL, so that a login on any of them can use a gateway
	// connected to another ("" = a single server).
	ReplicaURL string

	Logger *slog.Logger
	// Out receives the one-time root token notice (stderr in production).
	Out io.Writer
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// wrapStore, when set (tests only: export_test.go), wraps the opened
	// store before the timeout and the cache do (fault injection).
	wrapStore func(store.Store) store.Store
	// OIDC configures the OIDC issuer (--issuer-url, --signing-key-*,
	// --max-exchange-ttl); Issuer "" = the listen address's URL.
	OIDC oidc.Config
	// DisableUI turns the web console at /ui/ off (--ui=false).
	DisableUI bool
}

// Server is a running Gatehouse.
type Server struct {
	cfg      Config
	store    store.Store
	bounded  *bounded.Store // s.store's timeouts and outage state
	key      seal.Key
	handler  http.Handler
	http     *http.Server
	listener net.Listener
	tlsConf  *tls.Config
	tokens   *token.Service
	gateways *gateway.Service
	oidc     *oidc.Service
	devDir   string // --dev: the throwaway store's directory, removed on Close
	auditOut *audit.Sink
	stopOnce sync.Once
	bg       sync.WaitGroup // background loops other than the sweeper
	stop     chan struct{}
	done     chan struct{}
}

// New builds a server on an open store without listening yet (or on
// cfg.Listener, bound already). On failure it undoes what it did: nothing
// it created is left behind.
func New(ctx context.Context, cfg Config) (_ *Server, err error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Out == nil {
		cfg.Out = os.Stderr
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = 10 * time.Minute
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 20 * time.Second
	}
	undo := []func(){func() { closeListener(cfg.Listener) }}
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	bi := buildinfo.Get()
	cfg.Logger.Info("gatehouse starting", "version", bi.Version, "commit", bi.Commit, "go", bi.GoVersion)
	// Everything that can be refused is checked before anything is
	// created (a store, a key, a root token).
	tlsConf, err := loadTLS(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkRootTokenFile(cfg.RootTokenFile); err != nil {
		return nil, err
	}
	if err := checkReplicaURL(cfg.ReplicaURL); err != nil {
		return nil, err
	}
	if err := checkStoreTimeout(cfg.StoreTimeout); err != nil {
		return nil, err
	}
	var auditOut *audit.Sink
	if cfg.AuditFile != "" {
		if cfg.Stdout == nil {
			cfg.Stdout = os.Stdout
		}
		if auditOut, err = audit.OpenSink(cfg.AuditFile, cfg.Stdout, cfg.Logger); err != nil {
			return nil, err
		}
		undo = append(undo, func() { auditOut.Close() })
	}
	var devDir string
	if cfg.Dev {
		dir, err := os.MkdirTemp("", "gatehouse-dev-")
		if err != nil {
			return nil, err
		}
		devDir = dir
		undo = append(undo, func() { removeDevDir(devDir) })
		cfg.Storage = "sqlite://" + filepath.Join(dir, "gatehouse.db")
		cfg.EncryptionKey, cfg.EncryptionKeyFile = "", ""
	}
	if cfg.Storage == "" {
		cfg.Storage = DefaultStorage
	}
	key, generated, err := loadKey(cfg)
	if err != nil {
		return nil, err
	}
	if generated != "" && !cfg.Dev {
		cfg.Logger.Info("generated a new encryption key; back it up, the sealed secrets in the store cannot be read without it", "file", generated)
	}
	st, bs, err := openServerStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening storage %s: %w", RedactStorageURL(cfg.Storage), err)
	}
	undo = append(undo, func() { st.Close() })
	if auditOut != nil {
		st = audit.Tee(st, auditOut)
	}
	s := &Server{cfg: cfg, store: st, bounded: bs, key: key, listener: cfg.Listener, tlsConf: tlsConf, devDir: devDir, auditOut: auditOut, stop: make(chan struct{}), done: make(chan struct{})}
	if err := s.init(ctx); err != nil {
		close(s.done) // no sweeper was started
		return nil, err
	}
	return s, nil
}

func (s *Server) init(ctx context.Context) error {
	cfg := s.cfg
	if err := checkKey(ctx, s.store, s.key); err != nil {
		return err
	}
	now := cfg.Now
	auditLog := audit.New(s.store, now, cfg.Logger)
	s.tokens = token.NewService(s.store, now, cfg.MaxTokenAge)
	s.tokens.SetAuditLog(auditLog) // revocations are audited
	identities := identity.NewService(s.store, auditLog, now)
	if err := s.bootstrapRoot(ctx, auditLog); err != nil {
		return err
	}
	auth := &httpapi.Authenticator{Tokens: s.tokens}
	loginLimiter := ratelimit.New(ratelimit.Config{Rate: cfg.LoginRateLimit, Burst: cfg.LoginRateBurst, Now: now})

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), buildInfoGauge())
	metrics := httpapi.NewMetrics(reg)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		// Not ready while the store does not answer, and during an
		// outage the requests see (until it has settled).
		if err := s.store.Ping(ctx); err != nil || s.bounded.Down() {
			httpapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "store unreachable"})
			return
		}
		httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	universalAuth := universalauth.NewService(s.store, s.tokens, auditLog, now)
	kubeAuth := kubeauth.NewService(s.store, s.key, s.tokens, auditLog, now, cfg.KubeTimeout, cfg.Logger)
	kubeAuth.CacheReviews(cfg.KubeReviewCacheTTL)
	gwConf := gateway.Config{Store: s.store, Now: now, Logger: cfg.Logger, Audit: auditLog, Timeout: cfg.GatewayTimeout, Heartbeat: cfg.GatewayHeartbeat}
	if err := s.replicaConfig(&gwConf); err != nil {
		return err
	}
	s.gateways = gateway.New(gwConf)
	if cfg.ReplicaURL != "" {
		mux.HandleFunc(gateway.ReplicaStreamPattern, s.gateways.ServeReplicaStream)
	}
	kubeAuth.UseGateways(s.gateways)
	infisical.Register(mux, infisical.Deps{Auth: auth, Identities: identities, Tokens: s.tokens, UniversalAuth: universalAuth, KubernetesAuth: kubeAuth, Store: s.store, Now: now, Logger: cfg.Logger, LoginLimiter: loginLimiter, Gateways: s.gateways})
	podDir := cfg.PodServiceAccountDir
	switch podDir {
	case "":
		podDir = vaultauth.DefaultPodDir
	case "-":
		podDir = ""
	}
	vaultAuth := vaultauth.NewService(s.store, s.key, kubeAuth, s.tokens, auditLog, now, podDir)
	if cfg.Dev {
		if err := vaultAuth.EnableIfAbsent(ctx, "kubernetes"); err != nil {
			return fmt.Errorf("enabling auth/kubernetes: %w", err)
		}
	}
	vault.Register(mux, vault.Deps{Auth: auth, Tokens: s.tokens, Kubernetes: vaultAuth, Identities: identities, Now: now, Version: buildinfo.Get().Version,
		StorageType: storageType(cfg.Storage), Logger: cfg.Logger, LoginLimiter: loginLimiter})

	oidcService, err := s.initOIDC(ctx, mux, auth, auditLog, s.tokens, kubeAuth, loginLimiter)
	if err != nil {
		return err
	}
	s.oidc = oidcService
	s.mountConsole(mux, auditLog)
	s.handler = withDeadline(httpapi.Middleware(mux, clientip.NewResolver(cfg.TrustedProxies), metrics, cfg.Logger), requestTimeout)
	go s.sweep()
	return nil
}

// bootstrapRoot creates the root token on the first start of an empty
// store and prints it once; only its hash is kept.
func (s *Server) bootstrapRoot(ctx context.Context, auditLog *audit.Log) error {
	if s.cfg.Dev && s.cfg.DevRootToken != "" {
		rec, err := s.tokens.IssueRootWithValue(ctx, s.cfg.DevRootToken)
		if err != nil {
			return err
		}
		auditLog.Record(ctx, store.AuditEvent{Type: audit.TypeRootTokenCreate, Success: true, ActorID: "dev", Details: map[string]string{"accessor": rec.ID}})
		s.cfg.Logger.Info("development mode: the root token is the one given with --dev-root-token")
		return nil
	}
	if err := s.checkRootTokenFileUnused(ctx); err != nil {
		return err
	}
	first, err := s.store.PutMetaIfAbsent(ctx, metaRootTokenCreated, s.cfg.Now().UTC().Format(time.RFC3339))
	if err != nil {
		return err
	}
	if !first {
		return nil
	}
	issued, err := s.tokens.IssueRoot(ctx)
	if err != nil {
		return err
	}
	auditLog.Record(ctx, store.AuditEvent{Type: audit.TypeRootTokenCreate, Success: true, ActorID: "bootstrap", Details: map[string]string{"accessor": issued.Record.ID}})
	return s.announceRoot(issued.Token)
}

// Handler is the server's HTTP handler (for tests that serve it themselves).
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the server's store.
func (s *Server) Store() store.Store { return s.store }

// Gateways is the server's gateway service.
func (s *Server) Gateways() *gateway.Service { return s.gateways }

// Tokens is the server's token service.
func (s *Server) Tokens() *token.Service { return s.tokens }

// Listen binds the configured address.
func (s *Server) Listen() error {
	if s.listener != nil {
		return nil
	}
	ln, err := Bind(s.cfg.Listen)
	if err != nil {
		return err
	}
	s.listener = ln
	return nil
}

// Addr is the address the server listens on (after Listen).
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Serve serves HTTP until ctx is done, then drains in-flight requests,
// stops the sweeper and closes the store.
func (s *Server) Serve(ctx context.Context) error {
	if s.listener == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelWarn),
	}
	tlsOn := s.tlsConf != nil
	s.http.TLSConfig = s.tlsConf
	errc := make(chan error, 1)
	go func() {
		var err error
		if tlsOn {
			err = s.http.ServeTLS(s.listener, "", "")
		} else {
			err = s.http.Serve(s.listener)
		}
		errc <- err
	}()
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	s.cfg.Logger.Info("gatehouse listening", "addr", scheme+"://"+s.Addr(), "storage", RedactStorageURL(s.cfg.Storage), "dev", s.cfg.Dev)
	warnPlainHTTP(s.cfg.Logger, s.listener.Addr(), tlsOn)

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	// Shutdown order: (1) http.Server.Shutdown closes the listener and
	// waits for the requests in flight, logins waiting on a gateway
	// included, so the gateway sessions must still be up; it does not see
	// hijacked connections (gateway sessions, replica streams), which is
	// why (2) Close then closes those (gateway.Service.Close: each
	// session's streams are unblocked before the session closes, see
	// gateway/session.go) and waits for their watchers, which still write
	// to the store; (3) only then the sweeper stops and the store closes.
	s.cfg.Logger.Info("shutting down: draining in-flight requests")
	shutCtx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	shutErr := s.http.Shutdown(shutCtx)
	s.Close()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return shutErr
}

// Close stops the sweeper and closes the store.
func (s *Server) Close() error {
	var err error
	s.stopOnce.Do(func() {
		if s.gateways != nil {
			s.gateways.Close() // hijacked connections: Shutdown does not see them
		}
		close(s.stop)
		<-s.done
		s.bg.Wait()
		err = s.store.Close()
		s.auditOut.Close()
		closeListener(s.listener) // when never served
		removeDevDir(s.devDir)
	})
	return err
}

// closeListener closes a listener the server was given or bound.
func closeListener(ln net.Listener) {
	if ln != nil {
		ln.Close()
	}
}

// removeDevDir deletes a --dev server's throwaway store.
func removeDevDir(dir string) {
	if dir != "" {
		os.RemoveAll(dir)
	}
}

// sweep runs Sweep periodically.
func (s *Server) sweep() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(bounded.WithTimeout(context.Background(), time.Minute), time.Minute)
			s.Sweep(ctx)
			cancel()
		}
	}
}

// Sweep purges expired and revoked tokens, expired console sessions and,
// with an AuditRetention, older audit events, once; the sweeper calls it
// every SweepInterval.
func (s *Server) Sweep(ctx context.Context) {
	n, err := s.tokens.Purge(ctx, time.Hour)
	if err != nil {
		s.cfg.Logger.Warn("token sweep failed", "err", err)
	} else if n > 0 {
		s.cfg.Logger.Info("token sweep", "purged", n)
	}
	n, err = s.store.PurgeConsoleSessions(ctx, s.cfg.Now())
	if err != nil {
		s.cfg.Logger.Warn("console session sweep failed", "err", err)
	} else if n > 0 {
		s.cfg.Logger.Info("console session sweep", "purged", n)
	}
	if s.cfg.AuditRetention <= 0 {
		return
	}
	n, err = s.store.PurgeAuditEvents(ctx, s.cfg.Now().Add(-s.cfg.AuditRetention))
	if err != nil {
		s.cfg.Logger.Warn("audit retention sweep failed", "err", err)
	} else if n > 0 {
		s.cfg.Logger.Info("audit retention sweep", "purged", n, "retention", s.cfg.AuditRetention)
	}
}
