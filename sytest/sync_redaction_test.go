package sytest

import (
	"net/url"
	"testing"

	"github.com/warbler-im/warbler/sytest/harness"
)

// A redacted message reaches /sync with its content stripped and the whole
// redaction event in unsigned.redacted_because, and without room_id (the
// room is implied by the section). Before the formatters were merged,
// /sync cited only the redaction's ID.
func TestSyncServesRedactedEvents(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend harness.Backend) {
		s := accountServer(t, backend)
		alice := newRoomUser(t, s, "alice")
		roomID := alice.createRoom(map[string]any{"name": "Redactions"})
		target := alice.send(roomID, "t1", "regrettable")
		redaction := str(alice.ok("PUT", roomPath(roomID, "/redact/"+url.PathEscape(target)+"/r1"),
			map[string]any{"reason": "typo"}), "event_id")

		room := syncRoom(alice.ok("GET", "/sync", nil), "join", roomID)
		timeline, _ := room["timeline"].(map[string]any)
		events, _ := timeline["events"].([]any)
		var found map[string]any
		for _, e := range events {
			if ev, _ := e.(map[string]any); ev["event_id"] == target {
				found = ev
			}
		}
		if found == nil {
			t.Fatalf("redacted event missing from the timeline: %v", events)
		}
		if content, _ := found["content"].(map[string]any); len(content) != 0 {
			t.Errorf("redacted content still served: %v", content)
		}
		if _, has := found["room_id"]; has {
			t.Error("sync timeline event carries room_id")
		}
		unsigned, _ := found["unsigned"].(map[string]any)
		because, _ := unsigned["redacted_because"].(map[string]any)
		if because["event_id"] != redaction || because["type"] != "m.room.redaction" || because["sender"] != alice.id {
			t.Errorf("redacted_because = %v, want the redaction event %s", because, redaction)
		}
	})
}
