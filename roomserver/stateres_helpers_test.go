package roomserver

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// srTestEvent is a minimal Event for state resolution tests.
type srTestEvent struct {
	id, roomID, typ, sender string
	stateKey                *string
	content                 []byte
	prev, auth              []string
	depth, ts               int64
	version                 mxcore.RoomVersion
}

func (e *srTestEvent) EventID() string                { return e.id }
func (e *srTestEvent) RoomID() string                 { return e.roomID }
func (e *srTestEvent) Type() string                   { return e.typ }
func (e *srTestEvent) StateKey() *string              { return e.stateKey }
func (e *srTestEvent) Sender() string                 { return e.sender }
func (e *srTestEvent) Content() []byte                { return e.content }
func (e *srTestEvent) PrevEventIDs() []string         { return e.prev }
func (e *srTestEvent) AuthEventIDs() []string         { return e.auth }
func (e *srTestEvent) Depth() int64                   { return e.depth }
func (e *srTestEvent) OriginServerTS() int64          { return e.ts }
func (e *srTestEvent) Redacts() string                { return "" }
func (e *srTestEvent) JSON() []byte                   { return nil }
func (e *srTestEvent) Version() mxcore.RoomVersion    { return e.version }
func (e *srTestEvent) key() StateKeyTuple             { return StateKeyTuple{e.typ, *e.stateKey} }
func (e *srTestEvent) String() string                 { return e.id }
func (e *srTestEvent) withDepth(d int64) *srTestEvent { e.depth = d; return e }
func (e *srTestEvent) withTS(ts int64) *srTestEvent   { e.ts = ts; return e }

// srLoader is a map-backed EventLoader.
type srLoader map[string]*srTestEvent

func (l srLoader) Event(id string) (Event, bool) {
	if ev, ok := l[id]; ok {
		return ev, true
	}
	return nil, false
}

// srRoom builds a room's events for tests. IDs are given by the test;
// timestamps increase by one per event unless set.
type srRoom struct {
	t       testing.TB
	version mxcore.RoomVersion
	roomID  string
	create  string
	events  srLoader
	ts      int64
}

const (
	srAlice   = "@alice:a.test"
	srBob     = "@bob:b.test"
	srCharlie = "@charlie:c.test"
	srEve     = "@eve:e.test"
)

func newSRRoom(t testing.TB, versionID string) *srRoom {
	v, ok := mxcore.GetRoomVersion(versionID)
	if !ok {
		t.Fatalf("unknown room version %s", versionID)
	}
	return &srRoom{t: t, version: v, roomID: "!room:a.test", events: srLoader{}, ts: 1000}
}

// add creates a state event. For v12 rooms the create event is dropped
// from auth, as that version requires.
func (r *srRoom) add(id, typ, stateKey, sender string, content any, auth ...string) *srTestEvent {
	if _, dup := r.events[id]; dup {
		r.t.Fatalf("duplicate event %s", id)
	}
	raw, err := json.Marshal(content)
	if err != nil {
		r.t.Fatal(err)
	}
	var authIDs []string
	var depth int64
	for _, a := range auth {
		ae, ok := r.events[a]
		if !ok {
			r.t.Fatalf("%s: unknown auth event %s", id, a)
		}
		depth = max(depth, ae.depth+1)
		if r.version.AuthEventsOmitCreate && a == r.create {
			continue
		}
		authIDs = append(authIDs, a)
	}
	sk := stateKey
	r.ts++
	ev := &srTestEvent{id: id, roomID: r.roomID, typ: typ, sender: sender, stateKey: &sk,
		content: raw, auth: authIDs, depth: depth, ts: r.ts, version: r.version}
	r.events[id] = ev
	return ev
}

// createRoom adds the create event; in v12 the room ID derives from it.
func (r *srRoom) createRoom(id, creator string) *srTestEvent {
	r.create = id
	if r.version.RoomIDFromCreateEvent {
		r.roomID = "!" + id[1:]
	}
	return r.add(id, srTypeCreate, "", creator, map[string]any{"creator": creator, "room_version": r.version.ID})
}

func (r *srRoom) member(id, user, sender, membership string, auth ...string) *srTestEvent {
	return r.add(id, srTypeMember, user, sender, map[string]any{"membership": membership}, auth...)
}

