package clientapi

import (
	"context"
	"slices"

	"github.com/warbler-im/warbler/storage"
)

// strippedStateTypes are the state events an invite shows of a room the
// user cannot read yet (client-server API, "Stripped state").
var strippedStateTypes = []string{
	"m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar",
	"m.room.canonical_alias", "m.room.encryption",
}

func (v *syncView) addInvited(ctx context.Context, resp *syncResponse, invited []string) error {
	members, err := v.memberEvents(ctx, invited, v.fromRoomServer)
	if err != nil {
		return err
	}
	for _, roomID := range invited {
		invite, ok := members[roomID]
		if !ok || (v.incremental() && invite.StreamPos <= v.since) || invite.StreamPos > v.upTo {
			continue // the client has this invite, or gets it next time
		}
		if v.ignoresSender(ctx, invite.Sender) {
			continue // invites from ignored users are not sent
		}
		state, err := v.inviteState(ctx, roomID, invite)
		if err != nil {
			return err
		}
		resp.Rooms.Invite[roomID] = &invitedRoom{InviteState: syncList[strippedEvent]{Events: state}}
	}
	return nil
}

// inviteState is the stripped room state, the inviter's member event and
// the invite itself.
func (v *syncView) inviteState(ctx context.Context, roomID string, invite storage.StoredEvent) ([]strippedEvent, error) {
	current, err := v.s.rooms.CurrentState(ctx, roomID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range current {
		if e.StateKey == "" && slices.Contains(strippedStateTypes, e.Type) ||
			e.Type == "m.room.member" && e.StateKey == invite.Sender && invite.Sender != v.req.userID {
			ids = append(ids, e.EventID)
		}
	}
	evs, err := v.s.store.Events(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]strippedEvent, 0, len(evs)+1)
	for _, ev := range evs {
		out = append(out, newStrippedEvent(ev))
	}
	return append(out, newStrippedEvent(invite)), nil
}
