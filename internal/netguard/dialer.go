package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// ErrForbidden reports that every address of a destination is one the
// guard refuses.
var ErrForbidden = errors.New("netguard: destination address not allowed")

// Dialer opens TCP connections only to addresses its Guard permits.
type Dialer struct {
	Guard *Guard
	// LookupIPAddr resolves host names; nil uses the system resolver.
	// Tests inject a fake one.
	LookupIPAddr func(ctx context.Context, host string) ([]net.IPAddr, error)
	// DialAddr connects to a checked "ip:port"; nil uses a net.Dialer with
	// Timeout. Tests may route addresses to local listeners.
	DialAddr func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds each connection attempt; 0 means 10 seconds.
	Timeout time.Duration
}

// DialContext resolves addr's host, drops the addresses the guard refuses
// and tries the rest in order. Since it connects to the very address it
// checked, a name cannot be re-resolved to a forbidden one in between.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := d.resolve(ctx, host)
	if err != nil {
		return nil, err
	}
	permitted := d.permitted(ips)
	if len(permitted) == 0 {
		return nil, fmt.Errorf("%w: %s resolves only to %v", ErrForbidden, host, ips)
	}
	var errs []error
	for _, ip := range permitted {
		conn, err := d.dial(ctx, network, net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// resolve returns the addresses of host, which may already be an IP literal.
func (d *Dialer) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	lookup := d.LookupIPAddr
	if lookup == nil {
		lookup = net.DefaultResolver.LookupIPAddr
	}
	addrs, err := lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	ips := make([]netip.Addr, 0, len(addrs))
	for _, a := range addrs {
		// A zone only makes sense for link-local addresses, which are
		// refused anyway; drop it so the address compares plainly.
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			ips = append(ips, ip.Unmap())
		}
	}
	return ips, nil
}

func (d *Dialer) permitted(ips []netip.Addr) []netip.Addr {
	guard := d.Guard
	if guard == nil {
		guard = &Guard{}
	}
	var ok []netip.Addr
	for _, ip := range ips {
		if guard.Permits(ip) {
			ok = append(ok, ip)
		}
	}
	return ok
}

func (d *Dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	if d.DialAddr != nil {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return d.DialAddr(ctx, network, addr)
	}
	nd := net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	return nd.DialContext(ctx, network, addr)
}