// powerLevels adds a power levels event. In v12 the creator may not be
// listed, so alice (the creator in these tests) is dropped from users.
func (r *srRoom) powerLevels(id, sender string, users map[string]int, auth ...string) *srTestEvent {
	u := map[string]int{}
	for k, v := range users {
		if !(r.version.PrivilegedCreators && k == srAlice) {
			u[k] = v
		}
	}
	return r.add(id, srTypePowerLevels, "", sender, map[string]any{"users": u, "state_default": 50,
		"events_default": 0, "ban": 50, "kick": 50, "invite": 0, "users_default": 0}, auth...)
}

func (r *srRoom) joinRules(id, sender, rule string, auth ...string) *srTestEvent {
	return r.add(id, srTypeJoinRules, "", sender, map[string]any{"join_rule": rule}, auth...)
}

func (r *srRoom) topic(id, sender, topic string, auth ...string) *srTestEvent {
	return r.add(id, "m.room.topic", "", sender, map[string]any{"topic": topic}, auth...)
}

// state builds a state map from events.
func srState(events ...*srTestEvent) map[StateKeyTuple]string {
	s := make(map[StateKeyTuple]string, len(events))
	for _, e := range events {
		s[e.key()] = e.id
	}
	return s
}

// srTestAuthorize is a compact version of the authorization rules, enough
// for state resolution tests: create, membership (join, invite, leave,
// kick, ban), sender must be joined, required power levels with
// state_default, the @-state-key rule, power level changes, and the v12
// infinitely powerful creators.
func srTestAuthorize(ev Event, st StateResLookup) error {
	if ev.Type() == srTypeCreate {
		return nil
	}
	create := st(srTypeCreate, "")
	if create == nil {
		return errors.New("no create event")
	}
	a := &srTestAuth{ev: ev, st: st, rv: ev.Version(), create: create, pl: st(srTypePowerLevels, "")}
	if ev.Type() == srTypeMember {
		return a.member()
	}
	if a.membership(ev.Sender()) != "join" {
		return errors.New("sender not joined")
	}
	if a.power(ev.Sender()) < a.required(ev.Type()) {
		return errors.New("insufficient power")
	}
	if sk := *ev.StateKey(); strings.HasPrefix(sk, "@") && sk != ev.Sender() {
		return errors.New("state key of another user")
	}
	if ev.Type() == srTypePowerLevels {
		return a.powerLevelsChange()
	}
	return nil
}

type srTestAuth struct {
	ev         Event
	st         StateResLookup
	rv         mxcore.RoomVersion
	create, pl Event
}

func (a *srTestAuth) isCreator(user string) bool {
	return srCreatorsOf(a.create, a.rv.ImplicitRoomCreator, a.rv.PrivilegedCreators).has(user)
}

func (a *srTestAuth) power(user string) int64 {
	if a.rv.PrivilegedCreators && a.isCreator(user) {
		return math.MaxInt64
	}
	if a.pl == nil {
		if a.isCreator(user) {
			return 100
		}
		return 0
	}
	return parseSRPowerLevels(a.pl.Content()).userLevel(user)
}

func (a *srTestAuth) level(path string, def int64) int64 {
	if a.pl == nil {
		return def
	}
	if v := gjson.GetBytes(a.pl.Content(), path); v.Exists() {
		return v.Int()
	}
	return def
}

func (a *srTestAuth) required(typ string) int64 {
	if v := gjson.GetBytes(srContentOf(a.pl), "events."+gjson.Escape(typ)); v.Exists() {
		return v.Int()
	}
	if a.pl == nil {
		return 0
	}
	return a.level("state_default", 50)
}

func srContentOf(ev Event) []byte {
	if ev == nil {
		return nil
	}
	return ev.Content()
}

func (a *srTestAuth) membership(user string) string {
	m := a.st(srTypeMember, user)
	if m == nil {
		return ""
	}
	return srMembership(m)
}

