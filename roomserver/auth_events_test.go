package roomserver

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/warbler-im/warbler/mxcore"
)

func TestAuthEventsNeeded(t *testing.T) {
	create := StateKeyTuple{mRoomCreate, ""}
	pl := StateKeyTuple{mRoomPowerLevels, ""}
	jr := StateKeyTuple{mRoomJoinRules, ""}
	member := func(u string) StateKeyTuple { return StateKeyTuple{mRoomMember, u} }
	cases := []struct {
		name     string
		from, to int
		typ      string
		stateKey *string
		sender   string
		content  string
		want     []StateKeyTuple // without the create event, which v1–11 put first
	}{
		{name: "create", typ: mRoomCreate, stateKey: sptr(""), sender: uAlice, content: `{}`, want: nil},
		{name: "message", typ: "m.room.message", sender: uBob, content: `{}`, want: []StateKeyTuple{pl, member(uBob)}},
		{name: "state", typ: "m.room.topic", stateKey: sptr(""), sender: uBob, content: `{}`, want: []StateKeyTuple{pl, member(uBob)}},
		{name: "join", typ: mRoomMember, stateKey: sptr(uCarol), sender: uCarol, content: `{"membership":"join"}`,
			want: []StateKeyTuple{pl, member(uCarol), jr}},
		{name: "invite", typ: mRoomMember, stateKey: sptr(uCarol), sender: uBob, content: `{"membership":"invite"}`,
			want: []StateKeyTuple{pl, member(uBob), member(uCarol), jr}},
		{name: "knock", typ: mRoomMember, stateKey: sptr(uCarol), sender: uCarol, content: `{"membership":"knock"}`,
			want: []StateKeyTuple{pl, member(uCarol), jr}},
		{name: "leave", typ: mRoomMember, stateKey: sptr(uCarol), sender: uMod, content: `{"membership":"leave"}`,
			want: []StateKeyTuple{pl, member(uMod), member(uCarol)}},
		{name: "ban", typ: mRoomMember, stateKey: sptr(uCarol), sender: uMod, content: `{"membership":"ban"}`,
			want: []StateKeyTuple{pl, member(uMod), member(uCarol)}},
		{name: "third-party invite", typ: mRoomMember, stateKey: sptr(uCarol), sender: uBob,
			content: `{"membership":"invite","third_party_invite":{"signed":{"token":"tok","mxid":"@carol:c.test"}}}`,
			want:    []StateKeyTuple{pl, member(uBob), member(uCarol), jr, {mRoomThirdPartyInvite, "tok"}}},
		{name: "third-party invite without token", typ: mRoomMember, stateKey: sptr(uCarol), sender: uBob,
			content: `{"membership":"invite","third_party_invite":{}}`, want: []StateKeyTuple{pl, member(uBob), member(uCarol), jr}},
		{name: "restricted join", from: 8, typ: mRoomMember, stateKey: sptr(uCarol), sender: uCarol,
			content: `{"membership":"join","join_authorised_via_users_server":"@mod:b.test"}`,
			want:    []StateKeyTuple{pl, member(uCarol), jr, member(uMod)}},
		{name: "restricted join before v8", to: 7, typ: mRoomMember, stateKey: sptr(uCarol), sender: uCarol,
			content: `{"membership":"join","join_authorised_via_users_server":"@mod:b.test"}`,
			want:    []StateKeyTuple{pl, member(uCarol), jr}},
		{name: "authoriser on a non-join", from: 8, typ: mRoomMember, stateKey: sptr(uCarol), sender: uCarol,
			content: `{"membership":"leave","join_authorised_via_users_server":"@mod:b.test"}`,
			want:    []StateKeyTuple{pl, member(uCarol)}},
	}
	for _, tc := range cases {
		to := tc.to
		if to == 0 {
			to = 12
		}
		for v := max(tc.from, 1); v <= to; v++ {
			rv, _ := mxcore.GetRoomVersion(strconv.Itoa(v))
			want := tc.want
			if want != nil && v < 12 {
				want = append([]StateKeyTuple{create}, want...)
			}
			got := AuthEventsNeeded(tc.typ, tc.stateKey, tc.sender, []byte(tc.content), rv)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s v%d: got %v, want %v", tc.name, v, got, want)
			}
		}
	}
}

// authEventsRoom returns the room, a message by bob and its proper auth events.
func authEventsRoom(t *testing.T, v int) (*testRoom, []Event) {
	r := newTestRoom(t, v, nil)
	auth := []Event{r.state.StateEvent(mRoomPowerLevels, ""), r.state.StateEvent(mRoomMember, uBob)}
	if v < 12 {
		auth = plus(auth, r.create)
	}
	return r, auth
}

