package kubeauth

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
)

// MaxHostLen bounds kubernetesHost as given.
const MaxHostLen = 1024

// NormalizeHost turns what an operator writes for the Kubernetes API server
// into the base URL Gatehouse calls: a bare host ("kube.example.com"), a
// host:port ("10.0.0.1:6443", "[fd00::1]:6443") or a URL
// ("https://kube.example.com/k8s/clusters/c-1", for API servers behind a
// path-routing proxy). The result is "https://" + lower-case host +
// optional ":port" + optional path without a trailing slash, and
// NormalizeHost(result) == result. Rejected: other schemes (the reviewer
// JWT must not travel in clear text), user info, a query, a fragment, an
// IPv6 address without brackets, a bad port and unclean paths. Each
// error says what is wrong, worded to follow the field's name
// ("kubernetesHost has an invalid port ...").
func NormalizeHost(s string) (string, error) {
	host, _, err := normalizeHost(s, false)
	return host, err
}

// NormalizeHostAllowingHTTP is NormalizeHost that also accepts an
// "http://" URL, as Vault's kubernetes_host does (for an API server
// reached through kubectl proxy); the result then keeps "http://" and
// plain is true. NormalizeHostAllowingHTTP(result) == result.
func NormalizeHostAllowingHTTP(s string) (host string, plain bool, err error) {
	return normalizeHost(s, true)
}

func normalizeHost(s string, allowHTTP bool) (string, bool, error) {
	fail := func(msg string) (string, bool, error) { return "", false, errors.New(msg) }
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return fail("must not be empty: give the host, host:port or URL of the Kubernetes API server")
	case len(s) > MaxHostLen:
		return fail("must be at most 1024 characters")
	case strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return fail("must not contain spaces or control characters")
	case strings.Contains(s, "?"):
		return fail("must not have a query (?...)")
	case strings.Contains(s, "#"):
		return fail("must not have a fragment (#...)")
	case strings.Contains(s, "\\"):
		return fail("must not contain '\\'")
	}
	scheme := "https"
	if sch, rest, ok := strings.Cut(s, "://"); ok {
		switch {
		case strings.EqualFold(sch, "https"):
		case allowHTTP && strings.EqualFold(sch, "http"):
			scheme = "http"
		case allowHTTP:
			return fail(fmt.Sprintf("must use https:// or http:// (not %q)", clipHost(sch)))
		default:
			return fail("must use https:// (the Kubernetes API is served over TLS, and the token reviewer JWT must not travel in clear text)")
		}
		s = rest
	}
	authority, p, _ := strings.Cut(s, "/")
	if strings.Contains(authority, "@") {
		return fail("must not contain user info (user@host); the token reviewer JWT is the credential")
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return "", false, err
	}
	cleanPath, err := normalizePath(p)
	if err != nil {
		return "", false, err
	}
	out := scheme + "://" + host
	if port != "" {
		out += ":" + port
	}
	out += cleanPath
	// Belt and braces: what we built must be a URL that reads back the same.
	u, err := url.Parse(out)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fail("is not a valid host, host:port or URL")
	}
	return out, scheme == "http", nil
}

// clipHost shortens what an error quotes of a host.
func clipHost(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// splitHostPort validates the authority part and returns the host (IPv6
// in brackets, names lower-cased) and the port ("" when absent).
func splitHostPort(a string) (host, port string, err error) {
	if a == "" {
		return "", "", errors.New("has no host name")
	}
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", "", errors.New("has an IPv6 address without its closing ']'")
		}
		addr, perr := netip.ParseAddr(a[1:end])
		if perr != nil || !addr.Is6() || addr.Zone() != "" {
			return "", "", errors.New("has an invalid IPv6 address in brackets")
		}
		host = "[" + addr.String() + "]"
		rest := a[end+1:]
		if rest == "" {
			return host, "", nil
		}
		if !strings.HasPrefix(rest, ":") {
			return "", "", errors.New("has characters after the IPv6 address that are not a :port")
		}
		port, err = checkPort(rest[1:])
		return host, port, err
	}
	if strings.Count(a, ":") > 1 {
		return "", "", errors.New("looks like an IPv6 address: put it in brackets, e.g. [fd00::1]:6443")
	}
	name, p, hasPort := strings.Cut(a, ":")
	if hasPort {
		if port, err = checkPort(p); err != nil {
			return "", "", err
		}
	}
	if addr, perr := netip.ParseAddr(name); perr == nil {
		return addr.String(), port, nil
	}
	if err := checkDNSName(name); err != nil {
		return "", "", err
	}
	return strings.ToLower(name), port, nil
}

func checkPort(p string) (string, error) {
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 || p[0] == '0' || p[0] == '+' {
		return "", errors.New("has an invalid port (want 1 to 65535)")
	}
	return p, nil
}

// checkDNSName accepts RFC 1123 host names: dot-separated labels of
// letters, digits and '-', not starting or ending with '-', at most 63
// characters each and 253 in all. A trailing dot is rejected, so that one
// host has one spelling.
func checkDNSName(name string) error {
	if name == "" {
		return errors.New("has no host name")
	}
	if len(name) > 253 {
		return errors.New("has a host name longer than 253 characters")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("has an invalid host name (labels of letters, digits and '-', separated by dots)")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return errors.New("has an invalid host name (labels of letters, digits and '-', separated by dots)")
			}
		}
	}
	return nil
}

// normalizePath checks the optional path prefix of a proxied API server
// and returns it with a leading and no trailing slash ("" for none).
func normalizePath(p string) (string, error) {
	p = strings.TrimRight(p, "/")
	if p == "" {
		return "", nil
	}
	p = "/" + p
	if path.Clean(p) != p {
		return "", errors.New("has an unclean path (empty, '.' or '..' segments)")
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/-._~", c) >= 0) {
			return "", errors.New("has a path with characters other than letters, digits and -._~/")
		}
	}
	return p, nil
}
