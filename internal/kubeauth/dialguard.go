package kubeauth

import (
	"errors"
	"fmt"
	"net/netip"
	"syscall"
)

// Who may set kubernetesHost, and where Gatehouse will send a JWT, is
// documented in docs/kubernetes-auth.md ("Trust model"). In short: only
// administrators set a host; private and loopback addresses stay allowed
// (API servers live there); but a connection without TLS verification
// (verifyTlsCertificate=false) may not reach a link-local or cloud
// metadata address, since nothing would then prove that the peer is an API
// server before it receives the token reviewer JWT (or a login's JWT).

// ErrMetadataAddress is the refusal of an unverified connection to a
// link-local or cloud metadata address.
var ErrMetadataAddress = errors.New("refusing an unverified TLS connection to a link-local or cloud metadata address")

// metadataPrefixes are the addresses an unverified connection may not reach.
var metadataPrefixes = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),     // IPv4 link-local: AWS, GCP, Azure, OCI, ECS metadata
	netip.MustParsePrefix("fe80::/10"),          // IPv6 link-local
	netip.MustParsePrefix("fd00:ec2::254/128"),  // AWS instance metadata over IPv6
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud metadata
}

// isMetadataAddress reports whether a is link-local or a cloud metadata
// address (IPv4-mapped IPv6 forms included).
func isMetadataAddress(a netip.Addr) bool {
	a = a.Unmap().WithZone("")
	for _, p := range metadataPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast()
}

// refuseMetadata is a net.Dialer Control function: it runs with the
// resolved address of every connection attempt, after DNS, so a name that
// resolves (or re-resolves) to a metadata address is refused as well as a
// literal one.
func refuseMetadata(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: unparsable address %q", ErrMetadataAddress, address)
	}
	if isMetadataAddress(ap.Addr()) {
		return fmt.Errorf("%w (%s)", ErrMetadataAddress, ap.Addr())
	}
	return nil
}
