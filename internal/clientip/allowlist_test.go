package clientip

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestParsePrefixList(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr string
		index   int
	}{
		{"empty list", []string{}, []string{}, "", 0},
		{"nil list", nil, []string{}, "", 0},
		{"IPv4 address", []string{"192.0.2.1"}, []string{"192.0.2.1/32"}, "", 0},
		{"IPv6 address", []string{"2001:db8::1"}, []string{"2001:db8::1/128"}, "", 0},
		{"IPv4 CIDR", []string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}, "", 0},
		{"IPv6 CIDR", []string{"2001:db8::/32"}, []string{"2001:db8::/32"}, "", 0},
		{"IPv4 host bits masked", []string{"10.1.2.3/8"}, []string{"10.0.0.0/8"}, "", 0},
		{"IPv6 host bits masked", []string{"2001:db8::1/32"}, []string{"2001:db8::/32"}, "", 0},
		{"any", []string{"0.0.0.0/0", "::/0"}, []string{"0.0.0.0/0", "::/0"}, "", 0},
		{"any with host bits", []string{"1.2.3.4/0"}, []string{"0.0.0.0/0"}, "", 0},
		{"IPv4-mapped address", []string{"::ffff:192.0.2.1"}, []string{"192.0.2.1/32"}, "", 0},
		{"IPv4-mapped CIDR", []string{"::ffff:10.1.2.3/104"}, []string{"10.0.0.0/8"}, "", 0},
		{"IPv4-mapped /128", []string{"::ffff:10.1.2.3/128"}, []string{"10.1.2.3/32"}, "", 0},
		{"IPv6 compressed form", []string{"2001:0DB8:0000::0001"}, []string{"2001:db8::1/128"}, "", 0},
		{"spaces", []string{" 10.0.0.0/8 ", "\t::1\n"}, []string{"10.0.0.0/8", "::1/128"}, "", 0},
		{"order kept", []string{"::1", "10.0.0.0/8"}, []string{"::1/128", "10.0.0.0/8"}, "", 0},

		{"empty entry", []string{"10.0.0.0/8", ""}, nil, `entry 2 (""): empty entry`, 1},
		{"space entry", []string{"  "}, nil, "empty entry", 0},
		{"garbage", []string{"10.0.0.0/8", "::1", "nope"}, nil, `entry 3 ("nope"): not an IP address`, 2},
		{"hostname", []string{"example.com"}, nil, "not an IP address", 0},
		{"bad octet", []string{"10.0.0.300"}, nil, "not an IP address", 0},
		{"leading zero", []string{"010.0.0.1"}, nil, "not an IP address", 0},
		{"IPv4 too long", []string{"10.0.0.0/33"}, nil, "not a CIDR", 0},
		{"IPv6 too long", []string{"::/129"}, nil, "not a CIDR", 0},
		{"negative bits", []string{"10.0.0.0/-1"}, nil, "not a CIDR", 0},
		{"no bits", []string{"10.0.0.0/"}, nil, "not a CIDR", 0},
		{"range", []string{"10.0.0.1-10.0.0.9"}, nil, "not an IP address", 0},
		{"zone", []string{"fe80::1%eth0"}, nil, "zones are not allowed", 0},
		{"zone CIDR", []string{"fe80::1%eth0/64"}, nil, "zones are not allowed", 0},
		{"with port", []string{"10.0.0.1:80"}, nil, "not an IP address", 0},
		{"bracketed", []string{"[::1]"}, nil, "not an IP address", 0},
		{"comma inside", []string{"10.0.0.1,10.0.0.2"}, nil, "not an IP address", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePrefixList(tt.in)
			if tt.wantErr != "" {
				var pe *PrefixError
				if !errors.As(err, &pe) {
					t.Fatalf("error = %v, want a *PrefixError", err)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error = %q, want it to contain %q", err, tt.wantErr)
				}
				if pe.Index != tt.index || pe.Entry != tt.in[tt.index] {
					t.Errorf("PrefixError = %+v, want index %d", pe, tt.index)
				}
				if got != nil {
					t.Error("result with an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Error("nil result")
			}
			if s := prefixStrings(got); !slices.Equal(s, tt.want) {
				t.Errorf("ParsePrefixList = %v, want %v", s, tt.want)
			}
			// Canonical output parses to itself.
			again, err := ParsePrefixList(prefixStrings(got))
			if err != nil || !slices.Equal(again, got) {
				t.Errorf("re-parse = %v, %v", again, err)
			}
		})
	}
}

