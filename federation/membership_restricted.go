package federation

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/tidwall/gjson"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

// Restricted joins (client-server API, "Restricted rooms"): a user who
// is neither invited nor joined may join a room whose join rule is
// restricted when the resident server vouches that the user is in one of
// the rooms the rule allows, naming one of its users able to invite in
// join_authorised_via_users_server and signing the join.

// maxAuthorisers bounds the local members tried as the authorising user.
const maxAuthorisers = 20

// restrictedJoinTemplate builds userID's join template:
// plain, or for a restricted room the user may only join through us,
// naming the authorising user. The errors are the spec's.
func (m *Membership) restrictedJoinTemplate(ctx context.Context, roomID, userID string) (roomserver.Template, error) {
	plain := roomserver.EventRequest{RoomID: roomID, Sender: userID, Type: "m.room.member", StateKey: &userID, Content: []byte(`{"membership":"join"}`)}
	allow, restricted, err := m.restrictedAllow(ctx, roomID, userID)
	if err != nil {
		return roomserver.Template{}, err
	}
	if !restricted {
		return m.Rooms.BuildTemplate(ctx, plain)
	}
	if err := m.checkAllowConditions(ctx, userID, allow); err != nil {
		return roomserver.Template{}, err
	}
	members, err := m.Rooms.JoinedUsers(ctx, roomID)
	if err != nil {
		return roomserver.Template{}, err
	}
	tried := 0
	for _, via := range members {
		if u, err := mxcore.ParseUserID(via); err != nil || u.Server != m.ServerName {
			continue
		}
		if tried++; tried > maxAuthorisers {
			break
		}
		req := plain
		req.Content, _ = json.Marshal(map[string]string{"membership": "join", "join_authorised_via_users_server": via})
		if tmpl, err := m.Rooms.BuildTemplate(ctx, req); err == nil {
			return tmpl, nil
		}
	}
	return roomserver.Template{}, mxcore.NewError(http.StatusBadRequest, mxcore.ErrUnableToGrantJoin, "No user of this server can authorise the join")
}

// restrictedAllow reads the room's allow conditions when its join rule
// is restricted for userID: not for members and invitees, who join
// without them.
func (m *Membership) restrictedAllow(ctx context.Context, roomID, userID string) (allow []gjson.Result, restricted bool, err error) {
	rules, err := m.Rooms.CurrentStateEvent(ctx, roomID, "m.room.join_rules", "")
	if errors.Is(err, roomserver.ErrNoStateEvent) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	ver := rules.Version()
	switch rule := gjson.GetBytes(rules.Content(), "join_rule").Str; {
	case rule == "restricted" && ver.AllowRestrictedJoins, rule == "knock_restricted" && ver.AllowKnockRestricted:
	default:
		return nil, false, nil
	}
	if current, _, err := m.Rooms.Membership(ctx, roomID, userID); err != nil || current == "join" || current == "invite" {
		return nil, false, err
	}
	return gjson.GetBytes(rules.Content(), "allow").Array(), true, nil
}

// checkAllowConditions accepts a user joined to one of the allowed rooms
// as this server sees it: M_UNABLE_TO_AUTHORISE_JOIN when this server is
// in none of them, so the joiner tries another server.
func (m *Membership) checkAllowConditions(ctx context.Context, userID string, allow []gjson.Result) error {
	knowsOne := false
	for _, cond := range allow {
		roomID := cond.Get("room_id").Str
		if cond.Get("type").Str != "m.room_membership" || roomID == "" || !m.participates(ctx, roomID) {
			continue
		}
		knowsOne = true
		if current, _, err := m.Rooms.Membership(ctx, roomID, userID); err == nil && current == "join" {
			return nil
		}
	}
	if !knowsOne {
		return mxcore.NewError(http.StatusBadRequest, mxcore.ErrUnableToAuthorise, "This server is in none of the rooms the join rule allows")
	}
	return mxcore.Forbidden("You are not in any of the rooms the join rule allows")
}

// authoriseRestrictedJoin signs a join that names a user of ours as its
// authoriser, after checking the event against the allow conditions
// again (the template may be old or forged); a join authorised by another
// server must carry that server's signature.
func (m *Membership) authoriseRestrictedJoin(ctx context.Context, ev *mxcore.PDU) (*mxcore.PDU, error) {
	server := roomserver.JoinAuthorisingServer(ev)
	switch {
	case server == "":
		return ev, nil
	case server != m.ServerName:
		if err := m.Keys.VerifyEventFrom(ctx, server, ev.JSON(), ev.Version()); err != nil {
			return nil, mxcore.Forbidden("The join is not signed by its authorising server " + server)
		}
		return ev, nil
	}
	allow, restricted, err := m.restrictedAllow(ctx, ev.RoomID(), ev.Sender())
	if err != nil {
		return nil, err
	}
	if restricted {
		if err := m.checkAllowConditions(ctx, ev.Sender(), allow); err != nil {
			return nil, err
		}
	}
	signed, err := mxcore.SignEvent(ev.JSON(), m.ServerName, m.KeyID, m.PrivateKey, ev.Version())
	if err != nil {
		return nil, err
	}
	return mxcore.NewPDU(signed, ev.Version())
}
