package roomserver

import (
	"testing"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// testEvent is an Event read from JSON, for tests of the pure room
// algorithms (auth rules, state resolution). Build it with newTestEvent.
// Unlike real v3+ events, test JSON carries its own "event_id" so tests can
// name events; prev_events and auth_events may be plain IDs or v1–2
// [id, {hashes}] pairs. Fields are read once, so accessors are as cheap as
// a parsed event's.
type testEvent struct {
	raw      []byte
	rv       mxcore.RoomVersion
	id       string
	roomID   string
	typ      string
	stateKey *string
	sender   string
	content  []byte
	prev     []string
	auth     []string
	depth    int64
	ts       int64
	redacts  string
}

// newTestEvent parses js as an event of the given room version ("" leaves
// the version unknown, to test that path).
func newTestEvent(tb testing.TB, version, js string) *testEvent {
	tb.Helper()
	if !gjson.Valid(js) {
		tb.Fatalf("invalid test event JSON: %s", js)
	}
	var rv mxcore.RoomVersion
	if version != "" {
		var ok bool
		if rv, ok = mxcore.GetRoomVersion(version); !ok {
			tb.Fatalf("unknown room version %q", version)
		}
	}
	return parseTestEvent([]byte(js), rv)
}

func parseTestEvent(raw []byte, rv mxcore.RoomVersion) *testEvent {
	j := gjson.ParseBytes(raw)
	ev := &testEvent{
		raw:    raw,
		rv:     rv,
		id:     j.Get("event_id").Str,
		roomID: j.Get("room_id").Str,
		typ:    j.Get("type").Str,
		sender: j.Get("sender").Str,
		prev:   testEventRefs(j.Get("prev_events")),
		auth:   testEventRefs(j.Get("auth_events")),
		depth:  j.Get("depth").Int(),
		ts:     j.Get("origin_server_ts").Int(),
	}
	if c := j.Get("content"); c.Exists() {
		ev.content = []byte(c.Raw)
	}
	if sk := j.Get("state_key"); sk.Exists() {
		s := sk.Str
		ev.stateKey = &s
	}
	ev.redacts = j.Get("redacts").Str
	if rv.RedactsInContent {
		ev.redacts = j.Get("content.redacts").Str
	}
	return ev
}

// testEventRefs reads prev_events/auth_events in either format.
func testEventRefs(v gjson.Result) []string {
	var ids []string
	for _, r := range v.Array() {
		if r.IsArray() {
			r = r.Get("0")
		}
		ids = append(ids, r.Str)
	}
	return ids
}

func (e *testEvent) EventID() string             { return e.id }
func (e *testEvent) RoomID() string              { return e.roomID }
func (e *testEvent) Type() string                { return e.typ }
func (e *testEvent) StateKey() *string           { return e.stateKey }
func (e *testEvent) Sender() string              { return e.sender }
func (e *testEvent) Content() []byte             { return e.content }
func (e *testEvent) PrevEventIDs() []string      { return e.prev }
func (e *testEvent) AuthEventIDs() []string      { return e.auth }
func (e *testEvent) Depth() int64                { return e.depth }
func (e *testEvent) OriginServerTS() int64       { return e.ts }
func (e *testEvent) Redacts() string             { return e.redacts }
func (e *testEvent) JSON() []byte                { return e.raw }
func (e *testEvent) Version() mxcore.RoomVersion { return e.rv }

// testState is an in-memory room state keyed by (type, state_key); it
// implements AuthStateProvider.
type testState map[StateKeyTuple]Event

func (s testState) StateEvent(typ, stateKey string) Event {
	return s[StateKeyTuple{Type: typ, StateKey: stateKey}]
}

// put adds or replaces state events; message events are ignored.
func (s testState) put(events ...Event) testState {
	for _, ev := range events {
		if sk := ev.StateKey(); sk != nil {
			s[StateKeyTuple{Type: ev.Type(), StateKey: *sk}] = ev
		}
	}
	return s
}

// clone copies the state so a test can change it without touching others.
func (s testState) clone() testState {
	out := make(testState, len(s))
	for k, v := range s {
		out[k] = v
	}
	return out
}
