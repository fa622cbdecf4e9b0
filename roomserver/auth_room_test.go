package roomserver

import (
	"encoding/json"
	"strconv"
	"testing"
)

// The auth tests share one room, rebuilt for each room version:
//
//	@alice:a.test  creator; level 100 (infinite from v12, and then not listed in users)
//	@admin:a.test  level 100
//	@mod:b.test    level 50
//	@bob:b.test    level 0 (users_default)
//	@carol:c.test  not in the room
//
// all but carol joined, join rule "invite", and power levels with the
// spec defaults written out, m.room.name and m.room.power_levels at 50,
// m.room.tombstone at 100.
const (
	uAlice = "@alice:a.test"
	uAdmin = "@admin:a.test"
	uMod   = "@mod:b.test"
	uBob   = "@bob:b.test"
	uCarol = "@carol:c.test"
)

// evSpec describes an event for the test room to build.
type evSpec struct {
	typ      string
	stateKey *string
	sender   string
	content  string             // JSON object
	contentV func(v int) string // content depending on the room version, if set
	prev     []string           // nil: one ordinary prev event
	id       string             // "": generated
	redacts  string
	roomID   string // "": the room's
}

func sptr(s string) *string { return &s }

func stateEv(typ, stateKey, sender, content string) evSpec {
	return evSpec{typ: typ, stateKey: sptr(stateKey), sender: sender, content: content}
}

func msgEv(typ, sender, content string) evSpec {
	return evSpec{typ: typ, sender: sender, content: content}
}

// memberEv is a membership event; extra is spliced into the content object.
func memberEv(sender, target, membership, extra string) evSpec {
	c := `{"membership":` + strconv.Quote(membership) + extra + `}`
	return stateEv(mRoomMember, target, sender, c)
}

// testRoom builds events of one room version and holds its state.
type testRoom struct {
	tb      testing.TB
	v       int
	version string
	roomID  string
	create  *testEvent
	state   testState
	seq     int
}

func roomIDFor(v int) string {
	if v >= 12 {
		return "!create" // "!" + the create event's ID without "$"
	}
	return "!room:a.test"
}

func createIDFor(v int) string {
	if v <= 2 {
		return "$create:a.test"
	}
	return "$create"
}

// newTestRoom builds the shared room; createExtra adds create content keys.
func newTestRoom(tb testing.TB, v int, createExtra map[string]any) *testRoom {
	tb.Helper()
	r := &testRoom{tb: tb, v: v, version: strconv.Itoa(v), roomID: roomIDFor(v), state: testState{}}
	r.create = r.buildCreate(createContent(v, createExtra), nil, true)
	r.state.put(r.create)
	for _, u := range []string{uAlice, uAdmin, uMod, uBob} {
		r.state.put(r.build(memberEv(u, u, "join", "")))
	}
	r.state.put(r.build(stateEv(mRoomJoinRules, "", uAlice, `{"join_rule":"invite"}`)))
	r.state.put(r.build(stateEv(mRoomPowerLevels, "", uAlice, basePowerLevels(v, nil))))
	return r
}

func createContent(v int, extra map[string]any) map[string]any {
	c := map[string]any{"room_version": strconv.Itoa(v)}
	if v <= 10 {
		c["creator"] = uAlice
	}
	for k, val := range extra {
		if val == nil {
			delete(c, k)
			continue
		}
		c[k] = val
	}
	return c
}

// basePowerLevels is the room's power levels content, with edit applied.
func basePowerLevels(v int, edit func(pl map[string]any)) string {
	users := map[string]any{uAdmin: 100, uMod: 50}
	if v < 12 {
		users[uAlice] = 100
	}
	pl := map[string]any{
		"users": users, "users_default": 0, "events_default": 0, "state_default": 50,
		"ban": 50, "kick": 50, "redact": 50, "invite": 0,
		"events":        map[string]any{"m.room.name": 50, "m.room.power_levels": 50, "m.room.tombstone": 100},
		"notifications": map[string]any{"room": 50},
	}
	if edit != nil {
		edit(pl)
	}
	return authMustJSON(pl)
}

// plEdit returns version-aware power levels content for an evSpec.
func plEdit(edit func(pl map[string]any)) func(v int) string {
	return func(v int) string { return basePowerLevels(v, edit) }
}

func usersOf(pl map[string]any) map[string]any  { return pl["users"].(map[string]any) }
func eventsOf(pl map[string]any) map[string]any { return pl["events"].(map[string]any) }

func authMustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// buildCreate makes a create event; withRoomID false leaves room_id out
// (as v12 requires).
func (r *testRoom) buildCreate(content map[string]any, prev []string, withRoomID bool) *testEvent {
	ev := map[string]any{
		"type": mRoomCreate, "state_key": "", "sender": uAlice, "event_id": createIDFor(r.v),
		"content": content, "prev_events": authNonNil(prev), "auth_events": []string{}, "depth": 1,
	}
	if withRoomID && r.v < 12 {
		ev["room_id"] = r.roomID
	}
	return r.parse(ev)
}

// build makes an event from spec in this room.
func (r *testRoom) build(s evSpec) *testEvent {
	r.seq++
	content := s.content
	if s.contentV != nil {
		content = s.contentV(r.v)
	}
	if content == "" {
		content = "{}"
	}
	ev := map[string]any{
		"type": s.typ, "sender": s.sender, "room_id": r.roomID, "event_id": r.eventID(s),
		"prev_events": r.prevOf(s), "auth_events": []string{}, "depth": r.seq + 1,
		"origin_server_ts": 1000 + r.seq, "content": json.RawMessage(content),
	}
	if s.stateKey != nil {
		ev["state_key"] = *s.stateKey
	}
	if s.roomID != "" {
		ev["room_id"] = s.roomID
	}
	r.setRedacts(ev, s.redacts)
	return r.parse(ev)
}

func (r *testRoom) eventID(s evSpec) string {
	switch {
	case s.id != "":
		return s.id
	case r.v <= 2:
		return "$e" + strconv.Itoa(r.seq) + ":" + authDomain(s.sender)
	}
	return "$e" + strconv.Itoa(r.seq)
}

// createPrev in evSpec.prev stands for the room's create event ID.
const createPrev = "<create>"

func (r *testRoom) prevOf(s evSpec) []string {
	if s.prev == nil {
		return []string{"$prev"}
	}
	out := make([]string, len(s.prev))
	for i, p := range s.prev {
		if p == createPrev {
			p = r.create.EventID()
		}
		out[i] = p
	}
	return out
}

// setRedacts puts redacts where the room version keeps it.
func (r *testRoom) setRedacts(ev map[string]any, target string) {
	if target == "" {
		return
	}
	if r.v < 11 {
		ev["redacts"] = target
		return
	}
	var c map[string]any
	if err := json.Unmarshal(ev["content"].(json.RawMessage), &c); err != nil {
		r.tb.Fatalf("content: %v", err)
	}
	c["redacts"] = target
	ev["content"] = c
}

func (r *testRoom) parse(ev map[string]any) *testEvent {
	return newTestEvent(r.tb, r.version, authMustJSON(ev))
}

func authNonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
