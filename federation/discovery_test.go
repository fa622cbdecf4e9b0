package federation

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestResolveFollowsTheSpecSteps resolves one server name per step and
// sub-step of the spec's server discovery.
func TestResolveFollowsTheSpecSteps(t *testing.T) {
	n := newFakeNet(t)
	// Delegations by .well-known (step 3).
	n.delegate("delegated-port.test", "203.0.113.10", 200, `{"m.server":"target.test:9000"}`)
	n.delegate("delegated-srv.test", "203.0.113.11", 200, `{"m.server":"srvhost.test"}`)
	n.srvRecord("matrix-fed", "srvhost.test", "backend.test.", 7000)
	n.delegate("delegated-legacy.test", "203.0.113.12", 200, `{"m.server":"legacyhost.test"}`)
	n.srvRecord("matrix", "legacyhost.test", "backend2.test.", 7001)
	n.delegate("delegated-plain.test", "203.0.113.13", 200, `{"m.server":"plainhost.test"}`)
	n.delegate("delegated-ip.test", "203.0.113.14", 200, `{"m.server":"203.0.113.99:7002"}`)
	n.delegate("delegated-ipv6.test", "203.0.113.15", 200, `{"m.server":"[2001:db8::99]"}`)
	// No .well-known (steps 4–6): nothing listens on 443 for these.
	n.host("srv.test", "203.0.113.20")
	n.srvRecord("matrix-fed", "srv.test", "b1.test.", 1234)
	n.srvRecord("matrix-fed", "srv.test", "b2.test", 1235)
	n.srvRecord("matrix", "legacy.test", "old.test.", 2345)
	n.srvRecord("matrix-fed", "both.test", "new.test.", 3456)
	n.srvRecord("matrix", "both.test", "old.test.", 2345)
	n.srvRecord("matrix-fed", "dot.test", ".", 0) // "service not offered"
	// An explicit port must not consult .well-known, though this one exists.
	n.delegate("explicit.test", "203.0.113.30", 200, `{"m.server":"elsewhere.test:1"}`)

	cases := []struct {
		name string
		want Resolved
	}{
		{"203.0.113.1:8443", Resolved{"", "203.0.113.1:8443", "203.0.113.1", []Target{{"203.0.113.1", 8443}}}},
		{"203.0.113.1", Resolved{"", "203.0.113.1", "203.0.113.1", []Target{{"203.0.113.1", 8448}}}},
		{"[2001:db8::1]:8443", Resolved{"", "[2001:db8::1]:8443", "2001:db8::1", []Target{{"2001:db8::1", 8443}}}},
		{"[2001:db8::1]", Resolved{"", "[2001:db8::1]", "2001:db8::1", []Target{{"2001:db8::1", 8448}}}},
		{"explicit.test:8443", Resolved{"", "explicit.test:8443", "explicit.test", []Target{{"explicit.test", 8443}}}},
		{"delegated-port.test", Resolved{"", "target.test:9000", "target.test", []Target{{"target.test", 9000}}}},
		{"delegated-srv.test", Resolved{"", "srvhost.test", "srvhost.test", []Target{{"backend.test", 7000}}}},
		{"delegated-legacy.test", Resolved{"", "legacyhost.test", "legacyhost.test", []Target{{"backend2.test", 7001}}}},
		{"delegated-plain.test", Resolved{"", "plainhost.test", "plainhost.test", []Target{{"plainhost.test", 8448}}}},
		{"delegated-ip.test", Resolved{"", "203.0.113.99:7002", "203.0.113.99", []Target{{"203.0.113.99", 7002}}}},
		{"delegated-ipv6.test", Resolved{"", "[2001:db8::99]", "2001:db8::99", []Target{{"2001:db8::99", 8448}}}},
		{"srv.test", Resolved{"", "srv.test", "srv.test", []Target{{"b1.test", 1234}, {"b2.test", 1235}}}},
		{"legacy.test", Resolved{"", "legacy.test", "legacy.test", []Target{{"old.test", 2345}}}},
		{"both.test", Resolved{"", "both.test", "both.test", []Target{{"new.test", 3456}}}},
		{"dot.test", Resolved{"", "dot.test", "dot.test", []Target{{"dot.test", 8448}}}},
		{"plain.test", Resolved{"", "plain.test", "plain.test", []Target{{"plain.test", 8448}}}},
	}
	c := n.client(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.resolver.Resolve(t.Context(), tc.name)
			if err != nil {
				t.Fatal(err)
			}
			tc.want.ServerName = tc.name
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	if n.dns.count("srv _matrix-fed._tcp.explicit.test") != 0 {
		t.Error("SRV looked up for a name with an explicit port")
	}
	for _, bad := range []string{"", "bad name", "host:99999", "[::1"} {
		if _, err := c.resolver.Resolve(t.Context(), bad); err == nil {
			t.Errorf("Resolve(%q) succeeded", bad)
		}
	}
}

// TestWellKnownInvalidAnswersFallBack: every kind of unusable .well-known
// answer sends discovery on to SRV and port 8448.
func TestWellKnownInvalidAnswersFallBack(t *testing.T) {
	cases := []struct {
		name   string
		status int
		body   string
	}{
		{"not found", 404, `{"m.server":"x.test"}`},
		{"server error", 500, `{}`},
		{"not JSON", 200, `<html>`},
		{"no m.server", 200, `{"server":"x.test"}`},
		{"m.server not a string", 200, `{"m.server":42}`},
		{"m.server not a server name", 200, `{"m.server":"bad name:1"}`},
		{"too large", 200, `{"m.server":"x.test","pad":"` + strings.Repeat("x", wellKnownMaxBytes) + `"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newFakeNet(t)
			n.delegate("example.test", "203.0.113.40", tc.status, tc.body)
			got, err := n.client(t).resolver.Resolve(t.Context(), "example.test")
			want := Resolved{"example.test", "example.test", "example.test", []Target{{"example.test", 8448}}}
			if err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, %v; want the port 8448 fallback", got, err)
			}
		})
	}
}

func TestWellKnownRedirects(t *testing.T) {
	n := newFakeNet(t)
	n.host("moved.test", "203.0.113.50")
	n.serve("203.0.113.50:443", []string{"moved.test"}, http.RedirectHandler("https://elsewhere.test/wk.json", http.StatusFound))
	n.host("elsewhere.test", "203.0.113.51")
	n.serve("203.0.113.51:443", []string{"elsewhere.test"}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"m.server":"final.test:8000"}`))
	}))
	n.host("loop.test", "203.0.113.52")
	n.serve("203.0.113.52:443", []string{"loop.test"}, http.RedirectHandler("https://loop.test/.well-known/matrix/server", http.StatusMovedPermanently))
	n.host("downgrade.test", "203.0.113.53")
	n.serve("203.0.113.53:443", []string{"downgrade.test"}, http.RedirectHandler("http://elsewhere.test/wk.json", http.StatusFound))
	n.host("inward.test", "203.0.113.54")
	n.host("internal.test", "10.0.0.1")
	n.serve("203.0.113.54:443", []string{"inward.test"}, http.RedirectHandler("https://internal.test/wk.json", http.StatusFound))

	c := n.client(t)
	cases := map[string]string{
		"moved.test":     "final.test:8000", // followed
		"loop.test":      "loop.test",       // the loop is cut: fallback
		"downgrade.test": "downgrade.test",  // no redirect to plain http
		"inward.test":    "inward.test",     // no redirect to an internal address
	}
	for name, wantHost := range cases {
		got, err := c.resolver.Resolve(t.Context(), name)
		if err != nil || got.HostHeader != wantHost {
			t.Errorf("%s: got %+v, %v; want Host %s", name, got, err, wantHost)
		}
	}
}

