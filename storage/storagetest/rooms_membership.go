package storagetest

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/warbler-im/warbler/storage"
)

// Membership and current-state maintenance: joins, invites, leaves, bans
// and knocks one by one and in batches, state resets, and the errors a
// state reference can earn.

func testMemberships(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	carol, dave, erin := userID("carol", "b.example"), userID("dave", "b.example"), userID("erin", "c.example")
	r := newTestRoom(t, db, "mem", alice)
	r.member(alice, "join")
	r.member(carol, "join")
	r.member(dave, "invite")
	want := func(what string, membership string, users ...string) {
		t.Helper()
		got, err := db.RoomMembers(ctx, r.id, membership)
		wantStrings(t, what+": RoomMembers("+membership+")", got, err, users...)
	}
	wantServers := func(what string, servers ...string) {
		t.Helper()
		got, err := db.JoinedServers(ctx, r.id)
		wantStrings(t, what+": JoinedServers", got, err, servers...)
	}
	want("start", "join", alice, carol)
	want("start", "invite", dave)
	wantServers("start", "b.example", "example.org")
	wantPeers := func(what, server string, limit int, peers ...string) {
		t.Helper()
		got, err := db.PeerServers(ctx, server, limit)
		wantStrings(t, what+": PeerServers("+server+")", got, err, peers...)
	}
	wantPeers("start", "example.org", 10, "b.example")
	wantPeers("start", "b.example", 10, "example.org")
	wantPeers("start; a server only invited", "c.example", 10)
	wantPeers("start; no limit", "example.org", 0)

	r.member(dave, "join")
	want("dave joined", "join", alice, carol, dave)
	want("dave joined", "invite")
	r.member(carol, "leave")
	want("carol left", "join", alice, dave)
	want("carol left", "leave", carol)
	wantServers("carol left; dave still joined", "b.example", "example.org")
	banEv, _ := r.member(dave, "ban")
	wantServers("dave banned", "example.org")
	want("dave banned", "ban", dave)
	membership, eventID, err := db.Membership(ctx, r.id, dave)
	noErr(t, "Membership(dave)", err)
	wantEqual(t, "Membership(dave)", []string{membership, eventID}, []string{"ban", banEv.EventID})
	r.member(erin, "knock")
	want("erin knocked", "knock", erin)
	wantPeers("dave banned", "example.org", 10)
	wantPeers("dave banned; b.example has no one joined", "b.example", 10)

	// Several member events in one batch, each with the state before it.
	frank, grace := userID("frank", "d.example"), userID("grace", "d.example")
	e1 := r.event("m.room.member", ptr(frank), frank, `{"membership":"join"}`)
	r.depth++
	r.extrems = []string{e1.EventID}
	e2 := r.event("m.room.member", ptr(grace), grace, `{"membership":"join"}`)
	e1Entry := storage.StateEntry{Type: "m.room.member", StateKey: frank, EventID: e1.EventID}
	e2Entry := storage.StateEntry{Type: "m.room.member", StateKey: grace, EventID: e2.EventID}
	e2.StateBefore = storage.StateRef{Base: r.snapshot, Changes: []storage.StateEntry{e1Entry}}
	r.persist([]storage.NewEvent{e1, e2}, storage.RoomUpdate{
		SetCurrentState:    &storage.StateRef{Base: r.snapshot, Changes: []storage.StateEntry{e1Entry, e2Entry}},
		ForwardExtremities: []string{e2.EventID},
	})
	r.depth, r.extrems = e2.Depth, []string{e2.EventID}
	r.state[stateSlot{"m.room.member", frank}] = e1.EventID
	r.state[stateSlot{"m.room.member", grace}] = e2.EventID
	want("batch", "join", alice, frank, grace)
	wantServers("batch", "d.example", "example.org")
	r.member(frank, "leave")
	wantServers("frank left", "d.example", "example.org")
	r.member(grace, "leave")
	wantServers("grace left", "example.org")
	r.wantState(t)

	// A second room, for the per-user view.
	r2 := newTestRoom(t, db, "mem2", carol)
	r2.member(carol, "join")
	r2.member(alice, "join")
	for _, tc := range []struct {
		user, membership string
		rooms            []string
	}{
		{alice, "join", []string{r2.id, r.id}}, // sorted byte-wise: '2' < ':'

		{carol, "join", []string{r2.id}},
		{carol, "leave", []string{r.id}},
		{dave, "ban", []string{r.id}},
		{erin, "join", nil},
		{userID("nobody", "example.org"), "join", nil},
	} {
		rooms, err := db.RoomsForUser(ctx, tc.user, tc.membership)
		wantStrings(t, fmt.Sprintf("RoomsForUser(%s, %s)", tc.user, tc.membership), rooms, err, tc.rooms...)
		// RoomsByMembership must agree with RoomsForUser.
		all, err := db.RoomsByMembership(ctx, tc.user)
		wantStrings(t, fmt.Sprintf("RoomsByMembership(%s)[%s]", tc.user, tc.membership), all[tc.membership], err, tc.rooms...)
	}
	if all, err := db.RoomsByMembership(ctx, carol); err != nil || len(all) != 2 {
		t.Errorf("RoomsByMembership(carol) = %v, %v: want join and leave only", all, err)
	}
	testServersSharingRooms(t, db, carol, r2.id)
}

