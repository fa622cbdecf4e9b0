package main

import (
	"github.com/warbler-im/warbler/clientapi"
	"github.com/warbler-im/warbler/config"
	"github.com/warbler-im/warbler/federation"
	"github.com/warbler-im/warbler/internal/signingkey"
	"github.com/warbler-im/warbler/policy"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// wireMembership connects joins, leaves, invites and knocks over
// federation: the resident-side endpoints, and the client API's way to
// rooms on other servers. Until residency policies exist, the policy
// allows every server.
func wireMembership(cfg config.Config, db storage.Database, key signingkey.Key, rooms *roomserver.RoomServer, api *clientapi.API, fed *federation.Federation) {
	m := &federation.Membership{
		ServerName: cfg.ServerName, KeyID: key.ID, PrivateKey: key.Private,
		Rooms: rooms, Keys: fed.Keyring, Client: fed.Client, Policy: policy.AllowAll{}, Store: db,
	}
	m.InviteStored = api.RemoteInviteStored
	fed.Routes.Membership = m
	api.RemoteRooms = m
}
