package clientapi

import (
	"context"
	"encoding/json"

	"github.com/warbler-im/warbler/storage"
)

// maxRemoteInvites bounds the invites over federation one sync reports.
const maxRemoteInvites = 100

// remoteInviteLister is the store's view of invites into rooms this
// server is not in (received over federation).
type remoteInviteLister interface {
	RemoteInvitesForUser(ctx context.Context, userID string, limit int) ([]storage.RemoteInvite, error)
}

// addRemoteInvites reports the user's invites into rooms this server is
// not in: their stripped state is what the inviting server sent, and the
// invite itself.
func (v *syncView) addRemoteInvites(ctx context.Context, resp *syncResponse) error {
	lister, ok := v.s.store.(remoteInviteLister)
	if !ok {
		return nil
	}
	invites, err := lister.RemoteInvitesForUser(ctx, v.req.userID, maxRemoteInvites)
	if err != nil {
		return err
	}
	for _, inv := range invites {
		if (v.incremental() && inv.StreamPos <= v.since) || inv.StreamPos > v.upTo || !v.req.filter.roomAllowed(inv.RoomID) {
			continue
		}
		if _, joined := resp.Rooms.Join[inv.RoomID]; joined {
			continue
		}
		var state []strippedEvent
		if err := json.Unmarshal(inv.InviteState, &state); err != nil {
			state = nil
		}
		key := inv.UserID
		ev := storage.StoredEvent{Type: "m.room.member", StateKey: &key, Sender: inv.Sender, JSON: inv.Event}
		state = append(state, newStrippedEvent(ev))
		resp.Rooms.Invite[inv.RoomID] = &invitedRoom{InviteState: syncList[strippedEvent]{Events: state}}
	}
	return nil
}
