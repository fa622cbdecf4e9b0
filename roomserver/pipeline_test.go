package roomserver

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// Pipeline edge cases, on the in-memory store.

func TestPersistDropsWhatItCannotCheck(t *testing.T) {
	a, b, roomID := twoServers(t, memStores, "11")
	msg := message(roomID, bob, "hi")
	tip, _ := a.ForwardExtremities(ctxT(t), roomID)
	good := craft(t, b, a, roomID, msg, tip, authIDsNow(t, b, msg))
	otherRoom := createRoom(t, a, "11", CreateRoomOptions{})
	noAuth := craft(t, b, a, roomID, msg, tip, nil)
	tampered := []byte(strings.Replace(string(good.JSON()), `"hi"`, `"ho"`, 1))
	store := a.store.(*memStore)
	calls := store.persistCalls

	cases := []struct {
		name string
		in   InputEvent
		room string
		want error
	}{
		{"unverified", InputEvent{JSON: good.JSON(), Origin: OriginRemote}, roomID, ErrUnverifiedEvent},
		{"no origin", InputEvent{JSON: good.JSON(), SignaturesVerified: true}, roomID, ErrUnverifiedEvent},
		{"not JSON", InputEvent{JSON: []byte(`{"type":`), Origin: OriginRemote, SignaturesVerified: true}, roomID, ErrInvalidEvent},
		{"missing keys", InputEvent{JSON: []byte(`{"type":"m.room.message"}`), Origin: OriginRemote, SignaturesVerified: true}, roomID, ErrInvalidEvent},
		{"wrong room", InputEvent{JSON: good.JSON(), Origin: OriginRemote, SignaturesVerified: true}, otherRoom, ErrInvalidEvent},
		{"local with a bad hash", InputEvent{JSON: tampered, Origin: OriginLocal}, roomID, ErrInvalidEvent},
	}
	for _, tc := range cases {
		res, err := a.Persist(ctxT(t), tc.room, []InputEvent{tc.in})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if tc.want != nil && !errors.Is(res[0].Err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, res[0].Err, tc.want)
		}
	}
	if store.persistCalls != calls {
		t.Errorf("dropped events reached storage (%d calls)", store.persistCalls-calls)
	}
	// No auth events at all is a rejection (rule 2), not a gap; so is a
	// message without prev events, whose state before is empty.
	res := deliver(t, a, roomID, KindLive, noAuth)[0]
	if res.Err != nil || !strings.Contains(res.Rejected, string(RuleAuthEventsNoCreate)) {
		t.Errorf("event without auth events: %v %q", res.Err, res.Rejected)
	}
	orphan := craft(t, b, a, roomID, msg, nil, authIDsNow(t, b, msg))
	if res := deliver(t, a, roomID, KindLive, orphan)[0]; res.Err != nil || res.Rejected == "" {
		t.Errorf("event without prev events: %v %q", res.Err, res.Rejected)
	}
}

func TestPersistMissingEventsAreNamed(t *testing.T) {
	a, b, roomID := twoServers(t, memStores, "12")
	first := send(t, b, message(roomID, bob, "one"))
	second := send(t, b, message(roomID, bob, "two"))
	res := deliver(t, a, roomID, KindLive, pdus(t, b, second)...)[0]
	var missing *MissingEventsError
	if !errors.As(res.Err, &missing) || !errors.Is(res.Err, ErrMissingState) || !slices.Equal(missing.Missing, []string{first}) {
		t.Fatalf("gap: %v", res.Err)
	}
	// An unknown auth event: bob's profile change cites a join A lacks.
	c := newServer(t, srvC, newMemStore())
	createEvents := pdus(t, a, mustCurrent(t, a, roomID)[StateKeyTuple{mRoomCreate, ""}])
	deliver(t, c, roomID, KindOutlier, createEvents...)
	res = deliver(t, c, roomID, KindOutlier, pdus(t, b, first)...)[0]
	if !errors.As(res.Err, &missing) || !errors.Is(res.Err, ErrMissingAuth) {
		t.Fatalf("missing auth events: %v", res.Err)
	}
}

