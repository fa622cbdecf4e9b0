package storagetest

import (
	"errors"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// Rooms themselves, and the life of ordinary, duplicate, outlier,
// rejected and soft-failed events.

func testRooms(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	const roomID = "!r:example.org"
	noErr(t, "CreateRoom", db.CreateRoom(ctx, roomID, roomVersion))
	wantErr(t, "CreateRoom again", db.CreateRoom(ctx, roomID, "11"), storage.ErrConflict)
	info, err := db.Room(ctx, roomID)
	noErr(t, "Room", err)
	wantEqual(t, "Room", info, storage.RoomInfo{RoomID: roomID, Version: roomVersion})

	noErr(t, "SetPartialState(true)", db.SetPartialState(ctx, roomID, true))
	info, err = db.Room(ctx, roomID)
	noErr(t, "Room", err)
	wantEqual(t, "Room after SetPartialState(true)", info.PartialState, true)
	noErr(t, "SetPartialState(false)", db.SetPartialState(ctx, roomID, false))
	info, err = db.Room(ctx, roomID)
	noErr(t, "Room", err)
	wantEqual(t, "Room after SetPartialState(false)", info.PartialState, false)

	// A room created after events exist remembers the stream position.
	r := newTestRoom(t, db, "other", alice)
	r.message(alice, "hello")
	noErr(t, "CreateRoom(third)", db.CreateRoom(ctx, "!third:example.org", roomVersion))
	info, err = db.Room(ctx, "!third:example.org")
	noErr(t, "Room(third)", err)
	wantEqual(t, "Room(third).CreatedStream", info.CreatedStream, int64(2))

	const nowhere = "!nowhere:example.org"
	_, err = db.Room(ctx, nowhere)
	wantErr(t, "Room(unknown)", err, storage.ErrNotFound)
	wantErr(t, "SetPartialState(unknown)", db.SetPartialState(ctx, nowhere, true), storage.ErrNotFound)
	_, err = db.PersistEvents(ctx, nowhere, nil, storage.RoomUpdate{})
	wantErr(t, "PersistEvents(unknown room)", err, storage.ErrNotFound)
	_, err = db.SaveStateSnapshot(ctx, nowhere, storage.StateRef{})
	wantErr(t, "SaveStateSnapshot(unknown room)", err, storage.ErrNotFound)
	for name, call := range map[string]func() error{
		"CurrentState":       func() error { _, err := db.CurrentState(ctx, nowhere); return err },
		"CurrentStateEvent":  func() error { _, err := db.CurrentStateEvent(ctx, nowhere, "m.room.create", ""); return err },
		"ForwardExtremities": func() error { _, err := db.ForwardExtremities(ctx, nowhere); return err },
		"Membership":         func() error { _, _, err := db.Membership(ctx, nowhere, alice); return err },
		"RoomMembers":        func() error { _, err := db.RoomMembers(ctx, nowhere, "join"); return err },
		"JoinedServers":      func() error { _, err := db.JoinedServers(ctx, nowhere); return err },
		"EventsBetween": func() error {
			_, err := db.EventsBetween(ctx, nowhere, storage.TopoMax, storage.TopoMin, 10, true)
			return err
		},
	} {
		wantErr(t, name+"(unknown room)", call(), storage.ErrNotFound)
	}
	if err := db.CreateRoom(ctx, "", roomVersion); err == nil || errors.Is(err, storage.ErrConflict) {
		t.Errorf("CreateRoom with an empty ID: got %v, want a validation error", err)
	}
}

func testPersistBasics(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	bob := userID("bob", "example.org")

	max, err := db.MaxStreamPosition(ctx)
	noErr(t, "MaxStreamPosition", err)
	wantEqual(t, "MaxStreamPosition of an empty database", max, int64(0))

	r := newTestRoom(t, db, "basic", alice)
	create := r.state[stateSlot{"m.room.create", ""}]
	snapAfterCreate := r.snapshot
	join, joinPos := r.member(alice, "join")
	powerLevels, _ := r.sendState("m.room.power_levels", "", alice, `{"users":{"@alice:example.org":100}}`)
	stateBeforeMsg := r.snapshot
	msg, msgPos := r.message(alice, "hello")

	// Positions: one per event, in order, topologically by depth.
	wantEqual(t, "join position", joinPos, storage.PersistedPosition{EventID: join.EventID, Stream: 2, Topo: storage.TopoPos{Depth: 2, Stream: 2}})
	wantEqual(t, "message position", msgPos, storage.PersistedPosition{EventID: msg.EventID, Stream: 4, Topo: storage.TopoPos{Depth: 4, Stream: 4}})
	max, err = db.MaxStreamPosition(ctx)
	noErr(t, "MaxStreamPosition", err)
	wantEqual(t, "MaxStreamPosition", max, int64(4))

	// Events come back as stored, in the order asked, unknown ones left out.
	events, err := db.Events(ctx, []string{msg.EventID, "$nosuch", join.EventID})
	noErr(t, "Events", err)
	wantEqual(t, "Events", events, []storage.StoredEvent{
		{EventID: msg.EventID, RoomID: r.id, Type: "m.room.message", Sender: alice, Depth: 4, OriginServerTS: msg.OriginServerTS,
			JSON: msg.JSON, StreamPos: 4, Topo: storage.TopoPos{Depth: 4, Stream: 4}, StateBefore: stateBeforeMsg},
		{EventID: join.EventID, RoomID: r.id, Type: "m.room.member", StateKey: ptr(alice), Sender: alice, Depth: 2,
			OriginServerTS: join.OriginServerTS, JSON: join.JSON, StreamPos: 2, Topo: storage.TopoPos{Depth: 2, Stream: 2}, StateBefore: snapAfterCreate},
	})
	events, err = db.Events(ctx, []string{create})
	noErr(t, "Events(create)", err)
	if len(events) != 1 || events[0].StateBefore != 0 || *events[0].StateKey != "" {
		t.Errorf("Events(create) = %+v, want the create event with the empty state before it", events)
	}
	events, err = db.Events(ctx, []string{"$nosuch"})
	noErr(t, "Events(unknown)", err)
	wantEqual(t, "Events(unknown)", len(events), 0)

	// State.
	r.wantState(t)
	wantSnapshot(t, db, stateBeforeMsg, r.state)
	wantSnapshot(t, db, snapAfterCreate, map[stateSlot]string{{"m.room.create", ""}: create})
	wantSnapshot(t, db, 0, nil)
	_, err = db.StateEvent(ctx, stateBeforeMsg, "m.room.topic", "")
	wantErr(t, "StateEvent(empty slot)", err, storage.ErrNotFound)
	_, err = db.StateEvent(ctx, 0, "m.room.create", "")
	wantErr(t, "StateEvent(empty state)", err, storage.ErrNotFound)
	_, err = db.CurrentStateEvent(ctx, r.id, "m.room.member", bob)
	wantErr(t, "CurrentStateEvent(empty slot)", err, storage.ErrNotFound)
	info, err := db.Room(ctx, r.id)
	noErr(t, "Room", err)
	wantEqual(t, "Room.CurrentSnapshot", info.CurrentSnapshot, stateBeforeMsg) // a message does not change state

	// The DAG.
	ext, err := db.ForwardExtremities(ctx, r.id)
	wantStrings(t, "ForwardExtremities", ext, err, msg.EventID)
	refs, err := db.EventReferences(ctx, powerLevels.EventID)
	wantStrings(t, "EventReferences", refs, err, msg.EventID)

	// Membership.
	membership, eventID, err := db.Membership(ctx, r.id, alice)
	noErr(t, "Membership", err)
	wantEqual(t, "Membership", []string{membership, eventID}, []string{"join", join.EventID})
	_, _, err = db.Membership(ctx, r.id, bob)
	wantErr(t, "Membership(never in the room)", err, storage.ErrNotFound)
	members, err := db.RoomMembers(ctx, r.id, "join")
	wantStrings(t, "RoomMembers(join)", members, err, alice)
	rooms, err := db.RoomsForUser(ctx, alice, "join")
	wantStrings(t, "RoomsForUser(alice)", rooms, err, r.id)
	servers, err := db.JoinedServers(ctx, r.id)
	wantStrings(t, "JoinedServers", servers, err, "example.org")

	// Known events.
	known, err := db.KnownEventIDs(ctx, []string{msg.EventID, create, "$nosuch"})
	noErr(t, "KnownEventIDs", err)
	wantEqual(t, "KnownEventIDs", known, map[string]storage.EventStatus{msg.EventID: {}, create: {}})
}

func testPersistIdempotent(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "idem", alice)
	join, joinPos := r.member(alice, "join")
	msg, msgPos := r.message(alice, "once")
	snapshot := r.snapshot

	// Persisting the same events again changes nothing and reports where
	// they are.
	positions, err := db.PersistEvents(ctx, r.id, []storage.NewEvent{join, msg}, storage.RoomUpdate{})
	noErr(t, "PersistEvents again", err)
	joinPos.Existed, msgPos.Existed = true, true
	wantEqual(t, "positions of persisted events", positions, []storage.PersistedPosition{joinPos, msgPos})
	max, err := db.MaxStreamPosition(ctx)
	noErr(t, "MaxStreamPosition", err)
	wantEqual(t, "MaxStreamPosition after duplicates", max, msgPos.Stream)

	// An event twice in one batch is stored once.
	dup := r.event("m.room.message", nil, alice, `{"body":"twice"}`)
	positions, err = db.PersistEvents(ctx, r.id, []storage.NewEvent{dup, dup}, storage.RoomUpdate{})
	noErr(t, "PersistEvents with a repeated event", err)
	want := storage.PersistedPosition{EventID: dup.EventID, Stream: msgPos.Stream + 1, Topo: storage.TopoPos{Depth: dup.Depth, Stream: msgPos.Stream + 1}}
	wantEqual(t, "first of the pair", positions[0], want)
	want.Existed = true
	wantEqual(t, "second of the pair", positions[1], want)

	// An empty persist is allowed and changes nothing.
	positions, err = db.PersistEvents(ctx, r.id, nil, storage.RoomUpdate{})
	noErr(t, "PersistEvents(nothing)", err)
	wantEqual(t, "positions of nothing", len(positions), 0)
	r.refresh()
	wantEqual(t, "current snapshot", r.snapshot, snapshot)
	r.wantState(t)
}

