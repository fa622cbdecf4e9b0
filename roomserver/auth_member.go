package roomserver

import "github.com/tidwall/gjson"

// checkMember is the m.room.member rule (rule 5 in v1–5 and v12, rule 4 in
// v6–11). The join_authorised_via_users_server signature check (4.2, v8+)
// needs server keys and is the caller's; see JoinAuthorisingServer.
func checkMember(ev Event, c *authContext) error {
	sk := ev.StateKey()
	if sk == nil {
		return authReject(RuleMemberNoStateKey, "m.room.member has no state key")
	}
	content := authContent(ev)
	m := authField(content, "membership")
	if !m.Exists() {
		return authReject(RuleMemberNoMembership, "m.room.member has no membership")
	}
	if err := checkJoinAuthorisedVia(content, c); err != nil {
		return err
	}
	mc := memberCheck{ev: ev, c: c, content: content, sender: ev.Sender(), target: *sk}
	switch {
	case m.Type != gjson.String: // not a membership value at all
	case m.Str == "join":
		return mc.join()
	case m.Str == "invite":
		return mc.invite()
	case m.Str == "leave":
		return mc.leave()
	case m.Str == "ban":
		return mc.ban()
	case m.Str == "knock" && c.rv.AllowKnocking:
		return mc.knock()
	}
	return authReject(RuleMemberUnknownMembership, "unknown membership %s", m.Raw)
}

// checkJoinAuthorisedVia is the part of rule 4.2 (v8+) that needs no keys:
// a join_authorised_via_users_server that is not a user ID names no server
// whose signature could satisfy the rule.
func checkJoinAuthorisedVia(content gjson.Result, c *authContext) error {
	via := authField(content, "join_authorised_via_users_server")
	if !c.rv.AllowRestrictedJoins || !via.Exists() {
		return nil
	}
	if via.Type != gjson.String || !authValidUserID(via.Str) {
		return authReject(RuleJoinAuthorisedVia, "join_authorised_via_users_server %s is not a user ID", via.Raw)
	}
	return nil
}

// memberCheck carries one membership event through its sub-rules.
type memberCheck struct {
	ev      Event
	c       *authContext
	content gjson.Result
	sender  string
	target  string
}

// join is rule 5.2 (v6–7: 4.2, v8–11: 4.3, v12: 5.3).
func (m memberCheck) join() error {
	if m.isCreatorFirstJoin() { // .1
		return nil
	}
	if m.sender != m.target { // .2
		return authReject(RuleJoinSenderNotTarget, "%s cannot join on behalf of %s", m.sender, m.target)
	}
	current := m.c.membership(m.sender)
	if current == "ban" { // .3
		return authReject(RuleJoinBanned, "%s is banned", m.sender)
	}
	switch rule := m.c.joinRule(); {
	case rule == "invite" || (rule == "knock" && m.c.rv.AllowKnocking): // .4
		if current == "invite" || current == "join" {
			return nil
		}
		return authReject(RuleJoinNotInvited, "join rule %s requires an invite", rule)
	case m.isRestrictedRule(rule): // .5, v8+
		return m.restrictedJoin(current)
	case rule == "public": // .6
		return nil
	default: // .7
		return authReject(RuleJoinForbidden, "join rule %q does not allow joining", rule)
	}
}

// isCreatorFirstJoin: the only previous event is the create event and the
// target is the creator (content.creator up to v10, the sender from v11).
func (m memberCheck) isCreatorFirstJoin() bool {
	prev := m.ev.PrevEventIDs()
	return len(prev) == 1 && prev[0] == m.c.create.EventID() && m.target == m.c.creator()
}

func (m memberCheck) isRestrictedRule(rule string) bool {
	return (rule == "restricted" && m.c.rv.AllowRestrictedJoins) ||
		(rule == "knock_restricted" && m.c.rv.AllowKnockRestricted)
}

// restrictedJoin: members and invitees may join; anyone else needs a joined
// user able to invite named in join_authorised_via_users_server. Whether
// the user meets the allow conditions is that server's decision, made
// before it signs; the rules only check the authorising user.
func (m memberCheck) restrictedJoin(current string) error {
	if current == "join" || current == "invite" {
		return nil
	}
	via, _ := authString(m.content, "join_authorised_via_users_server")
	if via == "" || m.c.membership(via) != "join" {
		return authReject(RuleJoinRestrictedNoAuth, "join_authorised_via_users_server %q is not a joined member", via)
	}
	if lvl, need := m.c.userLevel(via), m.c.actionLevel(PowerInvite); lvl < need {
		return authReject(RuleJoinRestrictedNoAuth, "%s (level %s) cannot invite (level %d)", via, plText(lvl), need)
	}
	return nil
}

// invite is rule 5.3 (v6–7: 4.3, v8–11: 4.4, v12: 5.4).
func (m memberCheck) invite() error {
	if tpi := authField(m.content, "third_party_invite"); tpi.Exists() { // .1
		return m.thirdPartyInvite(tpi)
	}
	if m.c.membership(m.sender) != "join" { // .2
		return authReject(RuleInviteSenderNotJoined, "inviter %s is not joined", m.sender)
	}
	if t := m.c.membership(m.target); t == "join" || t == "ban" { // .3
		return authReject(RuleInviteTargetMember, "%s cannot be invited: membership is %s", m.target, t)
	}
	if lvl, need := m.c.userLevel(m.sender), m.c.actionLevel(PowerInvite); lvl < need { // .4, .5
		return authReject(RuleInvitePower, "inviting needs level %d, %s has %s", need, m.sender, plText(lvl))
	}
	return nil
}

