package main

import (
	"context"
	"github.com/warbler-im/warbler/clientapi"
	"github.com/warbler-im/warbler/config"
	"github.com/warbler-im/warbler/federation"
	"github.com/warbler-im/warbler/internal/signingkey"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
	"log/slog"
)

// wireMembership connects joins, leaves, invites and knocks over
// federation: the resident-side endpoints, and the client API's way to
// rooms on other servers. Until residency policies exist, the policy
// allows every server.
func wireMembership(cfg config.Config, db storage.Database, key signingkey.Key, rooms *roomserver.RoomServer, api *clientapi.API, fed *federation.Federation, decider policy.Decider, sender *federation.Sender) {
	m := &federation.Membership{
		ServerName: cfg.ServerName, KeyID: key.ID, PrivateKey: key.Private,
		Rooms: rooms, Keys: fed.Keyring, Client: fed.Client, Policy: decider, Store: db,
	}
	m.InviteStored = api.RemoteInviteStored
	m.Forward = func(ctx context.Context, roomID, eventID, origin string) {
		if err := sender.ForwardToRoom(ctx, roomID, eventID, origin); err != nil {
			slog.Warn("federation: could not queue a membership event for the room's servers", "room_id", roomID, "event_id", eventID, "err", err)
		}
	}
	fed.Routes.Membership = m
	api.RemoteRooms = m
}