func TestPersistRedactsOnHashMismatch(t *testing.T) {
	a, b, roomID := twoServers(t, memStores, "11")
	id := send(t, b, message(roomID, bob, "secret"))
	ev := pdus(t, b, id)[0]
	tampered := []byte(strings.Replace(string(ev.JSON()), `"secret"`, `"changed"`, 1))
	res, err := a.Persist(ctxT(t), roomID, []InputEvent{{JSON: tampered, Origin: OriginRemote, SignaturesVerified: true}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("%v %v", err, res[0].Err)
	}
	if !res[0].Redacted || res[0].EventID != id {
		t.Fatalf("result %+v", res[0])
	}
	stored := pdus(t, a, id)[0]
	if gjson.GetBytes(stored.JSON(), "content.body").Exists() {
		t.Errorf("stored unredacted: %s", stored.JSON())
	}
}

func TestLocalRefusalIsNotStored(t *testing.T) {
	a, _, roomID := twoServers(t, memStores, "10")
	store := a.store.(*memStore)
	calls := store.persistCalls
	_, err := a.SendEvent(ctxT(t), stateReq(roomID, amy, "m.room.name", "", map[string]string{"name": "x"}))
	var authErr *AuthError
	if !errors.As(err, &authErr) || authErr.Rule != RuleSenderNotJoined {
		t.Fatalf("non-member's event: %v", err)
	}
	if authErr.MatrixError().ErrCode != mxcore.ErrForbidden {
		t.Errorf("errcode %s", authErr.MatrixError().ErrCode)
	}
	if store.persistCalls != calls {
		t.Error("a refused local event reached storage")
	}
	if _, err := a.SendEvent(ctxT(t), message(roomID, bob, "not ours")); !errors.Is(err, ErrBadEventRequest) {
		t.Errorf("remote sender: %v", err)
	}
	if _, err := a.SendEvent(ctxT(t), EventRequest{RoomID: roomID, Sender: alice, Type: "m.room.message", Content: []byte(`[1]`)}); !errors.Is(err, ErrBadEventRequest) {
		t.Errorf("array content: %v", err)
	}
	if _, err := a.SendEvent(ctxT(t), EventRequest{RoomID: roomID, Sender: alice, Type: "m.room.message", Content: []byte(`{"n":1.5}`)}); !errors.Is(err, ErrBadEventRequest) {
		t.Errorf("float content in v10: %v", err)
	}
	big := EventRequest{RoomID: roomID, Sender: alice, Type: "m.room.message", Content: []byte(`{"body":"` + strings.Repeat("x", 70000) + `"}`)}
	if _, err := a.SendEvent(ctxT(t), big); !errors.Is(err, ErrBadEventRequest) || !errors.Is(err, mxcore.ErrInvalidPDU) {
		t.Errorf("oversized event: %v", err)
	}
	if _, err := a.SendEvent(ctxT(t), message("!nowhere:a.test", alice, "x")); !errors.Is(err, ErrUnknownRoom) {
		t.Errorf("unknown room: %v", err)
	}
}

// A failed commit changes nothing: the next send builds on the last
// durable event.
func TestCommitFailureLeavesNoTrace(t *testing.T) {
	store := newMemStore()
	a := newServer(t, srvA, store)
	roomID := createRoom(t, a, "12", CreateRoomOptions{})
	var heard collector
	a.AddListener(&heard)
	before, _ := a.ForwardExtremities(ctxT(t), roomID)
	store.failNext = errors.New("disk on fire")
	if _, err := a.SendEvent(ctxT(t), message(roomID, alice, "lost")); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("send during a storage failure: %v", err)
	}
	if len(heard.events) != 0 {
		t.Error("listeners heard of an event that was not committed")
	}
	id := send(t, a, message(roomID, alice, "kept"))
	if ev := pdus(t, a, id)[0]; !slices.Equal(ev.PrevEventIDs(), before) {
		t.Errorf("prevs %v, want %v", ev.PrevEventIDs(), before)
	}
	if len(heard.events) != 1 || heard.events[0][0].Event.EventID() != id || heard.rooms[0] != roomID {
		t.Errorf("listener heard %+v", heard)
	}
}

// Rooms unknown to the server are created only by a batch that holds
// their create event.
func TestPersistUnknownRoom(t *testing.T) {
	a, _, roomID := twoServers(t, memStores, "12")
	c := newServer(t, srvC, newMemStore())
	tip, _ := a.ForwardExtremities(ctxT(t), roomID)
	if _, err := c.Persist(ctxT(t), roomID, []InputEvent{{JSON: pdus(t, a, tip...)[0].JSON(), Origin: OriginRemote, SignaturesVerified: true}}); !errors.Is(err, ErrUnknownRoom) {
		t.Fatalf("event of an unknown room: %v", err)
	}
	// Another room's create event founds nothing here.
	create := pdus(t, a, "$"+roomID[1:])[0]
	if _, err := c.Persist(ctxT(t), "!elsewhere", []InputEvent{{JSON: create.JSON(), Origin: OriginRemote, SignaturesVerified: true}}); !errors.Is(err, ErrUnknownRoom) {
		t.Fatalf("create event of another room: %v", err)
	}
	if len(c.store.(*memStore).rooms) != 0 {
		t.Error("a room was created")
	}
}

// With caches of one entry the pipeline must give the same answers:
// everything it forgets is read back from storage.
func TestScenariosTinyCaches(t *testing.T) {
	testCacheSize = 1
	defer func() { testCacheSize = 0 }()
	runScenarios(t, memStores)
}

type listenerFunc func(roomID string, events []PersistedEvent)

func (f listenerFunc) OnNewEvents(roomID string, events []PersistedEvent) { f(roomID, events) }

// A listener may read the room it hears about, even when the room has
// just left the cache: the read must not wait for the write lock its own
// goroutine holds.
func TestListenerMayReadTheRoom(t *testing.T) {
	a := newServer(t, srvA, newMemStore())
	roomID := createRoom(t, a, "12", CreateRoomOptions{})
	var sizes []int
	a.AddListener(listenerFunc(func(room string, events []PersistedEvent) {
		a.rooms.Remove(room)
		state, err := a.CurrentState(ctxT(t), room)
		if err != nil {
			t.Error(err)
		}
		sizes = append(sizes, len(state))
	}))
	done := make(chan struct{})
	go func() {
		defer close(done)
		send(t, a, stateReq(roomID, alice, "m.room.name", "", map[string]string{"name": "n"}))
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener's read waited for the write lock")
	}
	if len(sizes) != 1 || sizes[0] != 7 {
		t.Errorf("listener read states of sizes %v, want the committed 7 entries", sizes)
	}
}
