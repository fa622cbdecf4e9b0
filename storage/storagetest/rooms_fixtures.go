package storagetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// Room fixtures: a testRoom persists events the way the roomserver's
// pipeline will (state before each event, the new current state, the new
// forward extremity) and keeps a model of the state it expects, so tests
// compare the store against something computed independently of it.

// roomTests are the room, event and state subtests Run adds to the suite.
var roomTests = []struct {
	name string
	run  func(t *testing.T, open Opener)
}{
	{"Rooms", testRooms},
	{"PersistBasics", testPersistBasics},
	{"PersistIdempotent", testPersistIdempotent},
	{"Outliers", testOutliers},
	{"RejectedAndSoftFailed", testRejectedAndSoftFailed},
	{"FailedPersistChangesNothing", testFailedPersistChangesNothing},
	{"OddIdentifiers", testOddIdentifiers},
	{"Memberships", testMemberships},
	{"StateReset", testStateReset},
	{"StateRefErrors", testStateRefErrors},
	{"SnapshotDedup", testSnapshotDedup},
	{"SnapshotModel", testSnapshotModel},
	{"StateDiskBound", testStateDiskBound},
	{"BatchStateChain", testBatchStateChain},
	{"Backfill", testBackfill},
	{"EventsBetween", testEventsBetween},
	{"RoomEventsSince", testRoomEventsSince},
	{"RecentTimelineMatchesTheDatabase", testRecentTimelineMatchesTheDatabase},
	{"ReferencesAndRedaction", testReferencesAndRedaction},
	{"ConcurrentPersist", testConcurrentPersist},
	{"RoomsReopen", testRoomsReopen},
}

const roomVersion = "12"

// stateSlot is a (type, state key) pair.
type stateSlot struct{ typ, key string }

// testRoom drives one room of a database.
type testRoom struct {
	t        testing.TB
	db       storage.Database
	id       string
	name     string // short, unique in the database, for event IDs
	n        int    // events made so far
	depth    int64
	extrems  []string
	snapshot int64 // current state snapshot, as the store reported it
	state    map[stateSlot]string
}

// newTestRoom creates a room and persists its create event, sent by
// creator.
func newTestRoom(t testing.TB, db storage.Database, name, creator string) *testRoom {
	t.Helper()
	r := &testRoom{t: t, db: db, id: "!" + name + ":example.org", name: name, state: map[stateSlot]string{}}
	if err := db.CreateRoom(t.Context(), r.id, roomVersion); err != nil {
		t.Fatalf("CreateRoom(%s): %v", r.id, err)
	}
	r.sendState("m.room.create", "", creator, fmt.Sprintf(`{"creator":%q}`, creator))
	return r
}

func ptr(s string) *string { return &s }

// event builds an event that follows the room's forward extremities.
// stateKey nil makes a non-state event.
func (r *testRoom) event(typ string, stateKey *string, sender, content string) storage.NewEvent {
	r.n++
	id := fmt.Sprintf("$%s_%d", r.name, r.n)
	depth := r.depth + 1
	var sk string
	if stateKey != nil {
		sk = fmt.Sprintf(`,"state_key":%q`, *stateKey)
	}
	json := fmt.Sprintf(`{"type":%q%s,"sender":%q,"room_id":%q,"depth":%d,"origin_server_ts":%d,"content":%s,"prev_events":[%s]}`,
		typ, sk, sender, r.id, depth, baseTS+int64(r.n), content, quoteAll(r.extrems))
	auth := []string{}
	if id := r.state[stateSlot{"m.room.create", ""}]; id != "" {
		auth = append(auth, id)
	}
	return storage.NewEvent{
		EventID: id, Type: typ, StateKey: stateKey, Sender: sender, Depth: depth,
		OriginServerTS: baseTS + int64(r.n), JSON: []byte(json),
		PrevEventIDs: slices.Clone(r.extrems), AuthEventIDs: auth,
		StateBefore: storage.StateRef{Base: r.snapshot},
	}
}

func quoteAll(ids []string) string {
	quoted := make([]string, len(ids))
	for i, id := range ids {
		quoted[i] = fmt.Sprintf("%q", id)
	}
	return strings.Join(quoted, ",")
}

// apply persists ev as the room's newest event: it becomes the only
// forward extremity and, if it is a state event, enters the state.
func (r *testRoom) apply(ev storage.NewEvent) storage.PersistedPosition {
	r.t.Helper()
	update := storage.RoomUpdate{ForwardExtremities: []string{ev.EventID}}
	if ev.StateKey != nil && ev.Rejected == "" {
		update.SetCurrentState = &storage.StateRef{Base: r.snapshot, Changes: []storage.StateEntry{{Type: ev.Type, StateKey: *ev.StateKey, EventID: ev.EventID}}}
	}
	pos := r.persist([]storage.NewEvent{ev}, update)[0]
	r.depth = ev.Depth
	r.extrems = []string{ev.EventID}
	if ev.StateKey != nil && ev.Rejected == "" {
		r.state[stateSlot{ev.Type, *ev.StateKey}] = ev.EventID
	}
	return pos
}

