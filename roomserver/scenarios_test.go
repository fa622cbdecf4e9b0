package roomserver

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

// The pipeline scenarios run against any Store: the in-memory fake here,
// SQLite and PostgreSQL in roomserver_db_test.go.
func runScenarios(t *testing.T, stores storeFactory) {
	t.Run("CreateRoomEveryVersion", func(t *testing.T) { testCreateRoomEveryVersion(t, stores) })
	t.Run("ConcurrentSendsOneRoom", func(t *testing.T) { testConcurrentSendsOneRoom(t, stores) })
	t.Run("ConcurrentSendsManyRooms", func(t *testing.T) { testConcurrentSendsManyRooms(t, stores) })
	for _, v := range []string{"1", "2", "3", "11", "12"} {
		t.Run("ForkMerged/v"+v, func(t *testing.T) { testForkMerged(t, stores, v) })
	}
	t.Run("Rejected", func(t *testing.T) { testRejected(t, stores) })
	t.Run("SoftFail", func(t *testing.T) { testSoftFail(t, stores) })
	t.Run("OutlierThenLive", func(t *testing.T) { testOutlierThenLive(t, stores) })
	for _, v := range []string{"2", "12"} {
		t.Run("RemoteJoin/v"+v, func(t *testing.T) { testRemoteJoin(t, stores, v) })
	}
	t.Run("Restart", func(t *testing.T) { testRestart(t, stores) })
}

func TestScenariosMemStore(t *testing.T) { runScenarios(t, memStores) }

// checkAuthorised checks every event of the room the way a receiving
// server would: against its auth events and the state before it.
func checkAuthorised(t *testing.T, rs *RoomServer, events []*mxcore.PDU) {
	t.Helper()
	for _, ev := range events {
		before, err := rs.stateAtEvent(ctxT(t), ev.EventID(), StateBeforeEvent)
		if err != nil {
			t.Fatal(err)
		}
		lookup := func(typ, sk string) Event {
			id, ok := before.Get(typ, sk)
			if !ok {
				return nil
			}
			return pdus(t, rs, id)[0]
		}
		if err := Authorize(ev, StateResLookup(lookup)); err != nil {
			t.Errorf("%s %s fails auth against the state before it: %v", ev.Type(), ev.EventID(), err)
		}
		var create Event
		if ev.Version().RoomIDFromCreateEvent && ev.Type() != mRoomCreate {
			create = lookup(mRoomCreate, "")
		}
		auth := make([]Event, 0, 6)
		for _, p := range pdus(t, rs, ev.AuthEventIDs()...) {
			auth = append(auth, p)
		}
		if err := AuthorizeByAuthEvents(ev, auth, create); err != nil {
			t.Errorf("%s %s fails auth against its auth events: %v", ev.Type(), ev.EventID(), err)
		}
	}
}

func testCreateRoomEveryVersion(t *testing.T, stores storeFactory) {
	for _, v := range mxcore.KnownRoomVersions() {
		t.Run("v"+v, func(t *testing.T) {
			rs := newServer(t, srvA, stores(t))
			res, err := rs.CreateRoom(ctxT(t), CreateRoomOptions{
				Creator: alice, RoomVersion: v, Preset: PresetTrustedPrivateChat, CanonicalAlias: "#room:a.test",
				Name: sptrs("Room"), Topic: sptrs("Things"), Invite: []string{amy, bob}, IsDirect: true,
				InitialState: []InitialStateEvent{
					{Type: "m.room.history_visibility", Content: []byte(`{"history_visibility":"joined"}`)},
					{Type: "m.room.name", Content: []byte(`{"name":"overridden"}`)},
					{Type: "org.example.setting", StateKey: "x", Content: []byte(`{"on":true}`)},
				},
				PowerLevelContentOverride: []byte(`{"kick": 80}`),
				CreationContent:           []byte(`{"m.federate": true, "creator": "@mallory:a.test"}`),
			})
			if err != nil {
				t.Fatal(err)
			}
			checkCreatedRoom(t, rs, v, res)
		})
	}
}

