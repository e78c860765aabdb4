package main

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/internal/buildinfo"
	"github.com/gatehouse-dev/gatehouse/internal/clientip"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/oidc"
	"github.com/gatehouse-dev/gatehouse/internal/ratelimit"
	"github.com/gatehouse-dev/gatehouse/internal/seal"
	"github.com/gatehouse-dev/gatehouse/internal/server"
	"github.com/gatehouse-dev/gatehouse/internal/store/bounded"
	"github.com/gatehouse-dev/gatehouse/internal/token"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "gatehouse",
		Short:         "Gatehouse: machine-identity authentication for Kubernetes workloads and beyond",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServerCommand(), newOperatorCommand(), newVersionCommand(), newGatewayCommand())
	root.AddCommand(newLoginCommand(), newAgentCommand())
	// --version prints what `gatehouse version` prints.
	root.Version = buildinfo.Get().String()
	root.SetVersionTemplate("{{.Version}}\n")
	return root
}

// bindEnv lets every flag be set by GATEHOUSE_<FLAG_NAME> when it is not
// given on the command line.
func bindEnv(flags *pflag.FlagSet) error {
	var err error
	flags.VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "GATEHOUSE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := f.Value.Set(v); serr != nil {
				err = fmt.Errorf("%s: %w", name, serr)
			}
			f.Changed = true
		}
	})
	return err
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}

type serverFlags struct {
	oidc                                             oidc.Config // oidcflags.go
	listen, storage, tlsCert, tlsKey, trustedProxies string
	logFormat, logLevel                              string
	dev                                              bool
	devRootToken, encryptionKeyFile                  string
	maxTokenAge, sweepInterval, kubeTimeout          time.Duration
	kubeReviewCacheTTL                               time.Duration
	loginRateLimit                                   float64
	loginRateBurst                                   int
	auditRetention                                   time.Duration
	auditFile                                        string
	rootTokenFile                                    string
	storeTimeout, storeConnectTimeout                time.Duration
	gatewayTimeout, gatewayHeartbeat                 time.Duration
	ui                                               bool
}

