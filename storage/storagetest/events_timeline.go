package storagetest

import (
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// The two orderings of events (stream for /sync, topological for
// /messages), backfill, and the DAG references and redaction marks.

func testBackfill(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	// A room joined over federation at depth 20: the past is unknown.
	r := &testRoom{t: t, db: db, id: "!bf:example.org", name: "bf", depth: 19, state: map[stateSlot]string{}}
	noErr(t, "CreateRoom", db.CreateRoom(ctx, r.id, roomVersion))
	join, _ := r.member(alice, "join")
	m1, _ := r.message(alice, "one")
	m2, _ := r.message(alice, "two")
	snapshot := r.snapshot

	backfill := func(depths ...int64) []storage.NewEvent {
		var batch []storage.NewEvent
		for _, d := range depths {
			ev := r.event("m.room.message", nil, alice, `{"body":"old"}`)
			ev.Depth, ev.Backfilled = d, true
			ev.StateBefore = storage.StateRef{Base: snapshot}
			batch = append(batch, ev)
		}
		return batch
	}
	// Batches come oldest first, each older than the one before.
	first := backfill(17, 18, 19)
	positions := r.persist(first, storage.RoomUpdate{})
	wantEqual(t, "first backfill positions", positions, []storage.PersistedPosition{
		{EventID: first[0].EventID, Stream: -3, Topo: storage.TopoPos{Depth: 17, Stream: -3}},
		{EventID: first[1].EventID, Stream: -2, Topo: storage.TopoPos{Depth: 18, Stream: -2}},
		{EventID: first[2].EventID, Stream: -1, Topo: storage.TopoPos{Depth: 19, Stream: -1}},
	})
	// A depth that claims to be later than the room's earliest event is
	// still placed before it.
	second := backfill(15, 16, 25)
	positions = r.persist(second, storage.RoomUpdate{})
	wantEqual(t, "second backfill positions", positions, []storage.PersistedPosition{
		{EventID: second[0].EventID, Stream: -6, Topo: storage.TopoPos{Depth: 15, Stream: -6}},
		{EventID: second[1].EventID, Stream: -5, Topo: storage.TopoPos{Depth: 16, Stream: -5}},
		{EventID: second[2].EventID, Stream: -4, Topo: storage.TopoPos{Depth: 16, Stream: -4}},
	})

	page, err := db.EventsBetween(ctx, r.id, storage.TopoMax, storage.TopoMin, 100, true)
	noErr(t, "EventsBetween", err)
	wantEqual(t, "/messages order", eventIDsOf(page), []string{m2.EventID, m1.EventID, join.EventID,
		first[2].EventID, first[1].EventID, first[0].EventID, second[2].EventID, second[1].EventID, second[0].EventID})
	max, err := db.MaxStreamPosition(ctx)
	noErr(t, "MaxStreamPosition", err)
	wantEqual(t, "MaxStreamPosition after backfill", max, int64(3))
	timeline, err := db.RoomEventsSince(ctx, -100, max, []string{r.id}, 100)
	noErr(t, "RoomEventsSince", err)
	wantEqual(t, "sync after backfill", eventIDsOf(timeline[0].Events), []string{join.EventID, m1.EventID, m2.EventID})
	events, err := db.Events(ctx, []string{second[2].EventID})
	noErr(t, "Events", err)
	if events[0].StreamPos != -4 || events[0].Topo != (storage.TopoPos{Depth: 16, Stream: -4}) || events[0].Depth != 25 {
		t.Errorf("Events(backfilled) = %+v, want stream -4, topo (16, -4), depth 25 as received", events[0])
	}
	// New events still follow on from the stream.
	_, pos := r.message(alice, "new")
	wantEqual(t, "position after backfill", pos.Stream, int64(4))
}

func testEventsBetween(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "page", alice)
	r.member(alice, "join")
	ids := []string{"$page_1", "$page_2"}
	for range 10 {
		ev, _ := r.message(alice, "m")
		ids = append(ids, ev.EventID)
	}
	// A fork: two events at the same depth, ordered by stream position.
	a := r.event("m.room.message", nil, alice, `{"body":"a"}`)
	b := r.event("m.room.message", nil, alice, `{"body":"b"}`)
	b.Depth = a.Depth
	r.persist([]storage.NewEvent{a, b}, storage.RoomUpdate{ForwardExtremities: []string{a.EventID, b.EventID}})
	ids = append(ids, a.EventID, b.EventID)
	reversed := func(s []string) []string {
		out := make([]string, len(s))
		for i, v := range s {
			out[len(s)-1-i] = v
		}
		return out
	}

	page := func(from, to storage.TopoPos, limit int, backwards bool) []storage.StoredEvent {
		t.Helper()
		events, err := db.EventsBetween(ctx, r.id, from, to, limit, backwards)
		noErr(t, "EventsBetween", err)
		return events
	}
	p1 := page(storage.TopoMax, storage.TopoMin, 5, true)
	wantEqual(t, "newest page", eventIDsOf(p1), reversed(ids[9:]))
	p2 := page(p1[4].Topo, storage.TopoMin, 5, true)
	wantEqual(t, "next page back", eventIDsOf(p2), reversed(ids[4:9]))
	p3 := page(p2[4].Topo, storage.TopoMin, 5, true)
	wantEqual(t, "last page back", eventIDsOf(p3), reversed(ids[:4]))
	f1 := page(storage.TopoMin, storage.TopoMax, 4, false)
	wantEqual(t, "oldest page", eventIDsOf(f1), ids[:4])
	f2 := page(f1[3].Topo, p2[0].Topo, 100, false)
	wantEqual(t, "forwards up to a bound", eventIDsOf(f2), ids[4:8])
	wantEqual(t, "backwards down to a bound", eventIDsOf(page(storage.TopoMax, p1[2].Topo, 100, true)), reversed(ids[12:]))
	wantEqual(t, "limit 0", len(page(storage.TopoMax, storage.TopoMin, 0, true)), 0)
	if !p1[1].Topo.Less(p1[0].Topo) || p1[0].Topo.Depth != p1[1].Topo.Depth {
		t.Errorf("the fork's events have positions %+v and %+v, want the same depth, ordered by stream", p1[1].Topo, p1[0].Topo)
	}
}