func checkCreatedRoom(t *testing.T, rs *RoomServer, v string, res CreateRoomResult) {
	var types []string
	for _, ev := range res.Events {
		types = append(types, ev.Type())
	}
	want := "m.room.create m.room.member m.room.power_levels m.room.canonical_alias m.room.join_rules " +
		"m.room.guest_access m.room.history_visibility org.example.setting m.room.name m.room.topic m.room.member"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("event order:\n got %s\nwant %s", got, want)
	}
	checkAuthorised(t, rs, res.Events)
	if !slices.Equal(res.RemoteInvites, []string{bob}) {
		t.Errorf("remote invites %v", res.RemoteInvites)
	}
	ver, _ := mxcore.GetRoomVersion(v)
	create, pl := res.Events[0], res.Events[2]
	if creator := contentField(create, "creator"); ver.ImplicitRoomCreator != (creator == "") || (creator != "" && creator != alice) {
		t.Errorf("create content %s", create.Content())
	}
	if strings.Contains(string(pl.Content()), alice) == ver.PrivilegedCreators || !strings.Contains(string(pl.Content()), `"kick":80`) {
		t.Errorf("power levels in v%s: %s", v, pl.Content())
	}
	if ver.RoomIDFromCreateEvent && res.RoomID != "!"+create.EventID()[1:] {
		t.Errorf("v12 room ID %s not derived from %s", res.RoomID, create.EventID())
	}
	cur := mustCurrent(t, rs, res.RoomID)
	if len(cur) != 11 {
		t.Errorf("current state has %d entries: %v", len(cur), cur)
	}
	if m, _, _ := rs.Membership(ctxT(t), res.RoomID, amy); m != "invite" {
		t.Errorf("amy's membership %q", m)
	}
	ex, _ := rs.ForwardExtremities(ctxT(t), res.RoomID)
	if !slices.Equal(ex, []string{res.Events[len(res.Events)-1].EventID()}) {
		t.Errorf("extremities %v", ex)
	}
}

// testConcurrentSendsOneRoom: sends racing in one room form one chain.
func testConcurrentSendsOneRoom(t *testing.T, stores storeFactory) {
	rs := newServer(t, srvA, stores(t))
	roomID := createRoom(t, rs, "12", CreateRoomOptions{Preset: PresetPublicChat})
	const workers, each = 8, 6
	ids := make(chan string, workers*each)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id, err := rs.SendEvent(ctxT(t), message(roomID, alice, fmt.Sprintf("%d/%d", w, i)))
				if err != nil {
					t.Error(err)
					return
				}
				ids <- id
			}
		}()
	}
	wg.Wait()
	close(ids)
	var sent []string
	for id := range ids {
		sent = append(sent, id)
	}
	checkLinear(t, rs, roomID, sent)
}

// checkLinear checks that the events form one chain ending in the room's
// only forward extremity.
func checkLinear(t *testing.T, rs *RoomServer, roomID string, ids []string) {
	t.Helper()
	events := pdus(t, rs, ids...)
	byPrev := map[string]*mxcore.PDU{}
	depths := map[int64]bool{}
	for _, ev := range events {
		if len(ev.PrevEventIDs()) != 1 {
			t.Fatalf("%s has prevs %v", ev.EventID(), ev.PrevEventIDs())
		}
		if byPrev[ev.PrevEventIDs()[0]] != nil {
			t.Fatalf("two events share prev %s", ev.PrevEventIDs()[0])
		}
		byPrev[ev.PrevEventIDs()[0]] = ev
		if depths[ev.Depth()] {
			t.Fatalf("depth %d twice", ev.Depth())
		}
		depths[ev.Depth()] = true
	}
	ex, err := rs.ForwardExtremities(ctxT(t), roomID)
	if err != nil || len(ex) != 1 {
		t.Fatalf("extremities %v, %v", ex, err)
	}
}

