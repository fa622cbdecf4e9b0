package main

import (
	"context"
	"log/slog"

	"github.com/warbler-im/warbler/clientapi"
	"github.com/warbler-im/warbler/federation"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// maxPresenceRooms bounds the rooms whose servers hear of one user's
// presence change.
const maxPresenceRooms = 500

// wireEphemeralEDUs connects typing, receipts and presence to federation
// in both directions: local users' changes go out as EDUs to the servers
// that share the room (or, for presence, any room) with them, and other
// servers' EDUs are applied after the federation layer checks them.
func wireEphemeralEDUs(db storage.Database, rooms *roomserver.RoomServer, api *clientapi.API, sender *federation.Sender, inbound *federation.Inbound) {
	if inbound != nil {
		federation.RegisterEphemeralEDUs(inbound, rooms, api)
	}
	api.OnEphemeral = func(ctx context.Context, edu clientapi.EphemeralEDU) {
		var err error
		if edu.RoomID != "" {
			err = sender.SendRoomEDU(ctx, edu.RoomID, edu.Type, edu.Content)
		} else {
			err = sendToSharingServers(ctx, db, rooms, sender, edu)
		}
		if err != nil {
			slog.Warn("federation: could not queue an EDU", "type", edu.Type, "err", err)
		}
	}
}

// sendToSharingServers sends a user's EDU (presence) to every server that
// shares a joined room with them.
func sendToSharingServers(ctx context.Context, db storage.Database, rooms *roomserver.RoomServer, sender *federation.Sender, edu clientapi.EphemeralEDU) error {
	joined, err := db.RoomsForUser(ctx, edu.UserID, storage.MembershipJoin)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var servers []string
	for _, roomID := range joined[:min(len(joined), maxPresenceRooms)] {
		names, err := rooms.JoinedServers(ctx, roomID)
		if err != nil {
			return err
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				servers = append(servers, n)
			}
		}
	}
	if len(servers) == 0 {
		return nil
	}
	return sender.SendEDU(ctx, servers, edu.Type, edu.Content, "")
}