// plus returns a new slice of events and extra, never sharing memory.
func plus(events []Event, extra ...Event) []Event {
	return append(append([]Event{}, events...), extra...)
}

func messageCiting(r *testRoom, auth ...Event) *testEvent {
	ev := r.build(msgEv("m.room.message", uBob, `{"body":"hi"}`))
	for _, a := range auth {
		ev.auth = append(ev.auth, a.EventID())
	}
	return ev
}

type checkAuthEventsCase struct {
	name string
	ev   *testEvent
	give []Event
	want AuthRule
}

func TestCheckAuthEvents(t *testing.T) {
	for v := 1; v <= 12; v++ {
		r, auth := authEventsRoom(t, v)
		jr := r.state.StateEvent(mRoomJoinRules, "")
		otherPL := r.build(powerLevels(nil))
		msg := r.build(msgEv("m.room.message", uBob, `{}`))
		cases := []checkAuthEventsCase{
			{"proper", messageCiting(r, auth...), auth, ""},
			{"unlisted extras ignored", messageCiting(r, auth...), append([]Event{jr}, auth...), ""},
			{"not supplied", messageCiting(r, plus(auth, jr)...), auth, RuleAuthEventsMissing},
			{"duplicate pair", messageCiting(r, plus(auth, otherPL)...), plus(auth, otherPL), RuleAuthEventsDuplicate},
			{"same event twice", messageCiting(r, plus(auth, auth[0])...), auth, RuleAuthEventsDuplicate},
			{"unexpected join rules", messageCiting(r, plus(auth, jr)...), plus(auth, jr), RuleAuthEventsUnexpected},
			{"message as auth event", messageCiting(r, plus(auth, msg)...), plus(auth, msg), RuleAuthEventsUnexpected},
		}
		if v < 12 {
			cases = append(cases, checkAuthEventsCase{"no create", messageCiting(r, auth[:2]...), auth[:2], RuleAuthEventsNoCreate})
		} else {
			cases = append(cases, checkAuthEventsCase{"create listed in v12", messageCiting(r, plus(auth, r.create)...), plus(auth, r.create), RuleAuthEventsUnexpected})
		}
		for _, tc := range cases {
			t.Run(tc.name+"/v"+strconv.Itoa(v), func(t *testing.T) {
				checkAuth(t, CheckAuthEvents(tc.ev, tc.give), tc.want)
			})
		}
	}
}

func TestCheckAuthEventsRoomID(t *testing.T) {
	for v := 1; v <= 12; v++ {
		r, _ := authEventsRoom(t, v)
		ev := r.build(memberEv(uCarol, uCarol, "join", ""))
		foreignJR := r.build(evSpec{typ: mRoomJoinRules, stateKey: sptr(""), sender: uAlice, content: `{"join_rule":"public"}`, roomID: "!elsewhere:a.test"})
		auth := []Event{r.state.StateEvent(mRoomPowerLevels, ""), foreignJR}
		if v < 12 {
			auth = plus(auth, r.create)
		}
		for _, a := range auth {
			ev.auth = append(ev.auth, a.EventID())
		}
		checkAuth(t, CheckAuthEvents(ev, auth), RuleAuthEventsRoomID)
	}
}

func TestCheckAuthEventsIgnoresCreate(t *testing.T) {
	r := newTestRoom(t, 9, nil)
	if err := CheckAuthEvents(r.create, nil); err != nil {
		t.Fatal(err)
	}
}

func TestAuthorizeByAuthEvents(t *testing.T) {
	for v := 1; v <= 12; v++ {
		r, auth := authEventsRoom(t, v)
		ev := messageCiting(r, auth...)
		checkAuth(t, AuthorizeByAuthEvents(ev, auth, r.create), "")
		// The auth events, not the room state, decide: bob's membership
		// cited from before he joined fails.
		invited := r.build(memberEv(uMod, uBob, "invite", ""))
		early := []Event{auth[0], invited}
		if v < 12 {
			early = append(early, r.create)
		}
		checkAuth(t, AuthorizeByAuthEvents(messageCiting(r, early...), early, r.create), RuleSenderNotJoined)
		if v >= 12 { // the create event comes from the room ID, not the auth events
			checkAuth(t, AuthorizeByAuthEvents(ev, auth, nil), RuleRoomIDNotCreateID)
		}
		checkAuth(t, AuthorizeByAuthEvents(messageCiting(r, plus(auth, r.state.StateEvent(mRoomJoinRules, ""))...), auth, r.create), RuleAuthEventsMissing)
	}
}
