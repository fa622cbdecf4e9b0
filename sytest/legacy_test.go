package sytest

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestLegacySyncEndpoints drives the deprecated event stream and
// snapshots and /sync's use_state_after over HTTP: an /events long-poll
// of bob's returns alice's message; /initialSync and the room's
// initialSync show the room with its state and messages; /events with
// room_id peeks into a world-readable room and is refused for a private
// one; state_after carries a topic change that a timeline filter hides.
func TestLegacySyncEndpoints(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		roomID := alice.createRoom(map[string]any{"name": "Legacy", "invite": []string{bob.id}})
		bob.ok("POST", "/join/"+url.PathEscape(roomID), map[string]any{})

		checkEventsLongPoll(t, s, alice, bob, roomID)
		checkInitialSync(t, bob, roomID)
		checkPeek(t, alice, bob)
		checkStateAfter(t, alice, roomID)
	})
}

func checkEventsLongPoll(t *testing.T, s *harness.Server, alice, bob roomUser, roomID string) {
	t.Helper()
	from := str(bob.ok("GET", "/events?timeout=0", nil), "end")
	sent := make(chan error, 1)
	go func() {
		time.Sleep(300 * time.Millisecond) // let the poll start waiting
		sent <- sendRaw(s, alice, roomID, "legacy-1", "hello bob")
	}()
	resp := bob.ok("GET", "/events?timeout=25000&from="+url.QueryEscape(from), nil)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if got := chunkBodies(resp); len(got) != 1 || got[0] != "hello bob" {
		t.Fatalf("/events long-poll returned %v, want alice's message: %s", got, mustMarshal(resp))
	}
	if str(resp, "start") != from || str(resp, "end") == from {
		t.Errorf("tokens: start %q end %q from %q", str(resp, "start"), str(resp, "end"), from)
	}
	bob.wantErr(bob.do("GET", "/events?from=garbage", nil), http.StatusBadRequest, "M_INVALID_PARAM")
}

func checkInitialSync(t *testing.T, bob roomUser, roomID string) {
	t.Helper()
	resp := bob.ok("GET", "/initialSync?limit=5", nil)
	var room map[string]any
	rooms, _ := resp["rooms"].([]any)
	for _, r := range rooms {
		if m, _ := r.(map[string]any); m["room_id"] == roomID {
			room = m
		}
	}
	if room == nil || room["membership"] != "join" || str(resp, "end") == "" {
		t.Fatalf("/initialSync lacks the room: %s", mustMarshal(resp))
	}
	checkRoomInfo(t, "/initialSync", room)
	checkRoomInfo(t, "room initialSync", bob.ok("GET", roomPath(roomID, "/initialSync"), nil))
}

// checkRoomInfo: the room's name is in its state and alice's message in
// its messages.
func checkRoomInfo(t *testing.T, what string, room map[string]any) {
	t.Helper()
	named := false
	state, _ := room["state"].([]any)
	for _, e := range state {
		if ev, _ := e.(map[string]any); ev["type"] == "m.room.name" {
			named = true
		}
	}
	msgs, _ := room["messages"].(map[string]any)
	got := chunkBodies(msgs)
	if !named || len(got) == 0 || got[len(got)-1] != "hello bob" || str(msgs, "end") == "" {
		t.Errorf("%s: state has the name %v, messages %v: %s", what, named, got, mustMarshal(room))
	}
}

func checkPeek(t *testing.T, alice, bob roomUser) {
	t.Helper()
	open := alice.createRoom(map[string]any{"initial_state": []any{map[string]any{
		"type": "m.room.history_visibility", "state_key": "", "content": map[string]any{"history_visibility": "world_readable"},
	}}})
	private := alice.createRoom(map[string]any{})
	from := str(bob.ok("GET", "/events?timeout=0&room_id="+url.QueryEscape(open), nil), "end")
	alice.send(open, "peek-1", "anyone may read this")
	resp := bob.ok("GET", "/events?timeout=10000&room_id="+url.QueryEscape(open)+"&from="+url.QueryEscape(from), nil)
	if got := chunkBodies(resp); len(got) != 1 || got[0] != "anyone may read this" {
		t.Errorf("peek returned %v: %s", got, mustMarshal(resp))
	}
	bob.wantErr(bob.do("GET", "/events?room_id="+url.QueryEscape(private), nil), http.StatusForbidden, "M_FORBIDDEN")
	bob.wantErr(bob.do("GET", roomPath(private, "/initialSync"), nil), http.StatusForbidden, "M_FORBIDDEN")
}

func checkStateAfter(t *testing.T, alice roomUser, roomID string) {
	t.Helper()
	since := syncToken(t, alice.ok("GET", "/sync", nil))
	alice.send(roomID, "state-after-1", "before the topic")
	alice.ok("PUT", roomPath(roomID, "/state/m.room.topic/"), map[string]any{"topic": "hidden by the filter"})
	filter := url.QueryEscape(`{"room":{"timeline":{"types":["m.room.message"]}}}`)
	resp := alice.ok("GET", "/sync?use_state_after=true&filter="+filter+"&since="+url.QueryEscape(since), nil)
	room := syncRoom(resp, "join", roomID)
	after, _ := room["state_after"].(map[string]any)
	events, _ := after["events"].([]any)
	found := false
	for _, e := range events {
		if ev, _ := e.(map[string]any); ev["type"] == "m.room.topic" {
			found = true
		}
	}
	if _, has := room["state"]; !found || has {
		t.Errorf("state_after lacks the topic or state is present: %s", mustMarshal(room))
	}
}
