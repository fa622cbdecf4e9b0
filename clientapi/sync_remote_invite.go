package clientapi

import (
	"context"
	"encoding/json"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// maxRemoteInvites bounds the invites over federation one sync reports.
const maxRemoteInvites = 100

// remoteInviteLister is the store's view of invites into rooms this
// server is not in (received over federation).
type remoteInviteLister interface {
	RemoteInvitesForUser(ctx context.Context, userID string, since int64, limit int) ([]storage.RemoteInvite, error)
}

// The database is such a store; a change there must not silently turn
// remote invites off.
var _ remoteInviteLister = storage.RemoteInviteStore(nil)

// addRemoteInvites reports the user's invites into rooms this server is
// not in: their stripped state is what the inviting server sent, and the
// invite itself. An incremental sync also reports the invites rejected
// since, as left rooms whose timeline is the leave.
func (v *syncView) addRemoteInvites(ctx context.Context, resp *syncResponse) error {
	lister, ok := v.s.store.(remoteInviteLister)
	if !ok {
		return nil
	}
	rejectedSince := v.upTo // an initial sync shows no rejections
	if v.incremental() {
		rejectedSince = v.since
	}
	invites, err := lister.RemoteInvitesForUser(ctx, v.req.userID, rejectedSince, maxRemoteInvites)
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
		if v.ignoresSender(ctx, inv.Sender) {
			continue // invites from ignored users are not sent
		}
		if inv.Membership == storage.MembershipLeave {
			v.addRejectedInvite(ctx, resp, inv)
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

// addRejectedInvite shows a rejected invite as a left room whose
// timeline is the user's leave event.
func (v *syncView) addRejectedInvite(ctx context.Context, resp *syncResponse, inv storage.RemoteInvite) {
	ver, ok := mxcore.GetRoomVersion(inv.RoomVersion)
	if !ok {
		return
	}
	pdu, err := mxcore.NewPDU(inv.Event, ver)
	if err != nil {
		return
	}
	ev := storage.StoredEvent{
		EventID: pdu.EventID(), RoomID: inv.RoomID, Type: pdu.Type(), StateKey: pdu.StateKey(), Sender: pdu.Sender(),
		OriginServerTS: pdu.OriginServerTS(), JSON: pdu.JSON(), StreamPos: inv.StreamPos,
	}
	resp.Rooms.Leave[inv.RoomID] = &leftRoom{
		State:       &syncList[ClientEvent]{Events: []ClientEvent{}},
		Timeline:    syncTimeline{Events: []ClientEvent{v.format(ctx, ev, ver)}},
		AccountData: syncList[any]{Events: []any{}},
	}
}

// RemoteInviteStored wakes the invitee's long-polling /sync requests for
// an invite over federation stored at stream position stream: such an
// invite enters no room here, so the roomserver's commits do not tell
// the notifier of it.
func (a *API) RemoteInviteStored(roomID, userID string, stream int64) {
	if a.syncs != nil {
		a.syncs.notify(streamEvents, stream, roomID, userID)
	}
}