func testOutliers(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	remote := userID("remote", "elsewhere.example")
	r := newTestRoom(t, db, "out", alice)
	r.member(alice, "join")

	// A remote member event learnt as an outlier, as the state of a
	// federated join would be.
	outlier := r.event("m.room.member", ptr(remote), remote, `{"membership":"join"}`)
	outlier.Outlier = true
	positions := r.persist([]storage.NewEvent{outlier}, storage.RoomUpdate{})
	wantEqual(t, "outlier position", positions[0], storage.PersistedPosition{EventID: outlier.EventID})
	max, err := db.MaxStreamPosition(ctx)
	noErr(t, "MaxStreamPosition", err)
	wantEqual(t, "MaxStreamPosition after an outlier", max, int64(2))
	events, err := db.Events(ctx, []string{outlier.EventID})
	noErr(t, "Events(outlier)", err)
	wantEqual(t, "Events(outlier)", events, []storage.StoredEvent{{EventID: outlier.EventID, RoomID: r.id, Type: "m.room.member",
		StateKey: ptr(remote), Sender: remote, Depth: outlier.Depth, OriginServerTS: outlier.OriginServerTS, JSON: outlier.JSON, Outlier: true}})
	known, err := db.KnownEventIDs(ctx, []string{outlier.EventID})
	noErr(t, "KnownEventIDs", err)
	wantEqual(t, "KnownEventIDs(outlier)", known, map[string]storage.EventStatus{outlier.EventID: {Outlier: true}})
	timeline, err := db.RoomEventsSince(ctx, 0, 100, []string{r.id}, 100)
	noErr(t, "RoomEventsSince", err)
	if len(timeline) != 1 || len(timeline[0].Events) != 2 {
		t.Errorf("RoomEventsSince shows %+v, want the create and join events only", timeline)
	}
	// Persisting it again as an outlier is a no-op.
	positions = r.persist([]storage.NewEvent{outlier}, storage.RoomUpdate{})
	wantEqual(t, "outlier again", positions[0], storage.PersistedPosition{EventID: outlier.EventID, Existed: true})

	// Outliers may be state, but not forward extremities.
	_, err = db.PersistEvents(ctx, r.id, nil, storage.RoomUpdate{ForwardExtremities: []string{outlier.EventID}})
	if err == nil {
		t.Error("an outlier became a forward extremity")
	}
	r.persist(nil, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: r.snapshot,
		Changes: []storage.StateEntry{{Type: "m.room.member", StateKey: remote, EventID: outlier.EventID}}}})
	r.state[stateSlot{"m.room.member", remote}] = outlier.EventID
	r.wantState(t)
	members, err := db.RoomMembers(ctx, r.id, "join")
	wantStrings(t, "RoomMembers with the outlier in state", members, err, alice, remote)
	servers, err := db.JoinedServers(ctx, r.id)
	wantStrings(t, "JoinedServers", servers, err, "elsewhere.example", "example.org")

	// De-outliering: the same event persisted into the timeline.
	timelineEv := outlier
	timelineEv.Outlier = false
	timelineEv.StateBefore = storage.StateRef{Base: r.snapshot}
	positions = r.persist([]storage.NewEvent{timelineEv}, storage.RoomUpdate{ForwardExtremities: []string{outlier.EventID}})
	want := storage.PersistedPosition{EventID: outlier.EventID, Stream: 3, Topo: storage.TopoPos{Depth: outlier.Depth, Stream: 3}}
	wantEqual(t, "de-outliered position", positions[0], want)
	events, err = db.Events(ctx, []string{outlier.EventID})
	noErr(t, "Events(de-outliered)", err)
	if len(events) != 1 || events[0].Outlier || events[0].StreamPos != 3 || events[0].StateBefore != r.snapshot {
		t.Errorf("Events(de-outliered) = %+v, want a timeline event at stream 3 with state before %d", events, r.snapshot)
	}
	ext, err := db.ForwardExtremities(ctx, r.id)
	wantStrings(t, "ForwardExtremities", ext, err, outlier.EventID)
	// And once in the timeline, persisting it again is a no-op.
	want.Existed = true
	positions = r.persist([]storage.NewEvent{timelineEv}, storage.RoomUpdate{})
	wantEqual(t, "de-outliered again", positions[0], want)
	outlierAgain := timelineEv
	outlierAgain.Outlier = true
	positions = r.persist([]storage.NewEvent{outlierAgain}, storage.RoomUpdate{})
	wantEqual(t, "timeline event persisted as an outlier", positions[0], want)

	// De-outliering inside one batch: outlier first, then timeline.
	second := r.event("m.room.message", nil, remote, `{"body":"late"}`)
	asOutlier := second
	asOutlier.Outlier = true
	positions = r.persist([]storage.NewEvent{asOutlier, second}, storage.RoomUpdate{})
	wantEqual(t, "outlier then timeline in one batch", positions, []storage.PersistedPosition{
		{EventID: second.EventID},
		{EventID: second.EventID, Stream: 4, Topo: storage.TopoPos{Depth: second.Depth, Stream: 4}},
	})
}