func testConcurrentSendsManyRooms(t *testing.T, stores storeFactory) {
	rs := newServer(t, srvA, stores(t))
	const rooms, each = 6, 8
	var wg sync.WaitGroup
	sent := make([][]string, rooms)
	roomIDs := make([]string, rooms)
	for r := range rooms {
		roomIDs[r] = createRoom(t, rs, "11", CreateRoomOptions{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id, err := rs.SendEvent(ctxT(t), message(roomIDs[r], alice, fmt.Sprint(i)))
				if err != nil {
					t.Error(err)
					return
				}
				sent[r] = append(sent[r], id)
			}
		}()
	}
	wg.Wait()
	for r := range rooms {
		checkLinear(t, rs, roomIDs[r], sent[r])
	}
	if n := rs.locks.active(); n != 0 {
		t.Errorf("%d room locks still held after all sends", n)
	}
}

// twoServers sets up a public room on A that bob of B has joined; both
// servers hold the same DAG.
func twoServers(t *testing.T, stores storeFactory, version string) (a, b *RoomServer, roomID string) {
	a, b = newServer(t, srvA, stores(t)), newServer(t, srvB, stores(t))
	res, err := a.CreateRoom(ctxT(t), CreateRoomOptions{Creator: alice, RoomVersion: version, Preset: PresetPublicChat})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range deliver(t, b, res.RoomID, KindLive, res.Events...) {
		if r.Err != nil || r.Rejected != "" {
			t.Fatalf("B refused %s: %v %s", r.EventID, r.Err, r.Rejected)
		}
	}
	exchange(t, b, a, res.RoomID, send(t, b, member(res.RoomID, bob, bob, "join")))
	return a, b, res.RoomID
}

// exchange delivers events of from to to, which must accept them.
func exchange(t *testing.T, from, to *RoomServer, roomID string, ids ...string) []InputResult {
	t.Helper()
	res := deliver(t, to, roomID, KindLive, pdus(t, from, ids...)...)
	for _, r := range res {
		if r.Err != nil || r.Rejected != "" {
			t.Fatalf("%s refused %s: %v %s", to.cfg.ServerName, r.EventID, r.Err, r.Rejected)
		}
	}
	return res
}

// testForkMerged: both servers extend the room at once, with a state
// conflict; after exchanging events they agree on the state.
func testForkMerged(t *testing.T, stores storeFactory, version string) {
	a, b, roomID := twoServers(t, stores, version)
	pl := stateReq(roomID, alice, mRoomPowerLevels, "", map[string]any{
		"users": map[string]int{alice: 100, bob: 50}, "state_default": 50, "events_default": 0})
	if version == "12" {
		pl.Content = mustJSON(map[string]any{"users": map[string]int{bob: 50}, "state_default": 50})
	}
	exchange(t, a, b, roomID, send(t, a, pl))
	x := send(t, a, stateReq(roomID, alice, "m.room.topic", "", map[string]string{"topic": "from A"}))
	y := send(t, b, stateReq(roomID, bob, "m.room.topic", "", map[string]string{"topic": "from B"}))
	exchange(t, b, a, roomID, y)
	exchange(t, a, b, roomID, x)
	exA, _ := a.ForwardExtremities(ctxT(t), roomID)
	exB, _ := b.ForwardExtremities(ctxT(t), roomID)
	if len(exA) != 2 || !slices.Equal(exA, exB) {
		t.Fatalf("extremities A %v B %v", exA, exB)
	}
	if curA, curB := mustCurrent(t, a, roomID), mustCurrent(t, b, roomID); !maps.Equal(curA, curB) {
		t.Fatalf("servers disagree on the state:\nA %v\nB %v", curA, curB)
	}
	z := send(t, a, message(roomID, alice, "merge"))
	ev := pdus(t, a, z)[0]
	if got := slices.Sorted(slices.Values(ev.PrevEventIDs())); !slices.Equal(got, slices.Sorted(slices.Values(exA))) {
		t.Errorf("merge event prevs %v, want %v", got, exA)
	}
	exchange(t, a, b, roomID, z)
	if curA, curB := mustCurrent(t, a, roomID), mustCurrent(t, b, roomID); !maps.Equal(curA, curB) {
		t.Fatalf("servers disagree after the merge")
	}
}