// thirdPartyInvite is rule 5.3.1: the invite redeems an
// m.room.third_party_invite by presenting the identity server's signature.
func (m memberCheck) thirdPartyInvite(tpi gjson.Result) error {
	if m.c.membership(m.target) == "ban" { // .1
		return authReject(RuleInvite3PIDTargetBanned, "%s is banned", m.target)
	}
	signed := authField(tpi, "signed")
	if !signed.IsObject() { // .2
		return authReject(RuleInvite3PIDNoSigned, "third_party_invite has no signed object")
	}
	mxid, okM := authString(signed, "mxid")
	token, okT := authString(signed, "token")
	if !okM || !okT { // .3
		return authReject(RuleInvite3PIDSignedFields, "signed lacks mxid or token")
	}
	if mxid != m.target { // .4
		return authReject(RuleInvite3PIDMXIDMismatch, "signed mxid %s is not the invitee %s", mxid, m.target)
	}
	invite := m.c.state.StateEvent(mRoomThirdPartyInvite, token)
	if invite == nil { // .5
		return authReject(RuleInvite3PIDNoInviteEvent, "no m.room.third_party_invite for the token")
	}
	if invite.Sender() != m.sender { // .6
		return authReject(RuleInvite3PIDSenderMismatch, "%s did not send the third-party invite", m.sender)
	}
	if !signedByInviteKey(signed, authContent(invite)) { // .7, .8
		return authReject(RuleInvite3PIDSignature, "no signature in signed matches the invite's public keys")
	}
	return nil
}

// leave is rule 5.4 (v6–7: 4.4, v8–11: 4.5, v12: 5.5).
func (m memberCheck) leave() error {
	current := m.c.membership(m.target)
	if m.sender == m.target { // .1: leaving, rejecting an invite, retracting a knock (v7+)
		if current == "invite" || current == "join" || (current == "knock" && m.c.rv.AllowKnocking) {
			return nil
		}
		return authReject(RuleLeaveSelfNotMember, "%s cannot leave: membership is %q", m.sender, current)
	}
	if m.c.membership(m.sender) != "join" { // .2
		return authReject(RuleLeaveSenderNotJoined, "%s is not joined", m.sender)
	}
	senderLevel := m.c.userLevel(m.sender)
	if ban := m.c.actionLevel(PowerBan); current == "ban" && senderLevel < ban { // .3
		return authReject(RuleLeaveUnbanPower, "unbanning needs level %d, %s has %s", ban, m.sender, plText(senderLevel))
	}
	kick := m.c.actionLevel(PowerKick)
	if senderLevel >= kick && m.c.userLevel(m.target) < senderLevel { // .4
		return nil
	}
	return authReject(RuleLeaveKickPower, "%s (level %s) cannot kick %s", m.sender, plText(senderLevel), m.target)
}

// ban is rule 5.5 (v6–7: 4.5, v8–11: 4.6, v12: 5.6).
func (m memberCheck) ban() error {
	if m.c.membership(m.sender) != "join" { // .1
		return authReject(RuleBanSenderNotJoined, "%s is not joined", m.sender)
	}
	senderLevel := m.c.userLevel(m.sender)
	if senderLevel >= m.c.actionLevel(PowerBan) && m.c.userLevel(m.target) < senderLevel { // .2
		return nil
	}
	return authReject(RuleBanPower, "%s (level %s) cannot ban %s", m.sender, plText(senderLevel), m.target)
}

// knock is rule 4.6 of v7 (v8–11: 4.7, v12: 5.7).
func (m memberCheck) knock() error {
	rule := m.c.joinRule()
	if rule != "knock" && !(rule == "knock_restricted" && m.c.rv.AllowKnockRestricted) { // .1
		return authReject(RuleKnockJoinRule, "join rule %q does not allow knocking", rule)
	}
	if m.sender != m.target { // .2
		return authReject(RuleKnockSenderNotTarget, "%s cannot knock on behalf of %s", m.sender, m.target)
	}
	if current := m.c.membership(m.sender); current == "ban" || current == "invite" || current == "join" { // .3, .4
		return authReject(RuleKnockMember, "%s cannot knock: membership is %s", m.sender, current)
	}
	return nil
}

// JoinAuthorisingServer returns the server whose signature the member event
// needs because its content names join_authorised_via_users_server (rule
// 4.2 from v8). The auth rules cannot check signatures without server keys,
// so the caller must verify that server's signature on ev; "" means no
// such signature is required.
func JoinAuthorisingServer(ev Event) string {
	if ev.Type() != mRoomMember || !ev.Version().AllowRestrictedJoins {
		return ""
	}
	via, _ := authString(authContent(ev), "join_authorised_via_users_server")
	return authDomain(via)
}
