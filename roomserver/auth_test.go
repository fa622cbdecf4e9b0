package roomserver

import (
	"errors"
	"fmt"
	"testing"
)

// authCase is one event checked against the shared test room (see
// auth_room_test.go), in every room version from..to.
type authCase struct {
	name        string
	from, to    int               // room versions; 0 means 1 and 12
	createExtra map[string]any    // create content changes (nil value deletes)
	drop        []StateKeyTuple   // state removed from the room
	state       []evSpec          // state added or replaced
	event       evSpec            // the event to authorise
	want        AuthRule          // "" means allowed
	setup       func(r *testRoom) // further changes, e.g. events needing the room
}

func runAuthCases(t *testing.T, cases []authCase) {
	t.Helper()
	for _, tc := range cases {
		from, to := tc.from, tc.to
		if from == 0 {
			from = 1
		}
		if to == 0 {
			to = 12
		}
		for v := from; v <= to; v++ {
			t.Run(fmt.Sprintf("%s/v%d", tc.name, v), func(t *testing.T) {
				r := newTestRoom(t, v, tc.createExtra)
				for _, k := range tc.drop {
					delete(r.state, k)
				}
				for _, s := range tc.state {
					r.state.put(r.build(s))
				}
				if tc.setup != nil {
					tc.setup(r)
				}
				checkAuth(t, Authorize(r.build(tc.event), r.state), tc.want)
			})
		}
	}
}

// checkAuth asserts err is nil (want "") or an *AuthError for rule want.
func checkAuth(t *testing.T, err error, want AuthRule) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("want allowed, got %v", err)
		}
		return
	}
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("want rejection by %s, got %v", want, err)
	}
	if ae.Rule != want {
		t.Fatalf("want rejection by %s, got %s: %s", want, ae.Rule, ae.Msg)
	}
}

var (
	keyCreate      = StateKeyTuple{Type: mRoomCreate}
	keyPowerLevels = StateKeyTuple{Type: mRoomPowerLevels}
	keyJoinRules   = StateKeyTuple{Type: mRoomJoinRules}
)

func joinRule(rule string) evSpec {
	return stateEv(mRoomJoinRules, "", uAlice, `{"join_rule":"`+rule+`"}`)
}

func powerLevels(edit func(pl map[string]any)) evSpec {
	return evSpec{typ: mRoomPowerLevels, stateKey: sptr(""), sender: uAlice, contentV: plEdit(edit)}
}

func TestAuthorizeUnknownRoomVersion(t *testing.T) {
	ev := newTestEvent(t, "", `{"type":"m.room.message","sender":"@bob:b.test","room_id":"!r:a.test","content":{}}`)
	checkAuth(t, Authorize(ev, testState{}), RuleUnknownRoomVersion)
}

