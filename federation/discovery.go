package federation

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/warbler-im/warbler/mxcore"
)

// DefaultFederationPort is where a server name without port, delegation or
// SRV record is reached.
const DefaultFederationPort = 8448

// DNS is what discovery asks of the domain name system; *net.Resolver is
// one. Tests inject fakes so discovery runs without real DNS.
type DNS interface {
	LookupSRV(ctx context.Context, service, proto, name string) (cname string, addrs []*net.SRV, err error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// Target is one place to connect to: a DNS name or an IP address (IPv6
// without brackets) and a port.
type Target struct {
	Host string
	Port int
}

func (t Target) String() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// Resolved says how to reach a server, per the spec's server discovery.
type Resolved struct {
	ServerName string
	// HostHeader is the Host header requests carry.
	HostHeader string
	// CertName is what the server's certificate must be valid for, a DNS
	// name or an IP address; it is also the TLS SNI unless it is an IP.
	CertName string
	// Targets are the addresses to try, in order.
	Targets []Target
}

// Resolver turns server names into Resolved, caching .well-known answers
// (as the spec recommends) and SRV answers.
type Resolver struct {
	dns       DNS
	wellKnown *wellKnownResolver
	srv       *boundedCache[srvAnswer]
	srvFlight singleflight.Group
	now       func() time.Time
}

// srvAnswer is the targets of an SRV lookup; none when there is no record.
type srvAnswer []Target

const (
	srvCacheTTL      = 10 * time.Minute
	srvErrorCacheTTL = time.Minute
	srvLookupTimeout = 10 * time.Second
	resolverCacheMax = 10_000
)

// NewResolver builds a resolver. wellKnownHTTP fetches
// https://<name>/.well-known/matrix/server; it should refuse internal
// addresses (see NewClient) and need not follow redirects itself. now may
// be nil for the real clock.
func NewResolver(dns DNS, wellKnownHTTP *http.Client, now func() time.Time) *Resolver {
	if dns == nil {
		dns = net.DefaultResolver
	}
	if now == nil {
		now = time.Now
	}
	return &Resolver{
		dns:       dns,
		wellKnown: newWellKnownResolver(wellKnownHTTP, now),
		srv:       newBoundedCache[srvAnswer](resolverCacheMax),
		now:       now,
	}
}

// Resolve follows the spec's steps for a server name: an IP literal, an
// explicit port, /.well-known/matrix/server delegation, SRV records
// (_matrix-fed, then the deprecated _matrix), else port 8448.
func (r *Resolver) Resolve(ctx context.Context, serverName string) (Resolved, error) {
	host, port, err := mxcore.ParseServerName(serverName)
	if err != nil {
		return Resolved{}, fmt.Errorf("resolve %q: %w", serverName, err)
	}
	if ip, ok := ipLiteral(host); ok {
		return singleTarget(serverName, serverName, ip, port), nil
	}
	if port != 0 {
		return singleTarget(serverName, serverName, host, port), nil
	}
	if delegated, ok := r.wellKnown.lookup(ctx, host); ok {
		return r.resolveDelegated(ctx, serverName, delegated)
	}
	return r.resolveHostname(ctx, serverName, host), nil
}

// resolveDelegated applies the sub-steps of step 3 to a valid m.server.
func (r *Resolver) resolveDelegated(ctx context.Context, serverName, delegated string) (Resolved, error) {
	host, port, err := mxcore.ParseServerName(delegated)
	if err != nil {
		return Resolved{}, fmt.Errorf("delegated name %q: %w", delegated, err)
	}
	if ip, ok := ipLiteral(host); ok {
		return singleTarget(serverName, delegated, ip, port), nil
	}
	if port != 0 {
		return singleTarget(serverName, delegated, host, port), nil
	}
	return r.resolveHostname(ctx, serverName, host), nil
}

// singleTarget is a destination reached at one address: the Host header
// is the name as written (with its port, if any), the certificate is for
// the host, and no port means 8448.
func singleTarget(serverName, hostHeader, host string, port int) Resolved {
	if port == 0 {
		port = DefaultFederationPort
	}
	return Resolved{ServerName: serverName, HostHeader: hostHeader, CertName: host, Targets: []Target{{host, port}}}
}

// resolveHostname covers a DNS name without port (steps 3.3–3.5 for a
// delegated name, 4–6 for the server's own): SRV records, else port 8448.
// The Host header and certificate name stay hostname, whatever the SRV
// target, since DNS alone cannot prove a delegation.
func (r *Resolver) resolveHostname(ctx context.Context, serverName, hostname string) Resolved {
	res := singleTarget(serverName, hostname, hostname, DefaultFederationPort)
	for _, service := range []string{"matrix-fed", "matrix"} {
		if targets := r.lookupSRV(ctx, service, hostname); len(targets) > 0 {
			res.Targets = targets
			break
		}
	}
	return res
}

// lookupSRV returns the targets of _service._tcp.hostname in the order
// the resolver chose (priority, then weighted random), cached.
func (r *Resolver) lookupSRV(ctx context.Context, service, hostname string) []Target {
	key := service + " " + hostname
	if e, ok := r.srv.get(key); ok && r.now().Before(e.expires) {
		return e.value
	}
	v, _, _ := r.srvFlight.Do(key, func() (any, error) {
		// Detached from the first caller, as the answer is shared and cached.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), srvLookupTimeout)
		defer cancel()
		targets, err := r.querySRV(ctx, service, hostname)
		ttl := srvCacheTTL
		if err != nil && !isNotFound(err) {
			ttl = srvErrorCacheTTL // a DNS failure may pass soon
		}
		r.srv.put(key, targets, r.now().Add(ttl), r.now())
		return targets, nil
	})
	return v.(srvAnswer)
}

func (r *Resolver) querySRV(ctx context.Context, service, hostname string) (srvAnswer, error) {
	_, records, err := r.dns.LookupSRV(ctx, service, "tcp", hostname)
	if err != nil {
		return nil, err
	}
	var targets srvAnswer
	for _, rec := range records {
		target := strings.TrimSuffix(rec.Target, ".")
		// RFC 2782: a target of "." means the service is not offered.
		if target == "" {
			continue
		}
		targets = append(targets, Target{Host: target, Port: int(rec.Port)})
	}
	return targets, nil
}

func isNotFound(err error) bool {
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr) && dnsErr.IsNotFound
}

// ipLiteral reports whether host is an IP literal and returns the address
// without IPv6 brackets.
func ipLiteral(host string) (string, bool) {
	unbracketed := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if _, err := netip.ParseAddr(unbracketed); err != nil {
		return "", false
	}
	return unbracketed, true
}
