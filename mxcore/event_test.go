package mxcore

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// roomEvent mirrors the interface the room algorithms read events through
// (roomserver.Event), so a change that breaks it fails here first.
type roomEvent interface {
	EventID() string
	RoomID() string
	Type() string
	StateKey() *string
	Sender() string
	Content() []byte
	PrevEventIDs() []string
	AuthEventIDs() []string
	Depth() int64
	OriginServerTS() int64
	Redacts() string
	JSON() []byte
	Version() RoomVersion
}

var _ roomEvent = (*PDU)(nil)

// eventFor builds an event in the federation format of ver. extra holds
// further top-level members (",\"key\":value...") and may override none.
func eventFor(ver RoomVersion, eventType, content, extra string) string {
	refs := `"prev_events":["$prev1","$prev2"],"auth_events":["$auth1"]`
	id := ""
	if ver.EventRefsAreHashPairs {
		refs = `"prev_events":[["$prev1:x",{"sha256":"a"}],["$prev2:x",{"sha256":"b"}]],"auth_events":[["$auth1:x",{"sha256":"c"}]]`
		id = `"event_id":"$ev:example.org",`
	}
	roomID := `"room_id":"!room:example.org",`
	if ver.RoomIDFromCreateEvent {
		roomID = `"room_id":"!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ",`
	}
	return `{` + id + roomID + `"type":"` + eventType + `","sender":"@alice:example.org","content":` + content +
		`,"depth":7,"origin_server_ts":1404838188000,"hashes":{"sha256":"abc"},` +
		`"signatures":{"example.org":{"ed25519:1":"sig"}},"unsigned":{"age":4612},` + refs + extra + `}`
}

