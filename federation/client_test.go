package federation

import (
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warbler-im/warbler/internal/netguard"
)

// TestClientSendsSignedRequestsPerDiscovery checks on the wire what each
// discovery outcome means: where the request goes, its Host header and
// SNI, and that an Authenticator accepts its signature.
func TestClientSendsSignedRequestsPerDiscovery(t *testing.T) {
	n := newFakeNet(t)
	rec := &recorder{}
	keys := staticKeys{"us.test " + exampleKeyID: specKey(t).Public().(ed25519.PublicKey)}
	// verifying is the server named name: it accepts what is signed for it.
	verifying := func(name string) http.Handler {
		return (&Authenticator{ServerName: name, Keys: keys}).Middleware(rec)
	}
	n.serve("203.0.113.1:8448", []string{"203.0.113.1"}, verifying("203.0.113.1"))
	n.host("named.test", "203.0.113.2")
	n.serve("203.0.113.2:8448", []string{"named.test"}, verifying("named.test"))
	n.delegate("delegating.test", "203.0.113.3", 200, `{"m.server":"srvhost.test"}`)
	n.srvRecord("matrix-fed", "srvhost.test", "backend.test.", 7000)
	n.host("backend.test", "203.0.113.4")
	n.serve("203.0.113.4:7000", []string{"srvhost.test"}, verifying("delegating.test"))
	cases := []struct {
		destination string
		want        seen
	}{
		{"203.0.113.1", seen{Host: "203.0.113.1", SNI: ""}}, // no SNI for an IP
		{"named.test", seen{Host: "named.test", SNI: "named.test"}},
		{"delegating.test", seen{Host: "srvhost.test", SNI: "srvhost.test"}},
	}
	c := n.client(t)
	for _, tc := range cases {
		t.Run(tc.destination, func(t *testing.T) {
			resp, err := c.Do(t.Context(), tc.destination, "PUT", "/_matrix/federation/v1/send/t1?q=a%2Fb", map[string]any{"pdus": []any{}})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != 200 || string(resp.Body) != `{"ok":true}` {
				t.Fatalf("response %d %s", resp.Status, resp.Body)
			}
			got := rec.last(t)
			if got.Host != tc.want.Host || got.SNI != tc.want.SNI || got.Path != "/_matrix/federation/v1/send/t1?q=a%2Fb" || got.Body != `{"pdus":[]}` {
				t.Errorf("server saw %+v, want Host %q SNI %q", got, tc.want.Host, tc.want.SNI)
			}
			x, err := ParseXMatrix(got.Authorization)
			if err != nil || x.Origin != "us.test" || x.Destination != tc.destination {
				t.Errorf("authorization %q: %v", got.Authorization, err)
			}
		})
	}
}

func TestClientVerifiesCertificates(t *testing.T) {
	n := newFakeNet(t)
	n.host("victim.test", "203.0.113.5")
	n.serve("203.0.113.5:8448", []string{"attacker.test"}, &recorder{})
	untrusted := newTestCA(t)
	n.host("selfsigned.test", "203.0.113.6")
	srv := httptest.NewUnstartedServer(&recorder{})
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{untrusted.issue(t, "selfsigned.test")}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	n.routes["203.0.113.6:8448"] = srv.Listener.Addr().String()

	c := n.client(t)
	for _, dest := range []string{"victim.test", "selfsigned.test"} {
		if _, err := c.DoUnauthenticated(t.Context(), dest, "GET", "/_matrix/federation/v1/version", nil); err == nil {
			t.Errorf("%s: a certificate not valid for it was accepted", dest)
		}
	}
	insecure := n.client(t, func(cfg *ClientConfig) { cfg.InsecureSkipVerify = true })
	if _, err := insecure.DoUnauthenticated(t.Context(), "selfsigned.test", "GET", "/_matrix/federation/v1/version", nil); err != nil {
		t.Errorf("insecure_skip_verify: %v", err)
	}
	noCA := n.client(t, func(cfg *ClientConfig) { cfg.TrustedCAFile = "" })
	if _, err := noCA.DoUnauthenticated(t.Context(), "203.0.113.5:8448", "GET", "/", nil); err == nil {
		t.Error("the test CA was trusted without trusted_ca_file")
	}
}

func TestClientRefusesInternalAddressesUnlessAllowed(t *testing.T) {
	n := newFakeNet(t)
	// A real server on loopback, reached over the real network.
	srv := httptest.NewUnstartedServer(&recorder{})
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{n.ca.issue(t, "internal.test", "127.0.0.1")}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	n.host("internal.test", "127.0.0.1")
	n.host("private.test", "10.1.2.3", "192.168.0.1")
	realNetwork := func(cfg *ClientConfig) { cfg.DialAddr = nil }
	closed := n.client(t, realNetwork)
	for _, dest := range []string{"internal.test:" + port, "127.0.0.1:" + port, "[::1]:" + port, "private.test:8448", "169.254.169.254"} {
		_, err := closed.DoUnauthenticated(t.Context(), dest, "GET", "/_matrix/key/v2/server", nil)
		if !errors.Is(err, netguard.ErrForbidden) {
			t.Errorf("%s: %v, want netguard.ErrForbidden", dest, err)
		}
	}
	open := n.client(t, realNetwork, func(cfg *ClientConfig) { cfg.AllowedNetworks = []string{"127.0.0.0/8"} })
	for _, dest := range []string{"internal.test:" + port, "127.0.0.1:" + port} {
		if resp, err := open.DoUnauthenticated(t.Context(), dest, "GET", "/_matrix/key/v2/server", nil); err != nil || resp.Status != 200 {
			t.Errorf("%s with 127.0.0.0/8 allowed: %v", dest, err)
		}
	}
	if _, err := open.DoUnauthenticated(t.Context(), "private.test:8448", "GET", "/", nil); !errors.Is(err, netguard.ErrForbidden) {
		t.Errorf("10/8 opened by allowing 127/8: %v", err)
	}
}

