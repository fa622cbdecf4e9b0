package clientapi

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/roomserver"
)

func (e *syncEnv) createUnnamedRoom(creator string, invite ...string) string {
	e.t.Helper()
	res, err := e.api.Rooms.CreateRoom(e.t.Context(), roomserver.CreateRoomOptions{Creator: creator, Invite: invite})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.RoomID
}

func summaryOf(t *testing.T, resp testResponse, roomID string) string {
	t.Helper()
	room := section(resp, "join", roomID)
	if room == nil {
		t.Fatalf("room %s not in rooms.join", roomID)
	}
	raw, _ := json.Marshal(room["summary"])
	return string(raw)
}

func TestSyncRoomSummary(t *testing.T) {
	e := newSyncEnv(t)
	unnamed := e.createUnnamedRoom(e.alice, e.bob)
	named := e.createRoom(e.alice, e.bob)

	initial := e.sync(e.aliceToken, nil)
	wantSummaries := []struct{ name, room, want string }{
		{"unnamed: heroes and counts", unnamed, `{"m.heroes":["` + e.bob + `"],"m.invited_member_count":1,"m.joined_member_count":1}`},
		{"named: counts only", named, `{"m.invited_member_count":1,"m.joined_member_count":1}`},
	}
	for _, tc := range wantSummaries {
		if got := summaryOf(t, initial, tc.room); got != tc.want {
			t.Errorf("%s: summary %s, want %s", tc.name, got, tc.want)
		}
	}

	// A message changes no member: the summary is left out.
	since := initial.str("next_batch")
	e.message(unnamed, e.alice, "hi")
	resp := e.sync(e.aliceToken, url.Values{"since": {since}})
	if got := summaryOf(t, resp, unnamed); got != `{}` {
		t.Errorf("after a message: summary %s, want {}", got)
	}

	// Bob joins: fresh counts.
	since = resp.str("next_batch")
	e.membership(unnamed, e.bob, "join")
	resp = e.sync(e.aliceToken, url.Values{"since": {since}})
	want := `{"m.heroes":["` + e.bob + `"],"m.invited_member_count":0,"m.joined_member_count":2}`
	if got := summaryOf(t, resp, unnamed); got != want {
		t.Errorf("after bob joined: summary %s, want %s", got, want)
	}
}

// TestSyncRoomSummaryLazyLoadsHeroes: with lazy-loaded members, the
// heroes' member events are in state even when they sent nothing.
func TestSyncRoomSummaryLazyLoadsHeroes(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createUnnamedRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	e.message(room, e.alice, "one")
	e.message(room, e.alice, "two")
	filter := `{"room":{"timeline":{"limit":1},"state":{"lazy_load_members":true}}}`
	resp := e.sync(e.aliceToken, url.Values{"filter": {filter}})
	joined := section(resp, "join", room)
	if !hasEvent(eventsAt(joined, "state"), "m.room.member", e.bob) {
		t.Errorf("bob, a hero, has no member event in state: %v", joined["state"])
	}
	if got := summaryOf(t, resp, room); got != `{"m.heroes":["`+e.bob+`"],"m.invited_member_count":0,"m.joined_member_count":2}` {
		t.Errorf("summary %s", got)
	}
}
