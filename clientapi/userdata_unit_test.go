package clientapi

import (
	"context"
	"encoding/json"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/warbler-im/warbler/storage"
)

func TestReceiptThread(t *testing.T) {
	cases := []struct {
		raw, typ, want string
		ok             bool
	}{
		{"", "m.read", "", true},
		{`"main"`, "m.read", "main", true},
		{`"$root"`, "m.read.private", "$root", true},
		{`""`, "m.read", "", false},
		{`3`, "m.read", "", false},
		{`null`, "m.read", "", false},
		{`"elsewhere"`, "m.read", "", false},
		{`"main"`, "m.fully_read", "", false},
	}
	for _, tc := range cases {
		var raw *json.RawMessage
		if tc.raw != "" {
			r := json.RawMessage(tc.raw)
			raw = &r
		}
		got, err := receiptThread(raw, tc.typ)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("receiptThread(%s, %s) = %q, %v", tc.raw, tc.typ, got, err)
		}
	}
}

func TestCheckTagOrder(t *testing.T) {
	for body, ok := range map[string]bool{
		`{}`: true, `{"order":0}`: true, `{"order":1}`: true, `{"order":0.5,"x":1}`: true, `{"order":5e-01}`: true,
		`{"order":-0.1}`: false, `{"order":1.01}`: false, `{"order":"0.5"}`: false, `{"order":null}`: false,
	} {
		if err := checkTagOrder(json.RawMessage(body)); (err == nil) != ok {
			t.Errorf("checkTagOrder(%s): %v", body, err)
		}
	}
}

func TestPresenceContent(t *testing.T) {
	now := time.UnixMilli(1_000_000)
	cases := []struct {
		p      storage.Presence
		active any
		ago    any
	}{
		{storage.Presence{Presence: "online", LastActiveTS: now.UnixMilli() - 1000}, true, int64(1000)},
		{storage.Presence{Presence: "online", LastActiveTS: now.UnixMilli() - activeWindow.Milliseconds() - 1}, false, activeWindow.Milliseconds() + 1},
		{storage.Presence{Presence: "unavailable", LastActiveTS: now.UnixMilli()}, false, int64(0)},
		{storage.Presence{Presence: "offline"}, nil, nil},
	}
	for _, tc := range cases {
		c := presenceContent(tc.p, now)
		if c["presence"] != tc.p.Presence || c["currently_active"] != tc.active || c["last_active_ago"] != tc.ago {
			t.Errorf("presenceContent(%+v) = %v", tc.p, c)
		}
	}
}

func TestPresenceChangedSinceAcrossTheLogsEnd(t *testing.T) {
	s := &presenceStream{users: map[string]*presenceEntry{}}
	s.pos = 10
	s.log = []presenceChange{{"@a:x", 8}, {"@b:x", 9}, {"@a:x", 10}}
	if users, ok := s.changedSince(7, 10); !ok || len(users) != 2 {
		t.Errorf("changedSince(7) = %v %v, want a and b", users, ok)
	}
	if users, ok := s.changedSince(9, 10); !ok || len(users) != 1 || users[0] != "@a:x" {
		t.Errorf("changedSince(9) = %v %v", users, ok)
	}
	if _, ok := s.changedSince(3, 10); ok {
		t.Error("a position older than the log must read everything again")
	}
	if users, ok := s.changedSince(10, 10); !ok || len(users) != 0 {
		t.Errorf("nothing changed: %v %v", users, ok)
	}
}

// eduRecorder collects what the API hands to federation.
type eduRecorder struct {
	mu   sync.Mutex
	edus []EphemeralEDU
}

func (r *eduRecorder) record(_ any, edu EphemeralEDU) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.edus = append(r.edus, edu)
}

func (r *eduRecorder) types() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.edus {
		out = append(out, e.Type)
	}
	return out
}

