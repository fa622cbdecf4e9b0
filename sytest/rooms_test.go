package sytest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestRoomLifecycle: alice creates a room and invites bob, bob joins, both
// talk, the state reads back, then kick, ban, unban and leave.
func TestRoomLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		roomID := alice.createRoom(map[string]any{
			"preset": "private_chat", "name": "Tea", "topic": "All about tea",
			"invite": []string{bob.id}, "is_direct": true,
			"initial_state":                []map[string]any{{"type": "org.example.flavour", "state_key": "", "content": map[string]any{"f": "earl grey"}}},
			"creation_content":             map[string]any{"m.federate": false},
			"power_level_content_override": map[string]any{"kick": 60},
		})
		if !containsValue(alice.joinedRooms(), roomID) || containsValue(bob.joinedRooms(), roomID) {
			t.Fatalf("joined_rooms after create: alice %v bob %v", alice.joinedRooms(), bob.joinedRooms())
		}
		checkCreatedState(t, alice, roomID, bob.id)

		bob.ok("POST", "/join/"+roomID, map[string]any{})
		if !containsValue(bob.joinedRooms(), roomID) {
			t.Fatal("bob's joined_rooms lacks the room after joining")
		}
		checkMessages(t, alice, bob, roomID)
		checkMembers(t, alice, roomID, bob.id)
		checkModeration(t, alice, bob, roomID)
	})
}

// checkCreatedState reads back what /createRoom wrote.
func checkCreatedState(t *testing.T, alice roomUser, roomID, bobID string) {
	t.Helper()
	if name := alice.ok("GET", roomPath(roomID, "/state/m.room.name"), nil); name["name"] != "Tea" {
		t.Errorf("name content: %v", name)
	}
	if topic := alice.ok("GET", roomPath(roomID, "/state/m.room.topic/"), nil); topic["topic"] != "All about tea" {
		t.Errorf("topic content: %v", topic)
	}
	if f := alice.ok("GET", roomPath(roomID, "/state/org.example.flavour/"), nil); f["f"] != "earl grey" {
		t.Errorf("initial_state content: %v", f)
	}
	inv := alice.ok("GET", roomPath(roomID, "/state/m.room.member/"+bobID)+"?format=event", nil)
	content, _ := inv["content"].(map[string]any)
	if inv["state_key"] != bobID || content["membership"] != "invite" || content["is_direct"] != true || inv["sender"] != alice.id {
		t.Errorf("invite event: %v", inv)
	}
	for _, key := range []string{"event_id", "origin_server_ts", "room_id", "unsigned"} {
		if _, ok := inv[key]; !ok {
			t.Errorf("format=event lacks %s: %v", key, inv)
		}
	}
	if _, leaked := inv["signatures"]; leaked {
		t.Errorf("client event shows federation fields: %v", inv)
	}
	create := alice.ok("GET", roomPath(roomID, "/state/m.room.create/"), nil)
	if create["m.federate"] != false || create["room_version"] == nil {
		t.Errorf("create content: %v", create)
	}
	if pl := alice.ok("GET", roomPath(roomID, "/state/m.room.power_levels/"), nil); pl["kick"] != float64(60) || pl["ban"] != float64(50) {
		t.Errorf("power_level_content_override not applied key by key: %v", pl)
	}
	state := alice.do("GET", roomPath(roomID, "/state"), nil)
	if state.Status != http.StatusOK || !strings.Contains(string(state.Body), `"m.room.power_levels"`) {
		t.Errorf("GET state: %d %s", state.Status, state.Body)
	}
}