func testRejectedAndSoftFailed(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	mallory := userID("mallory", "evil.example")
	r := newTestRoom(t, db, "rej", alice)
	r.member(alice, "join")
	before := r.snapshot

	// A rejected state event: stored, said to be rejected, never state.
	bad := r.event("m.room.power_levels", ptr(""), mallory, `{"users":{"@mallory:evil.example":100}}`)
	bad.Rejected = "sender is not in the room"
	positions := r.persist([]storage.NewEvent{bad}, storage.RoomUpdate{})
	if positions[0].Stream == 0 || positions[0].Existed {
		t.Errorf("rejected event position %+v, want a new stream position", positions[0])
	}
	events, err := db.Events(ctx, []string{bad.EventID})
	noErr(t, "Events(rejected)", err)
	if len(events) != 1 || events[0].Rejected != bad.Rejected {
		t.Fatalf("Events(rejected) = %+v, want it with its reason", events)
	}
	known, err := db.KnownEventIDs(ctx, []string{bad.EventID})
	noErr(t, "KnownEventIDs", err)
	wantEqual(t, "KnownEventIDs(rejected)", known, map[string]storage.EventStatus{bad.EventID: {Rejected: true}})
	asState := storage.StateRef{Base: before, Changes: []storage.StateEntry{{Type: "m.room.power_levels", StateKey: "", EventID: bad.EventID}}}
	if _, err := db.SaveStateSnapshot(ctx, r.id, asState); err == nil {
		t.Error("SaveStateSnapshot accepted a rejected event as state")
	}
	if _, err := db.PersistEvents(ctx, r.id, nil, storage.RoomUpdate{SetCurrentState: &asState}); err == nil {
		t.Error("PersistEvents accepted a rejected event as current state")
	}
	ev := r.event("m.room.message", nil, alice, `{"body":"after"}`)
	ev.StateBefore = asState
	if _, err := db.PersistEvents(ctx, r.id, []storage.NewEvent{ev}, storage.RoomUpdate{}); err == nil {
		t.Error("PersistEvents accepted a rejected event in the state before an event")
	}
	if _, err := db.PersistEvents(ctx, r.id, nil, storage.RoomUpdate{ForwardExtremities: []string{bad.EventID}}); err == nil {
		t.Error("PersistEvents accepted a rejected event as forward extremity")
	}

	// A soft-failed message: stored and flagged, hidden from clients.
	soft := r.event("m.room.message", nil, mallory, `{"body":"spam"}`)
	soft.SoftFailed = true
	r.persist([]storage.NewEvent{soft}, storage.RoomUpdate{})
	events, err = db.Events(ctx, []string{soft.EventID})
	noErr(t, "Events(soft-failed)", err)
	if len(events) != 1 || !events[0].SoftFailed || events[0].Rejected != "" {
		t.Errorf("Events(soft-failed) = %+v, want it flagged soft-failed", events)
	}
	known, err = db.KnownEventIDs(ctx, []string{soft.EventID})
	noErr(t, "KnownEventIDs", err)
	wantEqual(t, "KnownEventIDs(soft-failed)", known, map[string]storage.EventStatus{soft.EventID: {SoftFailed: true}})
	_, ok := r.message(alice, "visible")

	// Timelines show neither.
	timeline, err := db.RoomEventsSince(ctx, 0, ok.Stream, []string{r.id}, 100)
	noErr(t, "RoomEventsSince", err)
	if len(timeline) != 1 {
		t.Fatalf("RoomEventsSince = %+v, want one room", timeline)
	}
	wantEqual(t, "RoomEventsSince", eventIDsOf(timeline[0].Events), []string{"$rej_1", "$rej_2", "$rej_6"})
	page, err := db.EventsBetween(ctx, r.id, storage.TopoMax, storage.TopoMin, 100, true)
	noErr(t, "EventsBetween", err)
	wantEqual(t, "EventsBetween", eventIDsOf(page), []string{"$rej_6", "$rej_2", "$rej_1"})
	r.wantState(t)
}

