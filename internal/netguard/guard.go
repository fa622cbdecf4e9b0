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

// blockedPrefixes are non-public ranges that the netip predicates do not
// already cover. Several can embed any IPv4 address (NAT64, 6to4, Teredo,
// IPv4-translated), so they could reach a private host through a gateway.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("2002::/16"),       // 6to4
	netip.MustParsePrefix("2001::/32"),       // Teredo
	netip.MustParsePrefix("100::/64"),        // discard
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
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
