package federation

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testCA issues certificates for the fake servers of a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "federation test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a server certificate for names, each a DNS name or an IP.
func (ca *testCA) issue(t testing.TB, names ...string) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, name := range names {
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, name)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ca *testCA) file(t testing.TB) string {
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, ca.pem, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// fakeDNS answers A/AAAA and SRV queries from maps and counts them.
type fakeDNS struct {
	mu      sync.Mutex
	hosts   map[string][]string   // name → IPs
	srv     map[string][]*net.SRV // "_service._proto.name" → records
	queries map[string]int        // "srv _service._proto.name" / "ip name" → count
}

func newFakeDNS() *fakeDNS {
	return &fakeDNS{hosts: map[string][]string{}, srv: map[string][]*net.SRV{}, queries: map[string]int{}}
}

func (d *fakeDNS) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	key := "_" + service + "._" + proto + "." + name
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queries["srv "+key]++
	records, ok := d.srv[key]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: key, IsNotFound: true}
	}
	return key, records, nil
}

func (d *fakeDNS) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.queries["ip "+host]++
	ips, ok := d.hosts[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []net.IPAddr
	for _, ip := range ips {
		out = append(out, net.IPAddr{IP: net.ParseIP(ip)})
	}
	return out, nil
}

func (d *fakeDNS) count(query string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries[query]
}

// fakeNet is a little internet for one test: names in fakeDNS resolve to
// documentation addresses (public as far as the guard can tell), and
// dialling "ip:port" reaches the local test server exposed there.
type fakeNet struct {
	t      testing.TB
	ca     *testCA
	dns    *fakeDNS
	clock  *fakeClock
	mu     sync.Mutex
	routes map[string]string // "ip:port" → real listener address
}

func newFakeNet(t testing.TB) *fakeNet {
	return &fakeNet{t: t, ca: newTestCA(t), dns: newFakeDNS(), clock: newFakeClock(), routes: map[string]string{}}
}

// serve starts a TLS server with a certificate for certNames, reachable
// at addr ("ip:port").
func (n *fakeNet) serve(addr string, certNames []string, h http.Handler) *httptest.Server {
	n.t.Helper()
	return n.serveWith(addr, certNames, h, nil)
}

// serveWith is serve with a chance to configure the server before it starts.
func (n *fakeNet) serveWith(addr string, certNames []string, h http.Handler, configure func(*httptest.Server)) *httptest.Server {
	n.t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{n.ca.issue(n.t, certNames...)}}
	if configure != nil {
		configure(srv)
	}
	srv.StartTLS()
	n.t.Cleanup(srv.Close)
	n.mu.Lock()
	n.routes[addr] = srv.Listener.Addr().String()
	n.mu.Unlock()
	return srv
}

// host makes name resolve to ips.
func (n *fakeNet) host(name string, ips ...string) { n.dns.hosts[name] = ips }

// srvRecord publishes an SRV record, e.g. ("matrix-fed", "example.test",
// "backend.test.", 8448).
func (n *fakeNet) srvRecord(service, name, target string, port uint16) {
	key := "_" + service + "._tcp." + name
	n.dns.srv[key] = append(n.dns.srv[key], &net.SRV{Target: target, Port: port})
}

func (n *fakeNet) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	real, ok := n.routes[addr]
	n.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("dial %s: connection refused", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, real)
}

// client is a federation client of "us.test" in this network.
func (n *fakeNet) client(t testing.TB, change ...func(*ClientConfig)) *Client {
	t.Helper()
	cfg := ClientConfig{
		ServerName: "us.test", KeyID: exampleKeyID, PrivateKey: specKey(t),
		TrustedCAFile: n.ca.file(t), DNS: n.dns, DialAddr: n.dial, Now: n.clock.Now,
	}
	for _, c := range change {
		c(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// seen is what a fake server observed of a request.
type seen struct {
	Host, SNI, Path, Authorization, Body string
}

// recorder answers 200 {} and records each request.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := make([]byte, r.ContentLength)
	if r.ContentLength > 0 {
		_, _ = r.Body.Read(body)
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, seen{Host: r.Host, SNI: r.TLS.ServerName, Path: r.URL.RequestURI(), Authorization: r.Header.Get("Authorization"), Body: string(body)})
	rec.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"ok":true}`))
}

func (rec *recorder) last(t *testing.T) seen {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.reqs) == 0 {
		t.Fatal("the server saw no request")
	}
	return rec.reqs[len(rec.reqs)-1]
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

// wellKnown serves body (with headers) at /.well-known/matrix/server and
// counts the requests.
type wellKnown struct {
	mu      sync.Mutex
	status  int
	body    string
	headers map[string]string
	hits    int
}

func (wk *wellKnown) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	wk.hits++
	for k, v := range wk.headers {
		w.Header().Set(k, v)
	}
	if r.URL.Path != "/.well-known/matrix/server" {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(wk.status)
	_, _ = w.Write([]byte(wk.body))
}

func (wk *wellKnown) count() int {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	return wk.hits
}

func (wk *wellKnown) set(status int, body string) {
	wk.mu.Lock()
	defer wk.mu.Unlock()
	wk.status, wk.body = status, body
}

// delegate publishes a .well-known answer for hostname on ip:443.
func (n *fakeNet) delegate(hostname, ip string, status int, body string) *wellKnown {
	wk := &wellKnown{status: status, body: body}
	n.host(hostname, ip)
	n.serve(ip+":443", []string{hostname}, wk)
	return wk
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }
