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
	"github.com/gatehouse-dev/gatehouse/internal/clientip"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi/infisical"
	"github.com/gatehouse-dev/gatehouse/internal/httpapi/vault"
	"github.com/gatehouse-dev/gatehouse/internal/identity"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/store/bounded"
	"github.com/gatehouse-dev/gatehouse/internal/token"
	"github.com/gatehouse-dev/gatehouse/internal/universalauth"
	"github.com/gatehouse-dev/gatehouse/internal/vaultauth"
)

// Version is the server's version, shown by /v1/sys/health.
var Version = "0.1.0-dev"

// Config is the server's configuration (flags and GATEHOUSE_* variables).
type Config struct {
	Listen            string
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
	// StoreTimeout bounds each store call a request makes
	// (bounded.DefaultTimeout when 0); it must be under the HTTP write
	// timeout, so that a request whose store stalls is still answered (503).
	StoreTimeout time.Duration
	// StoreConnectTimeout is how long a start keeps retrying to reach an
	// unavailable store before giving up (0 = give up at once).
	StoreConnectTimeout time.Duration

	Logger *slog.Logger
	// Out receives the one-time root token notice (stderr in production).
	Out io.Writer
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	// wrapStore, when set (tests only: export_test.go), wraps the opened
	// store before the timeout and the cache do (fault injection).
	wrapStore func(store.Store) store.Store
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
	tokens   *token.Service
	devDir   string // --dev: the throwaway store's directory, removed on Close
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

// New builds a server on an open store without listening yet.
func New(ctx context.Context, cfg Config) (*Server, error) {
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
	var devDir string
	if cfg.Dev {
		dir, err := os.MkdirTemp("", "gatehouse-dev-")
		if err != nil {
			return nil, err
		}
		devDir = dir
		cfg.Storage = "sqlite://" + filepath.Join(dir, "gatehouse.db")
		cfg.EncryptionKey, cfg.EncryptionKeyFile = "", ""
	}
	if cfg.Storage == "" {
		cfg.Storage = DefaultStorage
	}
	key, generated, err := loadKey(cfg)
	if err != nil {
		removeDevDir(devDir)
		return nil, err
	}
	if generated != "" && !cfg.Dev {
		cfg.Logger.Info("generated a new encryption key; back it up, the sealed secrets in the store cannot be read without it", "file", generated)
	}
	if err := checkStoreTimeout(cfg.StoreTimeout); err != nil {
		removeDevDir(devDir)
		return nil, err
	}
	st, bs, err := openServerStore(ctx, cfg)
	if err != nil {
		removeDevDir(devDir)
		return nil, fmt.Errorf("opening storage %s: %w", RedactStorageURL(cfg.Storage), err)
	}
	s := &Server{cfg: cfg, store: st, bounded: bs, key: key, devDir: devDir, stop: make(chan struct{}), done: make(chan struct{})}
	if err := s.init(ctx); err != nil {
		close(s.done) // no sweeper was started
		st.Close()
		removeDevDir(devDir)
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
	identities := identity.NewService(s.store, auditLog, now)
	if err := s.bootstrapRoot(ctx, auditLog); err != nil {
		return err
	}
	auth := &httpapi.Authenticator{Tokens: s.tokens}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
	infisical.Register(mux, infisical.Deps{Auth: auth, Identities: identities, Tokens: s.tokens, UniversalAuth: universalAuth, KubernetesAuth: kubeAuth, Store: s.store, Now: now, Logger: cfg.Logger})
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
	vault.Register(mux, vault.Deps{Auth: auth, Tokens: s.tokens, Kubernetes: vaultAuth, Now: now, Version: Version, Logger: cfg.Logger})

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
		fmt.Fprintf(s.cfg.Out, "Development mode: the root token is the one given with --dev-root-token.\n")
		return nil
	}
	first, err := s.store.PutMetaIfAbsent(ctx, "root_token_created_at", s.cfg.Now().UTC().Format(time.RFC3339))
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
	fmt.Fprintf(s.cfg.Out, "\nRoot token (shown once; only its hash is stored):\n\n    %s\n\nUse it as \"Authorization: Bearer <token>\" or \"X-Vault-Token: <token>\".\nLost it? Stop the server and run `gatehouse operator generate-root`.\n\n", issued.Token.Reveal())
	return nil
}

// Handler is the server's HTTP handler (for tests that serve it themselves).
func (s *Server) Handler() http.Handler { return s.handler }

// Store is the server's store.
func (s *Server) Store() store.Store { return s.store }

// Tokens is the server's token service.
func (s *Server) Tokens() *token.Service { return s.tokens }

// Listen binds the configured address.
func (s *Server) Listen() error {
	addr := s.cfg.Listen
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	ln, err := net.Listen("tcp", addr)
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
	tlsOn := s.cfg.TLSCert != "" || s.cfg.TLSKey != ""
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("loading TLS certificate: %w", err)
		}
		s.http.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
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

	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
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
		close(s.stop)
		<-s.done
		err = s.store.Close()
		removeDevDir(s.devDir)
	})
	return err
}

// removeDevDir deletes a --dev server's throwaway store.
func removeDevDir(dir string) {
	if dir != "" {
		os.RemoveAll(dir)
	}
}

// sweep purges expired and revoked tokens periodically.
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
			n, err := s.tokens.Purge(ctx, time.Hour)
			cancel()
			if err != nil {
				s.cfg.Logger.Warn("token sweep failed", "err", err)
			} else if n > 0 {
				s.cfg.Logger.Info("token sweep", "purged", n)
			}
		}
	}
}
