package storagetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// State snapshots: that equal states share a snapshot, that any sequence
// of changes (small or large, on the newest state or on older ones) reads
// back exactly, before and after a restart, and that the disk a state
// change costs follows the change, not the size of the room's state.

func testSnapshotDedup(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "dedup", alice)
	join, _ := r.member(alice, "join")
	s := r.snapshot
	// A topic event in the timeline, not (yet) in any state.
	topic := r.event("m.room.topic", ptr(""), alice, `{"topic":"t"}`)
	r.persist([]storage.NewEvent{topic}, storage.RoomUpdate{})
	topicEntry := storage.StateEntry{Type: "m.room.topic", StateKey: "", EventID: topic.EventID}
	before, err := db.StateStats(ctx)
	noErr(t, "StateStats", err)

	wantEqual(t, "no changes", mustSave(t, ctx, db, r.id, storage.StateRef{Base: s}), s)
	unchanged := storage.StateRef{Base: s, Changes: []storage.StateEntry{{Type: "m.room.member", StateKey: alice, EventID: join.EventID}}}
	wantEqual(t, "a change to what is there already", mustSave(t, ctx, db, r.id, unchanged), s)
	s1 := mustSave(t, ctx, db, r.id, storage.StateRef{Base: s, Changes: []storage.StateEntry{topicEntry}})
	if s1 == s || s1 == 0 {
		t.Fatalf("a new state got snapshot %d (the base is %d)", s1, s)
	}
	wantEqual(t, "the same change again", mustSave(t, ctx, db, r.id, storage.StateRef{Base: s, Changes: []storage.StateEntry{topicEntry}}), s1)
	wantEqual(t, "the change undone", mustSave(t, ctx, db, r.id, storage.StateRef{Base: s1, Changes: []storage.StateEntry{{Type: "m.room.topic"}}}), s)
	wantEqual(t, "the empty state", mustSave(t, ctx, db, r.id, storage.StateRef{}), int64(0))

	// The state before an event and the current state are the same new
	// state: one snapshot.
	name := r.event("m.room.name", ptr(""), alice, `{"name":"n"}`)
	nameEntry := storage.StateEntry{Type: "m.room.name", StateKey: "", EventID: name.EventID}
	name.StateBefore = storage.StateRef{Base: s, Changes: []storage.StateEntry{topicEntry}}
	r.persist([]storage.NewEvent{name}, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: s1, Changes: []storage.StateEntry{nameEntry}}})
	events, err := db.Events(ctx, []string{name.EventID})
	noErr(t, "Events", err)
	wantEqual(t, "state before the name event", events[0].StateBefore, s1)

	after, err := db.StateStats(ctx)
	noErr(t, "StateStats", err)
	wantEqual(t, "snapshots added", after.Snapshots-before.Snapshots, int64(2)) // s1 and s1+name

	// Removing every entry of a state, however it is stored, gives the
	// empty state.
	var batch []storage.NewEvent
	var adds, removals []storage.StateEntry
	for i := range 100 {
		key := fmt.Sprintf("k%03d", i)
		ev := r.event("org.example.slot", ptr(key), alice, `{}`)
		ev.Outlier = true
		batch = append(batch, ev)
		adds = append(adds, storage.StateEntry{Type: ev.Type, StateKey: key, EventID: ev.EventID})
		removals = append(removals, storage.StateEntry{Type: ev.Type, StateKey: key})
	}
	r.persist(batch, storage.RoomUpdate{})
	full := mustSave(t, ctx, db, r.id, storage.StateRef{Changes: adds})
	wantEqual(t, "all entries removed", mustSave(t, ctx, db, r.id, storage.StateRef{Base: full, Changes: removals}), int64(0))
	wantEqual(t, "all but the last few removed, then those",
		mustSave(t, ctx, db, r.id, storage.StateRef{Base: mustSave(t, ctx, db, r.id, storage.StateRef{Base: full, Changes: removals[3:]}), Changes: removals[:3]}),
		int64(0))
}

