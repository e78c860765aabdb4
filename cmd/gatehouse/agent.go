package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/internal/agent"
)

type agentFlags struct {
	clientFlags
	sinks, templates    []string
	sinkMode, sinkOwner string
	listen              string
	exitAfterAuth       bool
	revokeOnExit        bool
	retryMin, retryMax  time.Duration
	logFormat, logLevel string
}

func newAgentCommand() *cobra.Command {
	var f agentFlags
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Keep a workload logged in: write a fresh token to files (sidecar or init container)",
		Long: `Log in, write the token to every sink, renew it at about two thirds of its
TTL and log in again — reading the service-account JWT (or client secret)
file afresh — when renewal is refused or the token nears its max TTL.
Failures are retried with capped exponential backoff and jitter; a sink is
only ever written with a token the server just issued or renewed.

Sinks: --sink FILE (the bare token) and --template TEMPLATE_FILE:OUT_FILE (a
Go text/template given .Token, .ExpiresAt and .TTL, e.g. an env file), both
repeatable, written with --sink-mode (and --sink-owner UID[:GID], which
needs root) by atomic rename.

--exit-after-auth: exit 0 once the first token is written (init
containers). --listen ADDR serves /healthz and /metrics. On SIGTERM the agent
stops (and with --revoke-on-exit revokes its token).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			cfg, err := f.config()
			if err != nil {
				return err
			}
			logger, err := newLogger(cmd.ErrOrStderr(), f.logFormat, f.logLevel)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			cfg.Logger = logger
			a, err := agent.New(cfg)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			ctx := cmd.Context()
			if f.listen != "" {
				ln, err := net.Listen("tcp", f.listen)
				if err != nil {
					return fmt.Errorf("--listen: %w", err)
				}
				hs := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
					WriteTimeout: 10 * time.Second, IdleTimeout: time.Minute}
				go hs.Serve(ln)
				defer func() {
					sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					hs.Shutdown(sctx)
				}()
				logger.Info("agent health and metrics", "addr", ln.Addr().String())
			}
			if err := a.Run(ctx); err != nil {
				if errors.Is(err, agent.ErrNotAuthenticated) {
					return fmt.Errorf("agent: %w (last failure: %s)", err, a.Status().LastError)
				}
				return err
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	f.registerAgent(cmd.Flags())
	return cmd
}

// registerAgent registers the agent's flags, the shared ones included.
func (f *agentFlags) registerAgent(fl *pflag.FlagSet) {
	f.register(fl)
	fl.StringArrayVar(&f.sinks, "sink", nil, "file to write the bare token to (repeatable)")
	fl.StringArrayVar(&f.templates, "template", nil, "TEMPLATE_FILE:OUT_FILE: render a text/template with .Token, .ExpiresAt, .TTL to OUT_FILE (repeatable)")
	fl.StringVar(&f.sinkMode, "sink-mode", "0600", "file mode of every sink, in octal")
	fl.StringVar(&f.sinkOwner, "sink-owner", "", "numeric UID[:GID] (or :GID) to give every sink file to; changing the user needs root (default: the agent's own)")
	fl.StringVar(&f.listen, "listen", "", "serve /healthz and /metrics on this address, e.g. :8210 (default off)")
	fl.BoolVar(&f.exitAfterAuth, "exit-after-auth", false, "exit once the first token is written (init containers)")
	fl.BoolVar(&f.revokeOnExit, "revoke-on-exit", false, "revoke the token when stopped (SIGTERM)")
	fl.DurationVar(&f.retryMin, "retry-min", time.Second, "first wait after a failure; doubled each time, with jitter")
	fl.DurationVar(&f.retryMax, "retry-max", 5*time.Minute, "longest wait between retries")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn or error")
}

func (f *agentFlags) config() (agent.Config, error) {
	var cfg agent.Config
	if err := f.validate(); err != nil {
		return cfg, err
	}
	mode, err := strconv.ParseUint(f.sinkMode, 8, 32)
	if err != nil || mode == 0 || mode > 0o777 {
		return cfg, usageErrorf("--sink-mode %q: want an octal mode such as 0600 or 0640", f.sinkMode)
	}
	owner, err := agent.ParseOwner(f.sinkOwner)
	if err != nil {
		return cfg, usageErrorf("--sink-owner: %v", err)
	}
	if len(f.sinks) == 0 && len(f.templates) == 0 {
		return cfg, usageErrorf("give at least one --sink or --template")
	}
	if f.retryMin <= 0 || f.retryMax < f.retryMin {
		return cfg, usageErrorf("--retry-min must be positive and at most --retry-max")
	}
	for _, s := range f.sinks {
		cfg.Sinks = append(cfg.Sinks, agent.FileSink{Path: s, Mode: fs.FileMode(mode), Owner: owner})
	}
	for _, t := range f.templates {
		src, dst, ok := strings.Cut(t, ":")
		if !ok || src == "" || dst == "" {
			return cfg, usageErrorf("--template %q: want TEMPLATE_FILE:OUT_FILE", t)
		}
		text, err := os.ReadFile(src)
		if err != nil {
			return cfg, fmt.Errorf("--template: %w", err)
		}
		tmpl, err := template.New(src).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return cfg, usageErrorf("--template %s: %v", src, err)
		}
		cfg.Sinks = append(cfg.Sinks, agent.TemplateSink{Path: dst, Mode: fs.FileMode(mode), Owner: owner, Template: tmpl})
	}
	c, err := f.client()
	if err != nil {
		return cfg, err
	}
	cfg.Client, cfg.Credentials = c, f.credentials
	cfg.RetryMin, cfg.RetryMax, cfg.RequestTimeout = f.retryMin, f.retryMax, f.timeout
	cfg.ExitAfterAuth, cfg.RevokeOnExit = f.exitAfterAuth, f.revokeOnExit
	if f.exitAfterAuth && f.revokeOnExit {
		return cfg, usageErrorf("--revoke-on-exit would revoke the token --exit-after-auth just wrote")
	}
	return cfg, nil
}
