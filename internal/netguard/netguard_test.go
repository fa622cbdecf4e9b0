package netguard

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

func TestGuardRefusesInternalAddresses(t *testing.T) {
	g, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	refused := []string{
		"127.0.0.1", "127.1.2.3", "::1", // loopback
		"10.0.0.1", "172.16.5.4", "192.168.1.1", // RFC 1918
		"fc00::1", "fd12:3456::1", // unique local
		"169.254.169.254", "fe80::1", // link-local (cloud metadata lives here)
		"0.0.0.0", "::", // unspecified
		"224.0.0.1", "239.1.1.1", "ff02::1", "ff05::2", // multicast
		"100.64.0.1", "198.18.0.1", "255.255.255.255", "240.0.0.1", "0.1.2.3",
		"::ffff:127.0.0.1", "::ffff:10.1.1.1", // IPv4-mapped
		"64:ff9b:1::a00:1",
	}
	for _, s := range refused {
		if g.Permits(netip.MustParseAddr(s)) {
			t.Errorf("Permits(%s) = true, want false", s)
		}
	}
	for _, s := range []string{"8.8.8.8", "93.184.216.34", "2001:4860:4860::8888", "1.1.1.1"} {
		if !g.Permits(netip.MustParseAddr(s)) {
			t.Errorf("Permits(%s) = false, want true", s)
		}
	}
}

func TestAllowedNetworksOpenOnlyThemselves(t *testing.T) {
	g, err := New([]string{"127.0.0.0/8", "fd00:1::/64", "10.1.2.3/16"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"127.0.0.1", "127.9.9.9", "::ffff:127.0.0.1", "fd00:1::5", "10.1.200.1"} {
		if !g.Permits(netip.MustParseAddr(s)) {
			t.Errorf("Permits(%s) = false, want true", s)
		}
	}
	for _, s := range []string{"::1", "10.2.0.1", "fd00:2::1", "192.168.0.1"} {
		if g.Permits(netip.MustParseAddr(s)) {
			t.Errorf("Permits(%s) = true, want false", s)
		}
	}
	if _, err := New([]string{"10.0.0.0/33"}); err == nil {
		t.Error("New accepted a bad CIDR")
	}
}

// fakeDNS maps host names to addresses.
type fakeDNS map[string][]string

func (f fakeDNS) lookup(_ context.Context, host string) ([]net.IPAddr, error) {
	ips, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, s := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(s)})
	}
	return out, nil
}

func TestDialerChecksResolvedAddresses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go acceptAndClose(ln)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	dns := fakeDNS{
		"evil.example":  {"127.0.0.1"},
		"mixed.example": {"10.0.0.1", "127.0.0.1"},
		"meta.example":  {"169.254.169.254"},
	}
	closed := &Dialer{Guard: mustGuard(t), LookupIPAddr: dns.lookup}
	for _, addr := range []string{"evil.example:" + port, "127.0.0.1:" + port, "[::1]:" + port, "meta.example:80"} {
		if _, err := closed.DialContext(t.Context(), "tcp", addr); !errors.Is(err, ErrForbidden) {
			t.Errorf("DialContext(%s) = %v, want ErrForbidden", addr, err)
		}
	}
	open := &Dialer{Guard: mustGuard(t, "127.0.0.0/8"), LookupIPAddr: dns.lookup}
	for _, addr := range []string{"evil.example:" + port, "127.0.0.1:" + port, "mixed.example:" + port} {
		conn, err := open.DialContext(t.Context(), "tcp", addr)
		if err != nil {
			t.Errorf("DialContext(%s) with 127.0.0.0/8 allowed: %v", addr, err)
			continue
		}
		conn.Close()
	}
	if _, err := open.DialContext(t.Context(), "tcp", "nxdomain.example:1"); err == nil || errors.Is(err, ErrForbidden) {
		t.Errorf("unknown host: %v, want a lookup error", err)
	}
}

func mustGuard(t *testing.T, cidrs ...string) *Guard {
	t.Helper()
	g, err := New(cidrs)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func acceptAndClose(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}