func TestWellKnownCachingFollowsCacheControl(t *testing.T) {
	cases := []struct {
		name         string
		cacheControl string
		stillCached  time.Duration
		expired      time.Duration
	}{
		{"default 24h", "", 23 * time.Hour, 2 * time.Hour},
		{"max-age", "public, max-age=3600", 59 * time.Minute, 2 * time.Minute},
		{"max-age capped at 48h", "max-age=31536000", 47 * time.Hour, 2 * time.Hour},
		{"no-cache floored at 5 minutes", "no-cache", 4 * time.Minute, 2 * time.Minute},
		{"no-store wins over max-age", "max-age=86400, no-store", 4 * time.Minute, 2 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newFakeNet(t)
			wk := n.delegate("example.test", "203.0.113.60", 200, `{"m.server":"d.test:1"}`)
			wk.headers = map[string]string{"Cache-Control": tc.cacheControl}
			c := n.client(t)
			resolve := func() {
				if got, err := c.resolver.Resolve(t.Context(), "example.test"); err != nil || got.HostHeader != "d.test:1" {
					t.Fatalf("resolve: %+v, %v", got, err)
				}
			}
			resolve()
			n.clock.Advance(tc.stillCached)
			resolve()
			if wk.count() != 1 {
				t.Fatalf("%d fetches within the cache time, want 1", wk.count())
			}
			n.clock.Advance(tc.expired)
			resolve()
			if wk.count() != 2 {
				t.Fatalf("%d fetches after expiry, want 2", wk.count())
			}
		})
	}
}

