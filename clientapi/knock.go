package clientapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// Knocking (client-server API, "Knocking on rooms"): asking to be let
// into a room whose join rule is knock or knock_restricted, and the knock
// section of /sync. Only rooms this server knows can be knocked on;
// knocking through another server needs federation's make_knock.

// knockRoom implements POST /knock/{roomIdOrAlias}. The auth rules decide
// whether the knock is allowed (join rule, room version, not banned or
// already in the room): a refusal is 403 M_FORBIDDEN.
func (a *API) knockRoom(r *http.Request) (any, error) {
	target := roomPathParam(r, "roomIdOrAlias")
	ctx := r.Context()
	if strings.HasPrefix(target, "#") {
		if _, err := mxcore.ParseRoomAlias(target); err != nil {
			return nil, mxcore.InvalidParam("Invalid room alias: " + target)
		}
		roomID, err := a.resolveAlias(ctx, target)
		if err != nil {
			return nil, err
		}
		target = roomID
	}
	if _, err := mxcore.ParseRoomID(target); err != nil {
		return nil, mxcore.InvalidParam("Invalid room ID or alias: " + target)
	}
	var body membershipRequest
	if err := decodeRoomBody(r, &body); err != nil {
		return nil, err
	}
	if _, err := a.Rooms.RoomVersion(ctx, target); errors.Is(err, roomserver.ErrUnknownRoom) {
		return nil, mxcore.NotFound("Room not known to this server; knocking on rooms on other servers (federation) is not available yet")
	} else if err != nil {
		return nil, err
	}
	userID := roomCaller(r).UserID
	if err := a.sendKnock(ctx, target, userID, body.Reason); err != nil {
		return nil, err
	}
	return map[string]string{"room_id": target}, nil
}

// sendKnock sends the user's knock membership, with their profile as a
// join would carry it.
func (a *API) sendKnock(ctx context.Context, roomID, userID, reason string) error {
	content := map[string]any{"membership": storage.MembershipKnock}
	if reason != "" {
		content["reason"] = reason
	}
	name, avatar := a.memberProfile(ctx, userID)
	if name != "" {
		content["displayname"] = name
	}
	if avatar != "" {
		content["avatar_url"] = avatar
	}
	raw, _ := json.Marshal(content)
	_, err := a.Rooms.SendEvent(ctx, roomserver.EventRequest{RoomID: roomID, Sender: userID, Type: "m.room.member", StateKey: &userID, Content: raw})
	return roomError(err)
}

// knockedRoom is one entry of /sync's rooms.knock.
type knockedRoom struct {
	KnockState syncList[strippedEvent] `json:"knock_state"`
}

// addKnocked fills rooms.knock: the rooms the user knocked on since the
// token (all of them on an initial sync), with the rooms' stripped state
// and the knock itself.
func (v *syncView) addKnocked(ctx context.Context, resp *syncResponse) error {
	knocked, err := v.roomsWith(ctx, storage.MembershipKnock)
	if err != nil || len(knocked) == 0 {
		return err
	}
	members, err := v.memberEvents(ctx, knocked, v.fromRoomServer)
	if err != nil {
		return err
	}
	for _, roomID := range knocked {
		knock, ok := members[roomID]
		if !ok || (v.incremental() && knock.StreamPos <= v.since) || knock.StreamPos > v.upTo {
			continue // the client has this knock, or gets it next time
		}
		// The same stripped state an invite shows; the knocker is the
		// sender, so no other member event is added.
		state, err := v.inviteState(ctx, roomID, knock)
		if err != nil {
			return err
		}
		resp.Rooms.Knock[roomID] = &knockedRoom{KnockState: syncList[strippedEvent]{Events: state}}
	}
	return nil
}
