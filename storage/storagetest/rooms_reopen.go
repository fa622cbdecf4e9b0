package storagetest

import (
	"strconv"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// roomSnapshot is everything the room store answers about one room, read
// through the interface, to compare before and after a restart.
type roomSnapshot struct {
	Info        storage.RoomInfo
	Events      []storage.StoredEvent
	Current     []storage.StateEntry
	History     [][]storage.StateEntry
	Extremities []string
	Joined      []string
	Servers     []string
	MaxStream   int64
	Stats       storage.StateStats
}

func readRoom(t *testing.T, db storage.Database, roomID string, eventIDs []string, snapshots []int64) roomSnapshot {
	t.Helper()
	ctx := t.Context()
	var s roomSnapshot
	var err error
	s.Info, err = db.Room(ctx, roomID)
	noErr(t, "Room", err)
	s.Events, err = db.Events(ctx, eventIDs)
	noErr(t, "Events", err)
	s.Current, err = db.CurrentState(ctx, roomID)
	noErr(t, "CurrentState", err)
	for _, nid := range snapshots {
		entries, err := db.StateSnapshot(ctx, nid)
		noErr(t, "StateSnapshot", err)
		s.History = append(s.History, entries)
	}
	s.Extremities, err = db.ForwardExtremities(ctx, roomID)
	noErr(t, "ForwardExtremities", err)
	s.Joined, err = db.RoomMembers(ctx, roomID, "join")
	noErr(t, "RoomMembers", err)
	s.Servers, err = db.JoinedServers(ctx, roomID)
	noErr(t, "JoinedServers", err)
	s.MaxStream, err = db.MaxStreamPosition(ctx)
	noErr(t, "MaxStreamPosition", err)
	s.Stats, err = db.StateStats(ctx)
	noErr(t, "StateStats", err)
	return s
}

// testRoomsReopen fills a room with every kind of event, restarts, and
// expects the same answers; then writes again, with cold caches, and
// expects positions and state to carry on.
func testRoomsReopen(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	bob := userID("bob", "b.example")
	r := newTestRoom(t, db, "reopen", alice)
	r.member(alice, "join")
	r.member(bob, "join")
	r.sendState("m.room.topic", "", alice, `{"topic":"kept"}`)
	snapshots := []int64{r.snapshot}
	r.message(bob, "hello")
	outlier := r.event("m.room.member", ptr(userID("far", "c.example")), userID("far", "c.example"), `{"membership":"join"}`)
	outlier.Outlier = true
	rejected := r.event("m.room.name", ptr(""), bob, `{"name":"no"}`)
	rejected.Rejected = "not allowed"
	old := r.event("m.room.message", nil, alice, `{"body":"old"}`)
	old.Depth, old.Backfilled = 1, true
	old.StateBefore = storage.StateRef{}
	r.persist([]storage.NewEvent{outlier, rejected, old}, storage.RoomUpdate{})
	// Enough members for keyframes and shared blocks.
	var batch []storage.NewEvent
	var changes []storage.StateEntry
	for i := range 100 {
		u := userID("m"+strconv.Itoa(i), "example.org")
		ev := r.event("m.room.member", ptr(u), u, `{"membership":"join"}`)
		ev.Outlier = true
		batch = append(batch, ev)
		changes = append(changes, storage.StateEntry{Type: ev.Type, StateKey: u, EventID: ev.EventID})
		r.state[stateSlot{ev.Type, u}] = ev.EventID
	}
	r.persist(batch, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: r.snapshot, Changes: changes}})
	snapshots = append(snapshots, r.snapshot)
	r.message(alice, "last")
	ids := make([]string, 0, r.n)
	for i := range r.n {
		ids = append(ids, "$reopen_"+strconv.Itoa(i+1))
	}

	before := readRoom(t, db, r.id, ids, snapshots)
	if len(before.Events) != r.n {
		t.Fatalf("stored %d events, want %d", len(before.Events), r.n)
	}
	noErr(t, "Close", db.Close())
	db = openDB(t, open)
	r.db = db
	after := readRoom(t, db, r.id, ids, snapshots)
	wantEqual(t, "room after reopen", after, before)

	// Writing again with cold caches: positions and state carry on.
	_, pos := r.message(alice, "after restart")
	wantEqual(t, "first position after reopen", pos.Stream, before.MaxStream+1)
	r.member(userID("carol", "b.example"), "join")
	r.wantState(t)
	servers, err := db.JoinedServers(ctx, r.id)
	wantStrings(t, "JoinedServers", servers, err, "b.example", "example.org")
}
