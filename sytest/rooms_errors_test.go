package sytest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestRoomEndpointsNeedAToken: every room endpoint answers 401 without a
// token or with a wrong one.
func TestRoomEndpointsNeedAToken(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		room := roomPath("!nowhere:"+s.Name, "")
		endpoints := []struct{ method, path string }{
			{"POST", "/createRoom"}, {"GET", "/joined_rooms"}, {"POST", "/join/!x:" + s.Name},
			{"PUT", room + "/send/m.room.message/t"}, {"PUT", room + "/state/m.room.topic"},
			{"PUT", room + "/state/m.room.topic/k"}, {"PUT", room + "/redact/$e/t"},
			{"GET", room + "/state"}, {"GET", room + "/state/m.room.topic/"}, {"GET", room + "/event/$e"},
			{"GET", room + "/members"}, {"GET", room + "/joined_members"}, {"POST", room + "/join"},
			{"POST", room + "/invite"}, {"POST", room + "/leave"}, {"POST", room + "/kick"},
			{"POST", room + "/ban"}, {"POST", room + "/unban"},
		}
		for _, e := range endpoints {
			want(t, s.Do(e.method, clientV3+e.path, map[string]any{}, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
			want(t, s.Do(e.method, clientV3+e.path, map[string]any{}, "not-a-token"), http.StatusUnauthorized, "M_UNKNOWN_TOKEN")
		}
	})
}

// TestRoomErrors: bad bodies, unknown rooms, non-members and power levels.
func TestRoomErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob, eve := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob"), newRoomUser(t, s, "eve")
		checkCreateRoomErrors(t, alice)
		roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
		checkNonMemberErrors(t, eve, roomID, alice.send(roomID, "a1", "hi"))
		bob.ok("POST", roomPath(roomID, "/join"), nil)
		checkPowerLevelErrors(t, bob, roomID, alice.id, alice.send(roomID, "a2", "mine"))
		checkUnknownRoomErrors(t, alice, "!unknown:"+s.Name)
	})
}

func checkCreateRoomErrors(t *testing.T, alice roomUser) {
	t.Helper()
	alice.wantErr(alice.do("POST", "/createRoom", []byte("{not json")), http.StatusBadRequest, "M_NOT_JSON")
	alice.wantErr(alice.do("POST", "/createRoom", map[string]any{"room_version": "999"}), http.StatusBadRequest, "M_UNSUPPORTED_ROOM_VERSION")
	alice.wantErr(alice.do("POST", "/createRoom", map[string]any{"room_alias_name": "te:a"}), http.StatusBadRequest, "M_INVALID_PARAM")
	alice.wantErr(alice.do("POST", "/createRoom", map[string]any{"preset": "party"}), http.StatusBadRequest, "M_INVALID_PARAM")
	alice.wantErr(alice.do("POST", "/createRoom", map[string]any{"invite": []string{"not-a-user"}}), http.StatusBadRequest, "M_INVALID_PARAM")
	create := []map[string]any{{"type": "m.room.create", "content": map[string]any{}}}
	alice.wantErr(alice.do("POST", "/createRoom", map[string]any{"initial_state": create}), http.StatusBadRequest, "M_INVALID_ROOM_STATE")
	if rooms := alice.joinedRooms(); len(rooms) != 0 {
		t.Errorf("failed creations left rooms behind: %v", rooms)
	}
	v10 := alice.createRoom(map[string]any{"room_version": "10"})
	if c := alice.ok("GET", roomPath(v10, "/state/m.room.create/"), nil); c["room_version"] != "10" || c["creator"] != alice.id {
		t.Errorf("room_version 10 create content: %v", c)
	}
	// Before v11 a redaction's target is a top-level key.
	msg := alice.send(v10, "v10", "old style")
	red := str(alice.ok("PUT", roomPath(v10, "/redact/"+msg+"/v10r"), map[string]any{}), "event_id")
	if ev := alice.ok("GET", roomPath(v10, "/event/"+red), nil); ev["redacts"] != msg {
		t.Errorf("v10 redaction: %v", ev)
	}
}

// checkNonMemberErrors: eve, not in the room, may neither write nor read.
func checkNonMemberErrors(t *testing.T, eve roomUser, roomID, eventID string) {
	t.Helper()
	forbidden := []struct {
		method, path string
		body         any
	}{
		{"PUT", "/send/m.room.message/e1", map[string]any{"body": "x"}},
		{"PUT", "/state/m.room.topic", map[string]any{"topic": "x"}},
		{"PUT", "/redact/" + eventID + "/e2", map[string]any{}},
		{"GET", "/state", nil}, {"GET", "/state/m.room.create/", nil},
		{"GET", "/members", nil}, {"GET", "/joined_members", nil},
		{"POST", "/leave", map[string]any{}},
		{"POST", "/invite", map[string]any{"user_id": eve.id}},
	}
	for _, f := range forbidden {
		wantRoomErr(t, f.method+" "+f.path, eve.do(f.method, roomPath(roomID, f.path), f.body), http.StatusForbidden, "M_FORBIDDEN")
	}
	eve.wantErr(eve.do("GET", roomPath(roomID, "/event/"+eventID), nil), http.StatusNotFound, "M_NOT_FOUND")
	eve.wantErr(eve.do("PUT", roomPath(roomID, "/send/m.room.message/e3"), []byte("[1]")), http.StatusBadRequest, "M_NOT_JSON")
}

