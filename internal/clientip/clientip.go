// Package clientip decides which address a request comes from and whether
// an address is on an allowlist (the trusted IPs of an auth method or an
// access token).
//
// The client address is the TCP peer unless the peer is a proxy the
// operator declared trusted (--trusted-proxies); only then is
// X-Forwarded-For read, from the right, one trusted hop at a time. Every
// other forwarding header (X-Real-IP, Forwarded, CF-Connecting-IP,
// True-Client-IP, ...) is ignored: anyone can send them, and believing them
// would let a client choose the address an allowlist checks.
//
// Addresses are normalised everywhere: IPv4-mapped IPv6 addresses
// (::ffff:192.0.2.1) become IPv4 (192.0.2.1) and IPv6 zones are dropped.
package clientip

import (
	"net/http"
	"net/netip"
	"strings"
)

// Resolver finds the client address of a request. It is safe for
// concurrent use; the zero Resolver and a nil *Resolver trust no proxy.
type Resolver struct {
	trusted Allowlist
}

// NewResolver returns a Resolver that believes X-Forwarded-For only from
// peers inside trustedProxies. An empty list means: the client address is
// always the TCP peer. Trusting 0.0.0.0/0 and ::/0 lets every client choose
// its own address; do that only behind a proxy that overwrites the header.
func NewResolver(trustedProxies []netip.Prefix) *Resolver {
	return &Resolver{trusted: NewAllowlist(trustedProxies)}
}

// ClientIP returns the client address of req:
//
//   - the TCP peer (req.RemoteAddr) when it is not a trusted proxy;
//   - otherwise, walking the X-Forwarded-For entries from the right (the
//     last header line first, each line from its end), the first entry that
//     is not a trusted proxy;
//   - when every entry is a trusted proxy, the left-most entry;
//   - when an entry is empty or not an address, the last trusted hop seen
//     before it (the peer or an entry to its right). Garbage thus never
//     makes an entry further left believed: only a chain of trusted proxies
//     vouches for an entry, and a proxy does not write garbage.
//
// Entries may be "addr", "addr:port", "[v6addr]" or "[v6addr]:port", with
// spaces around them. The result is normalised (IPv4-mapped unmapped, zone
// dropped). ClientIP returns the zero netip.Addr when RemoteAddr is not an
// address (e.g. a Unix socket); an Allowlist never allows it.
//
// ClientIP does not allocate.
func (r *Resolver) ClientIP(req *http.Request) netip.Addr {
	peer := parseHost(req.RemoteAddr)
	if !peer.IsValid() || r == nil || !r.trusted.Allows(peer) {
		return peer
	}
	// http.Server canonicalises header names, so this finds every line.
	return r.walk(peer, req.Header["X-Forwarded-For"])
}

// walk applies the X-Forwarded-For rules to a trusted peer.
func (r *Resolver) walk(peer netip.Addr, lines []string) netip.Addr {
	last := peer // the left-most trusted hop so far
	for i := len(lines) - 1; i >= 0; i-- {
		line := lines[i]
		for {
			comma := strings.LastIndexByte(line, ',')
			addr := parseHost(line[comma+1:])
			if !addr.IsValid() {
				return last
			}
			if !r.trusted.Allows(addr) {
				return addr
			}
			last = addr
			if comma < 0 {
				break
			}
			line = line[:comma]
		}
	}
	return last
}

// parseHost parses "addr", "addr:port", "[addr]" or "[addr]:port", with
// optional surrounding spaces and tabs, and normalises the address. It
// returns the zero Addr for anything else. It does not allocate for valid
// input.
func parseHost(s string) netip.Addr {
	s = strings.Trim(s, " \t")
	if s == "" {
		return netip.Addr{}
	}
	var addr netip.Addr
	var err error
	switch {
	case s[0] == '[':
		if s[len(s)-1] == ']' {
			addr, err = netip.ParseAddr(s[1 : len(s)-1])
		} else {
			var ap netip.AddrPort
			ap, err = netip.ParseAddrPort(s)
			addr = ap.Addr()
		}
	case strings.Count(s, ":") == 1: // IPv4 with a port
		var ap netip.AddrPort
		ap, err = netip.ParseAddrPort(s)
		addr = ap.Addr()
	default: // IPv4 or unbracketed IPv6
		addr, err = netip.ParseAddr(s)
	}
	if err != nil {
		return netip.Addr{}
	}
	return normalize(addr)
}

// normalize unmaps IPv4-mapped IPv6 addresses and drops zones.
func normalize(a netip.Addr) netip.Addr {
	return a.Unmap().WithZone("")
}