// testRejected: an event the auth rules refuse is stored with its reason
// and never used as state, prev or auth event.
func testRejected(t *testing.T, stores storeFactory) {
	a, b, roomID := twoServers(t, stores, "10")
	tip, _ := a.ForwardExtremities(ctxT(t), roomID)
	grab := stateReq(roomID, bob, mRoomPowerLevels, "", map[string]any{"users": map[string]int{bob: 100}})
	bad := craft(t, b, a, roomID, grab, tip, authIDsNow(t, b, grab))
	res := deliver(t, a, roomID, KindLive, bad)[0]
	if res.Err != nil || res.Rejected == "" {
		t.Fatalf("power grab: err %v, rejected %q", res.Err, res.Rejected)
	}
	if stored, _ := a.Events(ctxT(t), []string{bad.EventID()}); len(stored) != 1 || stored[0].Rejected == "" {
		t.Fatalf("rejected event not stored with its reason: %+v", stored)
	}
	if ex, _ := a.ForwardExtremities(ctxT(t), roomID); !slices.Equal(ex, tip) {
		t.Errorf("rejected event moved the extremities to %v", ex)
	}
	if cur := mustCurrent(t, a, roomID); cur[StateKeyTuple{mRoomPowerLevels, ""}] == bad.EventID() {
		t.Errorf("rejected event entered the current state")
	}
	// A later event may follow it (as prev), but not cite it as auth.
	msg := message(roomID, bob, "after")
	ok := craft(t, b, a, roomID, msg, []string{bad.EventID()}, authIDsNow(t, b, msg))
	citing := craft(t, b, a, roomID, msg, tip, replaceAuth(t, b, msg, mRoomPowerLevels, bad.EventID()))
	results := deliver(t, a, roomID, KindLive, ok, citing)
	if results[0].Err != nil || results[0].Rejected != "" {
		t.Errorf("event after a rejected one: %v %q", results[0].Err, results[0].Rejected)
	}
	if !strings.Contains(results[1].Rejected, string(RuleAuthEventRejected)) {
		t.Errorf("event citing a rejected auth event: %v %q", results[1].Err, results[1].Rejected)
	}
	before, _ := a.StateAt(ctxT(t), ok.EventID(), StateBeforeEvent)
	if stateMapOf(before)[StateKeyTuple{mRoomPowerLevels, ""}] == bad.EventID() {
		t.Error("state after a rejected event includes it")
	}
	next := pdus(t, a, send(t, a, message(roomID, alice, "next")))[0]
	if slices.Contains(next.PrevEventIDs(), bad.EventID()) {
		t.Error("a local event used a rejected event as prev")
	}
}

// replaceAuth is the auth selection of req on rs with one type's event
// swapped for id.
func replaceAuth(t *testing.T, rs *RoomServer, req EventRequest, typ, id string) []string {
	cur := mustCurrent(t, rs, req.RoomID)
	var out []string
	for _, a := range authIDsNow(t, rs, req) {
		if cur[StateKeyTuple{typ, ""}] == a {
			a = id
		}
		out = append(out, a)
	}
	return out
}

// testSoftFail: bob, banned on A, keeps sending from B on top of the old
// DAG; A stores those events but neither shows nor extends them.
func testSoftFail(t *testing.T, stores storeFactory) {
	a, b, roomID := twoServers(t, stores, "11")
	var heard collector
	a.AddListener(&heard)
	ban := send(t, a, member(roomID, alice, bob, "ban"))
	evade := send(t, b, message(roomID, bob, "still here"))
	res := exchange(t, b, a, roomID, evade)[0]
	if !res.SoftFailed || res.Rejected != "" || res.Stream <= 0 {
		t.Fatalf("evading message: %+v", res)
	}
	if ex, _ := a.ForwardExtremities(ctxT(t), roomID); !slices.Equal(ex, []string{ban}) {
		t.Errorf("extremities %v, want only the ban", ex)
	}
	last := heard.events[len(heard.events)-1]
	if len(last) != 1 || !last[0].SoftFailed {
		t.Errorf("listener heard %+v", last)
	}
	next := pdus(t, a, send(t, a, message(roomID, alice, "next")))[0]
	if !slices.Equal(next.PrevEventIDs(), []string{ban}) {
		t.Errorf("next prevs %v", next.PrevEventIDs())
	}
}