// checkMessages: both send, a repeated txnId gives the same event, state
// is set and read back, and events read back by ID.
func checkMessages(t *testing.T, alice, bob roomUser, roomID string) {
	t.Helper()
	first := alice.send(roomID, "t1", "hello bob")
	if again := alice.send(roomID, "t1", "hello bob"); again != first {
		t.Errorf("repeated txnId gave %s, then %s", first, again)
	}
	if other := alice.send(roomID, "t2", "second"); other == first {
		t.Error("a new txnId reused the old event")
	}
	reply := bob.send(roomID, "t1", "hello alice") // same txnId, other user
	if reply == first {
		t.Error("bob's txnId t1 answered alice's event")
	}
	ev := bob.ok("GET", roomPath(roomID, "/event/"+first), nil)
	content, _ := ev["content"].(map[string]any)
	unsigned, _ := ev["unsigned"].(map[string]any)
	if ev["event_id"] != first || ev["sender"] != alice.id || content["body"] != "hello bob" || unsigned["age"] == nil {
		t.Errorf("event: %v", ev)
	}
	if _, ok := unsigned["transaction_id"]; ok {
		t.Errorf("transaction_id shown to another user: %v", ev)
	}
	own, _ := alice.ok("GET", roomPath(roomID, "/event/"+first), nil)["unsigned"].(map[string]any)
	if own["transaction_id"] != "t1" {
		t.Errorf("the sending device does not see its transaction_id: %v", own)
	}
	topic := alice.ok("PUT", roomPath(roomID, "/state/m.room.topic"), map[string]any{"topic": "Now about coffee"})
	if str(topic, "event_id") == "" {
		t.Errorf("state PUT: %v", topic)
	}
	alice.ok("PUT", roomPath(roomID, "/state/org.example.note/k1"), map[string]any{"v": 1})
	if got := bob.ok("GET", roomPath(roomID, "/state/m.room.topic"), nil); got["topic"] != "Now about coffee" {
		t.Errorf("topic after PUT: %v", got)
	}
	if got := bob.ok("GET", "/rooms/"+strings.ReplaceAll(roomID, "!", "%21")+"/state/org.example.note/k1", nil); got["v"] != float64(1) {
		t.Errorf("state with a state key: %v", got)
	}
	redaction := alice.ok("PUT", roomPath(roomID, "/redact/"+reply+"/r1"), map[string]any{"reason": "spoiler"})
	if again := alice.ok("PUT", roomPath(roomID, "/redact/"+reply+"/r1"), map[string]any{"reason": "spoiler"}); again["event_id"] != redaction["event_id"] {
		t.Errorf("repeated redaction txnId: %v then %v", redaction, again)
	}
	redacted := bob.ok("GET", roomPath(roomID, "/event/"+reply), nil)
	because, _ := redacted["unsigned"].(map[string]any)["redacted_because"].(map[string]any)
	if c, _ := redacted["content"].(map[string]any); len(c) != 0 || because["event_id"] != redaction["event_id"] {
		t.Errorf("redacted event: %v", redacted)
	}
}

// checkMembers exercises /members filters and /joined_members.
func checkMembers(t *testing.T, alice roomUser, roomID, bobID string) {
	t.Helper()
	all, _ := alice.ok("GET", roomPath(roomID, "/members"), nil)["chunk"].([]any)
	if len(all) != 2 {
		t.Errorf("members: %v", all)
	}
	joined, _ := alice.ok("GET", roomPath(roomID, "/members?membership=join"), nil)["chunk"].([]any)
	none, _ := alice.ok("GET", roomPath(roomID, "/members?not_membership=join"), nil)["chunk"].([]any)
	if len(joined) != 2 || len(none) != 0 {
		t.Errorf("filtered members: join %v, not join %v", joined, none)
	}
	jm, _ := alice.ok("GET", roomPath(roomID, "/joined_members"), nil)["joined"].(map[string]any)
	if _, ok := jm[bobID]; !ok || len(jm) != 2 {
		t.Errorf("joined_members: %v", jm)
	}
}

// checkModeration: kick, ban, unban, re-invite, leave.
func checkModeration(t *testing.T, alice, bob roomUser, roomID string) {
	t.Helper()
	alice.ok("POST", roomPath(roomID, "/kick"), map[string]any{"user_id": bob.id, "reason": "tidy"})
	bob.wantErr(bob.do("PUT", roomPath(roomID, "/send/m.room.message/k"), map[string]any{"body": "x"}), http.StatusForbidden, "M_FORBIDDEN")
	if left, _ := alice.ok("GET", roomPath(roomID, "/members?membership=leave"), nil)["chunk"].([]any); len(left) != 1 {
		t.Errorf("members after kick: %v", left)
	}
	// A former member still reads the state as it was when they left.
	if st := bob.do("GET", roomPath(roomID, "/state"), nil); st.Status != http.StatusOK {
		t.Errorf("former member reading state: %d %s", st.Status, st.Body)
	}
	alice.ok("POST", roomPath(roomID, "/ban"), map[string]any{"user_id": bob.id})
	alice.wantErr(alice.do("POST", roomPath(roomID, "/invite"), map[string]any{"user_id": bob.id}), http.StatusForbidden, "M_FORBIDDEN")
	bob.wantErr(bob.do("POST", roomPath(roomID, "/join"), nil), http.StatusForbidden, "M_FORBIDDEN")
	alice.ok("POST", roomPath(roomID, "/unban"), map[string]any{"user_id": bob.id})
	alice.ok("POST", roomPath(roomID, "/invite"), map[string]any{"user_id": bob.id})
	bob.ok("POST", roomPath(roomID, "/join"), nil)
	bob.ok("POST", roomPath(roomID, "/leave"), map[string]any{})
	if containsValue(bob.joinedRooms(), roomID) {
		t.Error("room still in bob's joined_rooms after leaving")
	}
}