// testSnapshotModel applies random changes, each to a random earlier
// snapshot (mostly the newest), to a room of a few hundred members, and
// checks every snapshot against a model, warm and after a reopen.
func testSnapshotModel(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "model", alice)
	const users, variants = 300, 3
	// Every user has a few member events to choose from, stored as
	// outliers so that any of them may enter a state.
	var batch []storage.NewEvent
	events := make([][]string, users)
	for u := range users {
		uid := userID(fmt.Sprintf("u%03d", u), fmt.Sprintf("s%d.example", u%7))
		for v := range variants {
			ev := r.event("m.room.member", ptr(uid), uid, fmt.Sprintf(`{"membership":"join","displayname":"v%d"}`, v))
			ev.Outlier = true
			batch = append(batch, ev)
			events[u] = append(events[u], ev.EventID)
		}
	}
	r.persist(batch, storage.RoomUpdate{})

	type snap struct {
		nid   int64
		state map[stateSlot]string
	}
	snaps := []snap{{r.snapshot, cloneState(r.state)}}
	rng := rand.New(rand.NewPCG(7, 11))
	for step := range 250 {
		base := snaps[len(snaps)-1]
		if rng.IntN(5) == 0 {
			base = snaps[rng.IntN(len(snaps))]
		}
		n := 1 + rng.IntN(4)
		if step%25 == 0 {
			n = 50 + rng.IntN(150) // large changes, as a state resolution may make
		}
		state := cloneState(base.state)
		var changes []storage.StateEntry
		for range n {
			u := rng.IntN(users)
			uid := userID(fmt.Sprintf("u%03d", u), fmt.Sprintf("s%d.example", u%7))
			slot := stateSlot{"m.room.member", uid}
			if v := rng.IntN(variants + 1); v < variants {
				changes = append(changes, storage.StateEntry{Type: slot.typ, StateKey: slot.key, EventID: events[u][v]})
				state[slot] = events[u][v]
			} else {
				changes = append(changes, storage.StateEntry{Type: slot.typ, StateKey: slot.key})
				delete(state, slot)
			}
		}
		nid := mustSave(t, ctx, db, r.id, storage.StateRef{Base: base.nid, Changes: changes})
		snaps = append(snaps, snap{nid, state})
		if step%10 == 0 {
			wantSnapshot(t, db, nid, state)
		}
	}
	check := func(db storage.Database) {
		for i, s := range snaps {
			wantSnapshot(t, db, s.nid, s.state)
			if t.Failed() {
				t.Fatalf("snapshot %d of %d differs", i, len(snaps))
			}
			// A few single-slot lookups, present and absent.
			for range 3 {
				u := rng.IntN(users)
				uid := userID(fmt.Sprintf("u%03d", u), fmt.Sprintf("s%d.example", u%7))
				got, err := db.StateEvent(ctx, s.nid, "m.room.member", uid)
				if want, ok := s.state[stateSlot{"m.room.member", uid}]; ok {
					noErr(t, "StateEvent", err)
					wantEqual(t, "StateEvent", got, want)
				} else {
					wantErr(t, "StateEvent(absent)", err, storage.ErrNotFound)
				}
			}
		}
	}
	check(db)
	noErr(t, "Close", db.Close())
	check(openDB(t, open)) // cold caches
}