func (a *srTestAuth) member() error {
	sender, target := a.ev.Sender(), *a.ev.StateKey()
	switch srMembership(a.ev) {
	case "join":
		return a.join(sender, target)
	case "invite":
		if a.membership(sender) != "join" {
			return errors.New("inviter not joined")
		}
		if m := a.membership(target); m == "join" || m == "ban" {
			return errors.New("invitee joined or banned")
		}
		return a.atLeast(a.power(sender), a.level("invite", 0))
	case "leave":
		if sender == target {
			if m := a.membership(target); m == "invite" || m == "join" || m == "knock" {
				return nil
			}
			return errors.New("cannot leave")
		}
		return a.kick(sender, target)
	case "ban":
		if a.membership(sender) != "join" {
			return errors.New("banner not joined")
		}
		if err := a.atLeast(a.power(sender), a.level("ban", 50)); err != nil {
			return err
		}
		return a.outranks(sender, target)
	}
	return errors.New("unknown membership")
}

func (a *srTestAuth) join(sender, target string) error {
	if sender != target {
		return errors.New("join for another user")
	}
	if a.membership(sender) == "" && a.pl == nil && a.isCreator(sender) && a.st(srTypeJoinRules, "") == nil {
		return nil // the creator's first join
	}
	m := a.membership(sender)
	if m == "ban" {
		return errors.New("banned")
	}
	switch gjson.GetBytes(srContentOf(a.st(srTypeJoinRules, "")), "join_rule").String() {
	case "public":
		return nil
	case "invite":
		if m == "invite" || m == "join" {
			return nil
		}
	}
	return errors.New("join not allowed")
}

func (a *srTestAuth) kick(sender, target string) error {
	if a.membership(sender) != "join" {
		return errors.New("kicker not joined")
	}
	if a.membership(target) == "ban" && a.power(sender) < a.level("ban", 50) {
		return errors.New("cannot unban")
	}
	if err := a.atLeast(a.power(sender), a.level("kick", 50)); err != nil {
		return err
	}
	return a.outranks(sender, target)
}

func (a *srTestAuth) atLeast(have, need int64) error {
	if have < need {
		return errors.New("insufficient power " + strconv.FormatInt(have, 10))
	}
	return nil
}

func (a *srTestAuth) outranks(sender, target string) error {
	if a.power(target) >= a.power(sender) {
		return errors.New("target not below sender")
	}
	return nil
}

// powerLevelsChange checks a power levels event against the current one:
// no level may be set above, and no level at or above (other users) or
// above (thresholds) the sender's may be changed.
func (a *srTestAuth) powerLevelsChange() error {
	newUsers := gjson.GetBytes(a.ev.Content(), "users").Map()
	if a.rv.PrivilegedCreators {
		for u := range newUsers {
			if a.isCreator(u) {
				return errors.New("creator in users")
			}
		}
	}
	if a.pl == nil {
		return nil
	}
	mine := a.power(a.ev.Sender())
	oldUsers := gjson.GetBytes(a.pl.Content(), "users").Map()
	for _, u := range srUnionKeys(oldUsers, newUsers) {
		o, hadOld := oldUsers[u]
		n, hasNew := newUsers[u]
		if hadOld == hasNew && o.Int() == n.Int() {
			continue
		}
		if hadOld && u != a.ev.Sender() && o.Int() >= mine {
			return errors.New("changing a user at or above sender")
		}
		if hasNew && n.Int() > mine {
			return errors.New("raising a user above sender")
		}
	}
	for _, k := range []string{"users_default", "events_default", "state_default", "ban", "kick", "invite", "redact"} {
		o, n := gjson.GetBytes(a.pl.Content(), k), gjson.GetBytes(a.ev.Content(), k)
		if o.Exists() == n.Exists() && o.Int() == n.Int() {
			continue
		}
		if o.Int() > mine || n.Int() > mine {
			return errors.New("changing a threshold above sender")
		}
	}
	return nil
}

func srUnionKeys(a, b map[string]gjson.Result) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// srResolve runs ResolveState with the test authorizer and fails on error.
func (r *srRoom) resolve(sets ...map[StateKeyTuple]string) map[StateKeyTuple]string {
	r.t.Helper()
	out, err := ResolveState(r.version, sets, r.events, srTestAuthorize)
	if err != nil {
		r.t.Fatalf("ResolveState: %v", err)
	}
	return out
}

// srExpect checks the resolved event for each given key.
func srExpect(t testing.TB, got map[StateKeyTuple]string, want map[StateKeyTuple]string) {
	t.Helper()
	for k, id := range want {
		if got[k] != id {
			t.Errorf("%v: got %q, want %q", k, got[k], id)
		}
	}
}