func TestNewPDUEveryVersion(t *testing.T) {
	for _, verID := range KnownRoomVersions() {
		ver := mustVersion(t, verID)
		t.Run("v"+verID, func(t *testing.T) {
			raw := eventFor(ver, "m.room.message", `{"body":"hi"}`, "")
			p, err := NewPDU([]byte(raw), ver)
			if err != nil {
				t.Fatal(err)
			}
			wantID, err := EventIDFor([]byte(raw), ver)
			if err != nil {
				t.Fatal(err)
			}
			wantPrev, wantAuth := []string{"$prev1", "$prev2"}, []string{"$auth1"}
			if ver.EventRefsAreHashPairs {
				wantPrev, wantAuth = []string{"$prev1:x", "$prev2:x"}, []string{"$auth1:x"}
			}
			checks := []struct {
				name      string
				got, want any
			}{
				{"EventID", p.EventID(), wantID},
				{"Type", p.Type(), "m.room.message"},
				{"Sender", p.Sender(), "@alice:example.org"},
				{"Content", string(p.Content()), `{"body":"hi"}`},
				{"StateKey", p.StateKey() == nil, true},
				{"Depth", p.Depth(), int64(7)},
				{"OriginServerTS", p.OriginServerTS(), int64(1404838188000)},
				{"PrevEventIDs", slices.Equal(p.PrevEventIDs(), wantPrev), true},
				{"AuthEventIDs", slices.Equal(p.AuthEventIDs(), wantAuth), true},
				{"Redacts", p.Redacts(), ""},
				{"JSON", string(p.JSON()), raw},
				{"Version", p.Version().ID, verID},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestNewPDUStateKeyAndRedacts(t *testing.T) {
	v10, v11 := mustVersion(t, "10"), mustVersion(t, "11")
	p, err := NewPDU([]byte(eventFor(v10, "m.room.topic", `{"topic":"t"}`, `,"state_key":""`)), v10)
	if err != nil {
		t.Fatal(err)
	}
	if p.StateKey() == nil || *p.StateKey() != "" {
		t.Errorf("StateKey = %v, want pointer to empty", p.StateKey())
	}
	tests := []struct {
		ver          RoomVersion
		content, top string
		want         string
	}{
		{v10, `{}`, `,"redacts":"$target"`, "$target"},
		{v10, `{"redacts":"$inContent"}`, ``, ""},
		{v11, `{"redacts":"$inContent"}`, `,"redacts":"$top"`, "$inContent"},
		{v11, `{}`, `,"redacts":"$top"`, ""},
		{v11, `{"redacts":5}`, ``, ""},
	}
	for _, tc := range tests {
		p, err := NewPDU([]byte(eventFor(tc.ver, "m.room.redaction", tc.content, tc.top)), tc.ver)
		if err != nil {
			t.Fatal(err)
		}
		if p.Redacts() != tc.want {
			t.Errorf("v%s content %s top %s: Redacts = %q, want %q", tc.ver.ID, tc.content, tc.top, p.Redacts(), tc.want)
		}
	}
}

func TestNewPDUCreateEventV12(t *testing.T) {
	v12 := mustVersion(t, "12")
	create := `{"type":"m.room.create","state_key":"","sender":"@alice:example.org","content":{"room_version":"12"},` +
		`"depth":1,"origin_server_ts":1,"hashes":{"sha256":"abc"},"signatures":{},"prev_events":[],"auth_events":[]}`
	p, err := NewPDU([]byte(create), v12)
	if err != nil {
		t.Fatal(err)
	}
	wantRoom, _ := RoomIDFromCreateEvent([]byte(create), v12)
	if p.RoomID() != wantRoom || p.RoomID() != "!"+p.EventID()[1:] {
		t.Errorf("RoomID = %q, EventID = %q, want room %q", p.RoomID(), p.EventID(), wantRoom)
	}
	withRoomID := strings.Replace(create, `{"type"`, `{"room_id":"!x:y","type"`, 1)
	if _, err := NewPDU([]byte(withRoomID), v12); !errors.Is(err, ErrInvalidPDU) {
		t.Errorf("v12 create with room_id: %v", err)
	}
	// Before v12 the create event needs a room_id like any other.
	v11 := mustVersion(t, "11")
	if _, err := NewPDU([]byte(create), v11); !errors.Is(err, ErrInvalidPDU) {
		t.Errorf("v11 create without room_id: %v", err)
	}
	if _, err := NewPDU([]byte(withRoomID), v11); err != nil {
		t.Errorf("v11 create with room_id: %v", err)
	}
}

func TestNewPDUNumbers(t *testing.T) {
	tests := []struct {
		name, verID, content string
		ok                   bool
	}{
		{"float in v5", "5", `{"n":1.5}`, true},
		{"big integer in v5", "5", `{"n":123456789012345678901234567890}`, true},
		{"float in v6", "6", `{"n":1.5}`, false},
		{"integral float in v6", "6", `{"n":1.0}`, false},
		{"exponent in v6", "6", `{"n":1e3}`, false},
		{"big integer in v12", "12", `{"n":9007199254740992}`, false},
		{"largest integer in v12", "12", `{"n":9007199254740991}`, true},
		{"minus zero in v12", "12", `{"n":-0}`, true},
	}
	for _, tc := range tests {
		ver := mustVersion(t, tc.verID)
		_, err := NewPDU([]byte(eventFor(ver, "m.room.message", tc.content, "")), ver)
		if (err == nil) != tc.ok {
			t.Errorf("%s: NewPDU error = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	v5 := mustVersion(t, "5")
	p, err := NewPDU([]byte(strings.Replace(eventFor(v5, "m.room.message", `{}`, ""), `"depth":7`, `"depth":7.0`, 1)), v5)
	if err != nil || p.Depth() != 7 {
		t.Errorf("v5 depth 7.0: %v", err)
	}
}

func TestNewPDURejects(t *testing.T) {
	v1, v4, v12 := mustVersion(t, "1"), mustVersion(t, "4"), mustVersion(t, "12")
	valid4 := eventFor(v4, "m.room.message", `{"body":"hi"}`, "")
	long := strings.Repeat("a", 256)
	tests := []struct {
		name string
		ver  RoomVersion
		raw  string
	}{
		{"not JSON", v4, `{`},
		{"not an object", v4, `[]`},
		{"duplicate key", v4, strings.Replace(valid4, `"depth":7`, `"depth":7,"depth":8`, 1)},
		{"unknown version", RoomVersion{}, valid4},
		{"type too long", v4, eventFor(v4, long, `{}`, "")},
		{"state_key too long", v4, eventFor(v4, "m.room.topic", `{}`, `,"state_key":"`+long+`"`)},
		{"state_key not a string", v4, eventFor(v4, "m.room.topic", `{}`, `,"state_key":null`)},
		{"type not a string", v4, strings.Replace(valid4, `"type":"m.room.message"`, `"type":1`, 1)},
		{"content not an object", v4, eventFor(v4, "m.room.message", `[]`, "")},
		{"bad sender", v4, strings.Replace(valid4, `"@alice:example.org"`, `"alice"`, 1)},
		{"sender too long", v4, strings.Replace(valid4, `"@alice:example.org"`, `"@`+long+`:x"`, 1)},
		{"bad room_id", v4, strings.Replace(valid4, `"!room:example.org"`, `"room"`, 1)},
		{"depth not a number", v4, strings.Replace(valid4, `"depth":7`, `"depth":"7"`, 1)},
		{"depth past int64", v4, strings.Replace(valid4, `"depth":7`, `"depth":9223372036854775808`, 1)},
		{"ts float", v4, strings.Replace(valid4, `1404838188000`, `1404838188000.5`, 1)},
		{"hashes without sha256", v4, strings.Replace(valid4, `{"sha256":"abc"}`, `{}`, 1)},
		{"signatures not nested objects", v4, strings.Replace(valid4, `{"ed25519:1":"sig"}`, `"sig"`, 1)},
		{"signature not a string", v4, strings.Replace(valid4, `"sig"`, `1`, 1)},
		{"v4 pair references", v4, strings.Replace(valid4, `["$auth1"]`, `[["$auth1",{}]]`, 1)},
		{"reference not an event ID", v4, strings.Replace(valid4, `["$auth1"]`, `["auth1"]`, 1)},
		{"references not an array", v4, strings.Replace(valid4, `["$auth1"]`, `"$auth1"`, 1)},
		{"v1 plain references", v1, strings.Replace(eventFor(v1, "m.room.message", `{}`, ""), `[["$auth1:x",{"sha256":"c"}]]`, `["$auth1:x"]`, 1)},
		{"v1 pair of three", v1, strings.Replace(eventFor(v1, "m.room.message", `{}`, ""), `["$auth1:x",{"sha256":"c"}]`, `["$auth1:x",{},1]`, 1)},
		{"v1 pair without hashes", v1, strings.Replace(eventFor(v1, "m.room.message", `{}`, ""), `["$auth1:x",{"sha256":"c"}]`, `["$auth1:x","c"]`, 1)},
		{"v1 without event_id", v1, strings.Replace(eventFor(v1, "m.room.message", `{}`, ""), `"event_id":"$ev:example.org",`, ``, 1)},
		{"v12 message without room_id", v12, strings.Replace(eventFor(v12, "m.room.message", `{}`, ""), `"room_id":"!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ",`, ``, 1)},
		{"too large", v4, eventFor(v4, "m.room.message", `{"body":"`+strings.Repeat("x", MaxPDUSize)+`"}`, "")},
	}
	for _, key := range []string{"type", "sender", "room_id", "content", "depth", "origin_server_ts", "hashes", "signatures", "prev_events", "auth_events"} {
		tests = append(tests, struct {
			name string
			ver  RoomVersion
			raw  string
		}{"missing " + key, v4, withoutKey(t, valid4, key)})
	}
	for _, tc := range tests {
		p, err := NewPDU([]byte(tc.raw), tc.ver)
		if err == nil {
			t.Errorf("%s: NewPDU accepted it (ID %s)", tc.name, p.EventID())
		} else if !errors.Is(err, ErrInvalidPDU) {
			t.Errorf("%s: error %v does not wrap ErrInvalidPDU", tc.name, err)
		}
	}
}

// withoutKey drops one top-level member from an event.
func withoutKey(t *testing.T, js, key string) string {
	t.Helper()
	root, _, err := parseObject([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	out := []byte{'{'}
	root.ForEach(func(k, v gjson.Result) bool {
		if k.Str != key {
			out = appendRawMember(out, k.Raw, v.Raw)
		}
		return true
	})
	return string(append(out, '}'))
}

func TestNewPDUSizeLimitIsCanonical(t *testing.T) {
	v4 := mustVersion(t, "4")
	base := eventFor(v4, "m.room.message", `{"body":""}`, "")
	canonical, err := CanonicalJSON([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	fill := strings.Repeat("x", MaxPDUSize-len(canonical))
	atLimit := eventFor(v4, "m.room.message", `{"body":"`+fill+`"}`, "")
	if _, err := NewPDU([]byte(atLimit), v4); err != nil {
		t.Errorf("event of exactly %d canonical bytes refused: %v", MaxPDUSize, err)
	}
	// Whitespace does not count against the limit...
	spaced := strings.Replace(atLimit, `,`, `,    `, -1)
	if _, err := NewPDU([]byte(spaced), v4); err != nil {
		t.Errorf("whitespace counted against the limit: %v", err)
	}
	// ...but one more byte of content does.
	over := eventFor(v4, "m.room.message", `{"body":"x`+fill+`"}`, "")
	if _, err := NewPDU([]byte(over), v4); !errors.Is(err, ErrInvalidPDU) {
		t.Errorf("event of %d canonical bytes: %v", MaxPDUSize+1, err)
	}
}

func TestNewPDUOwnsItsBytes(t *testing.T) {
	v4 := mustVersion(t, "4")
	raw := []byte(eventFor(v4, "m.room.message", `{"body":"hi"}`, ""))
	p, err := NewPDU(raw, v4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range raw {
		raw[i] = ' '
	}
	if string(p.Content()) != `{"body":"hi"}` || p.JSON()[0] != '{' {
		t.Error("PDU shares the caller's buffer")
	}
}

func TestNewPDUSignedSpecEvent(t *testing.T) {
	// The spec's signed minimal event is a valid v3+ event once given its
	// hashes; its ID is its reference hash.
	v4 := mustVersion(t, "4")
	want := specEventSigningVectors[0].want
	p, err := NewPDU([]byte(want), v4)
	if err != nil {
		t.Fatal(err)
	}
	sum, _ := ReferenceHash([]byte(want), v4)
	if p.EventID() != "$"+EncodeBase64URL(sum) || p.RoomID() != "!x:domain" || p.Depth() != 3 {
		t.Errorf("EventID %q RoomID %q Depth %d", p.EventID(), p.RoomID(), p.Depth())
	}
}

func FuzzNewPDU(f *testing.F) {
	for _, verID := range []string{"1", "3", "6", "11", "12"} {
		ver, _ := GetRoomVersion(verID)
		f.Add([]byte(eventFor(ver, "m.room.member", `{"membership":"join"}`, `,"state_key":"@alice:example.org"`)), uint8(ver.Redact))
	}
	f.Add([]byte(specEventSigningVectors[0].want), uint8(4))
	f.Add([]byte(`{"type":"m.room.create","sender":"@a:b","content":{},"depth":1,"origin_server_ts":1,"hashes":{"sha256":""},"signatures":{},"prev_events":[],"auth_events":[]}`), uint8(12))
	versions := KnownRoomVersions()
	f.Fuzz(func(t *testing.T, raw []byte, version uint8) {
		ver, _ := GetRoomVersion(versions[int(version)%len(versions)])
		p, err := NewPDU(raw, ver)
		if err != nil {
			return
		}
		if p.EventID() == "" || (p.RoomID() == "" && !ver.RoomIDFromCreateEvent) {
			t.Fatalf("accepted event without IDs: %q", raw)
		}
		if _, err := Redact(p.JSON(), ver); err != nil {
			t.Fatalf("accepted event cannot be redacted: %v", err)
		}
	})
}

func BenchmarkNewPDU(b *testing.B) {
	ver := mustVersion(b, "12")
	in := []byte(benchmarkEvent)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NewPDU(in, ver); err != nil {
			b.Fatal(err)
		}
	}
}

func TestNewPDUJSONErrorsKeepTheirOffset(t *testing.T) {
	_, err := NewPDU([]byte(`{"a":1,"a":2}`), mustVersion(t, "12"))
	var jsonErr *JSONError
	if !errors.Is(err, ErrInvalidPDU) || !errors.As(err, &jsonErr) || jsonErr.Offset == 0 {
		t.Errorf("NewPDU error %v: want ErrInvalidPDU wrapping a *JSONError with an offset", err)
	}
}