func testRoomEventsSince(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	a := newTestRoom(t, db, "a", alice) // 1
	a.member(alice, "join")             // 2
	b := newTestRoom(t, db, "b", alice) // 3
	b.member(alice, "join")             // 4
	c := newTestRoom(t, db, "c", alice) // 5
	var aIDs []string
	for range 5 { // 6..10
		ev, _ := a.message(alice, "a")
		aIDs = append(aIDs, ev.EventID)
	}
	bMsg, _ := b.message(alice, "b") // 11

	since := func(from, upTo int64, rooms []string, limit int) []storage.RoomTimeline {
		t.Helper()
		got, err := db.RoomEventsSince(ctx, from, upTo, rooms, limit)
		noErr(t, "RoomEventsSince", err)
		return got
	}
	got := since(5, 11, []string{b.id, a.id, c.id, "!unknown:example.org"}, 3)
	if len(got) != 2 {
		t.Fatalf("RoomEventsSince returned %d rooms, want 2 (c had nothing new): %+v", len(got), got)
	}
	wantEqual(t, "room order", []string{got[0].RoomID, got[1].RoomID}, []string{b.id, a.id})
	wantEqual(t, "b", []any{eventIDsOf(got[0].Events), got[0].Limited}, []any{[]string{bMsg.EventID}, false})
	wantEqual(t, "a, limited to the newest 3", []any{eventIDsOf(got[1].Events), got[1].Limited}, []any{aIDs[2:], true})
	got = since(5, 8, []string{a.id, b.id}, 10)
	if len(got) != 1 {
		t.Fatalf("RoomEventsSince up to 8 returned %d rooms, want 1", len(got))
	}
	wantEqual(t, "a up to 8", []any{eventIDsOf(got[0].Events), got[0].Limited}, []any{aIDs[:3], false})
	wantEqual(t, "since = upTo", len(since(11, 11, []string{a.id}, 10)), 0)
	wantEqual(t, "limit 0", len(since(0, 11, []string{a.id}, 0)), 0)
	wantEqual(t, "no rooms", len(since(0, 11, nil, 10)), 0)
	got = since(0, 11, []string{a.id, a.id}, 100)
	wantEqual(t, "a room asked twice comes once", len(got), 1)
	wantEqual(t, "a from the start", len(got[0].Events), 7)
}

