package roomserver

import (
	"strings"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
)

// Event authorization rules, room versions 1–12 (the "Authorisation rules"
// section of each room version spec). Where the spec leaves room to read it,
// these choices were made; each is also noted at its code:
//
//   - No m.room.join_rules event means join rule "invite".
//   - An absent users, events or notifications property in a new
//     m.room.power_levels is an empty map, not a malformed one.
//   - In v1–9, a new named level or events value that is not a level (say
//     "lots") is rejected when it is added or changed, because it cannot be
//     shown to be within the sender's power; in stored events such values
//     fall back to the default. Integer strings equal to the old integer are
//     no change.
//   - v1–5 float levels are truncated; beyond int64 they saturate.
//   - User IDs (power level users, additional_creators) are checked with the
//     historical grammar servers must accept over federation.
//   - The caller supplies, and checks, what needs more than state: whether
//     auth events were rejected, the signature of the
//     join_authorised_via_users_server server, and the event's own
//     signatures and hashes.

// Event types the authorization rules read.
const (
	mRoomCreate           = "m.room.create"
	mRoomMember           = "m.room.member"
	mRoomJoinRules        = "m.room.join_rules"
	mRoomPowerLevels      = "m.room.power_levels"
	mRoomThirdPartyInvite = "m.room.third_party_invite"
	mRoomAliases          = "m.room.aliases"
	mRoomRedaction        = "m.room.redaction"
)

// AuthStateProvider answers the state lookups of the authorization rules.
// Depending on the check it is the event's auth events, the state before
// the event or the room's current state (checks 4–6 on receipt of a PDU).
//
// StateEvent returns the state event for (type, state_key), or nil. It must
// answer m.room.create in every room version: from v12 on the create event
// is not among an event's auth events, and the caller supplies the event the
// room ID names.
type AuthStateProvider interface {
	StateEvent(typ, stateKey string) Event
}

// Authorize applies the authorization rules of ev's room version to ev
// against state, and returns nil if ev is allowed or an *AuthError naming
// the rule that rejects it.
//
// It covers every rule except those needing more than the state: the
// auth_events list itself (see CheckAuthEvents, AuthorizeByAuthEvents),
// whether auth events (or, in v12, the create event) were rejected, and
// the signature by the server of join_authorised_via_users_server (see
// JoinAuthorisingServer); the caller does those. It is pure: no I/O, no
// clock.
func Authorize(ev Event, state AuthStateProvider) error {
	rv := ev.Version()
	if rv.ID == "" {
		return authReject(RuleUnknownRoomVersion, "event has no known room version")
	}
	if ev.Type() == mRoomCreate { // rule 1
		return checkCreate(ev)
	}
	c := newAuthContext(rv, state)
	if err := checkCreateEventOfRoom(ev, c); err != nil {
		return err
	}
	if err := checkFederate(ev, c); err != nil {
		return err
	}
	if rv.SpecialCaseAliasesAuth && ev.Type() == mRoomAliases {
		return checkAliases(ev)
	}
	if ev.Type() == mRoomMember {
		return checkMember(ev, c)
	}
	return checkOrdinaryEvent(ev, c)
}

// checkOrdinaryEvent covers the rules for every event but create, member and
// (v1–5) aliases: rules 6–11 in v1–5 and v12, 5–10 in v6–11.
func checkOrdinaryEvent(ev Event, c *authContext) error {
	sender := ev.Sender()
	if c.membership(sender) != "join" {
		return authReject(RuleSenderNotJoined, "sender %s is not joined to the room", sender)
	}
	senderLevel := c.userLevel(sender)
	if ev.Type() == mRoomThirdPartyInvite {
		return checkThirdPartyInviteEvent(senderLevel, c)
	}
	if need := c.requiredLevel(ev.Type(), ev.StateKey() != nil); need > senderLevel {
		return authReject(RuleEventPower, "sending %s needs power level %d, sender has %s", ev.Type(), need, plText(senderLevel))
	}
	if sk := ev.StateKey(); sk != nil && strings.HasPrefix(*sk, "@") && *sk != sender {
		return authReject(RuleStateKeyUser, "state key %s names a user other than the sender", *sk)
	}
	if ev.Type() == mRoomPowerLevels {
		return checkPowerLevels(ev, c)
	}
	if redactionInAuthRules(c.rv) && ev.Type() == mRoomRedaction {
		return checkRedactionV1(ev, senderLevel, c)
	}
	return nil
}

// checkThirdPartyInviteEvent is rule 7 (v6–11: 6): allowed if and only if
// the sender may invite.
func checkThirdPartyInviteEvent(senderLevel int64, c *authContext) error {
	if need := c.actionLevel(PowerInvite); senderLevel < need {
		return authReject(RuleThirdPartyInvitePower, "third-party invites need invite level %d, sender has %s", need, plText(senderLevel))
	}
	return nil
}

// redactionInAuthRules: only room versions 1 and 2 check redactions in the
// auth rules (rule 11); from v3 the redact level is applied when the
// redaction is applied. Those are the versions whose event IDs carry a
// domain, which rule 11 compares.
func redactionInAuthRules(rv mxcore.RoomVersion) bool {
	return rv.EventIDs == mxcore.EventIDExplicit
}

// checkRedactionV1 is rule 11 of v1–2: the sender needs the redact level,
// unless the redaction and its target come from the same server.
func checkRedactionV1(ev Event, senderLevel int64, c *authContext) error {
	if senderLevel >= c.actionLevel(PowerRedact) {
		return nil
	}
	if d := authDomain(ev.EventID()); d != "" && d == authDomain(ev.Redacts()) {
		return nil
	}
	return authReject(RuleRedactionPower, "redacting %s needs the redact level or the same origin", ev.Redacts())
}

// checkAliases is rule 4 of v1–5: a server may only set the aliases stored
// under its own name, whether or not its users are in the room.
func checkAliases(ev Event) error {
	sk := ev.StateKey()
	if sk == nil {
		return authReject(RuleAliasesNoStateKey, "m.room.aliases has no state key")
	}
	if authDomain(ev.Sender()) != *sk {
		return authReject(RuleAliasesDomain, "sender's server does not match state key %q", *sk)
	}
	return nil
}

// authContext holds what the rules read repeatedly while checking one
// event against one state.
type authContext struct {
	rv     mxcore.RoomVersion
	state  AuthStateProvider
	create Event
	pl     gjson.Result // content of the current m.room.power_levels
	hasPL  bool
	// creators are the v12 room creators, who have infinite power.
	creators []string
}

func newAuthContext(rv mxcore.RoomVersion, state AuthStateProvider) *authContext {
	c := &authContext{rv: rv, state: state, create: state.StateEvent(mRoomCreate, "")}
	if pl := state.StateEvent(mRoomPowerLevels, ""); pl != nil {
		c.pl, c.hasPL = authContent(pl), true
	}
	if rv.PrivilegedCreators {
		c.creators = authCreatorsOf(c.create)
	}
	return c
}

// membership returns a user's current membership, "" when there is none.
func (c *authContext) membership(user string) string {
	m, _ := authString(authContent(c.state.StateEvent(mRoomMember, user)), "membership")
	return m
}

// joinRule returns the current join rule. A room without m.room.join_rules
// is treated as invite-only: the rules do not say, and "invite" is the
// reading that lets existing members re-join (e.g. to change profile)
// without opening the room.
func (c *authContext) joinRule() string {
	ev := c.state.StateEvent(mRoomJoinRules, "")
	if ev == nil {
		return "invite"
	}
	r, _ := authString(authContent(ev), "join_rule")
	return r
}