// checkPowerLevelErrors: bob, a member at level 0, may talk but not
// moderate or change guarded state.
func checkPowerLevelErrors(t *testing.T, bob roomUser, roomID, aliceID, aliceEvent string) {
	t.Helper()
	forbidden := []struct{ method, path string }{
		{"PUT", "/state/m.room.name"}, {"PUT", "/state/m.room.power_levels/"},
		{"POST", "/kick"}, {"POST", "/ban"}, {"POST", "/unban"},
		{"PUT", "/redact/" + aliceEvent + "/b1"},
	}
	body := map[string]any{"user_id": aliceID, "name": "x"}
	for _, f := range forbidden {
		wantRoomErr(t, f.method+" "+f.path, bob.do(f.method, roomPath(roomID, f.path), body), http.StatusForbidden, "M_FORBIDDEN")
	}
	bob.wantErr(bob.do("PUT", roomPath(roomID, "/state/m.room.member/"+aliceID), map[string]any{"membership": "leave"}), http.StatusForbidden, "M_FORBIDDEN")
	bob.wantErr(bob.do("PUT", roomPath(roomID, "/send/m.room.message/b2"), []byte("{")), http.StatusBadRequest, "M_NOT_JSON")
	bob.wantErr(bob.do("PUT", roomPath(roomID, "/state/m.room.topic"), []byte("nope")), http.StatusBadRequest, "M_NOT_JSON")
	bob.wantErr(bob.do("POST", roomPath(roomID, "/kick"), map[string]any{}), http.StatusBadRequest, "M_MISSING_PARAM")
	huge := map[string]any{"body": strings.Repeat("x", 70000)}
	bob.wantErr(bob.do("PUT", roomPath(roomID, "/send/m.room.message/b5"), huge), http.StatusRequestEntityTooLarge, "M_TOO_LARGE")
	bob.wantErr(bob.do("GET", roomPath(roomID, "/state/org.example.absent/"), nil), http.StatusNotFound, "M_NOT_FOUND")
	bob.wantErr(bob.do("PUT", roomPath(roomID, "/state/m.room.canonical_alias"), map[string]any{"alias": "#tea:example.org"}), http.StatusBadRequest, "M_BAD_ALIAS")
	bob.wantErr(bob.do("PUT", roomPath(roomID, "/state/m.room.canonical_alias"), map[string]any{"alt_aliases": []string{"tea"}}), http.StatusBadRequest, "M_INVALID_PARAM")
	bob.wantErr(bob.do("GET", roomPath(roomID, "/event/$doesnotexist"), nil), http.StatusNotFound, "M_NOT_FOUND")
	// Redacting one's own event needs no power.
	mine := bob.send(roomID, "b3", "oops")
	bob.ok("PUT", roomPath(roomID, "/redact/"+mine+"/b4"), map[string]any{})
}

// checkUnknownRoomErrors: a room this server does not know.
func checkUnknownRoomErrors(t *testing.T, alice roomUser, roomID string) {
	t.Helper()
	alice.wantErr(alice.do("PUT", roomPath(roomID, "/send/m.room.message/u1"), map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
	alice.wantErr(alice.do("PUT", roomPath(roomID, "/state/m.room.topic"), map[string]any{}), http.StatusForbidden, "M_FORBIDDEN")
	alice.wantErr(alice.do("GET", roomPath(roomID, "/state"), nil), http.StatusForbidden, "M_FORBIDDEN")
	alice.wantErr(alice.do("POST", roomPath(roomID, "/join"), nil), http.StatusNotFound, "M_NOT_FOUND")
	alice.wantErr(alice.do("POST", "/join/"+roomID, nil), http.StatusNotFound, "M_NOT_FOUND")
	alice.wantErr(alice.do("POST", "/join/%23tea:example.org", nil), http.StatusNotFound, "M_NOT_FOUND")
	alice.wantErr(alice.do("POST", roomPath("not-a-room", "/join"), nil), http.StatusBadRequest, "M_INVALID_PARAM")
}

// wantRoomErr checks an error answer, naming the request on failure.
func wantRoomErr(t *testing.T, what string, resp harness.Response, status int, errcode string) {
	t.Helper()
	if resp.Status != status || resp.Errcode() != errcode {
		t.Errorf("%s: got %d %q, want %d %q: %s", what, resp.Status, resp.Errcode(), status, errcode, resp.Body)
	}
}
