package harness

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// The shared test CA: one per test process, trusted by every server
// started with Options.SharedCA and by FederationHTTPClient, so servers
// can verify each other's federation certificates as real deployments do.
var sharedCA struct {
	once sync.Once
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	err  error
}

func testCA() (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	sharedCA.once.Do(func() {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			sharedCA.err = err
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Warbler sytest CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			sharedCA.err = err
			return
		}
		sharedCA.cert, _ = x509.ParseCertificate(der)
		sharedCA.key = key
		sharedCA.pem = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	})
	return sharedCA.cert, sharedCA.key, sharedCA.pem, sharedCA.err
}

// writeSharedCAFiles puts the CA and a loopback certificate signed by it
// into dir and returns the settings that make a server use them: its TLS
// certificate, the CA as federation.trusted_ca_file, and loopback opened
// as an outbound destination, since every test server lives there.
func writeSharedCAFiles(t testing.TB, dir, host string) []string {
	t.Helper()
	_, _, caPEM, err := testCA()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := loopbackCertificate(net.ParseIP(host))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"federation-ca.pem": caPEM, "tls.crt": certPEM, "tls.key": keyPEM}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return []string{
		"WARBLER_TLS__CERT_FILE=" + filepath.Join(dir, "tls.crt"),
		"WARBLER_TLS__KEY_FILE=" + filepath.Join(dir, "tls.key"),
		"WARBLER_FEDERATION__TRUSTED_CA_FILE=" + filepath.Join(dir, "federation-ca.pem"),
		"WARBLER_FEDERATION__ALLOWED_NETWORKS=127.0.0.0/8",
	}
}

// loopbackCertificate issues a server certificate for 127.0.0.1, ::1,
// localhost and the server's own loopback address from the shared CA.
func loopbackCertificate(host net.IP) (certPEM, keyPEM []byte, err error) {
	caCert, caKey, _, err := testCA()
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, host}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}

// FederationHTTPClient trusts the shared test CA, for talking to the
// federation listeners of servers started with Options.SharedCA.
func FederationHTTPClient(t testing.TB) *http.Client {
	t.Helper()
	_, _, caPEM, err := testCA()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}},
	}
}
