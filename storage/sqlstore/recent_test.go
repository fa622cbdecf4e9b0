package sqlstore

import (
	"fmt"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

func keptEvent(room string, pos int64, size int) recentEvent {
	return recentEvent{StoredEvent: storage.StoredEvent{EventID: fmt.Sprintf("$%d", pos), RoomID: room, StreamPos: pos,
		JSON: []byte(strings.Repeat("x", size))}, relationFree: true}
}

// persistOnce runs one persist of room through begin and end.
func persistOnce(r *recentEvents, room string, events ...recentEvent) {
	r.end(room, r.begin(room), events, nil)
}

// TestRecentEventsAnswersOnlyWhatItKnowsWhole: memory answers a range
// only when it holds every event after the range's start, and never for a
// room with a persist between begin and end.
func TestRecentEventsAnswersOnlyWhatItKnowsWhole(t *testing.T) {
	r := newRecentEvents(10, false)
	if evs, ok := r.timeline("!new", 10, 20, 5); !ok || len(evs) != 0 {
		t.Errorf("a room never written since the floor: %v %v, want empty and known", evs, ok)
	}
	if _, ok := r.timeline("!new", 9, 20, 5); ok {
		t.Error("a range starting below the floor was answered")
	}
	began := r.begin("!a")
	if _, ok := r.timeline("!a", 10, 20, 5); ok {
		t.Error("a room being written was answered from memory")
	}
	r.end("!a", began, []recentEvent{keptEvent("!a", 11, 1), keptEvent("!a", 12, 1)}, nil)
	evs, ok := r.timeline("!a", 10, 20, 5)
	if !ok || len(evs) != 2 || evs[0].StreamPos != 12 {
		t.Fatalf("after the persist: %v %v, want 12 then 11", evs, ok)
	}
	if evs, _ := r.timeline("!a", 10, 20, 0); len(evs) != 1 {
		t.Errorf("limit 0 gave %d events, want 1 (to show the timeline is limited)", len(evs))
	}
	persistOnce(r, "!a") // a failed persist
	if _, ok := r.timeline("!a", 10, 20, 5); !ok {
		t.Error("a failed persist left the room unanswerable")
	}
	for pos := int64(13); pos < 13+recentPerRoom; pos++ {
		persistOnce(r, "!a", keptEvent("!a", pos, 1))
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
	r := newRecentEvents(0, false)
	big := recentBytes / 4
	for i, room := range []string{"!a", "!b", "!c", "!d", "!e"} {
		persistOnce(r, room, keptEvent(room, int64(i+1), big))
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
	r := newRecentEvents(0, false)
	persistOnce(r, "!a", keptEvent("!a", 1, 1), keptEvent("!a", 2, 1))
	r.redacted()
	if _, ok := r.timeline("!a", 0, 10, 5); ok {
		t.Error("a range with events kept before a redaction was answered")
	}
	if evs, ok := r.timeline("!a", 2, 10, 5); !ok || len(evs) != 0 {
		t.Errorf("after the redaction, from the newest event: %v %v", evs, ok)
	}
}

// TestRecentEventsKnowsRelationFreeEvents: an event is relation-free
// while no relation of its room pointed at it, and never when persists of
// the room overlapped (their relations and events may not have seen each
// other) or when it is not kept.
func TestRecentEventsKnowsRelationFreeEvents(t *testing.T) {
	r := newRecentEvents(0, false)
	related := keptEvent("!a", 2, 1)
	related.relationFree = false // a stored relation pointed at it
	persistOnce(r, "!a", keptEvent("!a", 1, 1), related, keptEvent("!a", 3, 1))
	want := map[string]bool{"$1": true, "$2": false, "$3": true, "$9": false}
	for id, free := range want {
		if got := r.relationFree("!a", id); got != free {
			t.Errorf("%s relation-free %v, want %v", id, got, free)
		}
	}
	r.end("!a", r.begin("!a"), []recentEvent{keptEvent("!a", 4, 1)}, []string{"$1"})
	if r.relationFree("!a", "$1") || !r.relationFree("!a", "$4") {
		t.Error("a relation to $1 was not noted, or $4 lost its mark")
	}
	if r.relationFree("!b", "$3") {
		t.Error("an event was relation-free in a room it is not in")
	}
	// Two persists of the room at once: neither's events are marked.
	first, second := r.begin("!a"), r.begin("!a")
	r.end("!a", first, []recentEvent{keptEvent("!a", 5, 1)}, nil)
	r.end("!a", second, []recentEvent{keptEvent("!a", 6, 1)}, nil)
	if r.relationFree("!a", "$5") || r.relationFree("!a", "$6") {
		t.Error("events of overlapping persists were marked relation-free")
	}
}

// TestRecentEventsServesRoomsBeingWrittenWhenVisibilityFollowsEnd: where
// positions become visible only after end (PostgreSQL), a room being
// written is still answered from memory; its new events are not there
// yet, and neither is their position visible.
func TestRecentEventsServesRoomsBeingWrittenWhenVisibilityFollowsEnd(t *testing.T) {
	r := newRecentEvents(0, true)
	persistOnce(r, "!a", keptEvent("!a", 1, 1))
	r.begin("!a")
	evs, ok := r.timeline("!a", 0, 1, 5)
	if !ok || len(evs) != 1 {
		t.Errorf("room being written: %v %v, want the kept event", evs, ok)
	}
}