func TestPrefixErrorTruncatesLongEntries(t *testing.T) {
	t.Parallel()
	_, err := ParsePrefixList([]string{strings.Repeat("x", 10000)})
	if err == nil || len(err.Error()) > 120 {
		t.Errorf("error = %q", err)
	}
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func TestParseCIDRFlag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    []string
		wantErr string
	}{
		{"", []string{}, ""},
		{" , ", []string{}, ""},
		{"10.0.0.0/8", []string{"10.0.0.0/8"}, ""},
		{"10.0.0.0/8, 192.168.1.7,fd00::/8", []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8"}, ""},
		{"10.0.0.0/8,", []string{"10.0.0.0/8"}, ""},
		{"10.0.0.0/8,,::1", []string{"10.0.0.0/8", "::1/128"}, ""},
		{"10.0.0.0/8,bogus", nil, `entry 2 ("bogus")`},
		{"10.0.0.0/8 192.168.0.0/16", nil, "not a CIDR"},
	}
	for _, tt := range tests {
		got, err := ParseCIDRFlag(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseCIDRFlag(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseCIDRFlag(%q): %v", tt.in, err)
			continue
		}
		if s := prefixStrings(got); !slices.Equal(s, tt.want) {
			t.Errorf("ParseCIDRFlag(%q) = %v, want %v", tt.in, s, tt.want)
		}
	}
}

func TestAllowlist(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []string
		allow   []string
		deny    []string
		all     bool
	}{
		{
			name: "empty allows nothing",
			deny: []string{"10.0.0.1", "::1", "0.0.0.0"},
		},
		{
			name:    "IPv4 CIDR",
			entries: []string{"10.0.0.0/8"},
			allow:   []string{"10.0.0.0", "10.255.255.255", "::ffff:10.1.2.3", "[::ffff:10.1.2.3]"},
			deny:    []string{"11.0.0.0", "9.255.255.255", "::a00:1", "2001:db8::1"},
		},
		{
			name:    "single IPv4 address",
			entries: []string{"192.0.2.7"},
			allow:   []string{"192.0.2.7", "::ffff:192.0.2.7"},
			deny:    []string{"192.0.2.8", "192.0.2.6"},
		},
		{
			name:    "IPv6 CIDR",
			entries: []string{"2001:db8::/32"},
			allow:   []string{"2001:db8::", "2001:db8:ffff::1", "2001:db8::1"},
			deny:    []string{"2001:db9::", "10.0.0.1"},
		},
		{
			name:    "single IPv6 address",
			entries: []string{"2001:db8::7"},
			allow:   []string{"2001:db8::7", "2001:db8:0::0:7"},
			deny:    []string{"2001:db8::8"},
		},
		{
			name:    "zoned address matches without zone",
			entries: []string{"fe80::/10"},
			allow:   []string{"fe80::1%eth0"},
		},
		{
			name:    "IPv4-mapped entry matches IPv4",
			entries: []string{"::ffff:10.0.0.0/104"},
			allow:   []string{"10.2.3.4", "::ffff:10.2.3.4"},
			deny:    []string{"11.2.3.4"},
		},
		{
			name:    "IPv4 any",
			entries: []string{"0.0.0.0/0"},
			allow:   []string{"0.0.0.0", "255.255.255.255", "::ffff:1.2.3.4"},
			deny:    []string{"::1", "2001:db8::1"},
		},
		{
			name:    "IPv6 any is IPv6 only",
			entries: []string{"::/0"},
			allow:   []string{"::", "::1", "2001:db8::1"},
			deny:    []string{"1.2.3.4", "::ffff:1.2.3.4"},
		},
		{
			name:    "both any",
			entries: []string{"0.0.0.0/0", "::/0"},
			allow:   []string{"1.2.3.4", "::1", "::ffff:1.2.3.4"},
			all:     true,
		},
		{
			name:    "both any, written with host bits",
			entries: []string{"1.2.3.4/0", "2001:db8::/0", "10.0.0.0/8"},
			allow:   []string{"1.2.3.4", "::1"},
			all:     true,
		},
		{
			name:    "mixed",
			entries: []string{"10.0.0.0/8", "192.168.1.5", "fd00::/8"},
			allow:   []string{"10.1.1.1", "192.168.1.5", "fd12::1"},
			deny:    []string{"192.168.1.6", "fe00::1", "172.16.0.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := NewAllowlist(prefixes(t, tt.entries...))
			for _, s := range tt.allow {
				if addr := parseTestAddr(t, s); !a.Allows(addr) {
					t.Errorf("Allows(%s) = false", s)
				}
			}
			for _, s := range tt.deny {
				if addr := parseTestAddr(t, s); a.Allows(addr) {
					t.Errorf("Allows(%s) = true", s)
				}
			}
			if a.AllowsAll() != tt.all {
				t.Errorf("AllowsAll = %v, want %v", a.AllowsAll(), tt.all)
			}
			if a.Allows(netip.Addr{}) {
				t.Error("zero Addr allowed")
			}
		})
	}
}

