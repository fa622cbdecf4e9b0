package federation

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/warbler-im/warbler/internal/netguard"
)

// Outbound requests go to a Target but must verify the certificate for
// Resolved.CertName and send Resolved.HostHeader, three things a URL alone
// cannot say. The request URL's host therefore names a route: the
// certificate name, the host to dial and the port, hex-encoded under the
// reserved .invalid domain. The transport's own TLS dialer decodes it, so
// connections are pooled per route and never mixed between routes.
const routeSuffix = ".route.invalid"

// route is where and how one connection is made.
type route struct {
	certName string // name the certificate must be valid for (SNI unless an IP)
	dialHost string // DNS name or IP to connect to
	port     int
}

func (r route) urlHost() string {
	raw := r.certName + "\x00" + r.dialHost + "\x00" + strconv.Itoa(r.port)
	return hex.EncodeToString([]byte(raw)) + routeSuffix
}

func parseRouteHost(host string) (route, error) {
	encoded, ok := strings.CutSuffix(host, routeSuffix)
	raw, err := hex.DecodeString(encoded)
	parts := strings.Split(string(raw), "\x00")
	if !ok || err != nil || len(parts) != 3 {
		return route{}, fmt.Errorf("federation transport: %q is not a route", host)
	}
	port, err := strconv.Atoi(parts[2])
	if err != nil {
		return route{}, err
	}
	return route{certName: parts[0], dialHost: parts[1], port: port}, nil
}

// dialError marks a failure to connect or complete the TLS handshake,
// after which the next target may be tried without risk of a request
// having been delivered twice.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// routeDialer makes TLS connections for route URLs through the guard.
type routeDialer struct {
	dialer *netguard.Dialer
	tls    *tls.Config
}

func (d *routeDialer) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	rt, err := parseRouteHost(host)
	if err != nil {
		return nil, err
	}
	conn, err := d.dialer.DialContext(ctx, network, net.JoinHostPort(rt.dialHost, strconv.Itoa(rt.port)))
	if err != nil {
		return nil, &dialError{err}
	}
	cfg := d.tls.Clone()
	cfg.ServerName = rt.certName // crypto/tls sends no SNI for an IP address
	tlsConn := tls.Client(conn, cfg)
	if err := handshake(ctx, tlsConn); err != nil {
		conn.Close()
		return nil, &dialError{fmt.Errorf("TLS with %s: %w", rt.certName, err)}
	}
	return tlsConn, nil
}

const tlsHandshakeTimeout = 10 * time.Second

func handshake(ctx context.Context, conn *tls.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, tlsHandshakeTimeout)
	defer cancel()
	return conn.HandshakeContext(ctx)
}

// tlsConfig trusts the system roots plus the PEM file of extra CAs, if
// any, or nothing at all when verification is switched off.
func tlsConfig(trustedCAFile string, insecureSkipVerify bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecureSkipVerify}
	if trustedCAFile == "" {
		return cfg, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	pemData, err := os.ReadFile(trustedCAFile)
	if err != nil {
		return nil, fmt.Errorf("federation.trusted_ca_file: %w", err)
	}
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, errors.New("federation.trusted_ca_file: no PEM certificate found in " + trustedCAFile)
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// Transport limits shared by the federation and .well-known clients.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                  nil, // federation traffic goes straight to its destination
		MaxIdleConns:           512,
		MaxIdleConnsPerHost:    8,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    tlsHandshakeTimeout,
		ResponseHeaderTimeout:  2 * time.Minute,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// newRouteTransport serves the route URLs of federation requests.
func newRouteTransport(d *routeDialer) *http.Transport {
	t := newTransport()
	t.DialTLSContext = d.dialTLS
	return t
}

// newWellKnownClient fetches ordinary https URLs through the guard, for
// .well-known lookups and their redirects.
func newWellKnownClient(dialer *netguard.Dialer, cfg *tls.Config) *http.Client {
	t := newTransport()
	t.DialContext = dialer.DialContext
	t.TLSClientConfig = cfg
	return &http.Client{Transport: t}
}
