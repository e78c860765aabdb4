// Command kubetest-server runs the test Kubernetes API server of
// internal/kubetest on its own, for trying Gatehouse by hand. It prints the
// server's URL, the path of its CA file, a reviewer token (auth-delegator)
// and a login token, then serves until interrupted. -labels, -annotations
// and -grant-reads set up what Vault's namespace selector and
// use_annotations_as_alias_metadata read.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
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
	labels := flag.String("labels", "", "labels of the login account's namespace, key=value,... (for Vault's namespace selector)")
	annotations := flag.String("annotations", "", "annotations of the login account, key=value,... (for Vault's use_annotations_as_alias_metadata)")
	grantReads := flag.Bool("grant-reads", false, "let the reviewer get namespaces and service accounts (what Vault's namespace selector and annotations need)")
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
	lbls, err := splitPairs(*labels)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest-server: -labels:", err)
		os.Exit(2)
	}
	annos, err := splitPairs(*annotations)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kubetest-server: -annotations:", err)
		os.Exit(2)
	}
	c.LabelNamespace(lns, lbls)
	c.AnnotateServiceAccount(lns, lname, annos)
	if *grantReads {
		c.GrantRead(rns, rname, kubetest.ResourceNamespaces)
		c.GrantRead(rns, rname, kubetest.ResourceServiceAccounts)
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

// splitPairs reads key=value,key=value.
func splitPairs(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%q is not key=value", kv)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out, nil
}

func splitName(s string) (namespace, name string, err error) {
	for i := range len(s) {
		if s[i] == '/' && i > 0 && i < len(s)-1 {
			return s[:i], s[i+1:], nil
		}
	}
	return "", "", fmt.Errorf("%q is not namespace/name", s)
}
