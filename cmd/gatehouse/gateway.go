package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/buildinfo"
	"github.com/gatehouse-dev/gatehouse/internal/gateway"
	"github.com/gatehouse-dev/gatehouse/internal/secret"
)

type gatewayFlags struct {
	server, serverCAFile                      string
	clientID, clientSecretFile, identityID    string
	loginTokenFile                            string
	name, pool                                string
	kubeHost, kubeCAFile, kubeTokenFile       string
	allowRelay                                string
	listen, logFormat, logLevel               string
	backoffMin, backoffMax, keepalive, kubeTO time.Duration
}

func newGatewayCommand() *cobra.Command {
	var f gatewayFlags
	cmd := &cobra.Command{
		Use:   "gateway",
		Short: "Run a gateway inside a cluster: it dials out to the Gatehouse server and reviews logins there",
		Long: `Run a gateway inside a Kubernetes cluster whose API server the Gatehouse
server cannot reach. The gateway dials out to the server (no inbound port),
authenticates as a machine identity allowed to act as a gateway, and answers
the server's TokenReviews with its own service-account token, reads of the
cluster's signing keys, and TCP relays to its API server.

In a pod the API server, its CA and the gateway's token default to the pod's
(KUBERNETES_SERVICE_HOST/PORT and /var/run/secrets/kubernetes.io/serviceaccount).
Every flag can also be set as GATEHOUSE_<FLAG>; the Universal Auth client
secret only as GATEHOUSE_CLIENT_SECRET or --client-secret-file.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			logger, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
			if err != nil {
				return err
			}
			login, err := f.login()
			if err != nil {
				return err
			}
			if f.server == "" {
				return errors.New("--server is required: the Gatehouse server's URL")
			}
			if f.kubeHost == "" {
				host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
				if host == "" {
					return errors.New("--kube-host is required outside a pod (KUBERNETES_SERVICE_HOST is not set)")
				}
				if port == "" {
					port = "443"
				}
				f.kubeHost = "https://" + net.JoinHostPort(host, port)
			}
			if !strings.HasPrefix(f.kubeHost, "https://") {
				f.kubeHost = "https://" + f.kubeHost
			}
			if f.name == "" {
				if f.name, err = os.Hostname(); err != nil {
					return fmt.Errorf("--name is required: %w", err)
				}
			}
			up := &gateway.Upstream{URL: f.kubeHost, CAFile: f.kubeCAFile, TokenFile: f.kubeTokenFile, Timeout: f.kubeTO}
			if _, err := up.Addr(); err != nil {
				return fmt.Errorf("--kube-host: %w", err)
			}
			var allow []string
			for _, a := range strings.Split(f.allowRelay, ",") {
				if a = strings.TrimSpace(a); a != "" {
					if _, _, err := net.SplitHostPort(a); err != nil {
						return fmt.Errorf("--allow-relay %q: want host:port", a)
					}
					allow = append(allow, a)
				}
			}
			reg := prometheus.NewRegistry()
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			metrics := gateway.NewMetrics(reg)
			agent, err := gateway.NewAgent(gateway.AgentConfig{
				ServerURL: strings.TrimRight(f.server, "/"), ServerCAFile: f.serverCAFile, Login: login,
				Name: f.name, Pool: f.pool, Version: buildinfo.Get().Version,
				Handler: &gateway.Handler{Upstream: up, Allow: allow, Logger: logger, Metrics: metrics, DialTimeout: f.kubeTO},
				Logger:  logger, Metrics: metrics,
				BackoffMin: f.backoffMin, BackoffMax: f.backoffMax, Keepalive: f.keepalive,
			})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", f.listen)
			if err != nil {
				return fmt.Errorf("--listen: %w", err)
			}
			mux := http.NewServeMux()
			mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, `{"status":"ok"}`) })
			mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
				if !agent.Ready() {
					http.Error(w, `{"status":"not connected to the server"}`, http.StatusServiceUnavailable)
					return
				}
				fmt.Fprintln(w, `{"status":"ok"}`)
			})
			mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
			health := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
				WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute}
			go func() { _ = health.Serve(ln) }()
			logger.Info("gateway starting", "server", f.server, "name", f.name, "pool", f.pool, "kube_host", f.kubeHost, "health", ln.Addr().String())
			err = agent.Run(cmd.Context())
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = health.Shutdown(sctx)
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "the Gatehouse server's URL, e.g. https://gatehouse.example.com")
	fl.StringVar(&f.serverCAFile, "server-ca-file", "", "CA file (PEM) that alone verifies the server's certificate (default: the system roots)")
	fl.StringVar(&f.clientID, "client-id", "", "Universal Auth client ID of the gateway's machine identity (secret in GATEHOUSE_CLIENT_SECRET or --client-secret-file)")
	fl.StringVar(&f.clientSecretFile, "client-secret-file", "", "file holding the Universal Auth client secret")
	fl.StringVar(&f.identityID, "identity-id", "", "log in with Kubernetes Auth (api mode on the server) as this identity, with --login-token-file")
	fl.StringVar(&f.loginTokenFile, "login-token-file", gateway.PodTokenFile, "service-account token for --identity-id logins")
	fl.StringVar(&f.name, "name", "", "the gateway's name, unique on the server (default: the host name)")
	fl.StringVar(&f.pool, "pool", "", "the gateway pool (name or ID) to join at each connection")
	fl.StringVar(&f.kubeHost, "kube-host", "", "the API server's URL (default: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)")
	fl.StringVar(&f.kubeCAFile, "kube-ca-file", gateway.PodCAFile, "CA file (PEM) of the API server, read again once a second at most")
	fl.StringVar(&f.kubeTokenFile, "kube-token-file", gateway.PodTokenFile, "the gateway's own service-account token, read again once a second at most (needs system:auth-delegator)")
	fl.StringVar(&f.allowRelay, "allow-relay", "", "comma-separated host:port the gateway may relay to besides its API server")
	fl.StringVar(&f.listen, "listen", "0.0.0.0:8081", "address of /healthz, /readyz and /metrics")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fl.DurationVar(&f.backoffMin, "backoff-min", time.Second, "first wait before reconnecting (doubled per failure, with jitter)")
	fl.DurationVar(&f.backoffMax, "backoff-max", time.Minute, "longest wait before reconnecting")
	fl.DurationVar(&f.keepalive, "keepalive", gateway.DefaultHeartbeat, "session ping interval")
	fl.DurationVar(&f.kubeTO, "kube-timeout", gateway.DefaultTimeout, "timeout of each call to the API server")
	return cmd
}

func (f gatewayFlags) login() (gateway.LoginFunc, error) {
	switch {
	case f.clientID != "" && f.identityID != "":
		return nil, errors.New("give either --client-id (Universal Auth) or --identity-id (Kubernetes Auth), not both")
	case f.clientID != "":
		sec := os.Getenv("GATEHOUSE_CLIENT_SECRET")
		if f.clientSecretFile != "" {
			b, err := os.ReadFile(f.clientSecretFile)
			if err != nil {
				return nil, fmt.Errorf("--client-secret-file: %w", err)
			}
			sec = strings.TrimSpace(string(b))
		}
		if sec == "" {
			return nil, errors.New("the client secret is missing: set GATEHOUSE_CLIENT_SECRET or --client-secret-file")
		}
		return gateway.UniversalAuthLogin(f.clientID, secret.Secret(sec)), nil
	case f.identityID != "":
		return gateway.KubernetesLogin(f.identityID, f.loginTokenFile), nil
	}
	return nil, errors.New("the gateway needs credentials: --client-id with its secret, or --identity-id")
}
