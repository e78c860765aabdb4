package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/gatehouse-dev/gatehouse/internal/client"
)

// defaultJWTFile is where Kubernetes projects a pod's service-account token.
const defaultJWTFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// maxCredentialFile caps what is read of a JWT or client-secret file.
const maxCredentialFile = 64 << 10

// Exit codes of login and agent, beside 0 (success) and 1 (anything else,
// e.g. a file that cannot be read or written).
const (
	exitUsage       = 2 // bad flags
	exitUnreachable = 3 // no answer from the server, or 5xx/429: retry later
	exitRefused     = 4 // the server refused the credentials
)

// exitError carries a process exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

func usageErrorf(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// exitCode is the process exit code for err.
func exitCode(err error) int {
	var c interface{ ExitCode() int }
	if errors.As(err, &c) {
		return c.ExitCode()
	}
	return 1
}

// flagUsageError makes cobra's flag-parsing errors usage errors (exit 2).
func flagUsageError(_ *cobra.Command, err error) error {
	return &exitError{code: exitUsage, err: err}
}

// loginError gives a client error its exit code.
func loginError(err error) error {
	var ce *client.Error
	switch {
	case client.IsTemporary(err):
		return &exitError{code: exitUnreachable, err: err}
	case errors.As(err, &ce):
		return &exitError{code: exitRefused, err: err}
	}
	return err
}

// clientFlags are the flags login and agent share: where the server is and
// how to log in to it.
type clientFlags struct {
	address, api, method, mount string
	identityID, role            string
	clientID, clientSecret      string
	clientSecretFile, jwtFile   string
	caCert                      string
	tlsSkipVerify               bool
	timeout                     time.Duration
}

func (f *clientFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.address, "address", "", "the server's base URL, e.g. https://gatehouse.gatehouse.svc:8080 (required)")
	fl.StringVar(&f.api, "api", "infisical", "wire API: infisical or vault")
	fl.StringVar(&f.method, "method", "", "login method: kubernetes or universal (universal: Infisical API only) (required)")
	fl.StringVar(&f.identityID, "identity-id", "", "kubernetes, Infisical API: the identity's id")
	fl.StringVar(&f.role, "role", "", "kubernetes, Vault API: the role")
	fl.StringVar(&f.mount, "mount", "kubernetes", "kubernetes, Vault API: the auth mount path")
	fl.StringVar(&f.jwtFile, "jwt-file", defaultJWTFile, "kubernetes: the service-account JWT file, read afresh at every login")
	fl.StringVar(&f.clientID, "client-id", "", "universal: the client ID (or GATEHOUSE_CLIENT_ID)")
	fl.StringVar(&f.clientSecret, "client-secret", "", "universal: the client secret; prefer GATEHOUSE_CLIENT_SECRET or --client-secret-file (a command line is visible to other users)")
	fl.StringVar(&f.clientSecretFile, "client-secret-file", "", "universal: a file holding the client secret, read afresh at every login")
	fl.StringVar(&f.caCert, "ca-cert", "", "PEM file of the CA(s) to trust for the server's certificate (default: the system's)")
	fl.BoolVar(&f.tlsSkipVerify, "tls-skip-verify", false, "do not verify the server's certificate (insecure: tests only)")
	fl.DurationVar(&f.timeout, "timeout", 30*time.Second, "timeout of each request to the server")
}

// validate checks the flags that need no file.
func (f *clientFlags) validate() error {
	if f.address == "" {
		return usageErrorf("--address is required")
	}
	if !strings.HasPrefix(f.address, "http://") && !strings.HasPrefix(f.address, "https://") {
		return usageErrorf("--address %q: want an http:// or https:// URL", f.address)
	}
	if f.api != string(client.Infisical) && f.api != string(client.Vault) {
		return usageErrorf("--api %q: want infisical or vault", f.api)
	}
	if f.timeout <= 0 {
		return usageErrorf("--timeout must be positive")
	}
	switch client.Method(f.method) {
	case client.Kubernetes:
		if f.api == string(client.Infisical) && f.identityID == "" {
			return usageErrorf("--method kubernetes on the Infisical API needs --identity-id")
		}
		if f.api == string(client.Vault) && f.role == "" {
			return usageErrorf("--method kubernetes on the Vault API needs --role")
		}
		if f.jwtFile == "" {
			return usageErrorf("--jwt-file must not be empty")
		}
	case client.Universal:
		if f.api != string(client.Infisical) {
			return usageErrorf("--method universal is an Infisical API method; use --api infisical")
		}
		if f.clientID == "" {
			return usageErrorf("--method universal needs --client-id (or GATEHOUSE_CLIENT_ID)")
		}
		if (f.clientSecret == "") == (f.clientSecretFile == "") {
			return usageErrorf("--method universal needs one of --client-secret (or GATEHOUSE_CLIENT_SECRET) and --client-secret-file")
		}
	case "":
		return usageErrorf("--method is required: kubernetes or universal")
	default:
		return usageErrorf("--method %q: want kubernetes or universal", f.method)
	}
	return nil
}

// client builds the API client, with TLS verification on unless asked.
func (f *clientFlags) client() (*client.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: f.tlsSkipVerify}
	if f.caCert != "" {
		pem, err := os.ReadFile(f.caCert)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, usageErrorf("--ca-cert %s: no PEM certificate in it", f.caCert)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &client.Client{Address: f.address, API: client.API(f.api), Mount: f.mount,
		HTTP: &http.Client{Transport: tr, Timeout: f.timeout}}, nil
}

// credentials reads the credentials afresh: a rotated JWT or secret file is
// picked up at the next login.
func (f *clientFlags) credentials() (client.Credentials, error) {
	cr := client.Credentials{Method: client.Method(f.method), IdentityID: f.identityID, Role: f.role, ClientID: f.clientID}
	switch cr.Method {
	case client.Kubernetes:
		jwt, err := readCredentialFile(f.jwtFile)
		if err != nil {
			return cr, fmt.Errorf("reading the service-account JWT: %w", err)
		}
		cr.JWT = jwt
	case client.Universal:
		cr.ClientSecret = f.clientSecret
		if f.clientSecretFile != "" {
			s, err := readCredentialFile(f.clientSecretFile)
			if err != nil {
				return cr, fmt.Errorf("reading the client secret: %w", err)
			}
			cr.ClientSecret = s
		}
	}
	return cr, nil
}

func readCredentialFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, maxCredentialFile+1))
	if err != nil {
		return "", err
	}
	n := len(b)
	if n > maxCredentialFile {
		return "", fmt.Errorf("%s: larger than %d bytes", path, maxCredentialFile)
	}
	s := strings.TrimSpace(string(b[:n]))
	if s == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return s, nil
}
