package clientapi

import (
	"net/http"
	"net/url"
	"testing"
)

// topicOf returns the topic of the m.room.topic event in evs ("" if none).
func topicOf(evs []map[string]any) string {
	for _, ev := range evs {
		if ev["type"] == "m.room.topic" {
			c, _ := ev["content"].(map[string]any)
			s, _ := c["topic"].(string)
			return s
		}
	}
	return ""
}

// TestSyncStateAfter: with use_state_after, each room carries state_after
// (the state at the end of the timeline, including what a timeline filter
// hid) and no state; without it, state as before.
func TestSyncStateAfter(t *testing.T) {
	const messagesOnly = `{"room":{"timeline":{"limit":10,"types":["m.room.message"]}}}`
	const limitOne = `{"room":{"timeline":{"limit":1}}}`
	empty := ""
	tests := []struct {
		name        string
		incremental bool
		filter      string
		stateAfter  bool
		// wantTopic is the topic the room's state list must show ("" none);
		// wantCreate whether m.room.create is in it.
		wantTopic  string
		wantCreate bool
	}{
		{"initial, filtered: trailing topic change in state_after", false, messagesOnly, true, "after", true},
		{"incremental, filtered: hidden topic change in state_after", true, messagesOnly, true, "after", false},
		{"incremental, filtered, no flag: nothing in state", true, messagesOnly, false, "", false},
		{"incremental, limited: change before the timeline", true, limitOne, true, "after", false},
		{"incremental, unfiltered: timeline's state repeated", true, "", true, "after", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newSyncEnv(t)
			room := e.createRoom(e.alice)
			e.send(room, e.alice, "m.room.topic", &empty, map[string]string{"topic": "before"})
			params := url.Values{}
			if tc.incremental {
				params.Set("since", e.sync(e.aliceToken, nil).str("next_batch"))
			}
			e.message(room, e.alice, "shown")
			e.send(room, e.alice, "m.room.topic", &empty, map[string]string{"topic": "after"})
			if tc.filter == limitOne {
				e.message(room, e.alice, "last")
			}
			if tc.filter != "" {
				params.Set("filter", tc.filter)
			}
			if tc.stateAfter {
				params.Set("use_state_after", "true")
			}
			joined := section(e.sync(e.aliceToken, params), "join", room)
			key, other := "state", "state_after"
			if tc.stateAfter {
				key, other = other, key
			}
			if _, ok := joined[key]; !ok {
				t.Fatalf("room lacks %s: %v", key, joined)
			}
			if _, ok := joined[other]; ok {
				t.Errorf("room carries %s too", other)
			}
			state := eventsAt(joined, key)
			if got := topicOf(state); got != tc.wantTopic {
				t.Errorf("%s topic %q, want %q", key, got, tc.wantTopic)
			}
			if got := hasEvent(state, "m.room.create", ""); got != tc.wantCreate {
				t.Errorf("%s has m.room.create: %v, want %v", key, got, tc.wantCreate)
			}
		})
	}
}

// TestSyncStateAfterOnQuietRooms: a room that appears only for its
// ephemeral events still carries an empty state_after, which the spec
// requires when the client asked.
func TestSyncStateAfterOnQuietRooms(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice)
	next := e.sync(e.aliceToken, nil).str("next_batch")
	e.do("PUT", "/_matrix/client/v3/rooms/"+url.PathEscape(room)+"/typing/"+url.PathEscape(e.alice),
		map[string]any{"typing": true, "timeout": 30000}, e.aliceToken).want(t, http.StatusOK, "")
	joined := section(e.sync(e.aliceToken, url.Values{"since": {next}, "use_state_after": {"true"}}), "join", room)
	part, ok := joined["state_after"].(map[string]any)
	if !ok || part["events"] == nil {
		t.Fatalf("room lacks an empty state_after: %v", joined)
	}
	if _, ok := joined["state"]; ok {
		t.Error("room carries state too")
	}
}

func TestSyncStateAfterBadParameter(t *testing.T) {
	e := newSyncEnv(t)
	e.do("GET", "/_matrix/client/v3/sync?use_state_after=yes", nil, e.aliceToken).want(t, http.StatusBadRequest, "M_INVALID_PARAM")
}

// TestSyncStateAfterInLeftRooms: a room left since the token carries
// state_after up to the leave, the leave included.
func TestSyncStateAfterInLeftRooms(t *testing.T) {
	e := newSyncEnv(t)
	room := e.createRoom(e.alice, e.bob)
	e.membership(room, e.bob, "join")
	next := e.sync(e.bobToken, nil).str("next_batch")
	e.membership(room, e.bob, "leave")
	left := section(e.sync(e.bobToken, url.Values{"since": {next}, "use_state_after": {"true"}}), "leave", room)
	if _, ok := left["state"]; ok {
		t.Errorf("left room carries state: %v", left)
	}
	if after := eventsAt(left, "state_after"); !hasEvent(after, "m.room.member", e.bob) || hasEvent(after, "m.room.create", "") {
		t.Errorf("state_after %v, want bob's leave and nothing older", after)
	}
}