// TestClientTriesTheNextTargetOnlyWhenConnectingFails.
func TestClientTriesTheNextTargetOnlyWhenConnectingFails(t *testing.T) {
	n := newFakeNet(t)
	rec := &recorder{}
	n.srvRecord("matrix-fed", "multi.test", "dead.test.", 1)
	n.srvRecord("matrix-fed", "multi.test", "alive.test.", 2)
	n.host("dead.test", "203.0.113.7") // nothing listens there
	n.host("alive.test", "203.0.113.8")
	n.serve("203.0.113.8:2", []string{"multi.test"}, rec)
	c := n.client(t)
	if _, err := c.Do(t.Context(), "multi.test", "GET", "/_matrix/federation/v1/x", nil); err != nil {
		t.Fatal(err)
	}
	if rec.count() != 1 {
		t.Errorf("%d requests, want 1", rec.count())
	}
}

func TestClientReusesConnections(t *testing.T) {
	n := newFakeNet(t)
	n.host("reuse.test", "203.0.113.9")
	var conns atomic.Int32
	n.serveWith("203.0.113.9:8448", []string{"reuse.test"}, &recorder{}, func(srv *httptest.Server) {
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
	})
	c := n.client(t)
	for i := 0; i < 5; i++ {
		if _, err := c.Do(t.Context(), "reuse.test", "GET", "/_matrix/federation/v1/x", nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("%d connections for 5 sequential requests, want 1", got)
	}
}

func TestClientBoundsResponsesAndTime(t *testing.T) {
	n := newFakeNet(t)
	n.host("big.test", "203.0.113.10")
	n.serve("203.0.113.10:8448", []string{"big.test"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(strings.Repeat("x", 1000)))
	}))
	n.host("slow.test", "203.0.113.11")
	n.serve("203.0.113.11:8448", []string{"slow.test"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
			// Never answer a cancelled request: an empty 200 written as
			// the client gives up can race its cancellation.
			panic(http.ErrAbortHandler)
		}
	}))
	c := n.client(t, func(cfg *ClientConfig) {
		cfg.MaxResponseBytes = 999
		cfg.RequestTimeout = 200 * time.Millisecond
	})
	if _, err := c.Do(t.Context(), "big.test", "GET", "/", nil); !errors.Is(err, ErrResponseTooLarge) {
		t.Errorf("oversized response: %v", err)
	}
	start := time.Now()
	if _, err := c.Do(t.Context(), "slow.test", "GET", "/", nil); err == nil {
		t.Error("a request outlived its timeout")
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("timeout took %v", elapsed)
	}
}

func TestClientReportsRemoteErrorsAndDoesNotFollowRedirects(t *testing.T) {
	n := newFakeNet(t)
	n.host("err.test", "203.0.113.12")
	n.serve("203.0.113.12:8448", []string{"err.test"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "https://elsewhere.test/", http.StatusFound)
			return
		}
		w.WriteHeader(404)
		_, _ = w.Write([]byte(`{"errcode":"M_NOT_FOUND","error":"no such thing"}`))
	}))
	c := n.client(t)
	resp, err := c.Do(t.Context(), "err.test", "GET", "/missing", nil)
	if err != nil {
		t.Fatal(err)
	}
	var remote *RemoteError
	if !errors.As(resp.Err(), &remote) || remote.Status != 404 || remote.ErrCode != "M_NOT_FOUND" || remote.Message != "no such thing" {
		t.Errorf("Err() = %v", resp.Err())
	}
	resp, err = c.Do(t.Context(), "err.test", "GET", "/moved", nil)
	if err != nil || resp.Status != http.StatusFound {
		t.Errorf("redirect: %v %+v", err, resp)
	}
	if _, err := c.Do(t.Context(), "err.test", "GET", "no-slash", nil); err == nil {
		t.Error("a path without a leading slash was accepted")
	}
}

func TestNewClientChecksItsConfig(t *testing.T) {
	if _, err := NewClient(ClientConfig{AllowedNetworks: []string{"300.0.0.0/8"}}); err == nil {
		t.Error("bad allowed network accepted")
	}
	if _, err := NewClient(ClientConfig{TrustedCAFile: "/nonexistent/ca.pem"}); err == nil {
		t.Error("missing CA file accepted")
	}
	notPEM := t.TempDir() + "/ca.pem"
	_ = writeFile(notPEM, "hello")
	if _, err := NewClient(ClientConfig{TrustedCAFile: notPEM}); err == nil {
		t.Error("CA file without a certificate accepted")
	}
}

func TestRouteHostRoundTrips(t *testing.T) {
	for _, rt := range []route{{"example.org", "backend.example.org", 8448}, {"2001:db8::1", "2001:db8::1", 443}} {
		got, err := parseRouteHost(rt.urlHost())
		if err != nil || got != rt {
			t.Errorf("%+v: got %+v, %v", rt, got, err)
		}
	}
	for _, bad := range []string{"example.org", "zz" + routeSuffix, "61" + routeSuffix} {
		if _, err := parseRouteHost(bad); err == nil {
			t.Errorf("parseRouteHost(%q) succeeded", bad)
		}
	}
}
