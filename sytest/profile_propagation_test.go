package sytest

import (
	"net/url"
	"testing"
	"time"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestProfileChangeReachesOtherMembers: when alice changes her display
// name and avatar, bob's long-polling /sync gets a new m.room.member event
// of hers, still a join, carrying the new values.
func TestProfileChangeReachesOtherMembers(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice, bob := newRoomUser(t, s, "alice"), newRoomUser(t, s, "bob")
		roomID := alice.createRoom(map[string]any{"name": "Profiles", "invite": []string{bob.id}})
		bob.ok("POST", "/join/"+url.PathEscape(roomID), map[string]any{})
		since := syncToken(t, bob.ok("GET", "/sync", nil))

		profile := "/profile/" + url.PathEscape(alice.id)
		alice.ok("PUT", profile+"/displayname", map[string]any{"displayname": "Alice Liddell"})
		content := waitForMember(t, bob, roomID, alice.id, since, func(c map[string]any) bool {
			return c["displayname"] == "Alice Liddell"
		})
		if content["membership"] != "join" {
			t.Errorf("the new member event is not a join: %v", content)
		}

		alice.ok("PUT", profile+"/avatar_url", map[string]any{"avatar_url": "mxc://example.org/abc"})
		waitForMember(t, bob, roomID, alice.id, since, func(c map[string]any) bool {
			return c["avatar_url"] == "mxc://example.org/abc" && c["displayname"] == "Alice Liddell"
		})
	})
}

// waitForMember long-polls the user's /sync from since until a member
// event of member in roomID satisfies match, and returns its content.
func waitForMember(t *testing.T, u roomUser, roomID, member, since string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp := u.ok("GET", "/sync?timeout=5000&since="+url.QueryEscape(since), nil)
		since = syncToken(t, resp)
		tl, _ := syncRoom(resp, "join", roomID)["timeline"].(map[string]any)
		events, _ := tl["events"].([]any)
		for _, e := range events {
			ev, _ := e.(map[string]any)
			content, _ := ev["content"].(map[string]any)
			if ev["type"] == "m.room.member" && ev["state_key"] == member && match(content) {
				return content
			}
		}
	}
	t.Fatalf("no matching member event of %s reached %s's /sync", member, u.id)
	return nil
}
