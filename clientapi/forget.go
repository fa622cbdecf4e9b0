package clientapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// Forgetting rooms (client-server API, "Leaving rooms"). A forgotten room
// is tied to the membership event the user had when they forgot it, so a
// later membership event (rejoining, a new invite) makes the room
// remembered again with nothing to clear on the write path.

// maxForgottenRooms bounds how many forgotten rooms one /sync reads.
const maxForgottenRooms = 10000

// forgetRoom implements POST /rooms/{roomId}/forget: only once the user
// has left (or was banned). A room the user never had a membership of
// has nothing to forget, and the call succeeds without doing anything.
func (a *API) forgetRoom(r *http.Request) (any, error) {
	roomID, err := roomIDParam(r)
	if err != nil {
		return nil, err
	}
	if err := decodeOptionalJSON(r, &struct{}{}); err != nil {
		return nil, err
	}
	ctx, userID := r.Context(), roomCaller(r).UserID
	membership, eventID, err := a.Rooms.Membership(ctx, roomID, userID)
	if errors.Is(err, roomserver.ErrUnknownRoom) || err == nil && membership == "" {
		return struct{}{}, nil
	}
	if err != nil {
		return nil, err
	}
	if membership != storage.MembershipLeave && membership != storage.MembershipBan {
		return nil, mxcore.Unknown("User " + userID + " is in room " + roomID + " (" + membership + "): leave it before forgetting it")
	}
	if err := a.Store.ForgetRoom(ctx, userID, roomID, eventID); err != nil {
		return nil, err
	}
	return struct{}{}, nil
}

// forgotRoom reports whether the user forgot the room while memberEventID
// was their membership event, i.e. still has it forgotten.
func (a *API) forgotRoom(ctx context.Context, userID, roomID, memberEventID string) (bool, error) {
	forgottenAt, err := a.Store.RoomForgotten(ctx, userID, roomID)
	return err == nil && forgottenAt != "" && forgottenAt == memberEventID, err
}

// withoutForgotten drops from rooms those the user has forgotten since
// their current membership event (for /sync's leave section).
func (a *API) withoutForgotten(ctx context.Context, userID string, rooms []string) ([]string, error) {
	forgotten, err := a.Store.ForgottenRooms(ctx, userID, maxForgottenRooms)
	if err != nil || len(forgotten) == 0 {
		return rooms, err
	}
	kept := make([]string, 0, len(rooms))
	for _, roomID := range rooms {
		if at, ok := forgotten[roomID]; ok {
			_, current, err := a.Store.Membership(ctx, roomID, userID)
			if err != nil && !errors.Is(err, storage.ErrNotFound) {
				return nil, err
			}
			if current == at {
				continue
			}
		}
		kept = append(kept, roomID)
	}
	return kept, nil
}

// formerMemberState is what a user who left (or was banned) may still
// see of a room: its state when they left, unless they forgot the room.
func (a *API) formerMemberState(ctx context.Context, roomID, userID, memberEventID string) ([]storage.StateEntry, error) {
	if forgot, err := a.forgotRoom(ctx, userID, roomID, memberEventID); err != nil || forgot {
		return nil, errOrNotInRoom(err)
	}
	return a.Rooms.StateAt(ctx, memberEventID, roomserver.StateAfterEvent)
}

// refuseForgotten refuses a former member's read of a room they forgot:
// after /forget "a user will no longer be able to retrieve history".
func (a *API) refuseForgotten(ctx context.Context, roomID, userID, membership, memberEventID string) error {
	if membership != storage.MembershipLeave && membership != storage.MembershipBan || a.worldReadable(ctx, roomID) {
		return nil
	}
	if forgot, err := a.forgotRoom(ctx, userID, roomID, memberEventID); err != nil || forgot {
		return errOrNotInRoom(err)
	}
	return nil
}

func errOrNotInRoom(err error) error {
	if err != nil {
		return err
	}
	return notInRoom()
}

// forgotNow reports whether the user has forgotten the room and not had
// a membership change since, for the single-event reads (which answer a
// forgotten room's events as missing).
func (a *API) forgotNow(ctx context.Context, roomID, userID string) bool {
	membership, eventID, err := a.Rooms.Membership(ctx, roomID, userID)
	return err == nil && a.refuseForgotten(ctx, roomID, userID, membership, eventID) != nil
}
