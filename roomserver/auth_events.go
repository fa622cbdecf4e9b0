package roomserver

import (
	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// AuthEventsNeeded is the auth events selection algorithm of the
// server-server API: the state an event of this shape must cite as
// auth_events. The create event cites nothing. Otherwise: m.room.create
// (not from v12, where the room ID implies it), m.room.power_levels, the
// sender's membership and, for m.room.member, the target's membership, the
// join rules for join/invite/knock, the m.room.third_party_invite an invite
// redeems, and (v8+) the membership of the user authorising a restricted
// join. Entries are unique; state the room lacks is simply not cited.
func AuthEventsNeeded(eventType string, stateKey *string, sender string, content []byte, rv mxcore.RoomVersion) []StateKeyTuple {
	if eventType == mRoomCreate {
		return nil
	}
	out := make([]StateKeyTuple, 0, 6)
	add := func(typ, sk string) {
		t := StateKeyTuple{Type: typ, StateKey: sk}
		for _, have := range out {
			if have == t {
				return
			}
		}
		out = append(out, t)
	}
	if !rv.AuthEventsOmitCreate {
		add(mRoomCreate, "")
	}
	add(mRoomPowerLevels, "")
	add(mRoomMember, sender)
	if eventType == mRoomMember && stateKey != nil {
		for _, t := range memberAuthEvents(*stateKey, authJSON(content), rv) {
			add(t.Type, t.StateKey)
		}
	}
	return out
}

// memberAuthEvents is the m.room.member part of the selection.
func memberAuthEvents(target string, content gjson.Result, rv mxcore.RoomVersion) []StateKeyTuple {
	out := []StateKeyTuple{{mRoomMember, target}}
	membership, _ := authString(content, "membership")
	if membership == "join" || membership == "invite" || membership == "knock" {
		out = append(out, StateKeyTuple{mRoomJoinRules, ""})
	}
	if tpi := authField(content, "third_party_invite"); membership == "invite" && tpi.Exists() {
		if token, ok := authString(authField(tpi, "signed"), "token"); ok {
			out = append(out, StateKeyTuple{mRoomThirdPartyInvite, token})
		}
	}
	if via, ok := authString(content, "join_authorised_via_users_server"); ok && membership == "join" && rv.AllowRestrictedJoins {
		out = append(out, StateKeyTuple{mRoomMember, via})
	}
	return out
}

// AuthEventsNeededFor is AuthEventsNeeded for an existing event.
func AuthEventsNeededFor(ev Event) []StateKeyTuple {
	return AuthEventsNeeded(ev.Type(), ev.StateKey(), ev.Sender(), ev.Content(), ev.Version())
}

// CheckAuthEvents applies the rules about an event's auth_events list (rule
// 2 in v1–11, rule 3 in v12) to the events it names, which the caller has
// loaded: every listed ID must be among authEvents; no (type, state_key)
// twice; only what the selection algorithm allows (so, from v12, never the
// create event); the create event present up to v11; all in ev's room.
// Whether any auth event was itself rejected (rule 2.3) is for the caller,
// who knows. Events in authEvents that ev does not list are ignored.
func CheckAuthEvents(ev Event, authEvents []Event) error {
	if ev.Type() == mRoomCreate { // rule 1 decides before the auth events matter
		return nil
	}
	byID := make(map[string]Event, len(authEvents))
	for _, a := range authEvents {
		byID[a.EventID()] = a
	}
	allowed := AuthEventsNeededFor(ev)
	seen := make(map[StateKeyTuple]bool, len(allowed))
	for _, id := range ev.AuthEventIDs() {
		a := byID[id]
		if a == nil {
			return authReject(RuleAuthEventsMissing, "auth event %s was not supplied", id)
		}
		if err := checkAuthEvent(ev, a, allowed, seen); err != nil {
			return err
		}
	}
	if !ev.Version().AuthEventsOmitCreate && !seen[StateKeyTuple{mRoomCreate, ""}] { // 2.4
		return authReject(RuleAuthEventsNoCreate, "auth_events has no m.room.create event")
	}
	return nil
}

// checkAuthEvent applies rules 2.1, 2.2 and 2.5 to one listed auth event.
func checkAuthEvent(ev, a Event, allowed []StateKeyTuple, seen map[StateKeyTuple]bool) error {
	sk := a.StateKey()
	if sk == nil {
		return authReject(RuleAuthEventsUnexpected, "auth event %s is not a state event", a.EventID())
	}
	t := StateKeyTuple{a.Type(), *sk}
	if seen[t] { // 2.1
		return authReject(RuleAuthEventsDuplicate, "auth_events lists (%s, %q) twice", t.Type, t.StateKey)
	}
	seen[t] = true
	if !authContainsTuple(allowed, t) { // 2.2
		return authReject(RuleAuthEventsUnexpected, "auth event (%s, %q) is not one the event may cite", t.Type, t.StateKey)
	}
	if a.RoomID() != ev.RoomID() { // 2.5
		return authReject(RuleAuthEventsRoomID, "auth event %s is in room %s", a.EventID(), a.RoomID())
	}
	return nil
}

func authContainsTuple(ts []StateKeyTuple, t StateKeyTuple) bool {
	for _, have := range ts {
		if have == t {
			return true
		}
	}
	return false
}

// AuthStateMap is a ready-made AuthStateProvider over a small set of state
// events, such as an event's auth events.
type AuthStateMap map[StateKeyTuple]Event

// NewAuthStateMap indexes state events by (type, state_key); message events
// are skipped and a later event replaces an earlier one with the same key.
func NewAuthStateMap(events ...Event) AuthStateMap {
	m := make(AuthStateMap, len(events))
	for _, ev := range events {
		if ev == nil || ev.StateKey() == nil {
			continue
		}
		m[StateKeyTuple{ev.Type(), *ev.StateKey()}] = ev
	}
	return m
}

// StateEvent implements AuthStateProvider.
func (m AuthStateMap) StateEvent(typ, stateKey string) Event {
	return m[StateKeyTuple{typ, stateKey}]
}

// AuthorizeByAuthEvents is check 4 on receipt of a PDU: the auth_events
// rules, then the remaining rules against the state the auth events form.
// From v12 the create event is not an auth event; pass the room's create
// event as create (in earlier versions create may be nil and is ignored).
func AuthorizeByAuthEvents(ev Event, authEvents []Event, create Event) error {
	if err := CheckAuthEvents(ev, authEvents); err != nil {
		return err
	}
	listed := make([]Event, 0, len(authEvents)+1)
	if ev.Version().AuthEventsOmitCreate && create != nil {
		listed = append(listed, create)
	}
	for _, a := range authEvents {
		if authContainsID(ev.AuthEventIDs(), a.EventID()) {
			listed = append(listed, a)
		}
	}
	return Authorize(ev, NewAuthStateMap(listed...))
}

func authContainsID(ids []string, id string) bool {
	for _, have := range ids {
		if have == id {
			return true
		}
	}
	return false
}
