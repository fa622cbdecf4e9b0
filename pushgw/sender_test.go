package pushgw

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warbler-im/warbler/policy"
)

// gateway is an in-process push gateway that records the notifications
// it gets and answers with what answer says.
type gateway struct {
	srv *httptest.Server

	mu       sync.Mutex
	received []map[string]any
	answer   func(n int) (status int, body string) // n: 0-based request number
	got      chan struct{}
}

func newGateway(t *testing.T, answer func(n int) (int, string)) *gateway {
	g := &gateway{answer: answer, got: make(chan struct{}, 1000)}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/_matrix/push/v1/notify" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("gateway got %s %s (%s)", r.Method, r.URL.Path, r.Header.Get("Content-Type"))
		}
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("gateway got %q: %v", raw, err)
		}
		g.mu.Lock()
		n := len(g.received)
		g.received = append(g.received, body)
		g.mu.Unlock()
		status, resp := http.StatusOK, `{"rejected":[]}`
		if g.answer != nil {
			status, resp = g.answer(n)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, resp)
		g.got <- struct{}{}
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) url() string { return g.srv.URL + "/_matrix/push/v1/notify" }

func (g *gateway) requests() []map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]map[string]any(nil), g.received...)
}

// loopbackSender may reach the test gateway on 127.0.0.1.
func loopbackSender(t *testing.T, cfg Config) *Sender {
	t.Helper()
	cfg.AllowedNetworks = append(cfg.AllowedNetworks, "127.0.0.0/8")
	if cfg.RetryBase == 0 {
		cfg.RetryBase, cfg.RetryMax = time.Millisecond, 5*time.Millisecond
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// waitFor polls cond until it holds; the deadline only stops a broken
// test from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func target(url string) Target {
	return Target{UserID: "@alice:hs", AppID: "org.example.app", PushKey: "key1", URL: url, PushKeyTS: 1700000000,
		Data: json.RawMessage(`{"url":"` + url + `","extra":{"a":1}}`)}
}

func message() Notification {
	return Notification{
		EventID: "$ev", RoomID: "!room:hs", Type: "m.room.message", Sender: "@bob:hs", SenderDisplayName: "Bob",
		RoomName: "Lunch", RoomAlias: "#lunch:hs", Prio: "high", Content: json.RawMessage(`{"msgtype":"m.text","body":"hi"}`),
		Counts: Counts{Unread: 3}, Tweaks: map[string]json.RawMessage{"sound": json.RawMessage(`"default"`), "highlight": json.RawMessage(`true`)},
	}
}

func TestBodyFollowsTheNotifySchema(t *testing.T) {
	full := message()
	full.UserIsTarget = true
	tests := []struct {
		name       string
		n          Notification
		data       string
		wantKeys   []string
		wantAbsent []string
	}{
		{"full format", full, `{"url":"https://gw/_matrix/push/v1/notify","extra":{"a":1}}`,
			[]string{"event_id", "room_id", "type", "sender", "sender_display_name", "room_name", "room_alias", "user_is_target", "prio", "content", "counts", "devices"},
			nil},
		{"event_id_only", message(), `{"url":"https://gw/_matrix/push/v1/notify","format":"event_id_only"}`,
			[]string{"event_id", "room_id", "counts", "devices", "prio"},
			[]string{"type", "sender", "sender_display_name", "room_name", "room_alias", "content"}},
		{"badge only", Notification{Counts: Counts{Unread: 1}}, `{"url":"https://gw/_matrix/push/v1/notify"}`,
			[]string{"counts", "devices"}, []string{"event_id", "room_id", "content", "prio"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tg := Target{AppID: "app", PushKey: "pk", PushKeyTS: 42, Data: json.RawMessage(tc.data)}
			raw, err := Body(tc.n, tg)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Notification map[string]json.RawMessage `json:"notification"`
			}
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatal(err)
			}
			for _, k := range tc.wantKeys {
				if _, ok := body.Notification[k]; !ok {
					t.Errorf("%s missing in %s", k, raw)
				}
			}
			for _, k := range tc.wantAbsent {
				if _, ok := body.Notification[k]; ok {
					t.Errorf("%s present in %s", k, raw)
				}
			}
			var devices []map[string]any
			_ = json.Unmarshal(body.Notification["devices"], &devices)
			if len(devices) != 1 || devices[0]["app_id"] != "app" || devices[0]["pushkey"] != "pk" || devices[0]["pushkey_ts"] != float64(42) {
				t.Fatalf("devices %v", devices)
			}
			data, isObject := devices[0]["data"].(map[string]any)
			if _, hasURL := data["url"]; hasURL || !isObject {
				t.Errorf("data %v, want an object without url", devices[0]["data"])
			}
			if _, isObject := devices[0]["tweaks"].(map[string]any); !isObject {
				t.Errorf("tweaks %v, want an object", devices[0]["tweaks"])
			}
			if tc.name == "event_id_only" && data["format"] != "event_id_only" {
				t.Errorf("data lost format: %v", data)
			}
			if tc.name == "full format" {
				if extra, _ := data["extra"].(map[string]any); extra["a"] != float64(1) {
					t.Errorf("data not passed through: %v", data)
				}
				tweaks, _ := devices[0]["tweaks"].(map[string]any)
				if tweaks["sound"] != "default" || tweaks["highlight"] != true {
					t.Errorf("tweaks %v", tweaks)
				}
			}
		})
	}
}

func TestZeroCountsAreLeftOut(t *testing.T) {
	raw, _ := Body(Notification{EventID: "$e", RoomID: "!r"}, Target{AppID: "a", PushKey: "p"})
	if !strings.Contains(string(raw), `"counts":{}`) {
		t.Errorf("body %s", raw)
	}
}