// testServersSharingRooms: carol is joined to mem2 only (with alice), so
// the servers sharing a room with her are those of mem2, not mem's.
func testServersSharingRooms(t *testing.T, db storage.Database, carol, mem2 string) {
	ctx := t.Context()
	got, err := db.ServersSharingRooms(ctx, carol)
	wantStrings(t, "ServersSharingRooms(carol)", got, err, "b.example", "example.org")
	got, err = db.ServersSharingRooms(ctx, userID("nobody", "example.org"))
	wantStrings(t, "ServersSharingRooms(nobody)", got, err)
	for _, tc := range []struct {
		user, server, except string
		want                 bool
	}{
		{carol, "example.org", "", true},
		{carol, "b.example", "", true},
		{carol, "d.example", "", false}, // only ever in mem, which carol left
		{alice, "d.example", "", false}, // frank and grace left mem
		{userID("nobody", "example.org"), "example.org", "", false},
		{carol, "b.example", mem2, false}, // mem2 is carol's only room
		{carol, "b.example", "!unknown:example.org", true},
		{alice, "example.org", mem2, true}, // alice is in mem too
	} {
		shared, err := db.ServerSharesRoom(ctx, tc.user, tc.server, tc.except)
		if err != nil || shared != tc.want {
			t.Errorf("ServerSharesRoom(%s, %s, except %q) = %v, %v; want %v", tc.user, tc.server, tc.except, shared, err, tc.want)
		}
	}
}

