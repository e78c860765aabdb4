package clientip

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func prefixes(t testing.TB, entries ...string) []netip.Prefix {
	t.Helper()
	ps, err := ParsePrefixList(entries)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func request(remoteAddr string, header http.Header) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = remoteAddr
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return req
}

func xff(lines ...string) http.Header {
	return http.Header{"X-Forwarded-For": lines}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := NewResolver(prefixes(t, "10.0.0.0/8", "fd00::/8", "192.0.2.10"))
	none := NewResolver(nil)
	all := NewResolver(prefixes(t, "0.0.0.0/0", "::/0"))

	tests := []struct {
		name   string
		r      *Resolver
		remote string
		header http.Header
		want   string // "" = zero Addr
	}{
		// The peer.
		{"IPv4 peer", none, "203.0.113.5:4000", nil, "203.0.113.5"},
		{"IPv6 peer", none, "[2001:db8::1]:4000", nil, "2001:db8::1"},
		{"IPv4-mapped peer", none, "[::ffff:203.0.113.5]:4000", nil, "203.0.113.5"},
		{"zoned peer", none, "[fe80::1%eth0]:4000", nil, "fe80::1"},
		{"peer without port", none, "203.0.113.5", nil, "203.0.113.5"},
		{"Unix socket peer", none, "@", nil, ""},
		{"empty peer", none, "", nil, ""},
		{"garbage peer", trusted, "nonsense:80", xff("1.1.1.1"), ""},
		{"nil resolver", (*Resolver)(nil), "203.0.113.5:1", xff("1.1.1.1"), "203.0.113.5"},
		{"zero resolver", &Resolver{}, "10.0.0.1:1", xff("1.1.1.1"), "10.0.0.1"},

		// Untrusted peers: every header ignored.
		{"XFF from untrusted peer", trusted, "203.0.113.5:1", xff("1.1.1.1"), "203.0.113.5"},
		{"XFF with no trusted proxies", none, "10.0.0.1:1", xff("1.1.1.1"), "10.0.0.1"},
		{"X-Real-IP from untrusted peer", trusted, "203.0.113.5:1", http.Header{"X-Real-Ip": {"1.1.1.1"}}, "203.0.113.5"},

		// Trusted peers.
		{"one hop", trusted, "10.0.0.1:1", xff("198.51.100.7"), "198.51.100.7"},
		{"one hop IPv6", trusted, "[fd00::1]:1", xff("2001:db8::7"), "2001:db8::7"},
		{"IPv6 proxy, IPv4 client", trusted, "[fd00::1]:1", xff("198.51.100.7"), "198.51.100.7"},
		{"IPv4-mapped proxy peer", trusted, "[::ffff:10.0.0.1]:1", xff("198.51.100.7"), "198.51.100.7"},
		{"single trusted address", trusted, "192.0.2.10:1", xff("198.51.100.7"), "198.51.100.7"},
		{"next address not trusted", trusted, "192.0.2.11:1", xff("198.51.100.7"), "192.0.2.11"},
		{"two hops", trusted, "10.0.0.1:1", xff("198.51.100.7, 10.0.0.2"), "198.51.100.7"},
		{"three hops", trusted, "10.0.0.1:1", xff("198.51.100.7, fd00::3, 10.0.0.2"), "198.51.100.7"},
		{"no spaces", trusted, "10.0.0.1:1", xff("198.51.100.7,10.0.0.2"), "198.51.100.7"},
		{"tabs and spaces", trusted, "10.0.0.1:1", xff(" \t198.51.100.7 \t,\t 10.0.0.2 "), "198.51.100.7"},
		{"no XFF", trusted, "10.0.0.1:1", nil, "10.0.0.1"},
		{"IPv4-mapped entry", trusted, "10.0.0.1:1", xff("::ffff:198.51.100.7"), "198.51.100.7"},
		{"IPv4-mapped trusted entry", trusted, "10.0.0.1:1", xff("198.51.100.7, ::ffff:10.0.0.2"), "198.51.100.7"},
		{"zoned entry", trusted, "10.0.0.1:1", xff("fe80::9%25eth0, fe80::8%eth1"), "fe80::8"},

		// Entries with ports and brackets.
		{"IPv4 with port", trusted, "10.0.0.1:1", xff("198.51.100.7:5555"), "198.51.100.7"},
		{"IPv6 bracketed with port", trusted, "10.0.0.1:1", xff("[2001:db8::7]:80"), "2001:db8::7"},
		{"IPv6 bracketed", trusted, "10.0.0.1:1", xff("[2001:db8::7]"), "2001:db8::7"},
		{"IPv6 loopback bracketed", trusted, "10.0.0.1:1", xff("[::1]:80"), "::1"},
		{"trusted entry with port", trusted, "10.0.0.1:1", xff("198.51.100.7, 10.0.0.2:8080"), "198.51.100.7"},

		// Spoofing: the client controls everything left of what the first
		// trusted proxy appends.
		{"client prepends fake entries", trusted, "10.0.0.1:1", xff("6.6.6.6, 7.7.7.7, 198.51.100.7"), "198.51.100.7"},
		{"client prepends a trusted-looking entry", trusted, "10.0.0.1:1", xff("10.9.9.9, 198.51.100.7"), "198.51.100.7"},
		{"client prepends fake, two hops", trusted, "10.0.0.1:1", xff("6.6.6.6, 198.51.100.7, 10.0.0.2"), "198.51.100.7"},
		{"all entries trusted", trusted, "10.0.0.1:1", xff("10.0.0.4, 10.0.0.3, 10.0.0.2"), "10.0.0.4"},
		{"all trusted, one line each", trusted, "10.0.0.1:1", xff("10.0.0.4", "10.0.0.3"), "10.0.0.4"},
		{"everything trusted", all, "203.0.113.5:1", xff("6.6.6.6, 7.7.7.7"), "6.6.6.6"},

		// Garbage: stop and use the last trusted hop; never look further left.
		{"garbage only", trusted, "10.0.0.1:1", xff("garbage"), "10.0.0.1"},
		{"garbage left of client", trusted, "10.0.0.1:1", xff("garbage, 198.51.100.7"), "198.51.100.7"},
		{"garbage between trusted hops", trusted, "10.0.0.1:1", xff("6.6.6.6, garbage, 10.0.0.2"), "10.0.0.2"},
		{"garbage right-most", trusted, "10.0.0.1:1", xff("6.6.6.6, garbage"), "10.0.0.1"},
		{"empty entry", trusted, "10.0.0.1:1", xff("6.6.6.6,,10.0.0.2"), "10.0.0.2"},
		{"trailing comma", trusted, "10.0.0.1:1", xff("6.6.6.6,"), "10.0.0.1"},
		{"empty header line", trusted, "10.0.0.1:1", xff(""), "10.0.0.1"},
		{"unknown", trusted, "10.0.0.1:1", xff("unknown, 10.0.0.2"), "10.0.0.2"},
		{"hostname", trusted, "10.0.0.1:1", xff("client.example.com"), "10.0.0.1"},
		{"Forwarded syntax", trusted, "10.0.0.1:1", xff("for=6.6.6.6"), "10.0.0.1"},
		{"bad port", trusted, "10.0.0.1:1", xff("6.6.6.6:99999"), "10.0.0.1"},
		{"empty port", trusted, "10.0.0.1:1", xff("6.6.6.6:"), "10.0.0.1"},
		{"unbracketed IPv6 with port", trusted, "10.0.0.1:1", xff("2001:db8::7:80"), "2001:db8::7:80"},
		{"unclosed bracket", trusted, "10.0.0.1:1", xff("[2001:db8::7"), "10.0.0.1"},
		{"leading-zero IPv4", trusted, "10.0.0.1:1", xff("010.0.0.1"), "10.0.0.1"},
		{"IPv4 CIDR", trusted, "10.0.0.1:1", xff("6.6.6.0/24"), "10.0.0.1"},

		// Several header lines: read in order, as one list.
		{"two lines", trusted, "10.0.0.1:1", xff("6.6.6.6", "198.51.100.7"), "198.51.100.7"},
		{"two lines, trusted last", trusted, "10.0.0.1:1", xff("198.51.100.7", "10.0.0.2"), "198.51.100.7"},
		{"two lines, lists", trusted, "10.0.0.1:1", xff("6.6.6.6, 198.51.100.7", "10.0.0.3, 10.0.0.2"), "198.51.100.7"},
		{"garbage line", trusted, "10.0.0.1:1", xff("198.51.100.7", "garbage", "10.0.0.2"), "10.0.0.2"},
		{"empty last line", trusted, "10.0.0.1:1", xff("198.51.100.7", ""), "10.0.0.1"},

		// Other forwarding headers are ignored, even from trusted proxies.
		{"X-Real-IP ignored", trusted, "10.0.0.1:1", http.Header{"X-Real-Ip": {"1.1.1.1"}}, "10.0.0.1"},
		{"Forwarded ignored", trusted, "10.0.0.1:1", http.Header{"Forwarded": {"for=1.1.1.1"}}, "10.0.0.1"},
		{"CF-Connecting-IP ignored", trusted, "10.0.0.1:1", http.Header{"Cf-Connecting-Ip": {"1.1.1.1"}}, "10.0.0.1"},
		{"True-Client-IP ignored", trusted, "10.0.0.1:1", http.Header{"True-Client-Ip": {"1.1.1.1"}}, "10.0.0.1"},
		{"X-Client-IP ignored", trusted, "10.0.0.1:1", http.Header{"X-Client-Ip": {"1.1.1.1"}}, "10.0.0.1"},
		{"X-Real-IP beside XFF", trusted, "10.0.0.1:1", http.Header{"X-Real-Ip": {"1.1.1.1"}, "X-Forwarded-For": {"198.51.100.7"}}, "198.51.100.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.r.ClientIP(request(tt.remote, tt.header))
			var want netip.Addr
			if tt.want != "" {
				want = netip.MustParseAddr(tt.want)
			}
			if got != want {
				t.Errorf("ClientIP = %v, want %v", got, want)
			}
		})
	}
}

