package sytest

import (
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestRateLimitsOnSendAndJoin: sending (messages, state, redactions) and
// joining are throttled per user with 429 M_LIMIT_EXCEEDED, retry_after_ms
// and Retry-After; another user's bucket is untouched, and reads are not
// limited.
func TestRateLimitsOnSendAndJoin(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := harness.Start(t, harness.Options{Backend: backend, Env: []string{
			"WARBLER_RATE_LIMITS__SEND__BURST=3", "WARBLER_RATE_LIMITS__SEND__PER_SECOND=0.01",
			"WARBLER_RATE_LIMITS__JOIN__BURST=2", "WARBLER_RATE_LIMITS__JOIN__PER_SECOND=0.01",
		}})
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		rooms := []string{
			alice.createRoom(map[string]any{"preset": "public_chat", "room_alias_name": "one"}),
			alice.createRoom(map[string]any{"preset": "public_chat"}),
			alice.createRoom(map[string]any{"preset": "public_chat"}),
		}
		first := alice.send(rooms[0], "t1", "one")
		alice.send(rooms[0], "t2", "two")
		alice.ok("PUT", roomPath(rooms[0], "/state/m.room.topic/"), map[string]any{"topic": "three"})
		checkLimited(t, alice.do("PUT", roomPath(rooms[0], "/send/m.room.message/t4"), map[string]any{"msgtype": "m.text", "body": "four"}))
		checkLimited(t, alice.do("PUT", roomPath(rooms[0], "/state/m.room.name/"), map[string]any{"name": "five"}))
		checkLimited(t, alice.do("PUT", roomPath(rooms[0], "/redact/"+url.PathEscape(first)+"/t6"), map[string]any{}))
		alice.ok("GET", "/joined_rooms", nil)

		bob.ok("POST", "/join/"+url.PathEscape("#one:"+s.Name), map[string]any{})
		bob.ok("POST", roomPath(rooms[1], "/join"), map[string]any{})
		checkLimited(t, bob.do("POST", roomPath(rooms[2], "/join"), map[string]any{}))
		checkLimited(t, bob.do("POST", "/join/"+url.PathEscape(rooms[2]), map[string]any{}))
		if containsValue(bob.joinedRooms(), rooms[2]) {
			t.Error("a refused join joined the room")
		}
		bob.send(rooms[0], "b1", "bob's own bucket")
	})
}