func testStateReset(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	bob := userID("bob", "b.example")
	r := newTestRoom(t, db, "reset", alice)
	r.member(alice, "join")
	afterAlice, afterAliceState := r.snapshot, cloneState(r.state)
	r.member(bob, "join")
	t1, _ := r.sendState("m.room.topic", "", alice, `{"topic":"one"}`)
	middle, middleState := r.snapshot, cloneState(r.state)
	r.sendState("m.room.topic", "", alice, `{"topic":"two"}`)

	// A reset that drops bob and rewinds the topic.
	r.persist(nil, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: r.snapshot, Changes: []storage.StateEntry{
		{Type: "m.room.member", StateKey: bob, EventID: ""},
		{Type: "m.room.topic", StateKey: "", EventID: t1.EventID},
	}}})
	delete(r.state, stateSlot{"m.room.member", bob})
	r.state[stateSlot{"m.room.topic", ""}] = t1.EventID
	r.wantState(t)
	_, _, err := db.Membership(ctx, r.id, bob)
	wantErr(t, "Membership(bob) after the reset", err, storage.ErrNotFound)
	_, err = db.CurrentStateEvent(ctx, r.id, "m.room.member", bob)
	wantErr(t, "CurrentStateEvent(bob) after the reset", err, storage.ErrNotFound)
	members, err := db.RoomMembers(ctx, r.id, "join")
	wantStrings(t, "RoomMembers after the reset", members, err, alice)
	servers, err := db.JoinedServers(ctx, r.id)
	wantStrings(t, "JoinedServers after the reset", servers, err, "example.org")
	rooms, err := db.RoomsForUser(ctx, bob, "join")
	wantStrings(t, "RoomsForUser(bob) after the reset", rooms, err)

	// Back to an older snapshot, then forward again.
	r.persist(nil, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: afterAlice}})
	r.state = cloneState(afterAliceState)
	r.wantState(t)
	r.persist(nil, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: middle}})
	r.state = cloneState(middleState)
	r.wantState(t)
	servers, err = db.JoinedServers(ctx, r.id)
	wantStrings(t, "JoinedServers after moving forward", servers, err, "b.example", "example.org")

	// Resets between states that no longer share a keyframe: enough
	// members join that the state is stored afresh.
	var batch []storage.NewEvent
	var changes []storage.StateEntry
	for i := range 150 {
		u := userID(fmt.Sprintf("m%03d", i), fmt.Sprintf("s%d.example", i%3))
		ev := r.event("m.room.member", ptr(u), u, `{"membership":"join"}`)
		ev.Outlier = true
		batch = append(batch, ev)
		changes = append(changes, storage.StateEntry{Type: "m.room.member", StateKey: u, EventID: ev.EventID})
		r.state[stateSlot{"m.room.member", u}] = ev.EventID
	}
	r.persist(batch, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: r.snapshot, Changes: changes}})
	big, bigState := r.snapshot, cloneState(r.state)
	r.wantState(t)
	members, err = db.RoomMembers(ctx, r.id, "join")
	noErr(t, "RoomMembers", err)
	wantEqual(t, "joined members of the big state", len(members), 152)
	servers, err = db.JoinedServers(ctx, r.id)
	wantStrings(t, "JoinedServers of the big state", servers, err, "b.example", "example.org", "s0.example", "s1.example", "s2.example")

	r.persist(nil, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: afterAlice}})
	r.state = cloneState(afterAliceState)
	r.wantState(t)
	servers, err = db.JoinedServers(ctx, r.id)
	wantStrings(t, "JoinedServers back at the start", servers, err, "example.org")
	r.persist(nil, storage.RoomUpdate{SetCurrentState: &storage.StateRef{Base: big}})
	r.state = bigState
	r.wantState(t)
	members, err = db.RoomMembers(ctx, r.id, "join")
	noErr(t, "RoomMembers", err)
	wantEqual(t, "joined members back in the big state", len(members), 152)
}