func TestDeliversToTheGateway(t *testing.T) {
	g := newGateway(t, nil)
	s := loopbackSender(t, Config{})
	s.Enqueue(target(g.url()), message())
	<-g.got
	got := g.requests()[0]["notification"].(map[string]any)
	if got["event_id"] != "$ev" || got["sender_display_name"] != "Bob" || got["counts"].(map[string]any)["unread"] != float64(3) {
		t.Errorf("notification %v", got)
	}
	waitFor(t, "sent", func() bool { return s.Stats().Sent == 1 })
}

func TestRetriesAfterAServerError(t *testing.T) {
	g := newGateway(t, func(n int) (int, string) {
		if n < 2 {
			return http.StatusInternalServerError, `{}`
		}
		return http.StatusOK, `{"rejected":[]}`
	})
	s := loopbackSender(t, Config{})
	s.Enqueue(target(g.url()), message())
	waitFor(t, "delivery after two failures", func() bool { return s.Stats().Sent == 1 })
	if st := s.Stats(); st.Failed != 2 || len(g.requests()) != 3 {
		t.Errorf("stats %+v after %d requests", st, len(g.requests()))
	}
	for _, r := range g.requests() {
		if r["notification"].(map[string]any)["event_id"] != "$ev" {
			t.Errorf("retry sent %v", r)
		}
	}
}

func TestRejectedPushkeyRemovesThePusher(t *testing.T) {
	g := newGateway(t, func(int) (int, string) { return http.StatusOK, `{"rejected":["key1"]}` })
	removed := make(chan Target, 1)
	s := loopbackSender(t, Config{OnRejected: func(_ context.Context, tg Target) { removed <- tg }})
	s.Enqueue(target(g.url()), message())
	tg := <-removed
	if tg.UserID != "@alice:hs" || tg.AppID != "org.example.app" || tg.PushKey != "key1" {
		t.Errorf("removed %+v", tg)
	}
	if st := s.Stats(); st.Rejected != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestAnotherPushkeyRejectedKeepsThePusher(t *testing.T) {
	g := newGateway(t, func(int) (int, string) { return http.StatusOK, `{"rejected":["someone-else"]}` })
	s := loopbackSender(t, Config{OnRejected: func(context.Context, Target) { t.Error("pusher removed") }})
	s.Enqueue(target(g.url()), message())
	waitFor(t, "sent", func() bool { return s.Stats().Sent == 1 })
}

func TestHangingGatewayBlocksNoEnqueue(t *testing.T) {
	release := make(chan struct{})
	first := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(first) })
		select {
		case <-release:
		case <-r.Context().Done():
		}
		_, _ = io.WriteString(w, `{"rejected":[]}`)
	}))
	defer srv.Close()
	defer close(release)
	s := loopbackSender(t, Config{QueueSize: 5, Timeout: time.Minute})
	tg := target(srv.URL + "/_matrix/push/v1/notify")
	s.Enqueue(tg, message())
	<-first // the worker holds the first notification, the gateway holds the worker
	for range 5 + 7 {
		s.Enqueue(tg, message()) // must return although nothing can be sent
	}
	if st := s.Stats(); st.Dropped != 7 {
		t.Errorf("stats %+v, want 7 dropped from the full queue", st)
	}
	// Another pusher is not held up by the hanging one.
	g := newGateway(t, nil)
	other := target(g.url())
	other.PushKey = "key2"
	s.Enqueue(other, message())
	<-g.got
}

func TestInternalAddressesAreRefusedUnlessAllowed(t *testing.T) {
	g := newGateway(t, nil)
	s, err := New(Config{RetryBase: time.Millisecond, RetryMax: time.Millisecond, GiveUpAfter: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Enqueue(target(g.url()), message())
	waitFor(t, "given up", func() bool { return s.Stats().Dropped == 1 })
	if st := s.Stats(); st.Failed == 0 || st.Sent != 0 || len(g.requests()) != 0 {
		t.Errorf("stats %+v, %d requests reached the loopback gateway", st, len(g.requests()))
	}
}

type denyAll struct{}

func (denyAll) Decide(_ context.Context, in policy.Input) (policy.Decision, error) {
	if in.Action != policy.ActionPushNotify || in.Server == "" || in.RoomID != "!room:hs" || in.UserID != "@alice:hs" {
		return policy.Decision{}, nil
	}
	return policy.Decision{Allow: false, Reasons: []string{"no"}}, nil
}

func TestPolicyCanDenyDelivery(t *testing.T) {
	g := newGateway(t, nil)
	s := loopbackSender(t, Config{Policy: denyAll{}})
	s.Enqueue(target(g.url()), message())
	waitFor(t, "denied", func() bool { return s.Stats().Denied == 1 })
	if len(g.requests()) != 0 {
		t.Errorf("a denied notification reached the gateway")
	}
}

func TestOversizedAnswersAreNotReadWhole(t *testing.T) {
	big := `{"rejected":["` + strings.Repeat("x", 2*maxResponseBytes) + `","key1"]}`
	g := newGateway(t, func(int) (int, string) { return http.StatusOK, big })
	s := loopbackSender(t, Config{OnRejected: func(context.Context, Target) { t.Error("read past the bound") }})
	s.Enqueue(target(g.url()), message())
	waitFor(t, "sent", func() bool { return s.Stats().Sent == 1 })
}

func TestBackoffDoublesUpToTheCap(t *testing.T) {
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {3, 8 * time.Second}, {10, time.Minute}, {1000, time.Minute}} {
		if got := backoff(time.Second, time.Minute, tc.attempt); got != tc.want {
			t.Errorf("backoff(%d) = %v, want %v", tc.attempt, got, tc.want)
		}
	}
}
