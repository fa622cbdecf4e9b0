package clientapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"

	"github.com/warbler-im/warbler/storage"
)

// What federation needs of the key store: local users' keys for other
// servers (with only the signatures their owners published), delivery
// of other servers' to-device messages, and the hooks that announce
// local users' key changes.

// DeviceListChange is a local user's key change for other servers to hear of.
type DeviceListChange struct {
	UserID string
	// DeviceID is the device that was added, changed keys or was deleted;
	// "" for a change of the user's cross-signing keys.
	DeviceID string
	// Pos is the change's position on the device list stream.
	Pos     int64
	Deleted bool
}

// FederatedDevice is one of a local user's devices as other servers see it.
type FederatedDevice struct {
	DeviceID    string
	Keys        json.RawMessage
	DisplayName string
}

// announceDeviceChange hands a local key change to OnDeviceListChange.
// The request may end before federation is done with it.
func (a *API) announceDeviceChange(ctx context.Context, c DeviceListChange) {
	if a.OnDeviceListChange == nil || c.Pos <= 0 {
		return
	}
	a.OnDeviceListChange(context.WithoutCancel(ctx), c)
}

// deviceListChanged wakes the local syncs the change concerns and
// announces it to other servers.
func (a *API) deviceListChanged(ctx context.Context, c DeviceListChange) {
	a.deviceListMoved(ctx, c.UserID, c.Pos)
	a.announceDeviceChange(ctx, c)
}

// deviceAdded: a new device changes the user's device list whether or
// not it ever uploads keys; the server-server API's "Device Management"
// has an m.device_list_update sent for new and deleted devices alike.
func (a *API) deviceAdded(ctx context.Context, userID, deviceID string) {
	a.recordDeviceChange(ctx, userID, deviceID, "a new device")
}

// deviceRenamed: a device with keys has a new display name, which other
// servers' copies of the list carry, so it is a device list change.
func (a *API) deviceRenamed(ctx context.Context, userID, deviceID string) {
	keys, err := a.Store.DeviceKeys(ctx, []string{userID})
	if err != nil || keys[userID][deviceID] == nil {
		return
	}
	a.recordDeviceChange(ctx, userID, deviceID, "a device rename")
}

// recordDeviceChange records a change of one of userID's devices in the
// device list stream, wakes the local syncs it concerns and announces it
// to other servers; what names the change in the log if recording fails.
func (a *API) recordDeviceChange(ctx context.Context, userID, deviceID, what string) {
	pos, err := a.Store.AddDeviceListChange(ctx, userID, "", storage.DeviceListKeys)
	if err != nil {
		slog.Warn("clientapi: recording "+what, "err", err)
		return
	}
	a.deviceListChanged(ctx, DeviceListChange{UserID: userID, DeviceID: deviceID, Pos: pos})
}

// announceSignatures announces what new signatures changed: a local
// user's own device (signed by their self-signing key) or their master
// key (signed by one of their devices). Signatures of other users' keys
// stay with the signer.
func (a *API) announceSignatures(ctx context.Context, sigs []storage.KeySignature, pos int64) {
	seen := map[sigTarget]bool{}
	for _, s := range sigs {
		t := sigTarget{s.TargetUserID, s.TargetKeyID}
		if s.SignerUserID != s.TargetUserID || !a.isLocalUser(s.TargetUserID) || seen[t] {
			continue
		}
		seen[t] = true
		devices, err := a.Store.DeviceKeys(ctx, []string{s.TargetUserID})
		if err != nil {
			slog.Warn("clientapi: announcing new signatures", "err", err)
			return
		}
		c := DeviceListChange{UserID: s.TargetUserID, Pos: pos}
		if _, isDevice := devices[s.TargetUserID][s.TargetKeyID]; isDevice {
			c.DeviceID = s.TargetKeyID
		}
		a.announceDeviceChange(ctx, c)
	}
}