func TestAuthorizeCreate(t *testing.T) {
	type createCase struct {
		name     string
		from, to int
		extra    map[string]any
		prev     []string
		roomID   *string // nil: the version's default (none in v12)
		want     AuthRule
	}
	cases := []createCase{
		{name: "valid", want: ""},
		{name: "prev events", prev: []string{"$x"}, want: RuleCreatePrevEvents},
		{name: "room id on another server", to: 11, roomID: sptr("!room:other.test"), want: RuleCreateRoomIDDomain},
		{name: "room id without server", to: 11, roomID: sptr("!room"), want: RuleCreateRoomIDDomain},
		{name: "room id present", from: 12, roomID: sptr("!room:a.test"), want: RuleCreateHasRoomID},
		{name: "unknown room version", extra: map[string]any{"room_version": "99"}, want: RuleCreateRoomVersion},
		{name: "room version not a string", extra: map[string]any{"room_version": 1}, want: RuleCreateRoomVersion},
		{name: "room version absent", extra: map[string]any{"room_version": nil}},
		{name: "other known room version", extra: map[string]any{"room_version": "9"}},
		{name: "no creator v1-10", to: 10, extra: map[string]any{"creator": nil}, want: RuleCreateNoCreator},
		{name: "no creator needed v11+", from: 11, extra: map[string]any{"creator": nil}},
		{name: "additional creators valid", from: 12, extra: map[string]any{"additional_creators": []any{uBob, uCarol}}},
		{name: "additional creators empty", from: 12, extra: map[string]any{"additional_creators": []any{}}},
		{name: "additional creator not a user ID", from: 12, extra: map[string]any{"additional_creators": []any{"bob"}}, want: RuleCreateAdditionalCreators},
		{name: "additional creator not a string", from: 12, extra: map[string]any{"additional_creators": []any{1}}, want: RuleCreateAdditionalCreators},
		{name: "additional creators not an array", from: 12, extra: map[string]any{"additional_creators": uBob}, want: RuleCreateAdditionalCreators},
		{name: "additional creators ignored before v12", to: 11, extra: map[string]any{"additional_creators": []any{"bob"}}},
	}
	for _, tc := range cases {
		from, to := max(tc.from, 1), tc.to
		if to == 0 {
			to = 12
		}
		for v := from; v <= to; v++ {
			t.Run(fmt.Sprintf("%s/v%d", tc.name, v), func(t *testing.T) {
				r := newTestRoom(t, v, nil)
				content := createContent(v, tc.extra)
				ev := r.buildCreate(content, tc.prev, false)
				if tc.roomID != nil || v < 12 {
					id := r.roomID
					if tc.roomID != nil {
						id = *tc.roomID
					}
					ev = r.parse(map[string]any{
						"type": mRoomCreate, "state_key": "", "sender": uAlice, "event_id": createIDFor(v),
						"room_id": id, "content": content, "prev_events": authNonNil(tc.prev), "auth_events": []string{},
					})
				}
				checkAuth(t, Authorize(ev, testState{}), tc.want)
			})
		}
	}
}

func TestAuthorizeRoomAndFederation(t *testing.T) {
	runAuthCases(t, []authCase{
		{name: "message allowed", event: msgEv("m.room.message", uBob, `{"body":"hi"}`)},
		{name: "no create event", to: 11, drop: []StateKeyTuple{keyCreate},
			event: msgEv("m.room.message", uBob, `{}`), want: RuleNoCreateEvent},
		{name: "no create event v12", from: 12, drop: []StateKeyTuple{keyCreate},
			event: msgEv("m.room.message", uBob, `{}`), want: RuleRoomIDNotCreateID},
		{name: "room id not the create event's", from: 12,
			event: evSpec{typ: "m.room.message", sender: uBob, content: `{}`, roomID: "!other"}, want: RuleRoomIDNotCreateID},
		{name: "room id not checked against state before v12", to: 11,
			event: evSpec{typ: "m.room.message", sender: uBob, content: `{}`, roomID: "!other:a.test"}},
		{name: "not federated, remote sender", createExtra: map[string]any{"m.federate": false},
			event: msgEv("m.room.message", uBob, `{}`), want: RuleNotFederated},
		{name: "not federated, local sender", createExtra: map[string]any{"m.federate": false},
			event: msgEv("m.room.message", uAdmin, `{}`)},
		{name: "federated explicitly", createExtra: map[string]any{"m.federate": true},
			event: msgEv("m.room.message", uBob, `{}`)},
	})
}

func TestAuthorizeAliases(t *testing.T) {
	runAuthCases(t, []authCase{
		{name: "own server, not joined", to: 5, event: stateEv(mRoomAliases, "c.test", uCarol, `{"aliases":["#x:c.test"]}`)},
		{name: "other server", to: 5, event: stateEv(mRoomAliases, "b.test", uCarol, `{"aliases":[]}`), want: RuleAliasesDomain},
		{name: "no state key", to: 5, event: msgEv(mRoomAliases, uCarol, `{}`), want: RuleAliasesNoStateKey},
		{name: "ordinary state from v6, not joined", from: 6, event: stateEv(mRoomAliases, "c.test", uCarol, `{}`), want: RuleSenderNotJoined},
		{name: "ordinary state from v6, low power", from: 6, event: stateEv(mRoomAliases, "b.test", uBob, `{}`), want: RuleEventPower},
		{name: "ordinary state from v6, enough power", from: 6, event: stateEv(mRoomAliases, "b.test", uMod, `{}`)},
	})
}

