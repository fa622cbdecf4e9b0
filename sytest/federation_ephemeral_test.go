package sytest

import (
	"net/url"
	"testing"
	"time"

	"github.com/warbler-im/warbler/sytest/harness"
)

// TestFederatedMessagesAndTyping: once bob on B has joined alice's room
// on A, alice's messages and her typing reach bob's /sync on B (PDUs and
// an m.typing EDU through the per-destination sender and /send).
func TestFederatedMessagesAndTyping(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		a, b := startFederating(t, backend), startFederating(t, backend)
		alice, bob := newRoomUser(t, a, "alice"), newRoomUser(t, b, "bob")
		room := alice.createRoom(map[string]any{"preset": "public_chat", "name": "edus"})
		bob.ok("POST", "/join/"+url.PathEscape(room)+"?via="+url.QueryEscape(a.Name), map[string]any{})
		since := str(syncNow(t, bob), "next_batch")

		alice.send(room, "m1", "hello from A")
		if !syncWaitFor(t, bob, &since, func(resp map[string]any) bool {
			return timelineHasBody(syncRoom(resp, "join", room), "hello from A")
		}) {
			t.Fatal("alice's message never reached bob's /sync on B")
		}
		alice.ok("PUT", roomPath(room, "/typing/"+url.PathEscape(alice.id)), map[string]any{"typing": true, "timeout": 30000})
		if !syncWaitFor(t, bob, &since, func(resp map[string]any) bool {
			return typingIncludes(syncRoom(resp, "join", room), alice.id)
		}) {
			t.Error("alice's typing never reached bob's /sync on B")
		}
	})
}

// syncWaitFor long-polls u's /sync from *since until done holds for a
// response (true) or a minute passes (false), moving *since along.
func syncWaitFor(t *testing.T, u roomUser, since *string, done func(map[string]any) bool) bool {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp := u.ok("GET", "/sync?timeout=10000&since="+url.QueryEscape(*since), nil)
		*since = str(resp, "next_batch")
		if done(resp) {
			return true
		}
	}
	return false
}

func timelineHasBody(room map[string]any, body string) bool {
	tl, _ := room["timeline"].(map[string]any)
	evs, _ := tl["events"].([]any)
	for _, ev := range evs {
		content, _ := ev.(map[string]any)["content"].(map[string]any)
		if content["body"] == body {
			return true
		}
	}
	return false
}

func typingIncludes(room map[string]any, userID string) bool {
	eph, _ := room["ephemeral"].(map[string]any)
	evs, _ := eph["events"].([]any)
	for _, ev := range evs {
		m := ev.(map[string]any)
		if m["type"] != "m.typing" {
			continue
		}
		content, _ := m["content"].(map[string]any)
		ids, _ := content["user_ids"].([]any)
		if containsValue(ids, userID) {
			return true
		}
	}
	return false
}