func testStateRefErrors(t *testing.T, open Opener) {
	db := openDB(t, open)
	ctx := t.Context()
	r := newTestRoom(t, db, "err", alice)
	join, _ := r.member(alice, "join")
	msg, _ := r.message(alice, "not state")
	create := r.state[stateSlot{"m.room.create", ""}]
	other := newTestRoom(t, db, "other", alice)
	otherCreate := other.state[stateSlot{"m.room.create", ""}]

	cases := []struct {
		name  string
		ref   storage.StateRef
		isErr error // nil: any error but the sentinels
	}{
		{"unknown base", storage.StateRef{Base: 1 << 40}, storage.ErrNotFound},
		{"base of another room", storage.StateRef{Base: other.snapshot}, nil},
		{"unknown event", storage.StateRef{Base: r.snapshot, Changes: []storage.StateEntry{{Type: "m.room.name", EventID: "$nosuch"}}}, storage.ErrNotFound},
		{"not a state event", storage.StateRef{Changes: []storage.StateEntry{{Type: "m.room.message", EventID: msg.EventID}}}, nil},
		{"wrong slot", storage.StateRef{Changes: []storage.StateEntry{{Type: "m.room.topic", EventID: create}}}, nil},
		{"wrong state key", storage.StateRef{Changes: []storage.StateEntry{{Type: "m.room.member", StateKey: "@else:example.org", EventID: join.EventID}}}, nil},
		{"event of another room", storage.StateRef{Changes: []storage.StateEntry{{Type: "m.room.create", EventID: otherCreate}}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				switch {
				case err == nil:
					t.Errorf("%s succeeded, want an error", what)
				case tc.isErr != nil && !errors.Is(err, tc.isErr):
					t.Errorf("%s: got %v, want %v", what, err, tc.isErr)
				case tc.isErr == nil && (errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict)):
					t.Errorf("%s: got %v, want a validation error", what, err)
				}
			}
			_, err := db.SaveStateSnapshot(ctx, r.id, tc.ref)
			check("SaveStateSnapshot", err)
			_, err = db.PersistEvents(ctx, r.id, nil, storage.RoomUpdate{SetCurrentState: &tc.ref})
			check("PersistEvents(SetCurrentState)", err)
		})
	}

	_, err := db.StateSnapshot(ctx, 1<<40)
	wantErr(t, "StateSnapshot(unknown)", err, storage.ErrNotFound)
	_, err = db.StateEvent(ctx, 1<<40, "m.room.create", "")
	wantErr(t, "StateEvent(unknown snapshot)", err, storage.ErrNotFound)
	_, err = db.StateEvent(ctx, r.snapshot, "m.no.such.type", "")
	wantErr(t, "StateEvent(unknown type)", err, storage.ErrNotFound)
	_, err = db.PersistEvents(ctx, r.id, nil, storage.RoomUpdate{ForwardExtremities: []string{"$nosuch"}})
	wantErr(t, "ForwardExtremities(unknown event)", err, storage.ErrNotFound)
	_, err = db.PersistEvents(ctx, r.id, nil, storage.RoomUpdate{ForwardExtremities: []string{otherCreate}})
	if err == nil {
		t.Error("an event of another room became a forward extremity")
	}
	_, err = db.PersistEvents(ctx, r.id, []storage.NewEvent{{EventID: otherCreate, Type: "m.room.create", StateKey: ptr(""), Sender: alice, JSON: []byte("{}")}}, storage.RoomUpdate{})
	if err == nil {
		t.Error("PersistEvents stored an event ID that belongs to another room")
	}
	for name, ev := range map[string]storage.NewEvent{
		"no event ID": {Type: "m.room.message", Sender: alice, JSON: []byte("{}")},
		"no type":     {EventID: "$x", Sender: alice, JSON: []byte("{}")},
		"no sender":   {EventID: "$x", Type: "m.room.message", JSON: []byte("{}")},
		"no JSON":     {EventID: "$x", Type: "m.room.message", Sender: alice},
	} {
		_, err := db.PersistEvents(ctx, r.id, []storage.NewEvent{ev}, storage.RoomUpdate{})
		if err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("PersistEvents with %s: got %v, want a validation error", name, err)
		}
	}

	// Removing a slot, and later changes winning over earlier ones.
	without, err := db.SaveStateSnapshot(ctx, r.id, storage.StateRef{Base: r.snapshot, Changes: []storage.StateEntry{{Type: "m.room.member", StateKey: alice}}})
	noErr(t, "SaveStateSnapshot(removal)", err)
	wantSnapshot(t, db, without, map[stateSlot]string{{"m.room.create", ""}: create})
	same, err := db.SaveStateSnapshot(ctx, r.id, storage.StateRef{Base: r.snapshot, Changes: []storage.StateEntry{
		{Type: "m.room.member", StateKey: alice},
		{Type: "m.room.member", StateKey: alice, EventID: join.EventID},
	}})
	noErr(t, "SaveStateSnapshot(remove, then restore)", err)
	wantEqual(t, "snapshot after removing and restoring a slot", same, r.snapshot)
	r.wantState(t)
}

// mustSave saves a state snapshot or fails the test.
func mustSave(t testing.TB, ctx context.Context, db storage.Database, roomID string, ref storage.StateRef) int64 {
	t.Helper()
	nid, err := db.SaveStateSnapshot(ctx, roomID, ref)
	if err != nil {
		t.Fatalf("SaveStateSnapshot: %v", err)
	}
	return nid
}
