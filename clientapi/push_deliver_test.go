package clientapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/warbler-im/warbler/pushgw"
	"github.com/warbler-im/warbler/storage"
)

// testGateway is an in-process push gateway: each notification it gets
// goes to got; reject lists the pushkeys it answers as rejected.
type testGateway struct {
	srv    *httptest.Server
	got    chan map[string]any
	reject []string
	hold   chan struct{} // if set, requests wait for it to close
}

func newTestGateway(t *testing.T, reject ...string) *testGateway {
	g := &testGateway{got: make(chan map[string]any, 100), reject: reject}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.hold != nil {
			select {
			case <-g.hold:
			case <-r.Context().Done():
			}
		}
		raw, _ := io.ReadAll(r.Body)
		var body struct {
			Notification map[string]any `json:"notification"`
		}
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Errorf("gateway got %q", raw)
		}
		g.got <- body.Notification
		rejected, _ := json.Marshal(map[string]any{"rejected": append([]string{}, g.reject...)})
		_, _ = w.Write(rejected)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *testGateway) url() string { return g.srv.URL + "/_matrix/push/v1/notify" }

// next is the next notification the gateway got.
func (g *testGateway) next(t *testing.T) map[string]any {
	t.Helper()
	select {
	case n := <-g.got:
		return n
	case <-time.After(20 * time.Second):
		t.Fatal("the gateway got no notification")
		return nil
	}
}