// testOutlierThenLive: an event first known as an outlier (from an auth
// chain) takes its place in the timeline when it arrives live.
func testOutlierThenLive(t *testing.T, stores storeFactory) {
	a, b, roomID := twoServers(t, stores, "12")
	id := send(t, b, stateReq(roomID, bob, "m.room.member", bob, map[string]string{"membership": "join", "displayname": "Bob"}))
	ev := pdus(t, b, id)[0]
	res := deliver(t, a, roomID, KindOutlier, ev)[0]
	if res.Err != nil || res.Stream != 0 || res.Existed {
		t.Fatalf("as outlier: %+v", res)
	}
	if _, err := a.StateAt(ctxT(t), id, StateBeforeEvent); err == nil {
		t.Error("an outlier has a state")
	}
	res = deliver(t, a, roomID, KindLive, ev)[0]
	if res.Err != nil || res.Existed || res.Stream <= 0 {
		t.Fatalf("de-outliered: %+v", res)
	}
	info, _ := a.Events(ctxT(t), []string{id})
	if info[0].Outlier {
		t.Error("still an outlier")
	}
	if ex, _ := a.ForwardExtremities(ctxT(t), roomID); !slices.Equal(ex, []string{id}) {
		t.Errorf("extremities %v", ex)
	}
	if res = deliver(t, a, roomID, KindLive, ev)[0]; !res.Existed {
		t.Errorf("third delivery not reported as existing: %+v", res)
	}
}

// testRemoteJoin: C joins A's room the way a federation join works: the
// join event goes to A; C stores the room's state and auth chain as
// outliers and its join with the state A reported.
func testRemoteJoin(t *testing.T, stores storeFactory, version string) {
	a := newServer(t, srvA, stores(t))
	c := newServer(t, srvC, stores(t))
	roomID := createRoom(t, a, version, CreateRoomOptions{Preset: PresetPublicChat, Name: sptrs("Lobby")})
	early := send(t, a, message(roomID, alice, "before carol"))
	join := buildRemoteJoin(t, a, c, roomID, carol)
	if r := deliver(t, a, roomID, KindLive, join)[0]; r.Err != nil || r.Rejected != "" {
		t.Fatalf("A refused the join: %v %s", r.Err, r.Rejected)
	}
	stateBefore, err := a.StateAt(ctxT(t), join.EventID(), StateBeforeEvent)
	if err != nil {
		t.Fatal(err)
	}
	var stateIDs []string
	for _, e := range stateBefore {
		stateIDs = append(stateIDs, e.EventID)
	}
	chain, err := a.AuthChain(ctxT(t), append(stateIDs, join.EventID()), 1000)
	if err != nil {
		t.Fatal(err)
	}
	outliers := append(chain, pdus(t, a, stateIDs...)...)
	sortByDepth(outliers)
	inputs := []InputEvent{}
	for _, ev := range outliers {
		inputs = append(inputs, InputEvent{JSON: ev.JSON(), Origin: OriginRemote, SignaturesVerified: true, Kind: KindOutlier})
	}
	inputs = append(inputs, InputEvent{JSON: join.JSON(), Origin: OriginRemote, SignaturesVerified: true, StateBefore: stateIDs})
	results, err := c.Persist(ctxT(t), roomID, inputs)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Err != nil || r.Rejected != "" {
			t.Fatalf("C refused %s: %v %s", r.EventID, r.Err, r.Rejected)
		}
	}
	if curA, curC := mustCurrent(t, a, roomID), mustCurrent(t, c, roomID); !maps.Equal(curA, curC) {
		t.Fatalf("C's state differs from A's:\nA %v\nC %v", curA, curC)
	}
	exchange(t, c, a, roomID, send(t, c, message(roomID, carol, "hello from C")))
	checkBackfill(t, a, c, roomID, early)
}