// TestClientIPLowerCaseHeader checks that a header as it arrives on the
// wire (any case) is found: net/http canonicalises it.
func TestClientIPLowerCaseHeader(t *testing.T) {
	t.Parallel()
	srvRes := NewResolver(prefixes(t, "127.0.0.0/8", "::1"))
	got := make(chan netip.Addr, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- srvRes.ClientIP(r)
	}))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header["x-forwarded-for"] = []string{"198.51.100.7"} // sent as is
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if a := <-got; a != netip.MustParseAddr("198.51.100.7") {
		t.Errorf("ClientIP = %v", a)
	}
}

func TestParseHost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"1.2.3.4", "1.2.3.4"},
		{"1.2.3.4:5", "1.2.3.4"},
		{" 1.2.3.4:5 ", "1.2.3.4"},
		{"::1", "::1"},
		{"[::1]", "::1"},
		{"[::1]:80", "::1"},
		{"::ffff:1.2.3.4", "1.2.3.4"},
		{"[::ffff:1.2.3.4]:80", "1.2.3.4"},
		{"fe80::1%eth0", "fe80::1"},
		{"[fe80::1%eth0]:80", "fe80::1"},
		{"", ""},
		{"[", ""},
		{"]", ""},
		{"[]", ""},
		{"[]:80", ""},
		{"[1.2.3.4]:80", ""},
		{":80", ""},
		{"1.2.3.4:", ""},
		{"1.2.3.4:x", ""},
		{"1.2.3", ""},
		{"1.2.3.4.5", ""},
		{"localhost", ""},
		{"1.2.3.4 5", ""},
	}
	for _, tt := range tests {
		var want netip.Addr
		if tt.want != "" {
			want = netip.MustParseAddr(tt.want)
		}
		if got := parseHost(tt.in); got != want {
			t.Errorf("parseHost(%q) = %v, want %v", tt.in, got, want)
		}
	}
}