// testFailedPersistChangesNothing checks that PersistEvents is one
// transaction: a batch that fails part-way leaves no trace.
func testFailedPersistChangesNothing(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "atomic", alice)
	r.member(alice, "join")
	snapshot := r.snapshot
	good := r.event("m.room.topic", ptr(""), alice, `{"topic":"t"}`)
	bad := r.event("m.room.message", nil, alice, `{"body":"x"}`)
	bad.StateBefore = storage.StateRef{Base: snapshot, Changes: []storage.StateEntry{{Type: "m.room.name", StateKey: "", EventID: "$nosuch"}}}
	_, err := db.PersistEvents(ctx, r.id, []storage.NewEvent{good, bad}, storage.RoomUpdate{
		SetCurrentState:    &storage.StateRef{Base: snapshot, Changes: []storage.StateEntry{{Type: "m.room.topic", StateKey: "", EventID: good.EventID}}},
		ForwardExtremities: []string{bad.EventID},
	})
	wantErr(t, "PersistEvents naming an unknown event in state", err, storage.ErrNotFound)
	known, err := db.KnownEventIDs(ctx, []string{good.EventID, bad.EventID})
	noErr(t, "KnownEventIDs", err)
	wantEqual(t, "events stored by the failed batch", len(known), 0)
	max, err := db.MaxStreamPosition(ctx)
	noErr(t, "MaxStreamPosition", err)
	wantEqual(t, "MaxStreamPosition after the failed batch", max, int64(2))
	r.refresh()
	wantEqual(t, "current snapshot after the failed batch", r.snapshot, snapshot)
	r.wantState(t)
	ext, err := db.ForwardExtremities(ctx, r.id)
	wantStrings(t, "ForwardExtremities", ext, err, "$atomic_2")

	// The next persist takes a later position. It may skip the failed
	// batch's positions (a PostgreSQL sequence does not give them back),
	// and the visible end moves straight to it.
	_, pos := r.message(alice, "next")
	if pos.Stream <= 2 {
		t.Errorf("next position %d, want > 2", pos.Stream)
	}
	max, err = db.MaxStreamPosition(ctx)
	noErr(t, "MaxStreamPosition", err)
	wantEqual(t, "MaxStreamPosition after the next persist", max, pos.Stream)
}