func TestAuthorizeMemberBasics(t *testing.T) {
	runAuthCases(t, []authCase{
		{name: "no state key", event: msgEv(mRoomMember, uBob, `{"membership":"join"}`), want: RuleMemberNoStateKey},
		{name: "no membership", event: stateEv(mRoomMember, uBob, uBob, `{}`), want: RuleMemberNoMembership},
		{name: "unknown membership", event: memberEv(uBob, uBob, "dance", ""), want: RuleMemberUnknownMembership},
		{name: "membership not a string", event: stateEv(mRoomMember, uBob, uBob, `{"membership":5}`), want: RuleMemberUnknownMembership},
		{name: "knock unknown before v7", to: 6, state: []evSpec{joinRule("knock")},
			event: memberEv(uCarol, uCarol, "knock", ""), want: RuleMemberUnknownMembership},
	})
}

func TestAuthorizeJoin(t *testing.T) {
	onlyCreate := func(r *testRoom) { r.state = testState{}.put(r.create) }
	runAuthCases(t, []authCase{
		{name: "creator first join", setup: onlyCreate,
			event: evSpec{typ: mRoomMember, stateKey: sptr(uAlice), sender: uAlice, content: `{"membership":"join"}`, prev: []string{createPrev}}},
		{name: "first join needs create as only prev", setup: onlyCreate,
			event: evSpec{typ: mRoomMember, stateKey: sptr(uAlice), sender: uAlice, content: `{"membership":"join"}`, prev: []string{createPrev, "$x"}},
			want:  RuleJoinNotInvited},
		// v1–10 take the creator from content.creator, v11+ from the sender.
		{name: "content creator first join", to: 10, setup: onlyCreate, createExtra: map[string]any{"creator": uAdmin},
			event: evSpec{typ: mRoomMember, stateKey: sptr(uAdmin), sender: uAdmin, content: `{"membership":"join"}`, prev: []string{createPrev}}},
		{name: "content creator ignored from v11", from: 11, setup: onlyCreate, createExtra: map[string]any{"creator": uAdmin},
			event: evSpec{typ: mRoomMember, stateKey: sptr(uAdmin), sender: uAdmin, content: `{"membership":"join"}`, prev: []string{createPrev}},
			want:  RuleJoinNotInvited},
		{name: "join for someone else", state: []evSpec{joinRule("public")}, event: memberEv(uBob, uCarol, "join", ""), want: RuleJoinSenderNotTarget},
		{name: "banned", state: []evSpec{joinRule("public"), memberEv(uMod, uCarol, "ban", "")},
			event: memberEv(uCarol, uCarol, "join", ""), want: RuleJoinBanned},
		{name: "public", state: []evSpec{joinRule("public")}, event: memberEv(uCarol, uCarol, "join", "")},
		{name: "invite rule, invited", state: []evSpec{memberEv(uBob, uCarol, "invite", "")}, event: memberEv(uCarol, uCarol, "join", "")},
		{name: "invite rule, rejoin", event: memberEv(uBob, uBob, "join", `,"displayname":"Bob"`)},
		{name: "invite rule, not invited", event: memberEv(uCarol, uCarol, "join", ""), want: RuleJoinNotInvited},
		{name: "invite rule, left", state: []evSpec{memberEv(uCarol, uCarol, "leave", "")}, event: memberEv(uCarol, uCarol, "join", ""), want: RuleJoinNotInvited},
		{name: "private", state: []evSpec{joinRule("private")}, event: memberEv(uCarol, uCarol, "join", ""), want: RuleJoinForbidden},
		{name: "no join rule event, member", drop: []StateKeyTuple{keyJoinRules}, event: memberEv(uBob, uBob, "join", "")},
		{name: "no join rule event, outsider", drop: []StateKeyTuple{keyJoinRules}, event: memberEv(uCarol, uCarol, "join", ""), want: RuleJoinNotInvited},
		{name: "knock rule, invited", from: 7, state: []evSpec{joinRule("knock"), memberEv(uBob, uCarol, "invite", "")}, event: memberEv(uCarol, uCarol, "join", "")},
		{name: "knock rule, only knocked", from: 7, state: []evSpec{joinRule("knock"), memberEv(uCarol, uCarol, "knock", "")},
			event: memberEv(uCarol, uCarol, "join", ""), want: RuleJoinNotInvited},
		{name: "knock rule unknown before v7", to: 6, state: []evSpec{joinRule("knock"), memberEv(uBob, uCarol, "invite", "")},
			event: memberEv(uCarol, uCarol, "join", ""), want: RuleJoinForbidden},
	})
}