// persist runs PersistEvents and refreshes the room's current snapshot.
func (r *testRoom) persist(batch []storage.NewEvent, update storage.RoomUpdate) []storage.PersistedPosition {
	r.t.Helper()
	positions, err := r.db.PersistEvents(r.t.Context(), r.id, batch, update)
	if err != nil {
		r.t.Fatalf("PersistEvents(%s): %v", r.id, err)
	}
	if len(positions) != len(batch) {
		r.t.Fatalf("PersistEvents returned %d positions for %d events", len(positions), len(batch))
	}
	r.refresh()
	return positions
}

// refresh reads the room's current snapshot from the store.
func (r *testRoom) refresh() {
	r.t.Helper()
	info, err := r.db.Room(r.t.Context(), r.id)
	if err != nil {
		r.t.Fatalf("Room(%s): %v", r.id, err)
	}
	r.snapshot = info.CurrentSnapshot
}

func (r *testRoom) sendState(typ, stateKey, sender, content string) (storage.NewEvent, storage.PersistedPosition) {
	r.t.Helper()
	ev := r.event(typ, ptr(stateKey), sender, content)
	return ev, r.apply(ev)
}

func (r *testRoom) member(userID, membership string) (storage.NewEvent, storage.PersistedPosition) {
	r.t.Helper()
	return r.sendState("m.room.member", userID, userID, fmt.Sprintf(`{"membership":%q}`, membership))
}

func (r *testRoom) message(sender, body string) (storage.NewEvent, storage.PersistedPosition) {
	r.t.Helper()
	ev := r.event("m.room.message", nil, sender, fmt.Sprintf(`{"msgtype":"m.text","body":%q}`, body))
	return ev, r.apply(ev)
}

// modelEntries returns a state model as sorted StateEntries.
func modelEntries(state map[stateSlot]string) []storage.StateEntry {
	out := make([]storage.StateEntry, 0, len(state))
	for slot, id := range state {
		out = append(out, storage.StateEntry{Type: slot.typ, StateKey: slot.key, EventID: id})
	}
	slices.SortFunc(out, func(a, b storage.StateEntry) int {
		if c := strings.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		return strings.Compare(a.StateKey, b.StateKey)
	})
	return out
}

// wantState checks the current state in every form the store offers.
func (r *testRoom) wantState(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	want := modelEntries(r.state)
	got, err := r.db.CurrentState(ctx, r.id)
	noErr(t, "CurrentState", err)
	wantEqual(t, "CurrentState", got, want)
	got, err = r.db.StateSnapshot(ctx, r.snapshot)
	noErr(t, "StateSnapshot(current)", err)
	wantEqual(t, "StateSnapshot(current)", got, want)
	for _, e := range want {
		id, err := r.db.CurrentStateEvent(ctx, r.id, e.Type, e.StateKey)
		noErr(t, "CurrentStateEvent", err)
		wantEqual(t, fmt.Sprintf("CurrentStateEvent(%s, %q)", e.Type, e.StateKey), id, e.EventID)
		id, err = r.db.StateEvent(ctx, r.snapshot, e.Type, e.StateKey)
		noErr(t, "StateEvent", err)
		wantEqual(t, fmt.Sprintf("StateEvent(%s, %q)", e.Type, e.StateKey), id, e.EventID)
	}
}

// wantSnapshot checks one snapshot against a model.
func wantSnapshot(t *testing.T, db storage.Database, snapshot int64, state map[stateSlot]string) {
	t.Helper()
	got, err := db.StateSnapshot(t.Context(), snapshot)
	noErr(t, fmt.Sprintf("StateSnapshot(%d)", snapshot), err)
	wantEqual(t, fmt.Sprintf("StateSnapshot(%d)", snapshot), got, modelEntries(state))
}

func cloneState(state map[stateSlot]string) map[stateSlot]string {
	out := make(map[stateSlot]string, len(state))
	for k, v := range state {
		out[k] = v
	}
	return out
}

// wantStrings compares a string list, treating nil as empty.
func wantStrings(t *testing.T, what string, got []string, err error, want ...string) {
	t.Helper()
	noErr(t, what, err)
	if got == nil {
		got = []string{}
	}
	if want == nil {
		want = []string{}
	}
	wantEqual(t, what, got, want)
}

// eventIDsOf lists the IDs of events, in order.
func eventIDsOf(events []storage.StoredEvent) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.EventID
	}
	return ids
}

func userID(local, server string) string { return "@" + local + ":" + server }