// testOddIdentifiers stores IDs and state keys with quotes, backslashes,
// commas, braces, spaces, non-ASCII and the word NULL, which an engine
// may have to quote or escape when it passes lists of them in one value.
func testOddIdentifiers(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	odd := []string{`"quoted"`, `back\slash`, `a,b`, `{braces}`, `NULL`, ` spaced out `, `ünïcødé`, `'single'`, ``}
	r := &testRoom{t: t, db: db, id: `!odd"room\,{}:example.org`, name: `odd"\`, state: map[stateSlot]string{}}
	noErr(t, "CreateRoom", db.CreateRoom(ctx, r.id, roomVersion))
	r.sendState("m.room.create", "", alice, `{}`)
	var ids []string
	for _, key := range odd {
		ev, _ := r.sendState("org.example.odd "+key, key, alice, `{}`)
		ids = append(ids, ev.EventID)
	}
	r.wantState(t)
	noErr(t, "Close", db.Close())
	db = openDB(t, open) // cold caches: every name is read back from the database
	r.db = db
	r.wantState(t)
	events, err := db.Events(ctx, ids)
	noErr(t, "Events", err)
	wantEqual(t, "Events", eventIDsOf(events), ids)
	known, err := db.KnownEventIDs(ctx, append([]string{`$odd"\_missing`}, ids...))
	noErr(t, "KnownEventIDs", err)
	wantEqual(t, "KnownEventIDs", len(known), len(ids))
	timeline, err := db.RoomEventsSince(ctx, 0, 100, []string{r.id, `!other"room:example.org`}, 100)
	noErr(t, "RoomEventsSince", err)
	if len(timeline) != 1 || len(timeline[0].Events) != len(odd)+1 {
		t.Errorf("RoomEventsSince = %+v, want the room's %d events", timeline, len(odd)+1)
	}
}