// TestWellKnownErrorsAreCachedWithBackoff: a failing .well-known is asked
// again after 2, then 4, 8… minutes, at most hourly, and a success ends it.
func TestWellKnownErrorsAreCachedWithBackoff(t *testing.T) {
	n := newFakeNet(t)
	wk := n.delegate("example.test", "203.0.113.61", 503, `{}`)
	c := n.client(t)
	resolve := func() string {
		got, err := c.resolver.Resolve(t.Context(), "example.test")
		if err != nil {
			t.Fatal(err)
		}
		return got.HostHeader
	}
	resolve()
	for i, wait := range []time.Duration{2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 16 * time.Minute, 32 * time.Minute, time.Hour, time.Hour} {
		n.clock.Advance(wait - time.Second)
		resolve()
		if wk.count() != i+1 {
			t.Fatalf("failure %d: asked again before %v", i+1, wait)
		}
		n.clock.Advance(time.Second)
		resolve()
		if wk.count() != i+2 {
			t.Fatalf("failure %d: not asked again after %v", i+1, wait)
		}
	}
	wk.set(200, `{"m.server":"back.test:1"}`)
	n.clock.Advance(time.Hour)
	if got := resolve(); got != "back.test:1" {
		t.Errorf("after recovery: Host %s", got)
	}
}

func TestSRVAnswersAreCached(t *testing.T) {
	n := newFakeNet(t)
	n.srvRecord("matrix-fed", "srv.test", "b.test.", 1)
	c := n.client(t)
	for i := 0; i < 3; i++ {
		if _, err := c.resolver.Resolve(t.Context(), "srv.test"); err != nil {
			t.Fatal(err)
		}
	}
	if q := n.dns.count("srv _matrix-fed._tcp.srv.test"); q != 1 {
		t.Errorf("%d SRV queries, want 1", q)
	}
	n.clock.Advance(srvCacheTTL + time.Second)
	_, _ = c.resolver.Resolve(t.Context(), "srv.test")
	if q := n.dns.count("srv _matrix-fed._tcp.srv.test"); q != 2 {
		t.Errorf("%d SRV queries after expiry, want 2", q)
	}
}

func TestBoundedCacheEvicts(t *testing.T) {
	c := newBoundedCache[int](3)
	now := time.Unix(0, 0)
	c.put("a", 1, now.Add(time.Minute), now)
	c.put("b", 2, now.Add(3*time.Minute), now)
	c.put("c", 3, now.Add(2*time.Minute), now)
	c.put("d", 4, now.Add(4*time.Minute), now) // full: evicts the soonest to expire, a
	if _, ok := c.get("a"); ok {
		t.Error("a was not evicted")
	}
	later := now.Add(150 * time.Second) // c has expired
	c.put("e", 5, later.Add(time.Minute), later)
	if _, ok := c.get("c"); ok {
		t.Error("expired c was not evicted")
	}
	for _, k := range []string{"b", "d", "e"} {
		if _, ok := c.get(k); !ok {
			t.Errorf("%s was evicted", k)
		}
	}
}