// newPushGatewayEnv is a push env whose notifications go to gateways on
// loopback.
func newPushGatewayEnv(t *testing.T) *syncEnv {
	return newSyncEnvWith(t, func(a *API) {
		a.pushRuleStore = &memPushRules{rules: map[string][]byte{}}
		a.AllowHTTPGateways = true
		sender, err := pushgw.New(pushgw.Config{AllowedNetworks: []string{"127.0.0.0/8"}, RetryBase: time.Millisecond,
			RetryMax: 10 * time.Millisecond, OnRejected: func(ctx context.Context, tg pushgw.Target) {
				a.PusherRejected(ctx, tg.UserID, tg.AppID, tg.PushKey)
			}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sender.Close)
		a.Pushes = sender
	})
}

// setPusher sets a pusher. A pusher gets only events that arrive after
// it was set, and the test clock stands still: it moves on first, so the
// events before (a room's invite, say) are older than the pusher.
func (e *syncEnv) setPusher(token, pushKey string, data map[string]any) {
	e.t.Helper()
	e.clock.advance(time.Millisecond)
	p := map[string]any{"app_id": "im.app", "pushkey": pushKey, "kind": "http", "app_display_name": "App",
		"device_display_name": "Phone", "lang": "en", "data": data}
	e.do("POST", "/_matrix/client/v3/pushers/set", p, token).want(e.t, http.StatusOK, "")
}

// dmRoom is a two-member room bob made and alice joined.
func (e *syncEnv) dmRoom() string {
	room := e.createRoom(e.bob, e.alice)
	e.membership(room, e.alice, "join")
	return room
}

func TestPushGatewayGetsTheNotification(t *testing.T) {
	e := newPushGatewayEnv(t)
	g := newTestGateway(t)
	room := e.dmRoom()
	e.setPusher(e.aliceToken, "k1", map[string]any{"url": g.url(), "extra": "x"})
	e.message(room, e.alice, "my own message") // never pushed to alice
	evID := e.message(room, e.bob, "hello alice")
	n := g.next(t)
	checks := map[string]any{"event_id": evID, "room_id": room, "type": "m.room.message", "sender": e.bob,
		"room_name": "Test room", "prio": "high"}
	for k, want := range checks {
		if n[k] != want {
			t.Errorf("%s = %v, want %v", k, n[k], want)
		}
	}
	if c, _ := n["content"].(map[string]any); c["body"] != "hello alice" {
		t.Errorf("content %v", n["content"])
	}
	if c, _ := n["counts"].(map[string]any); c["unread"] != float64(1) {
		t.Errorf("counts %v", n["counts"])
	}
	devices, _ := n["devices"].([]any)
	if len(devices) != 1 {
		t.Fatalf("devices %v", n["devices"])
	}
	d := devices[0].(map[string]any)
	data, _ := d["data"].(map[string]any)
	tweaks, _ := d["tweaks"].(map[string]any)
	if d["app_id"] != "im.app" || d["pushkey"] != "k1" || d["pushkey_ts"] == nil || data["extra"] != "x" || data["url"] != nil {
		t.Errorf("device %v", d)
	}
	// .m.rule.room_one_to_one sets the sound tweak.
	if tweaks["sound"] != "default" {
		t.Errorf("tweaks %v", tweaks)
	}
}

func TestPushEventIDOnlyFormat(t *testing.T) {
	e := newPushGatewayEnv(t)
	g := newTestGateway(t)
	room := e.dmRoom()
	e.setPusher(e.aliceToken, "k1", map[string]any{"url": g.url(), "format": "event_id_only"})
	evID := e.message(room, e.bob, "secret")
	n := g.next(t)
	if n["event_id"] != evID || n["room_id"] != room || n["counts"] == nil || n["devices"] == nil {
		t.Errorf("notification %v", n)
	}
	for _, k := range []string{"content", "sender", "type", "room_name", "sender_display_name"} {
		if _, ok := n[k]; ok {
			t.Errorf("event_id_only carries %s: %v", k, n)
		}
	}
}

func TestPushHighlightTweakForMentions(t *testing.T) {
	e := newPushGatewayEnv(t)
	g := newTestGateway(t)
	room := e.dmRoom()
	e.setPusher(e.aliceToken, "k1", map[string]any{"url": g.url()})
	e.send(room, e.bob, "m.room.message", nil, map[string]any{"msgtype": "m.text", "body": "hey",
		"m.mentions": map[string]any{"user_ids": []string{e.alice}}})
	tweaks := g.next(t)["devices"].([]any)[0].(map[string]any)["tweaks"].(map[string]any)
	if tweaks["highlight"] != true {
		t.Errorf("tweaks %v", tweaks)
	}
}

func TestNoPushForMutedRooms(t *testing.T) {
	rules := []struct {
		name, path string
		rule       map[string]any
	}{
		{"room rule with no actions", "room/%s", map[string]any{"actions": []any{}}},
		{"override with dont_notify", "override/mute", map[string]any{"actions": []any{"dont_notify"},
			"conditions": []any{map[string]any{"kind": "event_match", "key": "room_id", "pattern": "%s"}}}},
	}
	for _, tc := range rules {
		t.Run(tc.name, func(t *testing.T) {
			e := newPushGatewayEnv(t)
			g := newTestGateway(t)
			muted, open := e.dmRoom(), e.dmRoom()
			raw, _ := json.Marshal(tc.rule)
			body := json.RawMessage(replaceRoom(string(raw), muted))
			e.do("PUT", "/_matrix/client/v3/pushrules/global/"+replaceRoom(tc.path, url.PathEscape(muted)), body, e.aliceToken).want(t, http.StatusOK, "")
			e.setPusher(e.aliceToken, "k1", map[string]any{"url": g.url()})
			e.message(muted, e.bob, "muted")
			want := e.message(open, e.bob, "not muted")
			// Notifications reach a pusher in order: a push for the muted
			// room would come first.
			if n := g.next(t); n["event_id"] != want {
				t.Errorf("first push %v, want the unmuted room's event", n)
			}
		})
	}
}

func replaceRoom(s, room string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		if i+1 < len(s) && s[i] == '%' && s[i+1] == 's' {
			out = append(out, room...)
			i++
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

func TestRejectedPushkeyDeletesThePusher(t *testing.T) {
	e := newPushGatewayEnv(t)
	g := newTestGateway(t, "k1")
	room := e.dmRoom()
	e.setPusher(e.aliceToken, "k1", map[string]any{"url": g.url()})
	e.message(room, e.bob, "hi")
	g.next(t)
	deadline := time.Now().Add(20 * time.Second)
	for {
		list := e.do("GET", "/_matrix/client/v3/pushers", nil, e.aliceToken).want(t, http.StatusOK, "").body["pushers"].([]any)
		if len(list) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("rejected pusher still listed: %v", list)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReadReceiptSendsABadgeUpdate(t *testing.T) {
	e := newPushGatewayEnv(t)
	g := newTestGateway(t)
	room := e.dmRoom()
	e.setPusher(e.aliceToken, "k1", map[string]any{"url": g.url()})
	evID := e.message(room, e.bob, "hi")
	if n := g.next(t); n["counts"].(map[string]any)["unread"] != float64(1) {
		t.Fatalf("push %v", n)
	}
	e.do("POST", "/_matrix/client/v3/rooms/"+room+"/receipt/m.read/"+evID, map[string]any{}, e.aliceToken).want(t, http.StatusOK, "")
	n := g.next(t)
	if _, ok := n["event_id"]; ok || len(n["counts"].(map[string]any)) != 0 || n["devices"] == nil {
		t.Errorf("badge update %v, want counts only, all zero", n)
	}
	// A private receipt that changes no count sends no second badge: the
	// next push is bob's next message.
	e.do("POST", "/_matrix/client/v3/rooms/"+room+"/receipt/m.read.private/"+evID, map[string]any{}, e.aliceToken).want(t, http.StatusOK, "")
	next := e.message(room, e.bob, "again")
	if n := g.next(t); n["event_id"] != next {
		t.Errorf("push %v, want bob's next message", n)
	}
}

func TestHangingGatewayDoesNotBlockSending(t *testing.T) {
	e := newPushGatewayEnv(t)
	g := newTestGateway(t)
	g.hold = make(chan struct{})
	defer close(g.hold)
	room := e.dmRoom()
	e.setPusher(e.aliceToken, "k1", map[string]any{"url": g.url()})
	// More messages than a pusher's queue holds; each send returns
	// although the gateway answers nothing.
	for i := range pushgw.DefaultQueueSize + 20 {
		e.message(room, e.bob, "message "+string(rune('a'+i%26)))
	}
	r := e.sync(e.aliceToken, nil)
	if n, _ := unread(r, room); n != float64(pushgw.DefaultQueueSize+20) {
		t.Errorf("unread %v", n)
	}
}

func TestPusherChangesReachDelivery(t *testing.T) {
	e := newPushGatewayEnv(t)
	ctx := t.Context()
	keys := func(user string) []string {
		var out []string
		for _, tg := range e.api.deliver.targets(ctx, user) {
			out = append(out, tg.PushKey)
		}
		return out
	}
	gw := map[string]any{"url": "http://127.0.0.1:1/_matrix/push/v1/notify"}
	e.setPusher(e.aliceToken, "k1", gw)
	if got := keys(e.alice); len(got) != 1 || got[0] != "k1" {
		t.Fatalf("alice's targets %v", got)
	}
	// The pushkey moves to bob (no append): alice's cached pusher goes.
	e.setPusher(e.bobToken, "k1", gw)
	if got := keys(e.alice); len(got) != 0 {
		t.Errorf("alice keeps a pushkey now bob's: %v", got)
	}
	if got := keys(e.bob); len(got) != 1 {
		t.Errorf("bob's targets %v", got)
	}
	e.do("POST", "/_matrix/client/v3/pushers/set", map[string]any{"app_id": "im.app", "pushkey": "k1", "kind": nil}, e.bobToken).want(t, http.StatusOK, "")
	if got := keys(e.bob); len(got) != 0 {
		t.Errorf("deleted pusher still a target: %v", got)
	}
	// Email pushers are stored but not delivered to.
	p := map[string]any{"app_id": "m.email", "pushkey": "a@example.org", "kind": "email", "app_display_name": "Mail",
		"device_display_name": "Mail", "lang": "en", "data": map[string]any{}}
	e.do("POST", "/_matrix/client/v3/pushers/set", p, e.aliceToken).want(t, http.StatusOK, "")
	if got := keys(e.alice); len(got) != 0 {
		t.Errorf("email pusher is a target: %v", got)
	}
}

func TestTweaksOfActions(t *testing.T) {
	tests := []struct {
		actions string
		want    map[string]string
	}{
		{`["notify"]`, nil},
		{`["notify",{"set_tweak":"sound","value":"default"},{"set_tweak":"highlight"}]`, map[string]string{"sound": `"default"`, "highlight": "true"}},
		{`["notify",{"set_tweak":"highlight","value":false}]`, map[string]string{"highlight": "false"}},
		{`["notify",{"set_tweak":"org.example.led","value":{"colour":"red"}}]`, map[string]string{"org.example.led": `{"colour":"red"}`}},
		{`["notify",{"set_tweak":7}]`, nil},
	}
	for _, tc := range tests {
		got := tweaksOf([]byte(tc.actions))
		if len(got) != len(tc.want) {
			t.Errorf("%s: %v, want %v", tc.actions, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if string(got[k]) != v {
				t.Errorf("%s: %s = %s, want %s", tc.actions, k, got[k], v)
			}
		}
	}
}

func TestEncryptedEventsArePushedAsCiphertext(t *testing.T) {
	e := newPushGatewayEnv(t)
	g := newTestGateway(t)
	room := e.dmRoom()
	e.setPusher(e.aliceToken, "k1", map[string]any{"url": g.url()})
	e.send(room, e.bob, "m.room.encrypted", nil, map[string]any{"algorithm": "m.megolm.v1.aes-sha2",
		"ciphertext": "AwgAEn...", "device_id": "BOBDEV", "sender_key": "abc", "session_id": "s1"})
	n := g.next(t)
	if c, _ := n["content"].(map[string]any); n["type"] != "m.room.encrypted" || c["ciphertext"] != "AwgAEn..." || n["prio"] != "high" {
		t.Errorf("notification %v", n)
	}
}

func TestValidGatewayURL(t *testing.T) {
	tests := []struct {
		url       string
		allowHTTP bool
		want      bool
	}{
		{"https://gw.example/_matrix/push/v1/notify", false, true},
		{"http://gw.example/_matrix/push/v1/notify", false, false},
		{"http://127.0.0.1:9/_matrix/push/v1/notify", true, true},
		{"https://gw.example/_matrix/push/v1/other", false, false},
		{"https://user:pw@gw.example/_matrix/push/v1/notify", false, false},
		{"ftp://gw.example/_matrix/push/v1/notify", true, false},
		{"/_matrix/push/v1/notify", true, false},
	}
	for _, tc := range tests {
		if got := validGatewayURL(tc.url, tc.allowHTTP); got != tc.want {
			t.Errorf("validGatewayURL(%q, %v) = %v, want %v", tc.url, tc.allowHTTP, got, tc.want)
		}
	}
}

// enqueued records what a deliverer hands to the gateway sender.
type enqueued struct {
	mu  sync.Mutex
	got []string // push keys
}

func (q *enqueued) Enqueue(t pushgw.Target, _ pushgw.Notification) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.got = append(q.got, t.PushKey)
}

// TestPusherGetsOnlyLaterEvents: a notification evaluated before a pusher
// was set (still queued when it was) does not go to it; one evaluated
// after does. (A queued invite reaching a pusher set after it made
// TestPushHighlightTweakForMentions flaky.)
func TestPusherGetsOnlyLaterEvents(t *testing.T) {
	e := newPushGatewayEnv(t)
	before := e.clock.now().UnixMilli()
	e.setPusher(e.aliceToken, "k1", map[string]any{"url": "http://127.0.0.1:1/_matrix/push/v1/notify"})
	q := &enqueued{}
	d := newPushDeliverer(e.api, q)
	job := func(ts int64) pushJob {
		return pushJob{roomID: "!r:x", ev: testPDU(t, "m.room.message", nil),
			actions: []storage.PushAction{{UserID: e.alice, RoomID: "!r:x", TS: ts, Actions: []byte(`["notify"]`)}}}
	}
	d.event(t.Context(), job(before))
	if len(q.got) != 0 {
		t.Fatalf("an event from before the pusher was pushed: %v", q.got)
	}
	d.event(t.Context(), job(e.clock.now().UnixMilli()))
	if !slices.Equal(q.got, []string{"k1"}) {
		t.Errorf("pushed %v, want the later event to k1", q.got)
	}
}
