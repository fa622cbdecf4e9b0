package roomserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Servers of the pipeline tests. Each has a fixed key, so tests are
// repeatable.
const (
	srvA = "a.test"
	srvB = "b.test"
	srvC = "c.test"

	alice = "@alice:a.test"
	amy   = "@amy:a.test"
	bob   = "@bob:b.test"
	carol = "@carol:c.test"
)

func testKey(server string) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte(server[:1]), ed25519.SeedSize))
}

// storeFactory makes an empty store for a scenario; scenarios run on the
// in-memory fake and on the real databases.
type storeFactory func(t testing.TB) Store

func memStores(t testing.TB) Store { return newMemStore() }

// testClock ticks one millisecond per reading, so every event gets its
// own origin_server_ts.
type testClock struct{ ms atomic.Int64 }

func (c *testClock) now() time.Time {
	return time.UnixMilli(1_700_000_000_000 + c.ms.Add(1))
}

// testCacheSize, when set, shrinks every cache of the servers tests make.
var testCacheSize int

func newServer(t testing.TB, name string, store Store) *RoomServer {
	t.Helper()
	clock := &testClock{}
	rs, err := New(store, Config{ServerName: name, KeyID: "ed25519:test", PrivateKey: testKey(name), Now: clock.now,
		EventCacheSize: testCacheSize, SnapshotCacheSize: testCacheSize, RoomCacheSize: testCacheSize})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	return context.Background()
}

// createRoom creates a room as alice on rs.
func createRoom(t testing.TB, rs *RoomServer, version string, opts CreateRoomOptions) string {
	t.Helper()
	opts.RoomVersion = version
	if opts.Creator == "" {
		opts.Creator = alice
	}
	res, err := rs.CreateRoom(ctxT(t), opts)
	if err != nil {
		t.Fatalf("create room v%s: %v", version, err)
	}
	return res.RoomID
}

func sptrs(s string) *string { return &s }

// send sends a local event and fails the test on error.
func send(t testing.TB, rs *RoomServer, req EventRequest) string {
	t.Helper()
	id, err := rs.SendEvent(ctxT(t), req)
	if err != nil {
		t.Fatalf("send %s from %s: %v", req.Type, req.Sender, err)
	}
	return id
}

func message(roomID, sender, body string) EventRequest {
	return EventRequest{RoomID: roomID, Sender: sender, Type: "m.room.message",
		Content: mustJSON(map[string]string{"msgtype": "m.text", "body": body})}
}

func stateReq(roomID, sender, typ, stateKey string, content any) EventRequest {
	return EventRequest{RoomID: roomID, Sender: sender, Type: typ, StateKey: &stateKey, Content: mustJSON(content)}
}

func member(roomID, sender, target, membership string) EventRequest {
	return stateReq(roomID, sender, mRoomMember, target, map[string]string{"membership": membership})
}

// deliver hands remote events to rs as the federation layer would, with
// their signatures verified.
func deliver(t testing.TB, rs *RoomServer, roomID string, kind EventKind, events ...*mxcore.PDU) []InputResult {
	t.Helper()
	inputs := make([]InputEvent, len(events))
	for i, ev := range events {
		inputs[i] = InputEvent{JSON: ev.JSON(), Origin: OriginRemote, SignaturesVerified: true, Kind: kind}
	}
	res, err := rs.Persist(ctxT(t), roomID, inputs)
	if err != nil {
		t.Fatalf("persist remote events: %v", err)
	}
	return res
}

// pdus loads events by ID from rs, in order.
func pdus(t testing.TB, rs *RoomServer, ids ...string) []*mxcore.PDU {
	t.Helper()
	infos, err := rs.Events(ctxT(t), ids)
	if err != nil || len(infos) != len(ids) {
		t.Fatalf("load events %v: %d found, %v", ids, len(infos), err)
	}
	out := make([]*mxcore.PDU, len(infos))
	for i, in := range infos {
		out[i] = in.Event
	}
	return out
}

// craft builds and signs an event on rs with the prev and auth events
// given (read from source), and no checks: what a misbehaving or lagging
// server may send.
func craft(t testing.TB, rs, source *RoomServer, roomID string, req EventRequest, prevs, auth []string) *mxcore.PDU {
	t.Helper()
	req.RoomID = roomID
	ver, err := rs.RoomVersion(ctxT(t), roomID)
	if err != nil {
		t.Fatal(err)
	}
	in := buildInput{ver: ver, roomID: roomID, req: req, ts: rs.now()}
	if len(prevs) > 0 {
		in.prevs = pdus(t, source, prevs...)
	}
	if len(auth) > 0 {
		in.auth = pdus(t, source, auth...)
	}
	pdu, err := rs.build(in)
	if err != nil {
		t.Fatal(err)
	}
	return pdu
}

// authIDsNow is the auth event selection for req in rs's current state.
func authIDsNow(t testing.TB, rs *RoomServer, req EventRequest) []string {
	t.Helper()
	room, err := rs.room(ctxT(t), req.RoomID)
	if err != nil {
		t.Fatal(err)
	}
	return authEventIDsIn(room.current, room.version, req)
}

// stateMapOf turns entries into a map, for comparisons.
func stateMapOf(entries []storage.StateEntry) map[StateKeyTuple]string {
	m := make(map[StateKeyTuple]string, len(entries))
	for _, e := range entries {
		m[StateKeyTuple{e.Type, e.StateKey}] = e.EventID
	}
	return m
}

func mustCurrent(t testing.TB, rs *RoomServer, roomID string) map[StateKeyTuple]string {
	t.Helper()
	entries, err := rs.CurrentState(ctxT(t), roomID)
	if err != nil {
		t.Fatal(err)
	}
	return stateMapOf(entries)
}

func contentField(ev *mxcore.PDU, key string) string {
	var m map[string]any
	_ = json.Unmarshal(ev.Content(), &m)
	s, _ := m[key].(string)
	return s
}

// collector is a Listener that keeps what it hears.
type collector struct {
	rooms  []string
	events [][]PersistedEvent
}

func (c *collector) OnNewEvents(roomID string, events []PersistedEvent) {
	c.rooms = append(c.rooms, roomID)
	c.events = append(c.events, events)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
