package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"time"

	"github.com/warbler-im/warbler/config"
)

// wrapTLS serves ln over TLS with the configured certificate, generating a
// self-signed one into data_dir first when none exists yet.
func wrapTLS(ln net.Listener, cfg config.Config) (net.Listener, error) {
	if err := ensureCertificate(cfg); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	return tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}), nil
}

func ensureCertificate(cfg config.Config) error {
	if _, err := os.Stat(cfg.TLS.CertFile); !errors.Is(err, os.ErrNotExist) {
		return nil
	}
	slog.Warn("generating a self-signed TLS certificate: other servers will not trust it unless told to",
		"cert_file", cfg.TLS.CertFile)
	certPEM, keyPEM, err := selfSignedCertificate(cfg.ServerName)
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfg.TLS.KeyFile, keyPEM, 0o600); err != nil {
		return err
	}
	return os.WriteFile(cfg.TLS.CertFile, certPEM, 0o644)
}

// selfSignedCertificate makes a one-year ECDSA certificate for the server
// name's host and the loopback names.
func selfSignedCertificate(serverName string) (certPEM, keyPEM []byte, err error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, nil, err
	}
	host := serverName
	if h, _, splitErr := net.SplitHostPort(serverName); splitErr == nil {
		host = h
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ip := net.ParseIP(host); ip != nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
	} else if host != "localhost" {
		tmpl.DNSNames = append(tmpl.DNSNames, host)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return certPEM, keyPEM, nil
}
