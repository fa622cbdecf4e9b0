package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

// membershipRequest is the body shared by the membership endpoints.
type membershipRequest struct {
	UserID string `json:"user_id"`
	Reason string `json:"reason"`
}

// setMembership sends an m.room.member event from the caller for target.
func (a *API) setMembership(ctx context.Context, roomID, sender, target, membership, reason string) error {
	raw := a.memberContent(ctx, target, membership, reason)
	_, err := a.Rooms.SendEvent(ctx, roomserver.EventRequest{RoomID: roomID, Sender: sender, Type: "m.room.member", StateKey: &target, Content: raw})
	return roomError(err)
}

// memberContent is the content of target's member event: a joining
// user's profile goes with it.
func (a *API) memberContent(ctx context.Context, target, membership, reason string) []byte {
	content := map[string]any{"membership": membership}
	if reason != "" {
		content["reason"] = reason
	}
	if membership == "join" || membership == "knock" {
		name, avatar := a.memberProfile(ctx, target)
		if name != "" {
			content["displayname"] = name
		}
		if avatar != "" {
			content["avatar_url"] = avatar
		}
	}
	raw, _ := json.Marshal(content)
	return raw
}

// joinRoomByID implements POST /rooms/{roomId}/join.
func (a *API) joinRoomByID(r *http.Request) (any, error) {
	return a.join(r, roomPathParam(r, "roomId"), nil)
}

// joinRoom implements POST /join/{roomIdOrAlias}. Aliases of other
// servers resolve through their directory; the servers they name, and
// those in server_name/via, are where a room not joined here is joined.
func (a *API) joinRoom(r *http.Request) (any, error) {
	target, via, err := a.roomTarget(r)
	if err != nil {
		return nil, err
	}
	return a.join(r, target, via)
}

// join joins a room: here when a user of this server is in it (or no
// other server is known to be), else through other servers.
func (a *API) join(r *http.Request, roomID string, via []string) (any, error) {
	if _, err := mxcore.ParseRoomID(roomID); err != nil {
		return nil, mxcore.InvalidParam("Invalid room ID: " + roomID)
	}
	var body membershipRequest
	if err := decodeRoomBody(r, &body); err != nil {
		return nil, err
	}
	ctx := r.Context()
	userID := roomCaller(r).UserID
	_, err := a.Rooms.RoomVersion(ctx, roomID)
	unknown := errors.Is(err, roomserver.ErrUnknownRoom)
	if err != nil && !unknown {
		return nil, err
	}
	if handled, err := a.joinRemotely(ctx, roomID, userID, via, a.memberContent(ctx, userID, "join", body.Reason)); handled || err != nil {
		if err != nil {
			return nil, err
		}
		return map[string]string{"room_id": roomID}, nil
	}
	if unknown {
		return nil, mxcore.NotFound("Room not known to this server")
	}
	if err := a.setMembership(ctx, roomID, userID, userID, "join", body.Reason); err != nil {
		return nil, err
	}
	return map[string]string{"room_id": roomID}, nil
}

// targetedRequest reads the room and a body naming a target user.
func targetedRequest(r *http.Request) (roomID string, body membershipRequest, err error) {
	if roomID, err = roomIDParam(r); err != nil {
		return "", body, err
	}
	if err = decodeRoomBody(r, &body); err != nil {
		return "", body, err
	}
	if body.UserID == "" {
		return "", body, mxcore.MissingParam("user_id is required")
	}
	if _, err = mxcore.ParseUserID(body.UserID); err != nil {
		return "", body, mxcore.InvalidParam("Invalid user_id: " + body.UserID)
	}
	return roomID, body, nil
}

// invite implements POST /rooms/{roomId}/invite for local users.
func (a *API) invite(r *http.Request) (any, error) {
	roomID, body, err := targetedRequest(r)
	if err != nil {
		return nil, err
	}
	if id, _ := mxcore.ParseUserID(body.UserID); id.Server != a.ServerName {
		// The invitee's server must sign the invite first.
		if a.RemoteRooms == nil {
			return nil, mxcore.Forbidden("Inviting users on other servers is not available (no federation)")
		}
		content := a.memberContent(r.Context(), body.UserID, "invite", body.Reason)
		return struct{}{}, roomError(a.RemoteRooms.Invite(r.Context(), roomCaller(r).UserID, roomID, body.UserID, content))
	}
	return struct{}{}, a.setMembership(r.Context(), roomID, roomCaller(r).UserID, body.UserID, "invite", body.Reason)
}

// leave implements POST /rooms/{roomId}/leave (also rejecting an invite).
func (a *API) leave(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	var body membershipRequest
	if err := decodeRoomBody(r, &body); err != nil {
		return nil, err
	}
	userID := roomCaller(r).UserID
	content := a.memberContent(r.Context(), userID, "leave", body.Reason)
	if handled, err := a.leaveRemote(r.Context(), roomID, userID, content); handled || err != nil {
		return struct{}{}, err
	}
	return struct{}{}, a.setMembership(r.Context(), roomID, userID, userID, "leave", body.Reason)
}

// kick implements POST /rooms/{roomId}/kick. The auth rules would let a
// moderator "kick" someone who never was in the room; the spec's kick
// removes a member, so a target not in the room is refused.
func (a *API) kick(r *http.Request) (any, error) {
	roomID, body, err := targetedRequest(r)
	if err != nil {
		return nil, err
	}
	if err := a.requireTargetMembership(r.Context(), roomID, body.UserID, "join", "invite", "knock"); err != nil {
		return nil, err
	}
	return struct{}{}, a.setMembership(r.Context(), roomID, roomCaller(r).UserID, body.UserID, "leave", body.Reason)
}

// ban implements POST /rooms/{roomId}/ban.
func (a *API) ban(r *http.Request) (any, error) {
	roomID, body, err := targetedRequest(r)
	if err != nil {
		return nil, err
	}
	return struct{}{}, a.setMembership(r.Context(), roomID, roomCaller(r).UserID, body.UserID, "ban", body.Reason)
}

// unban implements POST /rooms/{roomId}/unban: only a banned user can be
// unbanned (otherwise this would be a kick).
func (a *API) unban(r *http.Request) (any, error) {
	roomID, body, err := targetedRequest(r)
	if err != nil {
		return nil, err
	}
	if err := a.requireTargetMembership(r.Context(), roomID, body.UserID, "ban"); err != nil {
		return nil, err
	}
	return struct{}{}, a.setMembership(r.Context(), roomID, roomCaller(r).UserID, body.UserID, "leave", body.Reason)
}

// requireTargetMembership refuses unless target's membership is one of want.
func (a *API) requireTargetMembership(ctx context.Context, roomID, target string, want ...string) error {
	m, _, err := a.Rooms.Membership(ctx, roomID, target)
	if err != nil {
		return roomError(err)
	}
	for _, w := range want {
		if m == w {
			return nil
		}
	}
	return mxcore.Forbidden("The target user's membership is " + orNone(m) + ", which this action cannot change")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
