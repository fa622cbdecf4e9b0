package clientapi

import (
	"context"

	"github.com/warbler-im/warbler/storage"
)

// The knock section of /sync (client-server API, "Knocking on rooms").
// POST /knock itself is rooms_knock.go, local or through federation.

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