// checkBackfill fetches an event from before the join into C's past, with
// the state A reports before it: it goes before everything C has and
// changes neither the current state nor the extremities.
func checkBackfill(t *testing.T, a, c *RoomServer, roomID, id string) {
	state, err := a.StateAt(ctxT(t), id, StateBeforeEvent)
	if err != nil {
		t.Fatal(err)
	}
	var stateIDs []string
	for _, e := range state {
		stateIDs = append(stateIDs, e.EventID)
	}
	curBefore := mustCurrent(t, c, roomID)
	exBefore, _ := c.ForwardExtremities(ctxT(t), roomID)
	ev := pdus(t, a, id)[0]
	results, err := c.Persist(ctxT(t), roomID, []InputEvent{{JSON: ev.JSON(), Origin: OriginRemote, SignaturesVerified: true,
		Kind: KindBackfilled, StateBefore: stateIDs}})
	if err != nil || results[0].Err != nil || results[0].Rejected != "" {
		t.Fatalf("backfill: %v %+v", err, results)
	}
	if results[0].Stream >= 0 {
		t.Errorf("backfilled event at stream position %d", results[0].Stream)
	}
	exAfter, _ := c.ForwardExtremities(ctxT(t), roomID)
	if !maps.Equal(curBefore, mustCurrent(t, c, roomID)) || !slices.Equal(exBefore, exAfter) {
		t.Error("backfill moved the room")
	}
	got, _ := c.StateAt(ctxT(t), id, StateBeforeEvent)
	if !slices.Equal(got, state) {
		t.Error("backfilled event's state differs from the one given")
	}
}

// buildRemoteJoin builds, on joiner, a join on top of host's room (what
// make_join's template and the joining server's signature amount to).
func buildRemoteJoin(t *testing.T, host, joiner *RoomServer, roomID, user string) *mxcore.PDU {
	req := member(roomID, user, user, "join")
	room, err := host.room(ctxT(t), roomID)
	if err != nil {
		t.Fatal(err)
	}
	in := buildInput{ver: room.version, roomID: roomID, req: req, ts: joiner.now()}
	in.prevs = pdus(t, host, room.extremityIDs()...)
	in.auth = pdus(t, host, authEventIDsIn(room.current, room.version, req)...)
	pdu, err := joiner.build(in)
	if err != nil {
		t.Fatal(err)
	}
	return pdu
}

// testRestart: a fresh RoomServer over the same store answers as the one
// that wrote it.
func testRestart(t *testing.T, stores storeFactory) {
	store := stores(t)
	a := newServer(t, srvA, store)
	roomID := createRoom(t, a, "12", CreateRoomOptions{Preset: PresetPublicChat})
	var ids []string
	for i := range 30 {
		if i%3 == 0 {
			ids = append(ids, send(t, a, stateReq(roomID, alice, "org.example.counter", fmt.Sprint(i%5), map[string]int{"n": i})))
		} else {
			ids = append(ids, send(t, a, message(roomID, alice, fmt.Sprint(i))))
		}
	}
	again := newServer(t, srvA, store)
	compareServers(t, a, again, roomID, ids)
}

// compareServers checks two RoomServers agree on a room's current state,
// extremities and the state before and after each of ids.
func compareServers(t *testing.T, a, b *RoomServer, roomID string, ids []string) {
	t.Helper()
	if curA, curB := mustCurrent(t, a, roomID), mustCurrent(t, b, roomID); !maps.Equal(curA, curB) {
		t.Fatalf("current state differs: %d vs %d entries", len(curA), len(curB))
	}
	exA, _ := a.ForwardExtremities(ctxT(t), roomID)
	exB, _ := b.ForwardExtremities(ctxT(t), roomID)
	if !slices.Equal(exA, exB) {
		t.Fatalf("extremities differ: %v vs %v", exA, exB)
	}
	for _, id := range ids {
		for _, at := range []StatePoint{StateBeforeEvent, StateAfterEvent} {
			sa, errA := a.StateAt(ctxT(t), id, at)
			sb, errB := b.StateAt(ctxT(t), id, at)
			if errA != nil || errB != nil || !slices.Equal(sa, sb) {
				t.Fatalf("state %d at %s differs (%v, %v)", at, id, errA, errB)
			}
		}
	}
}
