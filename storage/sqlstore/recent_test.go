package sqlstore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

func recentEvent(room string, pos int64, size int) storage.StoredEvent {
	return storage.StoredEvent{EventID: fmt.Sprintf("$%d", pos), RoomID: room, StreamPos: pos, JSON: []byte(strings.Repeat("x", size))}
}

// TestRecentEventsAnswersOnlyWhatItKnowsWhole: memory answers a range
// only when it holds every event after the range's start, and never for a
// room with a persist between begin and end.
func TestRecentEventsAnswersOnlyWhatItKnowsWhole(t *testing.T) {
	r := newRecentEvents(10)
	if evs, ok := r.timeline("!new", 10, 20, 5); !ok || len(evs) != 0 {
		t.Errorf("a room never written since the floor: %v %v, want empty and known", evs, ok)
	}
	if _, ok := r.timeline("!new", 9, 20, 5); ok {
		t.Error("a range starting below the floor was answered")
	}
	r.begin("!a")
	if _, ok := r.timeline("!a", 10, 20, 5); ok {
		t.Error("a room being written was answered from memory")
	}
	r.end("!a", []storage.StoredEvent{recentEvent("!a", 11, 1), recentEvent("!a", 12, 1)})
	evs, ok := r.timeline("!a", 10, 20, 5)
	if !ok || len(evs) != 2 || evs[0].StreamPos != 12 {
		t.Fatalf("after the persist: %v %v, want 12 then 11", evs, ok)
	}
	if evs, _ := r.timeline("!a", 10, 20, 0); len(evs) != 1 {
		t.Errorf("limit 0 gave %d events, want 1 (to show the timeline is limited)", len(evs))
	}
	r.begin("!a")
	r.end("!a", nil) // a failed persist
	if _, ok := r.timeline("!a", 10, 20, 5); !ok {
		t.Error("a failed persist left the room unanswerable")
	}
	for pos := int64(13); pos < 13+recentPerRoom; pos++ {
		r.begin("!a")
		r.end("!a", []storage.StoredEvent{recentEvent("!a", pos, 1)})
	}
	if _, ok := r.timeline("!a", 11, 100, 5); ok {
		t.Error("a range reaching below the events dropped from a full room was answered")
	}
	if _, ok := r.timeline("!a", 13, 100, 5); !ok {
		t.Error("a range within the kept events was not answered")
	}
}

// TestRecentEventsEvictionRaisesTheFloor: once a room's events are
// evicted, memory no longer claims to know it before their end.
func TestRecentEventsEvictionRaisesTheFloor(t *testing.T) {
	r := newRecentEvents(0)
	big := recentBytes / 4
	for i, room := range []string{"!a", "!b", "!c", "!d", "!e"} {
		r.begin(room)
		r.end(room, []storage.StoredEvent{recentEvent(room, int64(i+1), big)})
	}
	if _, ok := r.rooms["!a"]; ok {
		t.Fatal("the least recently used room was not evicted")
	}
	if _, ok := r.timeline("!a", 0, 10, 5); ok {
		t.Error("an evicted room was answered (as empty) from before its last event")
	}
	// The floor is shared: it is the newest event of any evicted room.
	if r.floor < 1 {
		t.Fatalf("floor %d is below the evicted room's last event", r.floor)
	}
	if evs, ok := r.timeline("!a", r.floor, 10, 5); !ok || len(evs) != 0 {
		t.Errorf("an evicted room after the floor: %v %v, want empty and known", evs, ok)
	}
	if r.bytes > recentBytes {
		t.Errorf("%d bytes kept, bound %d", r.bytes, recentBytes)
	}
}

// TestRecentEventsForgetsAllOnRedaction: a redaction may change any kept
// event, so nothing before it is answered from memory afterwards.
func TestRecentEventsForgetsAllOnRedaction(t *testing.T) {
	r := newRecentEvents(0)
	r.begin("!a")
	r.end("!a", []storage.StoredEvent{recentEvent("!a", 1, 1), recentEvent("!a", 2, 1)})
	r.redacted()
	if _, ok := r.timeline("!a", 0, 10, 5); ok {
		t.Error("a range with events kept before a redaction was answered")
	}
	if evs, ok := r.timeline("!a", 2, 10, 5); !ok || len(evs) != 0 {
		t.Errorf("after the redaction, from the newest event: %v %v", evs, ok)
	}
}