func TestClientIPDoesNotAllocate(t *testing.T) {
	r := NewResolver(prefixes(t, "10.0.0.0/8", "fd00::/8"))
	req := request("10.0.0.1:1234", xff("6.6.6.6, 198.51.100.7, [fd00::2]:80, 10.0.0.2"))
	if n := testing.AllocsPerRun(100, func() { r.ClientIP(req) }); n != 0 {
		t.Errorf("ClientIP allocates %v times", n)
	}
}

// referenceClientIP restates the rules with a flat list of entries.
func referenceClientIP(trusted Allowlist, remote string, lines []string) netip.Addr {
	peer := parseHost(remote)
	if !peer.IsValid() || !trusted.Allows(peer) {
		return peer
	}
	var entries []string
	for _, l := range lines {
		entries = append(entries, strings.Split(l, ",")...)
	}
	last := peer
	for i := len(entries) - 1; i >= 0; i-- {
		a := parseHost(entries[i])
		switch {
		case !a.IsValid():
			return last
		case !trusted.Allows(a):
			return a
		}
		last = a
	}
	return last
}

func FuzzClientIP(f *testing.F) {
	f.Add(uint8(0), "10.0.0.1:1", "6.6.6.6, 198.51.100.7", "10.0.0.2")
	f.Add(uint8(1), "[fd00::1]:1", "[2001:db8::1]:80,garbage", "")
	f.Add(uint8(2), "203.0.113.5:9", "::ffff:1.2.3.4, fe80::1%eth0", "[::1]")
	f.Add(uint8(3), "127.0.0.1:1", ",,,", " , ")
	configs := []*Resolver{
		NewResolver(nil),
		NewResolver(prefixes(f, "10.0.0.0/8", "fd00::/8")),
		NewResolver(prefixes(f, "0.0.0.0/0", "::/0")),
		NewResolver(prefixes(f, "127.0.0.0/8", "::1", "6.6.6.6")),
	}
	f.Fuzz(func(t *testing.T, cfg uint8, remote, line1, line2 string) {
		r := configs[int(cfg)%len(configs)]
		req := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		var lines []string
		for _, l := range []string{line1, line2} {
			if l != "" || cfg&4 != 0 {
				lines = append(lines, l)
			}
		}
		if lines != nil {
			req.Header["X-Forwarded-For"] = lines
		}
		got := r.ClientIP(req)

		if want := referenceClientIP(r.trusted, remote, lines); got != want {
			t.Fatalf("ClientIP = %v, reference %v", got, want)
		}
		peer := parseHost(remote)
		if got == peer {
			return
		}
		if !r.trusted.Allows(peer) {
			t.Fatalf("header believed from untrusted peer %v", peer)
		}
		for _, l := range lines {
			for e := range strings.SplitSeq(l, ",") {
				if parseHost(e) == got {
					return
				}
			}
		}
		t.Fatalf("ClientIP = %v, which is neither the peer nor in the header", got)
	})
}

func BenchmarkClientIP(b *testing.B) {
	r := NewResolver(prefixes(b, "10.0.0.0/8", "172.16.0.0/12", "fd00::/8"))
	b.Run("untrusted peer", func(b *testing.B) {
		req := request("203.0.113.5:1234", xff("6.6.6.6"))
		b.ReportAllocs()
		for b.Loop() {
			r.ClientIP(req)
		}
	})
	b.Run("three hops", func(b *testing.B) {
		req := request("10.0.0.1:1234", xff("6.6.6.6, 198.51.100.7, 172.16.0.9, 10.0.0.2"))
		b.ReportAllocs()
		for b.Loop() {
			r.ClientIP(req)
		}
	})
}
