package netguard

import (
	"fmt"
	"net/netip"
)

// Guard decides which addresses outbound connections may reach. The zero
// value permits public addresses only.
type Guard struct {
	allowed []netip.Prefix
}

// New builds a guard that also permits the given CIDRs, e.g. "127.0.0.0/8".
func New(allowedCIDRs []string) (*Guard, error) {
	g := &Guard{}
	for _, cidr := range allowedCIDRs {
		p, err := netip.ParsePrefix(cidr)
		if err != nil {
			return nil, fmt.Errorf("allowed network %q: %w", cidr, err)
		}
		g.allowed = append(g.allowed, p.Masked())
	}
	return g, nil
}

// blockedPrefixes are special-purpose ranges that the netip predicates do
// not cover but that are no more public than RFC 1918 space: "this
// network", carrier-grade NAT, IETF protocol assignments, benchmarking,
// the reserved class E (with broadcast), and NAT64 local use, which can
// embed any IPv4 address.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// Permits reports whether a connection to ip is allowed.
func (g *Guard) Permits(ip netip.Addr) bool {
	// An IPv4-mapped IPv6 address reaches the IPv4 host it embeds.
	ip = ip.Unmap()
	for _, p := range g.allowed {
		if p.Contains(ip) {
			return true
		}
	}
	return isPublic(ip)
}

// isPublic is false for every address that names this host, a local
// network or no host at all.
func isPublic(ip netip.Addr) bool {
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() ||
		ip.IsLinkLocalUnicast() || ip.IsMulticast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
