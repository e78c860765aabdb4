package clientip

import (
	"fmt"
	"net/netip"
	"strings"
)

// Allowlist is a set of address prefixes. The zero Allowlist allows
// nothing. It is immutable and safe for concurrent use.
//
// Address families are kept apart: an IPv4 address (including one that
// arrives IPv4-mapped, ::ffff:192.0.2.1) is matched only by IPv4 prefixes,
// an IPv6 address only by IPv6 prefixes. So ::/0 means "every IPv6
// address", not "everything"; allowing everything takes 0.0.0.0/0 and ::/0
// (Infisical's default trusted IPs). IPv4-mapped prefixes
// (::ffff:10.0.0.0/104) are turned into IPv4 ones (10.0.0.0/8).
type Allowlist struct {
	prefixes   []netip.Prefix // canonical, in the order given
	all4, all6 bool           // contains 0.0.0.0/0, ::/0
}

// NewAllowlist returns an allowlist of the prefixes, canonicalised (see
// ParsePrefixList). Invalid prefixes are dropped. The slice is copied.
func NewAllowlist(prefixes []netip.Prefix) Allowlist {
	a := Allowlist{prefixes: make([]netip.Prefix, 0, len(prefixes))}
	for _, p := range prefixes {
		p = canonical(p)
		if !p.IsValid() {
			continue
		}
		a.prefixes = append(a.prefixes, p)
		if p.Bits() == 0 {
			if p.Addr().Is4() {
				a.all4 = true
			} else {
				a.all6 = true
			}
		}
	}
	return a
}

// Allows reports whether addr is inside one of the prefixes. addr is
// normalised first (IPv4-mapped unmapped, zone dropped). The zero Addr is
// never allowed. Allows does not allocate.
func (a Allowlist) Allows(addr netip.Addr) bool {
	if !addr.IsValid() {
		return false
	}
	addr = normalize(addr)
	if addr.Is4() && a.all4 || addr.Is6() && a.all6 {
		return true
	}
	for _, p := range a.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// AllowsAll reports whether every address is allowed (the list holds both
// 0.0.0.0/0 and ::/0), so that callers can skip the check.
func (a Allowlist) AllowsAll() bool { return a.all4 && a.all6 }

// Prefixes returns a copy of the canonical prefixes, in the order given.
func (a Allowlist) Prefixes() []netip.Prefix {
	return append([]netip.Prefix(nil), a.prefixes...)
}

// String returns the prefixes, comma-separated.
func (a Allowlist) String() string {
	parts := make([]string, len(a.prefixes))
	for i, p := range a.prefixes {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// ListAllows reports whether addr is inside one of the entries, a stored
// list in ParsePrefixList's syntax (an auth method's trusted IPs, a role's
// bound CIDRs), as NewAllowlist of the parsed list would answer with
// AllowsAll() || Allows(addr): a list holding both 0.0.0.0/0 and ::/0
// allows every caller, even one whose address is unknown. A bad entry is
// ParsePrefixList's error. It reads the entries in place and does not
// allocate unless one is bad: it runs on every token check.
func ListAllows(entries []string, addr netip.Addr) (bool, error) {
	valid := addr.IsValid()
	if valid {
		addr = normalize(addr)
	}
	var all4, all6, in bool
	for i, entry := range entries {
		p, reason := parsePrefix(entry)
		if reason != "" {
			return false, &PrefixError{Index: i, Entry: entry, Reason: reason}
		}
		if p.Bits() == 0 {
			all4, all6 = all4 || p.Addr().Is4(), all6 || p.Addr().Is6()
		}
		in = in || valid && p.Contains(addr)
	}
	return in || all4 && all6, nil
}

// canonical masks p to its network address and turns an IPv4-mapped
// prefix of at least 96 bits into the IPv4 prefix it covers. It returns the
// zero Prefix for an invalid one.
func canonical(p netip.Prefix) netip.Prefix {
	if !p.IsValid() {
		return netip.Prefix{}
	}
	if addr := p.Addr(); addr.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(addr.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// PrefixError reports an entry ParsePrefixList cannot read.
type PrefixError struct {
	Index  int    // position in the list
	Entry  string // the entry as given
	Reason string
}

func (e *PrefixError) Error() string {
	entry := e.Entry
	if len(entry) > 64 {
		entry = entry[:64] + "..."
	}
	return fmt.Sprintf("entry %d (%q): %s", e.Index+1, entry, e.Reason)
}

// ParsePrefixList parses IP addresses and CIDR prefixes, IPv4 or IPv6, with
// surrounding spaces ignored. A single address becomes a /32 or /128.
// Entries are canonicalised rather than rejected or kept as typed: host
// bits are masked off (10.1.2.3/8 → 10.0.0.0/8) and IPv4-mapped entries
// become IPv4 (::ffff:10.1.2.3 → 10.1.2.3/32), so what is stored and shown
// is exactly what is matched. An empty entry, a zone (fe80::1%eth0) or
// anything else unreadable is an error: a *PrefixError naming the first bad
// entry. An empty list gives an empty, non-nil result.
func ParsePrefixList(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for i, entry := range entries {
		p, reason := parsePrefix(entry)
		if reason != "" {
			return nil, &PrefixError{Index: i, Entry: entry, Reason: reason}
		}
		out = append(out, p)
	}
	return out, nil
}

func parsePrefix(entry string) (netip.Prefix, string) {
	s := strings.TrimSpace(entry)
	if s == "" {
		return netip.Prefix{}, "empty entry"
	}
	if strings.Contains(s, "%") {
		return netip.Prefix{}, "IPv6 zones are not allowed"
	}
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, "not a CIDR prefix such as 10.0.0.0/8 or 2001:db8::/32"
		}
		return canonical(p), ""
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, "not an IP address or CIDR prefix"
	}
	addr = addr.Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), ""
}

// ParseCIDRFlag parses a comma-separated flag value such as the one of
// --trusted-proxies: "10.0.0.0/8, 192.168.1.7,fd00::/8". Empty elements are
// skipped, so "" gives an empty list. Entries follow ParsePrefixList; a
// PrefixError's Index counts the non-empty elements.
func ParseCIDRFlag(s string) ([]netip.Prefix, error) {
	var entries []string
	for e := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(e) != "" {
			entries = append(entries, e)
		}
	}
	return ParsePrefixList(entries)
}