func newServerCommand() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Gatehouse HTTP server",
		Long: `Run the Gatehouse HTTP server.

Every flag can also be set with an environment variable GATEHOUSE_<FLAG>,
e.g. GATEHOUSE_STORAGE. The sealing key can be given as GATEHOUSE_ENCRYPTION_KEY
(never as a flag: command lines are visible to other users).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			logger, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
			if err != nil {
				return err
			}
			cfg, err := f.config()
			if err != nil {
				return err
			}
			cfg.Logger, cfg.Out, cfg.Stdout = logger, cmd.ErrOrStderr(), cmd.OutOrStdout()
			// Bind first: a bad address or a port in use must fail before
			// a store, a key or a root token is created.
			if cfg.Listener, err = server.Bind(cfg.Listen); err != nil {
				return err
			}
			srv, err := server.New(cmd.Context(), cfg)
			if err != nil {
				return err // New closed the listener
			}
			return srv.Serve(cmd.Context())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to listen on")
	fl.StringVar(&f.storage, "storage", server.DefaultStorage, "store: sqlite://<path> (embedded) or postgres://... (several replicas)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate file (PEM); serve HTTPS when given with --tls-key")
	fl.StringVar(&f.tlsKey, "tls-key", "", "TLS private key file (PEM)")
	fl.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For is believed (default none)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.BoolVar(&f.dev, "dev", false, "development mode: throwaway SQLite store, plain HTTP on loopback, root token printed at start")
	fl.StringVar(&f.devRootToken, "dev-root-token", "", "with --dev: use this value as the root token")
	fl.StringVar(&f.encryptionKeyFile, "encryption-key-file", "", "file holding the key that seals secrets at rest (generated beside a SQLite store when not given)")
	fl.DurationVar(&f.maxTokenAge, "max-token-age", token.DefaultMaxAge, "hard cap on the life of any non-periodic access token")
	fl.DurationVar(&f.sweepInterval, "sweep-interval", 10*time.Minute, "how often expired and revoked tokens are purged")
	fl.DurationVar(&f.kubeTimeout, "kube-timeout", kubeauth.DefaultTimeout, "timeout of each call to a Kubernetes API server (TokenReview, or the signing keys in local mode)")
	fl.DurationVar(&f.kubeReviewCacheTTL, "kube-review-cache-ttl", 0, "keep positive TokenReview answers this long (at most 10m, never past the JWT's exp; 0 = off): fewer reviews, but a revoked service account can log in until its entry expires")
	fl.Float64Var(&f.loginRateLimit, "login-rate-limit", ratelimit.DefaultRate, "logins per second allowed from one client address, sustained (0 = no limit); more answer 429 with Retry-After")
	fl.IntVar(&f.loginRateBurst, "login-rate-burst", ratelimit.DefaultBurst, "logins allowed from one client address at once, before --login-rate-limit applies")
	fl.DurationVar(&f.auditRetention, "audit-retention", 90*24*time.Hour, "delete audit events older than this from the store, with each token sweep (0 = keep forever)")
	fl.StringVar(&f.auditFile, "audit-file", "", "also append every audit event as a JSON line to this file (created 0600), or to standard output with -")
	fl.DurationVar(&f.gatewayTimeout, "gateway-timeout", gateway.DefaultTimeout, "timeout of each call through a gateway (a login answers 504 GatewayTimeout past it)")
	fl.DurationVar(&f.gatewayHeartbeat, "gateway-heartbeat", gateway.DefaultHeartbeat, "how often each gateway session is pinged and its identity checked again")
	fl.StringVar(&f.rootTokenFile, "root-token-file", "", "write the root token created at the first start to this file (mode 0600, never overwritten) instead of printing it")
	fl.DurationVar(&f.storeTimeout, "store-timeout", bounded.DefaultTimeout, "bound on each store call a request makes: a stalled store is answered 503 with Retry-After after this (under 50s)")
	fl.DurationVar(&f.storeConnectTimeout, "store-connect-timeout", 2*time.Minute, "at start, keep retrying an unreachable store this long (capped backoff) before giving up; 0 = give up at once")
	fl.BoolVar(&f.ui, "ui", true, "serve the web console at /ui/")
	addOIDCFlags(fl, &f.oidc)
	return cmd
}

func (f serverFlags) config() (server.Config, error) {
	cfg := server.Config{
		Listen: f.listen, Storage: f.storage, TLSCert: f.tlsCert, TLSKey: f.tlsKey,
		EncryptionKey: os.Getenv("GATEHOUSE_ENCRYPTION_KEY"), EncryptionKeyFile: f.encryptionKeyFile,
		MaxTokenAge: f.maxTokenAge, SweepInterval: f.sweepInterval, KubeTimeout: f.kubeTimeout, KubeReviewCacheTTL: f.kubeReviewCacheTTL,
		Dev: f.dev, DevRootToken: f.devRootToken, DisableUI: !f.ui,
		LoginRateLimit: f.loginRateLimit, LoginRateBurst: f.loginRateBurst,
		AuditRetention: f.auditRetention, AuditFile: f.auditFile,
		RootTokenFile: f.rootTokenFile, LogJSON: f.logFormat == "json",
		GatewayTimeout: f.gatewayTimeout, GatewayHeartbeat: f.gatewayHeartbeat,
		OIDC: f.oidc,
	}
	if f.gatewayTimeout <= 0 || f.gatewayHeartbeat <= 0 {
		return cfg, fmt.Errorf("--gateway-timeout and --gateway-heartbeat must be positive")
	}
	if err := checkOIDCFlags(f.oidc); err != nil {
		return cfg, err
	}
	if f.auditRetention < 0 {
		return cfg, fmt.Errorf("--audit-retention must be 0 (keep forever) or positive")
	}
	if f.loginRateLimit < 0 || math.IsNaN(f.loginRateLimit) || math.IsInf(f.loginRateLimit, 0) {
		return cfg, fmt.Errorf("--login-rate-limit must be 0 (off) or a positive number of logins per second")
	}
	if f.loginRateLimit > 0 && f.loginRateBurst < 1 {
		return cfg, fmt.Errorf("--login-rate-burst must be at least 1")
	}
	cfg.StoreTimeout, cfg.StoreConnectTimeout = f.storeTimeout, f.storeConnectTimeout
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return cfg, fmt.Errorf("--tls-cert and --tls-key go together")
	}
	if f.maxTokenAge <= 0 {
		return cfg, fmt.Errorf("--max-token-age must be positive")
	}
	if f.sweepInterval <= 0 {
		return cfg, fmt.Errorf("--sweep-interval must be positive")
	}
	if f.kubeTimeout <= 0 {
		return cfg, fmt.Errorf("--kube-timeout must be positive")
	}
	if f.kubeReviewCacheTTL < 0 || f.kubeReviewCacheTTL > kubeauth.MaxReviewCacheTTL {
		return cfg, fmt.Errorf("--kube-review-cache-ttl must be between 0 (off) and %s", kubeauth.MaxReviewCacheTTL)
	}
	if f.devRootToken != "" && !f.dev {
		return cfg, fmt.Errorf("--dev-root-token needs --dev")
	}
	if f.dev {
		if f.tlsCert != "" {
			return cfg, fmt.Errorf("--dev serves plain HTTP on loopback; do not give --tls-cert")
		}
		host, _, err := net.SplitHostPort(f.listen)
		if err != nil {
			return cfg, fmt.Errorf("--listen %q: %w", f.listen, err)
		}
		if ip, err := netip.ParseAddr(host); host != "localhost" && (err != nil || !ip.IsLoopback()) {
			return cfg, fmt.Errorf("--dev listens on loopback only; --listen %q is not a loopback address", f.listen)
		}
	}
	if f.trustedProxies != "" {
		prefixes, err := clientip.ParseCIDRFlag(f.trustedProxies)
		if err != nil {
			return cfg, fmt.Errorf("--trusted-proxies: %w", err)
		}
		cfg.TrustedProxies = prefixes
	}
	return cfg, nil
}

func newOperatorCommand() *cobra.Command {
	op := &cobra.Command{Use: "operator", Short: "Maintenance commands run against the store directly"}
	var storage string
	var revokeOthers bool
	gen := &cobra.Command{
		Use:   "generate-root",
		Short: "Issue a new root token (recovery; run with the server stopped)",
		Long: `Issue a new root token directly in an existing store (recovery).

