package roomserver

import (
	"fmt"

	"github.com/warbler-im/warbler/mxcore"
)

// AuthRule is a stable short identifier of the authorization rule an event
// failed. Rule numbers move between room versions; these names do not, so
// logs, metrics and tests can rely on them.
type AuthRule string

// The rules Authorize and CheckAuthEvents can report. The comments give the
// rule numbers in room versions 1–2 / 3–5 / 6–11 / 12 where they differ.
const (
	RuleUnknownRoomVersion AuthRule = "room_version.unknown" // the event carries no known room version

	// m.room.create (rule 1 in all versions).
	RuleCreatePrevEvents         AuthRule = "create.prev_events"         // 1.1
	RuleCreateRoomIDDomain       AuthRule = "create.room_id_domain"      // 1.2, v1–11
	RuleCreateHasRoomID          AuthRule = "create.has_room_id"         // 1.2, v12
	RuleCreateRoomVersion        AuthRule = "create.room_version"        // 1.3
	RuleCreateNoCreator          AuthRule = "create.no_creator"          // 1.4, v1–10
	RuleCreateAdditionalCreators AuthRule = "create.additional_creators" // 1.4, v12

	// The room's create event: present (v1–11 rule 2.4) and, in v12, the
	// event the room ID names (rule 2).
	RuleNoCreateEvent     AuthRule = "create.missing"
	RuleRoomIDNotCreateID AuthRule = "room_id.not_create_event"

	// The auth_events list (rule 2 in v1–11, rule 3 in v12).
	RuleAuthEventsMissing    AuthRule = "auth_events.missing"    // a listed event was not supplied
	RuleAuthEventsDuplicate  AuthRule = "auth_events.duplicate"  // 2.1
	RuleAuthEventsUnexpected AuthRule = "auth_events.unexpected" // 2.2
	RuleAuthEventsNoCreate   AuthRule = "auth_events.no_create"  // 2.4, v1–11
	RuleAuthEventsRoomID     AuthRule = "auth_events.room_id"    // 2.5

	RuleNotFederated AuthRule = "create.not_federated" // 3 (v12: 4): m.federate is false

	// m.room.aliases, v1–5 only (rule 4).
	RuleAliasesNoStateKey AuthRule = "aliases.no_state_key"
	RuleAliasesDomain     AuthRule = "aliases.domain"

	// m.room.member (rule 5 in v1–5, 4 in v6–11, 5 in v12).
	RuleMemberNoStateKey         AuthRule = "member.no_state_key"
	RuleMemberNoMembership       AuthRule = "member.no_membership"
	RuleMemberUnknownMembership  AuthRule = "member.unknown_membership"
	RuleJoinAuthorisedVia        AuthRule = "member.join_authorised_via"
	RuleJoinSenderNotTarget      AuthRule = "member.join.sender_not_target"
	RuleJoinBanned               AuthRule = "member.join.banned"
	RuleJoinNotInvited           AuthRule = "member.join.not_invited"
	RuleJoinRestrictedNoAuth     AuthRule = "member.join.restricted_unauthorised"
	RuleJoinForbidden            AuthRule = "member.join.forbidden"
	RuleInvite3PIDTargetBanned   AuthRule = "member.invite.3pid.target_banned"
	RuleInvite3PIDNoSigned       AuthRule = "member.invite.3pid.no_signed"
	RuleInvite3PIDSignedFields   AuthRule = "member.invite.3pid.signed_fields"
	RuleInvite3PIDMXIDMismatch   AuthRule = "member.invite.3pid.mxid_mismatch"
	RuleInvite3PIDNoInviteEvent  AuthRule = "member.invite.3pid.no_invite_event"
	RuleInvite3PIDSenderMismatch AuthRule = "member.invite.3pid.sender_mismatch"
	RuleInvite3PIDSignature      AuthRule = "member.invite.3pid.signature"
	RuleInviteSenderNotJoined    AuthRule = "member.invite.sender_not_joined"
	RuleInviteTargetMember       AuthRule = "member.invite.target_joined_or_banned"
	RuleInvitePower              AuthRule = "member.invite.power"
	RuleLeaveSelfNotMember       AuthRule = "member.leave.self_not_member"
	RuleLeaveSenderNotJoined     AuthRule = "member.leave.sender_not_joined"
	RuleLeaveUnbanPower          AuthRule = "member.leave.unban_power"
	RuleLeaveKickPower           AuthRule = "member.leave.kick_power"
	RuleBanSenderNotJoined       AuthRule = "member.ban.sender_not_joined"
	RuleBanPower                 AuthRule = "member.ban.power"
	RuleKnockJoinRule            AuthRule = "member.knock.join_rule"
	RuleKnockSenderNotTarget     AuthRule = "member.knock.sender_not_target"
	RuleKnockMember              AuthRule = "member.knock.already_member"

	RuleSenderNotJoined       AuthRule = "sender.not_joined"         // 6 (v6–11: 5)
	RuleThirdPartyInvitePower AuthRule = "third_party_invite.power"  // 7 (v6–11: 6)
	RuleEventPower            AuthRule = "event.power"               // 8 (v6–11: 7)
	RuleStateKeyUser          AuthRule = "state_key.user"            // 9 (v6–11: 8)
	RuleRedactionPower        AuthRule = "redaction.power_or_domain" // 11, v1–2 only

	// m.room.power_levels (rule 10 in v1–5 and v12, 9 in v6–11).
	RulePowerLevelsNotInteger AuthRule = "power_levels.not_integer" // v10+: named level not an integer
	RulePowerLevelsBadMap     AuthRule = "power_levels.bad_map"     // v10+: events/notifications malformed
	RulePowerLevelsUsers      AuthRule = "power_levels.users"       // users malformed
	RulePowerLevelsCreator    AuthRule = "power_levels.creator_listed"
	RulePowerLevelsLevel      AuthRule = "power_levels.change_level" // named level change beyond sender
	RulePowerLevelsEvents     AuthRule = "power_levels.change_event" // events/notifications change beyond sender
	RulePowerLevelsUser       AuthRule = "power_levels.change_user"  // users change beyond sender
)

// AuthError says why the authorization rules reject an event.
type AuthError struct {
	Rule AuthRule
	Msg  string
}

func (e *AuthError) Error() string { return "event not authorised (" + string(e.Rule) + "): " + e.Msg }

// MatrixError is the client-facing form: M_FORBIDDEN, as the spec answers a
// client whose event the auth rules refuse.
func (e *AuthError) MatrixError() *mxcore.Error { return mxcore.Forbidden(e.Msg) }

func authReject(rule AuthRule, format string, args ...any) *AuthError {
	return &AuthError{Rule: rule, Msg: fmt.Sprintf(format, args...)}
}