func TestAuthorizeRestrictedJoin(t *testing.T) {
	via := func(u string) string { return `,"join_authorised_via_users_server":"` + u + `"` }
	inviteAt50 := powerLevels(func(pl map[string]any) { pl["invite"] = 50 })
	runAuthCases(t, []authCase{
		{name: "authorised by joined inviter", from: 8, state: []evSpec{joinRule("restricted")}, event: memberEv(uCarol, uCarol, "join", via(uMod))},
		{name: "no authoriser", from: 8, state: []evSpec{joinRule("restricted")}, event: memberEv(uCarol, uCarol, "join", ""), want: RuleJoinRestrictedNoAuth},
		{name: "authoriser not joined", from: 8, state: []evSpec{joinRule("restricted")},
			event: memberEv(uCarol, uCarol, "join", via("@dave:d.test")), want: RuleJoinRestrictedNoAuth},
		{name: "authoriser cannot invite", from: 8, state: []evSpec{joinRule("restricted"), inviteAt50},
			event: memberEv(uCarol, uCarol, "join", via(uBob)), want: RuleJoinRestrictedNoAuth},
		{name: "authoriser can invite", from: 8, state: []evSpec{joinRule("restricted"), inviteAt50}, event: memberEv(uCarol, uCarol, "join", via(uMod))},
		{name: "invited needs no authoriser", from: 8, state: []evSpec{joinRule("restricted"), memberEv(uBob, uCarol, "invite", "")},
			event: memberEv(uCarol, uCarol, "join", "")},
		{name: "authoriser not a user ID", from: 8, state: []evSpec{joinRule("public")},
			event: memberEv(uCarol, uCarol, "join", via("mod")), want: RuleJoinAuthorisedVia},
		{name: "authoriser ignored before v8", to: 7, state: []evSpec{joinRule("public")}, event: memberEv(uCarol, uCarol, "join", via("mod"))},
		{name: "restricted unknown before v8", to: 7, state: []evSpec{joinRule("restricted")},
			event: memberEv(uCarol, uCarol, "join", via(uMod)), want: RuleJoinForbidden},
		{name: "knock_restricted authorised", from: 10, state: []evSpec{joinRule("knock_restricted")}, event: memberEv(uCarol, uCarol, "join", via(uMod))},
		{name: "knock_restricted unauthorised", from: 10, state: []evSpec{joinRule("knock_restricted")},
			event: memberEv(uCarol, uCarol, "join", ""), want: RuleJoinRestrictedNoAuth},
		{name: "knock_restricted unknown before v10", to: 9, state: []evSpec{joinRule("knock_restricted")},
			event: memberEv(uCarol, uCarol, "join", via(uMod)), want: RuleJoinForbidden},
	})
}

func TestAuthorizeInvite(t *testing.T) {
	inviteAt50 := powerLevels(func(pl map[string]any) { pl["invite"] = 50 })
	runAuthCases(t, []authCase{
		{name: "member invites", event: memberEv(uBob, uCarol, "invite", "")},
		{name: "outsider invites", event: memberEv(uCarol, "@dave:d.test", "invite", ""), want: RuleInviteSenderNotJoined},
		{name: "invitee already joined", event: memberEv(uBob, uMod, "invite", ""), want: RuleInviteTargetMember},
		{name: "invitee banned", state: []evSpec{memberEv(uMod, uCarol, "ban", "")}, event: memberEv(uMod, uCarol, "invite", ""), want: RuleInviteTargetMember},
		{name: "invitee left", state: []evSpec{memberEv(uCarol, uCarol, "leave", "")}, event: memberEv(uBob, uCarol, "invite", "")},
		{name: "below invite level", state: []evSpec{inviteAt50}, event: memberEv(uBob, uCarol, "invite", ""), want: RuleInvitePower},
		{name: "at invite level", state: []evSpec{inviteAt50}, event: memberEv(uMod, uCarol, "invite", "")},
		{name: "creator v12 above any level", from: 12, state: []evSpec{powerLevels(func(pl map[string]any) { pl["invite"] = 1 << 50 })},
			event: memberEv(uAlice, uCarol, "invite", "")},
	})
}