// KeysForServer answers another server's key query about local users:
// device keys with their owners' signatures and display names, and the
// master and self-signing keys (never the user-signing key).
func (a *API) KeysForServer(ctx context.Context, deviceKeys map[string][]string) (RemoteKeys, error) {
	want := map[string][]string{}
	for u, ds := range deviceKeys {
		if a.isLocalUser(u) {
			want[u] = ds
		}
	}
	resp := queryKeysResponse{
		Failures: map[string]any{}, DeviceKeys: map[string]map[string]json.RawMessage{},
		MasterKeys: map[string]json.RawMessage{}, SelfSigningKeys: map[string]json.RawMessage{},
		UserSigningKeys: map[string]json.RawMessage{},
	}
	if err := a.localKeys(ctx, "", want, &resp); err != nil {
		return RemoteKeys{}, err
	}
	return RemoteKeys{DeviceKeys: resp.DeviceKeys, MasterKeys: resp.MasterKeys, SelfSigningKeys: resp.SelfSigningKeys}, nil
}

// ClaimKeysForServer claims local devices' one-time keys for another server.
func (a *API) ClaimKeysForServer(ctx context.Context, claims map[string]map[string]string) (map[string]map[string]map[string]json.RawMessage, error) {
	var local []storage.KeyClaim
	for userID, devices := range claims {
		if !a.isLocalUser(userID) {
			continue
		}
		for d, alg := range devices {
			local = append(local, storage.KeyClaim{UserID: userID, DeviceID: d, Algorithm: alg})
		}
	}
	claimed, err := a.Store.ClaimKeys(ctx, local)
	if err != nil {
		return nil, err
	}
	return claimedKeyMap(claimed), nil
}

// DevicesForServer lists a local user's devices that have keys, with the
// user's master and self-signing keys, for /user/devices and the
// device list EDUs.
func (a *API) DevicesForServer(ctx context.Context, userID string) (devices []FederatedDevice, master, selfSigning json.RawMessage, err error) {
	keys, err := a.KeysForServer(ctx, map[string][]string{userID: nil})
	if err != nil {
		return nil, nil, nil, err
	}
	stored, err := a.Store.ListDevices(ctx, userID)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, d := range stored {
		if js, ok := keys.DeviceKeys[userID][d.DeviceID]; ok {
			devices = append(devices, FederatedDevice{DeviceID: d.DeviceID, Keys: js, DisplayName: d.DisplayName})
		}
	}
	slices.SortFunc(devices, func(x, y FederatedDevice) int { return strings.Compare(x.DeviceID, y.DeviceID) })
	return devices, keys.MasterKeys[userID], keys.SelfSigningKeys[userID], nil
}

// DeliverToDevice stores another server's to-device messages for local
// devices ("*": all of the user's devices) and wakes their syncs. The
// sender's server vouched for sender; messageID makes a repeat of the
// same message a no-op.
func (a *API) DeliverToDevice(ctx context.Context, sender, eventType, messageID string, messages map[string]map[string]json.RawMessage) error {
	local := map[string]map[string]json.RawMessage{}
	for u, ds := range messages {
		if a.isLocalUser(u) {
			local[u] = ds
		}
	}
	msgs, _, err := a.toDeviceRecipients(ctx, sender, eventType, local)
	if err != nil {
		return err
	}
	now := a.now()
	// Remembered under the remote sender with no device: their server's
	// message IDs are unique per sender.
	pos, duplicate, err := a.Store.SendToDevice(ctx, sender, "", messageID, now.UnixMilli(), now.Add(-toDeviceTxnLifetime).UnixMilli(), msgs)
	if err != nil || duplicate {
		return err
	}
	a.toDeviceSent(pos, msgs)
	return nil
}

// RemoteDeviceListMoved wakes the syncs of local users sharing a room
// with another server's user whose device list changed at pos.
func (a *API) RemoteDeviceListMoved(ctx context.Context, userID string, pos int64) {
	a.deviceListMoved(ctx, userID, pos)
}
