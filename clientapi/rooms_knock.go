package clientapi

import (
	"errors"
	"net/http"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
)

// knock implements POST /knock/{roomIdOrAlias}: here when a user of this
// server is in the room, else through the servers via, the alias's
// directory and the room ID name.
func (a *API) knock(r *http.Request) (any, error) {
	roomID, via, err := a.roomTarget(r)
	if err != nil {
		return nil, err
	}
	if _, err := mxcore.ParseRoomID(roomID); err != nil {
		return nil, mxcore.InvalidParam("Invalid room ID: " + roomID)
	}
	var body membershipRequest
	if err := decodeRoomBody(r, &body); err != nil {
		return nil, err
	}
	ctx, userID := r.Context(), roomCaller(r).UserID
	_, err = a.Rooms.RoomVersion(ctx, roomID)
	unknown := errors.Is(err, roomserver.ErrUnknownRoom)
	if err != nil && !unknown {
		return nil, err
	}
	if a.RemoteRooms != nil && (unknown || !a.participates(ctx, roomID)) {
		if r, err := mxcore.ParseRoomID(roomID); err == nil && r.Server != "" {
			via = append(via, r.Server)
		}
		content := a.memberContent(ctx, userID, "knock", body.Reason)
		if err := a.RemoteRooms.Knock(ctx, userID, roomID, via, content); err != nil {
			return nil, err
		}
		return map[string]string{"room_id": roomID}, nil
	}
	if err := a.setMembership(ctx, roomID, userID, userID, "knock", body.Reason); err != nil {
		return nil, err
	}
	return map[string]string{"room_id": roomID}, nil
}