// parseTestAddr parses an address, keeping IPv4-mapped form and zones (the
// Allowlist must normalise them itself).
func parseTestAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNewAllowlistCanonicalisesAndCopies(t *testing.T) {
	t.Parallel()
	in := []netip.Prefix{
		netip.MustParsePrefix("10.1.2.3/8"),
		{}, // invalid: dropped
		netip.MustParsePrefix("::ffff:192.0.2.1/128"),
	}
	a := NewAllowlist(in)
	in[0] = netip.MustParsePrefix("0.0.0.0/0")
	if got := a.String(); got != "10.0.0.0/8,192.0.2.1/32" {
		t.Errorf("String = %q", got)
	}
	ps := a.Prefixes()
	ps[0] = netip.MustParsePrefix("0.0.0.0/0")
	if a.Allows(netip.MustParseAddr("1.1.1.1")) {
		t.Error("Allowlist shares memory with its input or output")
	}
	var zero Allowlist
	if zero.Allows(netip.MustParseAddr("1.1.1.1")) || zero.AllowsAll() || zero.String() != "" {
		t.Error("zero Allowlist is not empty")
	}
}

func TestAllowsDoesNotAllocate(t *testing.T) {
	a := NewAllowlist(prefixes(t, "10.0.0.0/8", "192.168.0.0/16", "fd00::/8"))
	addrs := []netip.Addr{
		netip.MustParseAddr("192.168.3.4"),
		netip.MustParseAddr("::ffff:8.8.8.8"),
		netip.MustParseAddr("fe80::1%eth0"),
	}
	if n := testing.AllocsPerRun(100, func() {
		for _, addr := range addrs {
			a.Allows(addr)
		}
	}); n != 0 {
		t.Errorf("Allows allocates %v times", n)
	}
}

func BenchmarkAllows(b *testing.B) {
	entries := []string{
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "198.51.100.0/24",
		"203.0.113.7", "fd00::/8", "2001:db8::/32", "2001:db8:1::5", "fe80::/10",
	}
	a := NewAllowlist(prefixes(b, entries...))
	cases := map[string]netip.Addr{
		"IPv4 miss (10 prefixes)": netip.MustParseAddr("8.8.8.8"),
		"IPv4 hit last":           netip.MustParseAddr("203.0.113.7"),
		"IPv6 miss":               netip.MustParseAddr("2a00::1"),
		"IPv4-mapped hit":         netip.MustParseAddr("::ffff:10.1.2.3"),
	}
	for name, addr := range cases {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				a.Allows(addr)
			}
		})
	}
	b.Run("any", func(b *testing.B) {
		all := NewAllowlist(prefixes(b, "0.0.0.0/0", "::/0"))
		addr := netip.MustParseAddr("8.8.8.8")
		b.ReportAllocs()
		for b.Loop() {
			all.Allows(addr)
		}
	})
}

// TestListAllows: ListAllows answers as NewAllowlist of the parsed list
// with AllowsAll() || Allows(addr), and fails as ParsePrefixList does.
func TestListAllows(t *testing.T) {
	lists := [][]string{
		nil, {}, {"0.0.0.0/0", "::/0"}, {"0.0.0.0/0"}, {"::/0"}, {"10.0.0.0/8"},
		{" 10.1.2.3 ", "2001:db8::/32"}, {"::ffff:10.0.0.0/104"}, {"192.168.0.0/16", "::/0", "0.0.0.0/0"},
		{"10.0.0.0/8", "bad"}, {""}, {"fe80::1%eth0"},
	}
	addrs := []netip.Addr{{}, netip.MustParseAddr("10.9.8.7"), netip.MustParseAddr("::ffff:10.9.8.7"),
		netip.MustParseAddr("192.168.1.1"), netip.MustParseAddr("2001:db8::1"), netip.MustParseAddr("fe80::1%eth0")}
	for _, l := range lists {
		for _, a := range addrs {
			got, err := ListAllows(l, a)
			prefixes, perr := ParsePrefixList(l)
			if (err == nil) != (perr == nil) || (err != nil && err.Error() != perr.Error()) {
				t.Errorf("ListAllows(%q, %v) error %v, ParsePrefixList error %v", l, a, err, perr)
				continue
			}
			if perr != nil {
				continue
			}
			allow := NewAllowlist(prefixes)
			if want := allow.AllowsAll() || allow.Allows(a); got != want {
				t.Errorf("ListAllows(%q, %v) = %v, want %v", l, a, got, want)
			}
		}
	}
}

func BenchmarkListAllows(b *testing.B) {
	list, addr := []string{"0.0.0.0/0", "::/0"}, netip.MustParseAddr("10.9.8.7")
	b.ReportAllocs()
	for b.Loop() {
		if ok, err := ListAllows(list, addr); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
