package sytest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// includeLeaveFilter is an inline /sync filter that asks for left rooms.
var includeLeaveFilter = url.QueryEscape(`{"room":{"include_leave":true}}`)

// TestForgetRoom: a member must leave before forgetting; a forgotten room
// leaves /sync's leave section (initial and incremental) and its history
// and state become unreadable; rejoining un-forgets it.
func TestForgetRoom(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		roomID := alice.createRoom(map[string]any{"preset": "public_chat"})
		bob.ok("POST", roomPath(roomID, "/join"), map[string]any{})
		msg := alice.send(roomID, "t1", "before the leave")
		bob.wantErr(bob.do("POST", roomPath(roomID, "/forget"), map[string]any{}), http.StatusBadRequest, "M_UNKNOWN")

		since := syncToken(t, bob.ok("GET", "/sync", nil))
		bob.ok("POST", roomPath(roomID, "/leave"), map[string]any{})
		if syncRoom(bob.ok("GET", "/sync?filter="+includeLeaveFilter, nil), "leave", roomID) == nil {
			t.Fatal("left room missing from the leave section before forgetting")
		}
		bob.ok("GET", roomPath(roomID, "/messages?dir=b"), nil)
		bob.ok("GET", roomPath(roomID, "/event/"+url.PathEscape(msg)), nil)
		bob.ok("POST", roomPath(roomID, "/forget"), map[string]any{})
		bob.ok("POST", roomPath(roomID, "/forget"), nil) // again: still fine
		if syncRoom(bob.ok("GET", "/sync?filter="+includeLeaveFilter, nil), "leave", roomID) != nil {
			t.Error("forgotten room in the initial sync's leave section")
		}
		if syncRoom(bob.ok("GET", "/sync?timeout=0&since="+since, nil), "leave", roomID) != nil {
			t.Error("forgotten room in an incremental sync's leave section")
		}
		bob.wantErr(bob.do("GET", roomPath(roomID, "/messages?dir=b"), nil), http.StatusForbidden, "M_FORBIDDEN")
		bob.wantErr(bob.do("GET", roomPath(roomID, "/state"), nil), http.StatusForbidden, "M_FORBIDDEN")
		bob.wantErr(bob.do("GET", roomPath(roomID, "/event/"+url.PathEscape(msg)), nil), http.StatusNotFound, "M_NOT_FOUND")
		bob.wantErr(bob.do("GET", roomPath(roomID, "/context/"+url.PathEscape(msg)), nil), http.StatusNotFound, "M_NOT_FOUND")
		if containsValue(bob.joinedRooms(), roomID) {
			t.Error("forgotten room in /joined_rooms")
		}

		// Rejoining remembers the room; leaving again shows it as left.
		bob.ok("POST", roomPath(roomID, "/join"), map[string]any{})
		if !containsValue(bob.joinedRooms(), roomID) {
			t.Error("rejoined room missing from /joined_rooms")
		}
		bob.ok("POST", roomPath(roomID, "/leave"), map[string]any{})
		if syncRoom(bob.ok("GET", "/sync?filter="+includeLeaveFilter, nil), "leave", roomID) == nil {
			t.Error("room left again after rejoining is missing from the leave section")
		}
		bob.ok("GET", roomPath(roomID, "/messages?dir=b"), nil)
		bob.ok("GET", roomPath(roomID, "/context/"+url.PathEscape(msg)), nil)
	})
}

// TestForgetRoomErrors: invited members cannot forget, bad room IDs and
// missing tokens are refused, a room never joined is a no-op.
func TestForgetRoomErrors(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		roomID := alice.createRoom(map[string]any{"invite": []string{bob.id}})
		bob.wantErr(bob.do("POST", roomPath(roomID, "/forget"), map[string]any{}), http.StatusBadRequest, "M_UNKNOWN")
		bob.wantErr(bob.do("POST", roomPath("not-a-room", "/forget"), map[string]any{}), http.StatusBadRequest, "M_INVALID_PARAM")
		bob.wantErr(bob.do("POST", roomPath(roomID, "/forget"), []byte("{")), http.StatusBadRequest, "M_NOT_JSON")
		want(t, s.Do("POST", clientV3+roomPath(roomID, "/forget"), map[string]any{}, ""), http.StatusUnauthorized, "M_MISSING_TOKEN")
		bob.ok("POST", roomPath("!unknown:"+s.Name, "/forget"), map[string]any{})
		// The refused forget left the invite alone.
		bob.ok("POST", roomPath(roomID, "/join"), map[string]any{})
	})
}
