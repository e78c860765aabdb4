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
	})
}