func TestAuthorizeLeave(t *testing.T) {
	banAt75 := powerLevels(func(pl map[string]any) { pl["ban"] = 75 })
	runAuthCases(t, []authCase{
		{name: "leave", event: memberEv(uBob, uBob, "leave", "")},
		{name: "reject invite", state: []evSpec{memberEv(uBob, uCarol, "invite", "")}, event: memberEv(uCarol, uCarol, "leave", "")},
		{name: "leave without membership", event: memberEv(uCarol, uCarol, "leave", ""), want: RuleLeaveSelfNotMember},
		{name: "leave when banned", state: []evSpec{memberEv(uMod, uCarol, "ban", "")}, event: memberEv(uCarol, uCarol, "leave", ""), want: RuleLeaveSelfNotMember},
		{name: "retract knock", from: 7, state: []evSpec{memberEv(uCarol, uCarol, "knock", "")}, event: memberEv(uCarol, uCarol, "leave", "")},
		{name: "knock state not leavable before v7", to: 6, state: []evSpec{memberEv(uCarol, uCarol, "knock", "")},
			event: memberEv(uCarol, uCarol, "leave", ""), want: RuleLeaveSelfNotMember},
		{name: "kick by outsider", state: []evSpec{memberEv(uBob, uCarol, "invite", "")}, event: memberEv("@dave:d.test", uBob, "leave", ""), want: RuleLeaveSenderNotJoined},
		{name: "kick lower", event: memberEv(uMod, uBob, "leave", "")},
		{name: "kick equal", event: memberEv(uAdmin, uAlice, "leave", ""), want: RuleLeaveKickPower},
		{name: "kick higher", event: memberEv(uBob, uMod, "leave", ""), want: RuleLeaveKickPower},
		{name: "revoke invite", state: []evSpec{memberEv(uBob, uCarol, "invite", "")}, event: memberEv(uMod, uCarol, "leave", "")},
		{name: "unban at ban level", state: []evSpec{memberEv(uMod, uCarol, "ban", "")}, event: memberEv(uMod, uCarol, "leave", "")},
		{name: "unban below ban level", state: []evSpec{banAt75, memberEv(uAdmin, uCarol, "ban", "")},
			event: memberEv(uMod, uCarol, "leave", ""), want: RuleLeaveUnbanPower},
		// v12: creators have infinite power, so alice outranks admin.
		{name: "creator kicks admin before v12", to: 11, event: memberEv(uAlice, uAdmin, "leave", ""), want: RuleLeaveKickPower},
		{name: "creator kicks admin v12", from: 12, event: memberEv(uAlice, uAdmin, "leave", "")},
		{name: "creators cannot kick each other", from: 12, createExtra: map[string]any{"additional_creators": []any{uAdmin}},
			event: memberEv(uAlice, uAdmin, "leave", ""), want: RuleLeaveKickPower},
	})
}

func TestAuthorizeBan(t *testing.T) {
	runAuthCases(t, []authCase{
		{name: "ban lower", event: memberEv(uMod, uBob, "ban", "")},
		{name: "ban outsider", event: memberEv(uMod, uCarol, "ban", "")},
		{name: "ban by outsider", event: memberEv(uCarol, uBob, "ban", ""), want: RuleBanSenderNotJoined},
		{name: "ban higher", event: memberEv(uBob, uMod, "ban", ""), want: RuleBanPower},
		{name: "ban below ban level", state: []evSpec{powerLevels(func(pl map[string]any) { pl["ban"] = 75 })},
			event: memberEv(uMod, uBob, "ban", ""), want: RuleBanPower},
		{name: "creator bans admin before v12", to: 11, event: memberEv(uAlice, uAdmin, "ban", ""), want: RuleBanPower},
		{name: "creator bans admin v12", from: 12, event: memberEv(uAlice, uAdmin, "ban", "")},
		{name: "additional creator cannot be banned", from: 12, createExtra: map[string]any{"additional_creators": []any{uMod}},
			event: memberEv(uAdmin, uMod, "ban", ""), want: RuleBanPower},
	})
}