The store must exist and have been set up by a server: a mistyped --storage
is refused, never created. With SQLite, stop the server first (it holds the
store's lock). With PostgreSQL, running replicas accept the new token at once.
Older root tokens stay valid unless --revoke-others is given. Every token
issued, and every revocation, is written to the audit log (actor "operator").`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			res, err := server.GenerateRoot(cmd.Context(), storage, revokeOthers, time.Now, slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
			if err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			if res.Shared {
				fmt.Fprintln(stderr, "Warning: this PostgreSQL store is shared: running replicas accept the new root token immediately.")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s\n", res.Token.Reveal())
			fmt.Fprintf(stderr, "New root token issued (accessor %s); only its hash is stored.\n", res.Accessor)
			if revokeOthers {
				fmt.Fprintf(stderr, "Revoked %d other root token(s).\n", res.Revoked)
			} else {
				fmt.Fprintln(stderr, "Older root tokens stay valid; run with --revoke-others to revoke them.")
			}
			return nil
		},
	}
	gen.Flags().StringVar(&storage, "storage", server.DefaultStorage, "store: sqlite://<path> or postgres://... (must exist)")
	gen.Flags().BoolVar(&revokeOthers, "revoke-others", false, "revoke every other root token in the same run")
	key := &cobra.Command{
		Use:   "generate-key",
		Short: "Print a new random encryption key (for GATEHOUSE_ENCRYPTION_KEY or --encryption-key-file)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := seal.NewKey()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), k.Encode())
			return nil
		},
	}
	op.AddCommand(gen, key)
	return op
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version of this build",
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), buildinfo.Get().String())
		},
	}
}
