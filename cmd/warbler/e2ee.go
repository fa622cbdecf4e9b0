package main

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/warbler-im/warbler/clientapi"
	"github.com/warbler-im/warbler/federation"
	"github.com/warbler-im/warbler/roomserver"
	"github.com/warbler-im/warbler/storage"
)

// wireE2EE carries end-to-end encryption across servers: other servers
// may ask for local users' keys (behind the policy), local clients reach
// remote users' keys and devices through federation, local key changes
// go out as device list and signing key EDUs, and other servers' EDUs of
// those kinds and to-device messages are applied.
func wireE2EE(serverName string, fed *federation.Federation, db storage.Database, rooms *roomserver.RoomServer, api *clientapi.API, sender *federation.Sender, inbound *federation.Inbound) error {
	local := localE2EE{api: api, db: db}
	fed.Routes.UserKeys = local
	e2ee, err := federation.NewE2EE(federation.E2EEConfig{
		ServerName: serverName, Client: fed.Client, Store: db, Sender: sender, Local: local,
	})
	if err != nil {
		return err
	}
	if inbound != nil {
		e2ee.RegisterEDUs(inbound)
	}
	rooms.AddListener(e2ee) // forgets the lists of users no longer sharing a room
	api.RemoteE2EE = remoteE2EE{e2ee}
	api.OnDeviceListChange = func(ctx context.Context, c clientapi.DeviceListChange) {
		var err error
		if c.DeviceID == "" {
			err = e2ee.SigningKeysChanged(ctx, c.UserID)
		} else {
			err = e2ee.DeviceChanged(ctx, c.UserID, c.DeviceID, c.Pos, c.Deleted)
		}
		if err != nil {
			slog.Warn("federation: could not announce a device list change", "user_id", c.UserID, "err", err)
		}
	}
	return nil
}

// localE2EE adapts the client API's key store to federation.
type localE2EE struct {
	api *clientapi.API
	db  storage.Database
}

func (l localE2EE) QueryLocalKeys(ctx context.Context, deviceKeys map[string][]string) (federation.DeviceKeysAnswer, error) {
	got, err := l.api.KeysForServer(ctx, deviceKeys)
	return federation.DeviceKeysAnswer(got), err
}

func (l localE2EE) ClaimLocalKeys(ctx context.Context, claims map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error) {
	return l.api.ClaimKeysForServer(ctx, claims)
}

func (l localE2EE) LocalUserDevices(ctx context.Context, userID string) (federation.UserDevices, error) {
	devices, master, ssk, err := l.api.DevicesForServer(ctx, userID)
	if err != nil {
		return federation.UserDevices{}, err
	}
	streamID, err := l.db.LocalDeviceListID(ctx, userID)
	if err != nil {
		return federation.UserDevices{}, err
	}
	out := federation.UserDevices{UserID: userID, StreamID: streamID, MasterKey: master, SelfSigningKey: ssk}
	for _, d := range devices {
		out.Devices = append(out.Devices, federation.UserDevice(d))
	}
	return out, nil
}

func (l localE2EE) DeliverToDevice(ctx context.Context, sender, eventType, messageID string, messages map[string]map[string]json.RawMessage) error {
	return l.api.DeliverToDevice(ctx, sender, eventType, messageID, messages)
}

func (l localE2EE) RemoteDeviceListMoved(ctx context.Context, userID string, pos int64) {
	l.api.RemoteDeviceListMoved(ctx, userID, pos)
}

// remoteE2EE adapts federation to the client API's seam.
type remoteE2EE struct{ e *federation.E2EE }

func (r remoteE2EE) QueryKeys(ctx context.Context, server string, deviceKeys map[string][]string) (clientapi.RemoteKeys, error) {
	got, err := r.e.QueryKeys(ctx, server, deviceKeys)
	return clientapi.RemoteKeys(got), err
}

func (r remoteE2EE) ClaimKeys(ctx context.Context, server string, claims map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error) {
	return r.e.ClaimKeys(ctx, server, claims)
}

func (r remoteE2EE) SendToDevice(ctx context.Context, server, sender, eventType, messageID string, messages map[string]map[string]json.RawMessage) error {
	return r.e.SendToDevice(ctx, server, sender, eventType, messageID, messages)
}
