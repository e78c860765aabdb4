// Command kubetest-server runs the test Kubernetes API server of
// internal/kubetest on its own, for trying Gatehouse by hand. It prints the
// server's URL, the path of its CA file, a reviewer token (auth-delegator)
// and a login token, then serves until interrupted.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/kubetest"
)

func main() {
	issuer := flag.String("issuer", kubetest.DefaultIssuer, "service account issuer")
	reviewer := flag.String("reviewer", "kube-system/gatehouse-reviewer", "namespace/name of the reviewer service account")
	login := flag.String("login", "default/app", "namespace/name of the service account to mint a login token for")
	audience := flag.String("audience", "", "audience of the login token (default: the API server's)")
	ttl := flag.Duration("ttl", 24*time.Hour, "lifetime of the printed tokens")
	http1 := flag.Bool("http1", false, "speak HTTP/1.1 only (no h2), as an API server behind an HTTP/1.1 proxy does")
	flag.Parse()

	kopts := []kubetest.Option{kubetest.WithIssuer(*issuer)}
	if *http1 {
		kopts = append(kopts, kubetest.WithHTTP1Only())
	}
	c, err := kubetest.Start(kopts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest-server:", err)
		os.Exit(1)
	}
	defer c.Close()

	rns, rname, err := splitName(*reviewer)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest-server: -reviewer:", err)
		os.Exit(2)
	}
	lns, lname, err := splitName(*login)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest-server: -login:", err)
		os.Exit(2)
	}
	opts := []kubetest.TokenOption{kubetest.ExpiresIn(*ttl)}
	if *audience != "" {
		opts = append(opts, kubetest.Audiences(*audience))
	}
	fmt.Printf("KUBE_HOST=%s\n", c.URL())
	fmt.Printf("KUBE_CA_FILE=%s\n", c.CAFile())
	fmt.Printf("KUBE_ISSUER=%s\n", c.Issuer())
	fmt.Printf("REVIEWER_JWT=%s\n", c.ReviewerToken(rns, rname, kubetest.ExpiresIn(*ttl)))
	fmt.Printf("LOGIN_JWT=%s\n", c.Token(lns, lname, opts...))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
}

func splitName(s string) (namespace, name string, err error) {
	for i := range len(s) {
		if s[i] == '/' && i > 0 && i < len(s)-1 {
			return s[:i], s[i+1:], nil
		}
	}
	return "", "", fmt.Errorf("%q is not namespace/name", s)
}
