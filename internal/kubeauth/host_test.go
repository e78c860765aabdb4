package kubeauth

import (
	"net/url"
	"strings"
	"testing"
)

func TestNormalizeHost(t *testing.T) {
	t.Parallel()
	ok := []struct{ in, want string }{
		{"kube.example.com", "https://kube.example.com"},
		{"  Kube.Example.COM  ", "https://kube.example.com"},
		{"kube.example.com:6443", "https://kube.example.com:6443"},
		{"10.0.0.1", "https://10.0.0.1"},
		{"10.0.0.1:6443", "https://10.0.0.1:6443"},
		{"https://10.0.0.1:6443", "https://10.0.0.1:6443"},
		{"HTTPS://kube.example.com/", "https://kube.example.com"},
		{"[fd00::1]", "https://[fd00::1]"},
		{"[FD00:0::1]:6443", "https://[fd00::1]:6443"},
		{"https://[::1]:443", "https://[::1]:443"},
		{"https://rancher.example.com/k8s/clusters/c-abc12", "https://rancher.example.com/k8s/clusters/c-abc12"},
		{"rancher.example.com/k8s/clusters/c-abc12/", "https://rancher.example.com/k8s/clusters/c-abc12"},
		{"kubernetes", "https://kubernetes"},
		{"localhost:1", "https://localhost:1"},
	}
	for _, tc := range ok {
		got, err := NormalizeHost(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeHost(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	bad := []struct{ in, why string }{
		{"", "must not be empty"},
		{"   ", "must not be empty"},
		{"http://kube.example.com", "https://"},
		{"ftp://kube.example.com", "https://"},
		{"https://user:pass@kube.example.com", "user info"},
		{"user@kube.example.com", "user info"},
		{"kube.example.com?x=1", "query"},
		{"kube.example.com/?", "query"},
		{"kube.example.com#frag", "fragment"},
		{"fd00::1", "brackets"},
		{"fd00::1:6443", "brackets"},
		{"[fd00::1", "closing"},
		{"[not-ip]:443", "invalid IPv6"},
		{"[fe80::1%25eth0]:443", "invalid IPv6"},
		{"[10.0.0.1]:443", "invalid IPv6"},
		{"[fd00::1]x", "not a :port"},
		{"kube.example.com:", "invalid port"},
		{"kube.example.com:0", "invalid port"},
		{"kube.example.com:65536", "invalid port"},
		{"kube.example.com:06443", "invalid port"},
		{"kube.example.com:+443", "invalid port"},
		{"kube.example.com:https", "invalid port"},
		{"kube example.com", "spaces"},
		{"kube.example.com\n", ""}, // trimmed: fine, see below
		{"-kube.example.com", "invalid host name"},
		{"kube..example.com", "invalid host name"},
		{"kube.example.com.", "invalid host name"},
		{"kube_1.example.com", "invalid host name"},
		{"https://", "no host"},
		{"https:///path", "no host"},
		{"kube.example.com/a/../b", "unclean path"},
		{"kube.example.com//a", "unclean path"},
		{"kube.example.com/a%20b", "path with characters"},
		{"kube.example.com\\evil", "'\\'"},
		{strings.Repeat("a", 64) + ".example.com", "invalid host name"},
		{strings.Repeat("a", MaxHostLen+1), "at most 1024"},
	}
	for _, tc := range bad {
		got, err := NormalizeHost(tc.in)
		if tc.why == "" {
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("NormalizeHost(%.40q) = %q, %v; want an error about %q", tc.in, got, err, tc.why)
		}
	}
}

// TestNormalizeHostAllowingHTTP: Vault's rules are NormalizeHost's plus
// http://, which is kept (and reported); other schemes are still refused,
// saying which ones are allowed.
func TestNormalizeHostAllowingHTTP(t *testing.T) {
	t.Parallel()
	ok := []struct {
		in, want string
		plain    bool
	}{
		{"http://127.0.0.1:8001", "http://127.0.0.1:8001", true},
		{"HTTP://Proxy.Local/", "http://proxy.local", true},
		{"http://[::1]:8001/k8s", "http://[::1]:8001/k8s", true},
		{"https://kube.example.com", "https://kube.example.com", false},
		{"kube.example.com:6443", "https://kube.example.com:6443", false},
	}
	for _, tc := range ok {
		got, plain, err := NormalizeHostAllowingHTTP(tc.in)
		if err != nil || got != tc.want || plain != tc.plain {
			t.Errorf("NormalizeHostAllowingHTTP(%q) = %q, %v, %v; want %q, %v", tc.in, got, plain, err, tc.want, tc.plain)
		}
	}
	bad := []struct{ in, why string }{
		{"ftp://x", `must use https:// or http:// (not "ftp")`},
		{"http://user@x", "user info"},
		{"http://x:99999", "invalid port (want 1 to 65535)"},
		{"http://x y", "spaces"},
		{"http://", "no host"},
	}
	for _, tc := range bad {
		got, _, err := NormalizeHostAllowingHTTP(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("NormalizeHostAllowingHTTP(%q) = %q, %v; want an error about %q", tc.in, got, err, tc.why)
		}
	}
	// The Infisical rules still refuse http://.
	if _, err := NormalizeHost("http://127.0.0.1:8001"); err == nil || !strings.Contains(err.Error(), "must use https://") {
		t.Errorf("NormalizeHost(http://...) = %v, want the https:// refusal", err)
	}
}

// FuzzNormalizeHost: never panics; what it accepts is an https URL with a
// host and nothing else that could redirect credentials, and normalising
// it again changes nothing.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{
		"kube.example.com", "10.0.0.1:6443", "[fd00::1]:6443", "https://a.b/c/d", "http://x", "u@h", "h?q", "h#f",
		"::1", "[::1]", "https://[::ffff:10.0.0.1]:1", "A.B.C:65535/x_y", "xn--bcher-kva.example",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := NormalizeHost(in)
		if err != nil {
			if out != "" {
				t.Fatalf("error with output %q", out)
			}
			return
		}
		u, perr := url.Parse(out)
		if perr != nil {
			t.Fatalf("NormalizeHost(%q) = %q, which does not parse: %v", in, out, perr)
		}
		if u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
			strings.HasSuffix(out, "/") || strings.ContainsAny(out, " \t\r\n@?#\\") {
			t.Fatalf("NormalizeHost(%q) = %q: not a clean https base URL", in, out)
		}
		again, err := NormalizeHost(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
		// Vault's rules accept the same, unchanged.
		if v, plain, err := NormalizeHostAllowingHTTP(in); err != nil || v != out || plain {
			t.Fatalf("NormalizeHostAllowingHTTP(%q) = %q, %v, %v; NormalizeHost gave %q", in, v, plain, err, out)
		}
	})
}

// FuzzNormalizeHostAllowingHTTP: what Vault's rules accept is an http or
// https base URL with a host and nothing else, normalised once for all;
// an https result is what NormalizeHost gives.
func FuzzNormalizeHostAllowingHTTP(f *testing.F) {
	for _, s := range []string{"http://x", "HTTP://a.b:1/c", "ftp://x", "http://u@h", "https://h", "h:1", "http://[::1]:8001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, plain, err := NormalizeHostAllowingHTTP(in)
		if err != nil {
			if out != "" || plain {
				t.Fatalf("error with output %q, %v", out, plain)
			}
			return
		}
		u, perr := url.Parse(out)
		if perr != nil || (u.Scheme == "http") != plain || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(out, "/") || strings.ContainsAny(out, " \t\r\n@?#\\") {
			t.Fatalf("NormalizeHostAllowingHTTP(%q) = %q, %v: not a clean base URL", in, out, plain)
		}
		if again, p2, err := NormalizeHostAllowingHTTP(out); err != nil || again != out || p2 != plain {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
		if !plain {
			if h, err := NormalizeHost(in); err != nil || h != out {
				t.Fatalf("NormalizeHost(%q) = %q, %v; Vault's rules gave %q", in, h, err, out)
			}
		}
	})
}
