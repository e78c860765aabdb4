package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/agent"
)

func newLoginCommand() *cobra.Command {
	var f clientFlags
	var format, out string
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in once and print (or write) an access token: for scripts and CI jobs",
		Long: `Log in to a Gatehouse (or an Infisical or a Vault) and print the access token.

Kubernetes Auth reads the pod's service-account JWT (--jwt-file); Universal
Auth takes the client ID and secret from flags, GATEHOUSE_CLIENT_ID and
GATEHOUSE_CLIENT_SECRET, or --client-secret-file. Every flag can also be set
with GATEHOUSE_<FLAG>.

Exit codes: 0 logged in; 1 a local failure (a file that cannot be read or
written); 2 bad flags; 3 the server is unreachable or unavailable (retry);
4 the server refused the login (its reason is printed).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			if err := f.validate(); err != nil {
				return err
			}
			if format != "token" && format != "json" {
				return usageErrorf("--format %q: want token or json", format)
			}
			c, err := f.client()
			if err != nil {
				return err
			}
			cr, err := f.credentials()
			if err != nil {
				return err
			}
			l, err := c.Login(cmd.Context(), cr)
			if err != nil {
				return loginError(err)
			}
			var b []byte
			if format == "json" {
				v := struct {
					Token     string `json:"token"`
					TTL       int64  `json:"ttl"`
					ExpiresAt string `json:"expiresAt,omitempty"`
					MaxTTL    int64  `json:"maxTtl,omitempty"`
					Renewable bool   `json:"renewable"`
					Accessor  string `json:"accessor,omitempty"`
				}{Token: l.Token.Reveal(), TTL: int64(l.TTL / time.Second), MaxTTL: int64(l.MaxTTL / time.Second), Renewable: l.Renewable, Accessor: l.Accessor}
				if l.TTL > 0 {
					v.ExpiresAt = time.Now().Add(l.TTL).UTC().Format(time.RFC3339)
				}
				if b, err = json.Marshal(v); err != nil {
					return err
				}
			} else {
				b = []byte(l.Token.Reveal())
			}
			if out != "" {
				if err := agent.WriteFileAtomic(out, b, 0o600); err != nil {
					return fmt.Errorf("--out: %w", err)
				}
				return nil
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
			return err
		},
	}
	cmd.SetFlagErrorFunc(flagUsageError)
	f.register(cmd.Flags())
	cmd.Flags().StringVar(&format, "format", "token", "output: token (the bare token) or json (token, ttl, expiresAt, maxTtl, renewable, accessor)")
	cmd.Flags().StringVar(&out, "out", "", "write to this file (mode 0600, atomic rename) instead of standard output")
	return cmd
}
