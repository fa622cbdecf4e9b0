package sytest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// roomUser is a logged-in user of a test server.
type roomUser struct {
	t     *testing.T
	s     *harness.Server
	id    string
	token string
}

// newRoomUser registers and logs in a user.
func newRoomUser(t *testing.T, s *harness.Server, localpart string) roomUser {
	t.Helper()
	id := s.RegisterUser(localpart, localpart+"-password", false)
	return roomUser{t: t, s: s, id: id, token: s.Login(localpart, localpart+"-password")}
}

// do sends an authenticated client-server v3 request.
func (u roomUser) do(method, path string, body any) harness.Response {
	u.t.Helper()
	return u.s.Do(method, clientV3+path, body, u.token)
}

// ok sends a request that must succeed and returns its body.
func (u roomUser) ok(method, path string, body any) map[string]any {
	u.t.Helper()
	return want(u.t, u.do(method, path, body), http.StatusOK, "")
}

// createRoom creates a room with the given /createRoom body.
func (u roomUser) createRoom(body map[string]any) string {
	u.t.Helper()
	roomID, _ := u.ok("POST", "/createRoom", body)["room_id"].(string)
	if roomID == "" {
		u.t.Fatal("createRoom gave no room_id")
	}
	return roomID
}

// send sends a message and returns its event ID.
func (u roomUser) send(roomID, txnID, body string) string {
	u.t.Helper()
	resp := u.ok("PUT", roomPath(roomID, "/send/m.room.message/"+txnID), map[string]any{"msgtype": "m.text", "body": body})
	return str(resp, "event_id")
}

// roomPath is /rooms/{roomId}<rest>, the room ID escaped as a client does.
func roomPath(roomID, rest string) string {
	return "/rooms/" + url.PathEscape(roomID) + rest
}

// wantErr checks an error answer.
func (u roomUser) wantErr(resp harness.Response, status int, errcode string) {
	u.t.Helper()
	want(u.t, resp, status, errcode)
}

// joinedRooms lists the user's joined rooms.
func (u roomUser) joinedRooms() []any {
	u.t.Helper()
	rooms, _ := u.ok("GET", "/joined_rooms", nil)["joined_rooms"].([]any)
	return rooms
}

func containsValue(list []any, v any) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