func TestEphemeralEDUsForFederation(t *testing.T) {
	e := newUserDataEnv(t)
	rec := &eduRecorder{}
	e.api.OnEphemeral = func(ctx context.Context, edu EphemeralEDU) { rec.record(ctx, edu) }
	ev := e.message(e.room, e.bob, "hello")
	e.do("PUT", v3+"/rooms/"+e.room+"/typing/"+e.alice, map[string]any{"typing": true}, e.aliceToken).want(t, 200, "")
	e.do("POST", v3+"/rooms/"+e.room+"/receipt/m.read.private/"+ev, map[string]any{}, e.aliceToken).want(t, 200, "")
	e.do("POST", v3+"/rooms/"+e.room+"/receipt/m.read/"+ev, map[string]any{"thread_id": "main"}, e.aliceToken).want(t, 200, "")
	e.do("PUT", v3+"/presence/"+e.alice+"/status", map[string]any{"presence": "online"}, e.aliceToken).want(t, 200, "")
	got := rec.types()
	want := []string{"m.typing", "m.receipt", "m.presence"}
	if len(got) != len(want) {
		t.Fatalf("EDUs %v, want %v (a private receipt never leaves the server)", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("EDUs %v, want %v", got, want)
		}
	}
	var receipt map[string]map[string]map[string]struct {
		EventIDs []string       `json:"event_ids"`
		Data     map[string]any `json:"data"`
	}
	if err := json.Unmarshal(rec.edus[1].Content, &receipt); err != nil {
		t.Fatal(err)
	}
	r := receipt[e.room]["m.read"][e.alice]
	if len(r.EventIDs) != 1 || r.EventIDs[0] != ev || r.Data["thread_id"] != "main" || r.Data["ts"] == nil {
		t.Errorf("m.receipt EDU %s", rec.edus[1].Content)
	}
	var typing map[string]any
	_ = json.Unmarshal(rec.edus[0].Content, &typing)
	if typing["room_id"] != e.room || typing["user_id"] != e.alice || typing["typing"] != true {
		t.Errorf("m.typing EDU %v", typing)
	}
	var presence struct {
		Push []map[string]any `json:"push"`
	}
	_ = json.Unmarshal(rec.edus[2].Content, &presence)
	if len(presence.Push) != 1 || presence.Push[0]["user_id"] != e.alice || presence.Push[0]["presence"] != "online" {
		t.Errorf("m.presence EDU %s", rec.edus[2].Content)
	}
}

func TestRemoteReceiptsAndPresenceReachSync(t *testing.T) {
	e := newUserDataEnv(t)
	remote := "@zoe:remote.example"
	e.send(e.room, e.alice, "m.room.member", &remote, map[string]string{"membership": "invite"})
	ev := e.message(e.room, e.bob, "hello")
	if err := e.api.ReceiveReceipt(t.Context(), e.room, remote, ev, "", 1234); err != nil {
		t.Fatal(err)
	}
	if got := receiptUsers(e.sync(e.bobToken, nil), e.room, ev, "m.read"); len(got) != 1 || got[0] != remote {
		t.Errorf("remote receipt in sync: %v", got)
	}
	// Presence of a remote user reaches only those sharing a room; zoe is
	// only invited, so bob does not see it.
	if err := e.api.SetRemotePresence(t.Context(), storage.Presence{UserID: remote, Presence: "online"}); err != nil {
		t.Fatal(err)
	}
	if p := presenceOf(e.sync(e.bobToken, nil), remote); p != nil {
		t.Errorf("presence of a user sharing no joined room: %v", p)
	}
}

func TestPresenceGoesOfflineWhenSyncsStop(t *testing.T) {
	e := newUserDataEnv(t)
	e.api.userData.presence.offlineAfter = time.Second
	e.sync(e.bobToken, nil)
	since := e.sync(e.aliceToken, url.Values{"set_presence": {"offline"}}).str("next_batch")
	r := e.await(e.longPoll(e.alice, e.aliceToken, since))
	for p := presenceOf(r, e.bob); p == nil || p["presence"] != "offline"; p = presenceOf(r, e.bob) {
		r = e.await(e.longPoll(e.alice, e.aliceToken, r.str("next_batch")))
	}
}