func TestAuthorizeKnock(t *testing.T) {
	runAuthCases(t, []authCase{
		{name: "knock", from: 7, state: []evSpec{joinRule("knock")}, event: memberEv(uCarol, uCarol, "knock", "")},
		{name: "knock after leaving", from: 7, state: []evSpec{joinRule("knock"), memberEv(uCarol, uCarol, "leave", "")}, event: memberEv(uCarol, uCarol, "knock", "")},
		{name: "knock on invite-only", from: 7, event: memberEv(uCarol, uCarol, "knock", ""), want: RuleKnockJoinRule},
		{name: "knock on public", from: 7, state: []evSpec{joinRule("public")}, event: memberEv(uCarol, uCarol, "knock", ""), want: RuleKnockJoinRule},
		{name: "knock for someone else", from: 7, state: []evSpec{joinRule("knock")}, event: memberEv(uBob, uCarol, "knock", ""), want: RuleKnockSenderNotTarget},
		{name: "knock when joined", from: 7, state: []evSpec{joinRule("knock")}, event: memberEv(uBob, uBob, "knock", ""), want: RuleKnockMember},
		{name: "knock when invited", from: 7, state: []evSpec{joinRule("knock"), memberEv(uBob, uCarol, "invite", "")},
			event: memberEv(uCarol, uCarol, "knock", ""), want: RuleKnockMember},
		{name: "knock when banned", from: 7, state: []evSpec{joinRule("knock"), memberEv(uMod, uCarol, "ban", "")},
			event: memberEv(uCarol, uCarol, "knock", ""), want: RuleKnockMember},
		{name: "knock_restricted", from: 10, state: []evSpec{joinRule("knock_restricted")}, event: memberEv(uCarol, uCarol, "knock", "")},
		{name: "knock_restricted unknown before v10", from: 7, to: 9, state: []evSpec{joinRule("knock_restricted")},
			event: memberEv(uCarol, uCarol, "knock", ""), want: RuleKnockJoinRule},
	})
}

func TestAuthorizeSenderAndPower(t *testing.T) {
	noPL := []StateKeyTuple{keyPowerLevels}
	runAuthCases(t, []authCase{
		{name: "outsider message", event: msgEv("m.room.message", uCarol, `{}`), want: RuleSenderNotJoined},
		{name: "invited user message", state: []evSpec{memberEv(uBob, uCarol, "invite", "")}, event: msgEv("m.room.message", uCarol, `{}`), want: RuleSenderNotJoined},
		{name: "outsider third-party invite", event: stateEv(mRoomThirdPartyInvite, "tok", uCarol, `{}`), want: RuleSenderNotJoined},
		{name: "third-party invite at invite level 0", event: stateEv(mRoomThirdPartyInvite, "tok", uBob, `{}`)},
		{name: "third-party invite ignores its event level", state: []evSpec{powerLevels(func(pl map[string]any) { eventsOf(pl)[mRoomThirdPartyInvite] = 100 })},
			event: stateEv(mRoomThirdPartyInvite, "tok", uBob, `{}`)},
		{name: "third-party invite below invite level", state: []evSpec{powerLevels(func(pl map[string]any) { pl["invite"] = 10 })},
			event: stateEv(mRoomThirdPartyInvite, "tok", uBob, `{}`), want: RuleThirdPartyInvitePower},
		{name: "state below events level", event: stateEv("m.room.name", "", uBob, `{"name":"x"}`), want: RuleEventPower},
		{name: "state at events level", event: stateEv("m.room.name", "", uMod, `{"name":"x"}`)},
		{name: "state below state_default", event: stateEv("m.room.topic", "", uBob, `{}`), want: RuleEventPower},
		{name: "message below events_default", state: []evSpec{powerLevels(func(pl map[string]any) { pl["events_default"] = 10 })},
			event: msgEv("m.room.message", uBob, `{}`), want: RuleEventPower},
		{name: "message type with own level", state: []evSpec{powerLevels(func(pl map[string]any) { eventsOf(pl)["m.reaction"] = 10 })},
			event: msgEv("m.reaction", uBob, `{}`), want: RuleEventPower},
		{name: "tombstone needs 100", event: stateEv("m.room.tombstone", "", uMod, `{}`), want: RuleEventPower},
		{name: "creator v12 above every level", from: 12, state: []evSpec{powerLevels(func(pl map[string]any) { eventsOf(pl)["m.room.tombstone"] = 1 << 52 })},
			event: stateEv("m.room.tombstone", "", uAlice, `{}`)},
		{name: "no power levels: state default 50", drop: noPL, event: stateEv("m.room.topic", "", uBob, `{}`), want: RuleEventPower},
		{name: "no power levels: creator has 100", drop: noPL, event: stateEv("m.room.topic", "", uAlice, `{}`)},
		{name: "no power levels: message default 0", drop: noPL, event: msgEv("m.room.message", uBob, `{}`)},
		{name: "user state key of another user", event: stateEv("org.example.x", uBob, uMod, `{}`), want: RuleStateKeyUser},
		{name: "user state key of the sender", event: stateEv("org.example.x", uMod, uMod, `{}`)},
		{name: "other state key", event: stateEv("org.example.x", "bob", uMod, `{}`)},
		{name: "unknown message type", event: msgEv("org.example.ping", uBob, `{}`)},
	})
}

