package sytest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestPushGatewayGetsNotified: a pusher's owner is notified through her
// push gateway (Push Gateway API, POST /_matrix/push/v1/notify) when
// another user messages her, and not for her own messages.
func TestPushGatewayGetsNotified(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		got := make(chan map[string]any, 10)
		gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			raw, _ := io.ReadAll(r.Body)
			var body struct {
				Notification map[string]any `json:"notification"`
			}
			if r.Method != http.MethodPost || r.URL.Path != "/_matrix/push/v1/notify" || json.Unmarshal(raw, &body) != nil {
				t.Errorf("gateway got %s %s %q", r.Method, r.URL.Path, raw)
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"rejected":[]}`))
			got <- body.Notification
		}))
		defer gw.Close()
		s := accountServer(t, backend, "WARBLER_PUSH__ALLOWED_NETWORKS=127.0.0.1/32", "WARBLER_PUSH__ALLOW_HTTP_GATEWAYS=true")
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		alice.ok("POST", "/pushers/set", map[string]any{
			"kind": "http", "app_id": "im.example.app", "pushkey": "alice-phone", "app_display_name": "Example",
			"device_display_name": "Alice's phone", "lang": "en", "data": map[string]any{"url": gw.URL + "/_matrix/push/v1/notify"},
		})
		room := bob.createRoom(map[string]any{"name": "Lunch", "invite": []string{alice.id}})
		alice.ok("POST", roomPath(room, "/join"), map[string]any{})
		alice.send(room, "a1", "my own message")
		eventID := bob.send(room, "b1", "lunch at noon?")
		next := func() map[string]any {
			select {
			case n := <-got:
				return n
			case <-time.After(30 * time.Second):
				t.Fatal("the push gateway got no notification")
				return nil
			}
		}
		// The invite notifies her first (.m.rule.invite_for_me), and she
		// is its target.
		if n := next(); n["type"] != "m.room.member" || n["user_is_target"] != true || n["room_id"] != room {
			t.Errorf("invite notification %v", n)
		}
		// Pushes reach a gateway in order: one for alice's own message
		// would come before bob's.
		n := next()
		if n["event_id"] != eventID || n["room_id"] != room || n["sender"] != bob.id || n["room_name"] != "Lunch" {
			t.Errorf("notification %v", n)
		}
		if c, _ := n["content"].(map[string]any); c["body"] != "lunch at noon?" {
			t.Errorf("content %v", n["content"])
		}
		devices, _ := n["devices"].([]any)
		if len(devices) != 1 || devices[0].(map[string]any)["pushkey"] != "alice-phone" || devices[0].(map[string]any)["app_id"] != "im.example.app" {
			t.Errorf("devices %v", n["devices"])
		}
		if m := s.Do("GET", "/metrics", nil, ""); !strings.Contains(string(m.Body), "warbler_push_sent_total") {
			t.Errorf("/metrics has no push counters")
		}
	})
}
