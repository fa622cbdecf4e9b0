package clientapi

import (
	"encoding/json"
	"reflect"
	"testing"
)

// reflectedEvent is ClientEvent without its MarshalJSON: what
// encoding/json made of it before it encoded itself.
type reflectedEvent ClientEvent

func sampleEvents() map[string]ClientEvent {
	empty, member := "", "@bob:example.org"
	redaction := ClientEvent{Content: json.RawMessage(`{}`), EventID: "$r", OriginServerTS: 9, Sender: "@mod:example.org", Type: "m.room.redaction", Unsigned: &UnsignedData{Age: 1}}
	return map[string]ClientEvent{
		"minimal":     {Content: json.RawMessage(`{}`), EventID: "$a", OriginServerTS: 1, Sender: "@a:example.org", Type: "m.room.message"},
		"nil content": {EventID: "$a", Sender: "@a:example.org", Type: "x"},
		"room id and unsigned": {Content: json.RawMessage(`{"body":"hi \"there\"","msgtype":"m.text","n":[1,2.5,null,true]}`),
			EventID: "$b", OriginServerTS: 1700000000000, RoomID: "!r:example.org", Sender: "@a:example.org", Type: "m.room.message",
			Unsigned: &UnsignedData{Age: 42, TransactionID: "txn\t1"}},
		"empty state key": {Content: json.RawMessage(`{"name":"Room ☃"}`), EventID: "$c", Sender: "@a:example.org", StateKey: &empty, Type: "m.room.name", Unsigned: &UnsignedData{}},
		"member":          {Content: json.RawMessage(`{"membership":"join"}`), EventID: "$d", Sender: member, StateKey: &member, Type: "m.room.member"},
		"redacts":         {Content: json.RawMessage(`{}`), EventID: "$e", Sender: "@a:example.org", Type: "m.room.redaction", Redacts: "$target"},
		"redacted": {Content: json.RawMessage(`{}`), EventID: "$f", Sender: "@a:example.org", Type: "m.room.message",
			Unsigned: &UnsignedData{Age: 3, RedactedBecause: &redaction}},
		"bundled edit": {Content: json.RawMessage(`{"body":"v1"}`), EventID: "$g", Sender: "@a:example.org", Type: "m.room.message",
			Unsigned: &UnsignedData{Relations: &relationsBundle{Replace: &redaction, Thread: &threadBundle{LatestEvent: &redaction, Count: 2}}}},
		"odd strings": {Content: json.RawMessage(`{}`), EventID: "$h\x01\\", Sender: "@a:example.org", Type: "org.example.\"quoted\"\n"},
	}
}

// TestClientEventEncodesAsReflection: the hand-written encoding is
// byte for byte what encoding/json made from the struct's tags.
func TestClientEventEncodesAsReflection(t *testing.T) {
	evs := sampleEvents()
	var all []any
	var unsigned []any
	for _, ev := range evs {
		all = append(all, ev)
		if ev.Unsigned != nil {
			unsigned = append(unsigned, *ev.Unsigned)
		}
	}
	requireEveryFieldSet(t, all...)
	requireEveryFieldSet(t, unsigned...)
	for name, ev := range evs {
		requireSameEncoding(t, name, func() ([]byte, error) { return json.Marshal(ev) },
			func() ([]byte, error) { return json.Marshal(reflectedEvent(ev)) })
	}
}

// TestClientEventEncodingDiffersOnlyInEscapes: HTML characters and bytes
// that are not UTF-8 are written differently (not escaped; U+FFFD as
// UTF-8) but decode to the same values.
func TestClientEventEncodingDiffersOnlyInEscapes(t *testing.T) {
	ev := ClientEvent{Content: json.RawMessage(`{"body":"<b>&amp;</b>"}`), EventID: "$<&>", Sender: "@a:example.org", Type: "bad\xffutf8"}
	want, _ := json.Marshal(reflectedEvent(ev))
	got := ev.appendJSON(nil)
	if !json.Valid(got) {
		t.Fatalf("not JSON: %s", got)
	}
	var g, w any
	_ = json.Unmarshal(got, &g)
	_ = json.Unmarshal(want, &w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("decoded differently:\n got %s\nwant %s", got, want)
	}
}

