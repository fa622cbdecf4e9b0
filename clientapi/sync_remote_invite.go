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

// RemoteInviteStored wakes the invitee's long-polling /sync requests for
// an invite over federation stored at stream position stream: such an
// invite enters no room here, so the roomserver's commits do not tell
// the notifier of it.
func (a *API) RemoteInviteStored(roomID, userID string, stream int64) {
	if n := a.syncNotifier.Load(); n != nil {
		n.wakeMember(roomID, userID, stream)
	}
}

// wakeMember records a membership change of userID that no roomserver
// commit announced (an invite received over federation for a room not
// joined here) and wakes the user's waiters.
func (n *notifier) wakeMember(roomID, userID string, stream int64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	nt := notice{stream: stream, roomID: roomID, member: userID}
	n.record(nt)
	n.wakeFor(nt)
}