func TestAuthorizeRedaction(t *testing.T) {
	redaction := func(id, sender, target string) evSpec {
		return evSpec{typ: mRoomRedaction, sender: sender, content: `{}`, id: id, redacts: target}
	}
	runAuthCases(t, []authCase{
		{name: "own server's event", to: 2, event: redaction("$r:b.test", uBob, "$x:b.test")},
		{name: "other server's event, low power", to: 2, event: redaction("$r:b.test", uBob, "$x:a.test"), want: RuleRedactionPower},
		{name: "other server's event, redact level", to: 2, event: redaction("$r:b.test", uMod, "$x:a.test")},
		{name: "redact level not checked from v3", from: 3, event: redaction("$r", uBob, "$x")},
		{name: "redaction event level", state: []evSpec{powerLevels(func(pl map[string]any) { eventsOf(pl)[mRoomRedaction] = 10 })},
			event: redaction("$r:b.test", uBob, "$x:b.test"), want: RuleEventPower},
		{name: "redaction by outsider", event: redaction("$r:c.test", uCarol, "$x:c.test"), want: RuleSenderNotJoined},
	})
}

func TestJoinAuthorisingServer(t *testing.T) {
	for v := 1; v <= 12; v++ {
		r := newTestRoom(t, v, nil)
		want := ""
		if v >= 8 {
			want = "b.test:8448"
		}
		ev := r.build(memberEv(uCarol, uCarol, "join", `,"join_authorised_via_users_server":"@mod:b.test:8448"`))
		if got := JoinAuthorisingServer(ev); got != want {
			t.Errorf("v%d: got %q, want %q", v, got, want)
		}
		if got := JoinAuthorisingServer(r.build(memberEv(uCarol, uCarol, "join", ""))); got != "" {
			t.Errorf("v%d: no authoriser: got %q", v, got)
		}
		if got := JoinAuthorisingServer(r.build(msgEv("m.room.message", uBob, `{"join_authorised_via_users_server":"@mod:b.test"}`))); got != "" {
			t.Errorf("v%d: message: got %q", v, got)
		}
	}
}

func TestAuthErrorForms(t *testing.T) {
	err := authReject(RuleBanPower, "%s cannot ban", uBob)
	if err.Error() != "event not authorised (member.ban.power): @bob:b.test cannot ban" {
		t.Errorf("Error() = %q", err.Error())
	}
	if me := err.MatrixError(); me.ErrCode != "M_FORBIDDEN" || me.Status != 403 {
		t.Errorf("MatrixError() = %+v", me)
	}
}