// testStateDiskBound is the guard against state tables that grow with the
// size of the room times the number of changes. A room gets 5,000 member
// entries, then 500 state changes, each making a new current snapshot
// through PersistEvents. Copying the state per change would store 2.5
// million entries; the stored entries (block entries, block references
// and delta entries) must instead stay within a constant per change.
//
// Two workloads: members joining (new slots, the way big rooms grow) and
// members changing their member event (existing slots picked at random,
// the worst case for shared blocks, since each change lands in a
// different block).
func testStateDiskBound(t *testing.T, open Opener) {
	const members, changes = 5000, 500
	db := openDB(t, open)
	ctx := t.Context()
	for _, tc := range []struct {
		name      string
		perChange int64
		change    func(r *testRoom, rng *rand.Rand, i int)
	}{
		{"joins", 40, func(r *testRoom, _ *rand.Rand, i int) {
			r.member(userID(fmt.Sprintf("new%04d", i), "example.org"), "join")
		}},
		{"random rewrites", 64, func(r *testRoom, rng *rand.Rand, i int) {
			uid := userID(fmt.Sprintf("m%04d", rng.IntN(members)), "example.org")
			r.sendState("m.room.member", uid, uid, fmt.Sprintf(`{"membership":"join","displayname":"n%d"}`, i))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, err := db.StateStats(ctx)
			noErr(t, "StateStats", err)
			r := newTestRoom(t, db, "disk"+fmt.Sprint(len(tc.name)), alice)
			var batch []storage.NewEvent
			var entries []storage.StateEntry
			for i := range members {
				uid := userID(fmt.Sprintf("m%04d", i), "example.org")
				ev := r.event("m.room.member", ptr(uid), uid, `{"membership":"join"}`)
				ev.Outlier = true
				batch = append(batch, ev)
				entries = append(entries, storage.StateEntry{Type: ev.Type, StateKey: uid, EventID: ev.EventID})
				r.state[stateSlot{ev.Type, uid}] = ev.EventID
			}
			r.persist(batch, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: r.snapshot, Changes: entries}})
			setUp, err := db.StateStats(ctx)
			noErr(t, "StateStats", err)
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range changes {
				tc.change(r, rng, i)
			}
			after, err := db.StateStats(ctx)
			noErr(t, "StateStats", err)
			initial := setUp.Entries() - before.Entries()
			total := after.Entries() - before.Entries()
			perChange := float64(total-initial) / changes
			t.Logf("%s: %d entries for the first state of %d, then %.1f entries (%.0f bytes) per change; %d keyframes, %d snapshots",
				tc.name, initial, members+1, perChange, float64(after.Bytes-setUp.Bytes)/changes,
				after.Keyframes-before.Keyframes, after.Snapshots-before.Snapshots)
			if bound := int64(members) + changes*tc.perChange; total > bound {
				t.Errorf("%s: %d state entries stored, want at most %d + %d × %d = %d", tc.name, total, members, changes, tc.perChange, bound)
			}
			wantSnapshot(t, db, r.snapshot, r.state)
			got, err := db.CurrentState(ctx, r.id)
			noErr(t, "CurrentState", err)
			wantEqual(t, "CurrentState", got, modelEntries(r.state))
		})
	}
}

// testBatchStateChain persists a batch of state events the way the
// pipeline must, not knowing the snapshots the batch will create: the
// state before each event is the room's snapshot plus every change made
// earlier in the batch. Each state must read back exactly, and the batch
// must cost about what persisting the events one by one costs.
func testBatchStateChain(t *testing.T, open Opener) {
	const n = 200
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "chain", alice)
	base := r.snapshot
	before, err := db.StateStats(ctx)
	noErr(t, "StateStats", err)

	var batch []storage.NewEvent
	var changes []storage.StateEntry
	models := []map[stateSlot]string{}
	state := cloneState(r.state)
	for i := range n {
		uid := userID(fmt.Sprintf("u%03d", i%150), "example.org") // some users twice
		ev := r.event("m.room.member", ptr(uid), uid, fmt.Sprintf(`{"membership":"join","displayname":"%d"}`, i))
		r.depth, r.extrems = ev.Depth, []string{ev.EventID}
		ev.StateBefore = storage.StateRef{Base: base, Changes: slices.Clone(changes)}
		models = append(models, cloneState(state))
		batch = append(batch, ev)
		changes = append(changes, storage.StateEntry{Type: ev.Type, StateKey: uid, EventID: ev.EventID})
		state[stateSlot{ev.Type, uid}] = ev.EventID
	}
	r.persist(batch, storage.RoomUpdate{
		SetCurrentState:    &storage.StateRef{Base: base, Changes: changes},
		ForwardExtremities: []string{batch[n-1].EventID},
	})
	r.state = state
	r.wantState(t)
	ids := make([]string, n)
	for i, ev := range batch {
		ids[i] = ev.EventID
	}
	events, err := db.Events(ctx, ids)
	noErr(t, "Events", err)
	for i, e := range events {
		wantSnapshot(t, db, e.StateBefore, models[i])
	}
	after, err := db.StateStats(ctx)
	noErr(t, "StateStats", err)
	added := after.Entries() - before.Entries()
	t.Logf("a batch of %d state events stored %d state entries in %d snapshots and %d keyframes",
		n, added, after.Snapshots-before.Snapshots, after.Keyframes-before.Keyframes)
	// Persisted one by one, such changes cost about 20 entries each (see
	// testStateDiskBound); saving each event's state afresh from the base
	// would cost twice that, with a keyframe per event.
	if added > n*20 {
		t.Errorf("the batch stored %d state entries, want at most %d × 20", added, n)
	}
}
