package sytest

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestEventContext: the limit splits around the event, start and end
// continue in /messages, the state holds the room's state; unknown,
// misplaced and invisible events answer 404.
func TestEventContext(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, eve := newRoomUser(t, s, "alice"), newRoomUser(t, s, "eve")
		roomID := alice.createRoom(map[string]any{"name": "Context"})
		var ids []string
		for i := range 10 {
			ids = append(ids, alice.send(roomID, fmt.Sprint("t", i), fmt.Sprint("m", i)))
		}
		ctx := alice.ok("GET", roomPath(roomID, "/context/"+ids[5]+"?limit=4"), nil)
		ev, _ := ctx["event"].(map[string]any)
		if ev["event_id"] != ids[5] {
			t.Fatalf("event: %v", ev)
		}
		if b, a := eventBodies(ctx["events_before"]), eventBodies(ctx["events_after"]); fmt.Sprint(b, a) != "[m4 m3] [m6 m7]" {
			t.Errorf("events before %v, after %v", b, a)
		}
		if !hasStateType(ctx["state"], "m.room.create") || !hasStateType(ctx["state"], "m.room.name") {
			t.Errorf("state lacks the room's state: %v", ctx["state"])
		}
		if got := chunkBodies(messages(alice, roomID, "b", str(ctx, "start"), 1, messagesOnly)); fmt.Sprint(got) != "[m2]" {
			t.Errorf("backwards from start: %v", got)
		}
		if got := chunkBodies(messages(alice, roomID, "f", str(ctx, "end"), 1, messagesOnly)); fmt.Sprint(got) != "[m8]" {
			t.Errorf("forwards from end: %v", got)
		}
		zero := alice.ok("GET", roomPath(roomID, "/context/"+ids[0]+"?limit=0"), nil)
		if b, a := eventBodies(zero["events_before"]), eventBodies(zero["events_after"]); len(b)+len(a) != 0 || zero["event"] == nil {
			t.Errorf("limit=0: %v", zero)
		}
		checkContextErrors(t, s, alice, eve, roomID, ids[0])
	})
}

func checkContextErrors(t *testing.T, s *harness.Server, alice, eve roomUser, roomID, eventID string) {
	t.Helper()
	other := alice.createRoom(map[string]any{})
	alice.wantErr(alice.do("GET", roomPath(roomID, "/context/$nope:"+s.Name), nil), http.StatusNotFound, "M_NOT_FOUND")
	alice.wantErr(alice.do("GET", roomPath(other, "/context/"+eventID), nil), http.StatusNotFound, "M_NOT_FOUND")
	eve.wantErr(eve.do("GET", roomPath(roomID, "/context/"+eventID), nil), http.StatusNotFound, "M_NOT_FOUND")
	alice.wantErr(alice.do("GET", roomPath(roomID, "/context/"+eventID+"?limit=x"), nil), http.StatusBadRequest, "M_INVALID_PARAM")
	want(t, s.Do("GET", clientV3+roomPath(roomID, "/context/"+eventID), nil, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
}

func hasStateType(list any, typ string) bool {
	events, _ := list.([]any)
	for _, e := range events {
		if ev, _ := e.(map[string]any); ev["type"] == typ {
			return true
		}
	}
	return false
}