// TestSyncResponseEncodesAsReflection: the whole response, with every
// section filled, is byte for byte what encoding/json made of it.
func TestSyncResponseEncodesAsReflection(t *testing.T) {
	evs := sampleEvents()
	resp := newSyncResponse(syncToken{Events: 7})
	jr := newJoinedRoom([]ClientEvent{evs["member"], evs["empty state key"]},
		syncTimeline{Events: []ClientEvent{evs["minimal"], evs["redacted"]}, Limited: true, PrevBatch: "t5"})
	jr.UnreadNotifications = map[string]int{"notification_count": 2, "highlight_count": 1}
	jr.UnreadThreadNotifications = map[string]map[string]int{"$root": {"notification_count": 1}}
	jr.Summary = map[string]any{"m.heroes": []string{"@b:example.org"}, "m.joined_member_count": 2}
	jr.Ephemeral.Events = append(jr.Ephemeral.Events, map[string]any{"type": "m.typing", "content": map[string]any{"user_ids": []string{}}})
	resp.Rooms.Join["!b:example.org"] = jr
	after := newJoinedRoom([]ClientEvent{}, syncTimeline{Events: []ClientEvent{}})
	after.State, after.StateAfter = nil, &syncList[ClientEvent]{Events: []ClientEvent{evs["member"]}}
	resp.Rooms.Join["!a:example.org"] = after
	resp.Rooms.Leave["!c:example.org"] = &leftRoom{State: &syncList[ClientEvent]{Events: nil},
		Timeline: syncTimeline{Events: []ClientEvent{evs["odd strings"]}}, AccountData: syncList[any]{Events: []any{}}}
	resp.Rooms.Invite["!d:example.org"] = &invitedRoom{InviteState: syncList[strippedEvent]{Events: []strippedEvent{
		{Content: json.RawMessage(`{"membership":"invite"}`), Sender: "@a:example.org", StateKey: "@me:example.org", Type: "m.room.member"}}}}
	resp.Rooms.Knock["!e:example.org"] = map[string]any{"knock_state": map[string]any{"events": []any{}}}
	resp.AccountData.Events = append(resp.AccountData.Events, map[string]any{"type": "m.direct", "content": map[string]any{}})
	resp.DeviceLists.Changed = []string{"@b:example.org"}
	resp.OTKCounts["signed_curve25519"] = 50
	// A field added to these types must be filled here, so that the
	// comparison below shows whether the encoder writes it.
	requireEveryFieldSet(t, resp)
	requireEveryFieldSet(t, resp.Rooms)
	requireEveryFieldSet(t, jr, after) // state in one, state_after in the other
	requireEveryFieldSet(t, resp.Rooms.Leave["!c:example.org"], after)
	requireEveryFieldSet(t, jr.Timeline)
	for name, r := range map[string]*syncResponse{"empty": newSyncResponse(syncToken{}), "full": resp, "nil maps": {}} {
		type reflected syncResponse // the same fields, without AppendJSON
		requireSameEncoding(t, name, func() ([]byte, error) { return r.AppendJSON(nil) },
			func() ([]byte, error) { return json.Marshal((*reflected)(r)) })
	}
}

// requireSameEncoding fails unless encode writes, byte for byte, what
// reflected (encoding/json by reflection) writes.
func requireSameEncoding(t *testing.T, name string, encode, reflected func() ([]byte, error)) {
	t.Helper()
	want, err := reflected()
	if err != nil {
		t.Fatal(err)
	}
	got, err := encode()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if string(got) != string(want) {
		t.Errorf("%s:\n got %s\nwant %s", name, got, want)
	}
}

// requireEveryFieldSet fails unless each field of the struct type of
// values is set (not its zero value) in at least one of them.
func requireEveryFieldSet(t *testing.T, values ...any) {
	t.Helper()
	typ := reflect.Indirect(reflect.ValueOf(values[0])).Type()
	for i := range typ.NumField() {
		set := false
		for _, v := range values {
			set = set || !reflect.Indirect(reflect.ValueOf(v)).Field(i).IsZero()
		}
		if !set {
			t.Errorf("%s.%s is not set in any sample: fill it, and check the encoder writes it", typ.Name(), typ.Field(i).Name)
		}
	}
}