func testReferencesAndRedaction(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "refs", alice)
	create := r.state[stateSlot{"m.room.create", ""}]
	join, _ := r.member(alice, "join")
	m1, _ := r.message(alice, "root")
	// Two events on top of m1, then one that merges them.
	f1 := r.event("m.room.message", nil, alice, `{"body":"f1"}`)
	f2 := r.event("m.room.message", nil, alice, `{"body":"f2"}`)
	f2.PrevEventIDs = append(f2.PrevEventIDs, m1.EventID) // a repeated prev is stored once
	r.persist([]storage.NewEvent{f2, f1}, storage.RoomUpdate{ForwardExtremities: []string{f1.EventID, f2.EventID}})
	ext, err := db.ForwardExtremities(ctx, r.id)
	wantStrings(t, "ForwardExtremities of the fork", ext, err, f1.EventID, f2.EventID)
	r.depth, r.extrems = f1.Depth, []string{f1.EventID, f2.EventID}
	merge, _ := r.message(alice, "merge")

	refs, err := db.EventReferences(ctx, m1.EventID)
	wantStrings(t, "EventReferences(m1)", refs, err, f1.EventID, f2.EventID)
	refs, err = db.EventReferences(ctx, f2.EventID)
	wantStrings(t, "EventReferences(f2)", refs, err, merge.EventID)
	// Auth events are edges too, but not prev_events references.
	refs, err = db.EventReferences(ctx, create)
	wantStrings(t, "EventReferences(create)", refs, err, join.EventID)
	refs, err = db.EventReferences(ctx, "$unknown")
	wantStrings(t, "EventReferences(unknown)", refs, err)
	// References may name events not stored yet.
	dangling := r.event("m.room.message", nil, alice, `{"body":"gap"}`)
	dangling.PrevEventIDs = []string{"$missing"}
	r.persist([]storage.NewEvent{dangling}, storage.RoomUpdate{})
	refs, err = db.EventReferences(ctx, "$missing")
	wantStrings(t, "EventReferences(not stored)", refs, err, dangling.EventID)
	ext, err = db.ForwardExtremities(ctx, r.id)
	wantStrings(t, "ForwardExtremities after the merge", ext, err, merge.EventID)

	redaction := r.event("m.room.redaction", nil, alice, `{}`)
	r.apply(redaction)
	// Read before the mark too: a store that keeps events it read must
	// still show the mark afterwards, alone or in a batch.
	events, err := db.Events(ctx, []string{m1.EventID, join.EventID})
	noErr(t, "Events before the mark", err)
	wantEqual(t, "RedactedBecause before the mark", events[0].RedactedBecause, "")
	noErr(t, "MarkRedacted", db.MarkRedacted(ctx, m1.EventID, redaction.EventID))
	events, err = db.Events(ctx, []string{join.EventID, m1.EventID})
	noErr(t, "Events", err)
	wantEqual(t, "RedactedBecause in a batch", events[1].RedactedBecause, redaction.EventID)
	events, err = db.Events(ctx, []string{m1.EventID})
	noErr(t, "Events", err)
	wantEqual(t, "RedactedBecause", events[0].RedactedBecause, redaction.EventID)
	wantEqual(t, "JSON after the redaction mark", string(events[0].JSON), string(m1.JSON))
	wantErr(t, "MarkRedacted(unknown)", db.MarkRedacted(ctx, "$unknown", redaction.EventID), storage.ErrNotFound)
}
