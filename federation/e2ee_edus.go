package federation

import (
	"context"
	"encoding/json"
	"errors"
	"hash/fnv"
	"time"

	"github.com/warbler-im/warbler/storage"
)

// resyncTimeout bounds a /user/devices request made while applying an EDU.
const resyncTimeout = 10 * time.Second

// RegisterEDUs makes in apply m.device_list_update, m.signing_key_update
// and m.direct_to_device through e.
func (e *E2EE) RegisterEDUs(in *Inbound) {
	in.HandleEDU("m.device_list_update", EDUHandlerFunc(e.deviceListUpdate))
	in.HandleEDU("m.signing_key_update", EDUHandlerFunc(e.signingKeyUpdate))
	in.HandleEDU("m.direct_to_device", EDUHandlerFunc(e.directToDevice))
}

// deviceListUpdate applies an m.device_list_update about one of origin's
// users who shares a room with this server (others are of no concern
// here). Transactions from one origin are processed one at a time, so
// the updates of one user are too.
func (e *E2EE) deviceListUpdate(ctx context.Context, origin string, content json.RawMessage) error {
	u, err := parseDeviceListUpdate(content, origin)
	if err != nil {
		return err
	}
	shared, err := e.sharesRoomWithUs(ctx, u.UserID)
	if err != nil || !shared {
		return err
	}
	lists, err := e.cfg.Store.RemoteDeviceLists(ctx, []string{u.UserID})
	if err != nil {
		return err
	}
	list, tracked := lists[u.UserID]
	switch decideDeviceListUpdate(tracked, list.Stale, list.StreamID, u) {
	case listApply:
		if !u.Deleted && len(list.Devices) >= maxRemoteDevices && !hasDevice(list, u.DeviceID) {
			// Not kept, so the cached list is no longer the user's.
			return errors.Join(errors.New("the user has too many devices"), e.cfg.Store.MarkRemoteDeviceListStale(ctx, u.UserID))
		}
		d := storage.RemoteDevice{DeviceID: u.DeviceID, DisplayName: u.DisplayName, KeyJSON: u.Keys}
		pos, err := e.cfg.Store.UpdateRemoteDevice(ctx, u.UserID, u.StreamID, d, u.Deleted)
		if err != nil {
			return err
		}
		e.cfg.Local.RemoteDeviceListMoved(ctx, u.UserID, pos)
		return nil
	case listResync:
		return e.resync(ctx, u.UserID, tracked)
	}
	return nil
}

func hasDevice(list storage.RemoteDeviceList, deviceID string) bool {
	for _, d := range list.Devices {
		if d.DeviceID == deviceID {
			return true
		}
	}
	return false
}

// resync fetches a user's whole device list from their server and
// replaces the cached one. If that fails, a tracked list is marked stale
// (queries then ask the server directly) and local users are told the
// list changed all the same, so their clients query it again.
func (e *E2EE) resync(ctx context.Context, userID string, tracked bool) error {
	rctx, cancel := context.WithTimeout(ctx, resyncTimeout)
	got, fetchErr := e.fetchUserDevices(rctx, userID)
	cancel()
	if fetchErr != nil {
		var err error
		if tracked {
			err = e.cfg.Store.MarkRemoteDeviceListStale(ctx, userID)
		}
		pos, addErr := e.cfg.Store.AddDeviceListChange(ctx, userID, "", storage.DeviceListKeys)
		if addErr == nil {
			e.cfg.Local.RemoteDeviceListMoved(ctx, userID, pos)
		}
		return errors.Join(fetchErr, err, addErr)
	}
	list := storage.RemoteDeviceList{UserID: userID, StreamID: got.StreamID, CrossSigning: map[string][]byte{}}
	for _, d := range got.Devices {
		list.Devices = append(list.Devices, storage.RemoteDevice{DeviceID: d.DeviceID, DisplayName: d.DisplayName, KeyJSON: d.Keys})
	}
	if len(got.MasterKey) > 0 && !isJSONNull(got.MasterKey) {
		list.CrossSigning["master"] = got.MasterKey
	}
	if len(got.SelfSigningKey) > 0 && !isJSONNull(got.SelfSigningKey) {
		list.CrossSigning["self_signing"] = got.SelfSigningKey
	}
	pos, err := e.cfg.Store.ReplaceRemoteDeviceList(ctx, list)
	if err != nil {
		// The update that called for the resync is lost: a tracked
		// list must not pass for current.
		if tracked {
			err = errors.Join(err, e.cfg.Store.MarkRemoteDeviceListStale(ctx, userID))
		}
		return err
	}
	e.cfg.Local.RemoteDeviceListMoved(ctx, userID, pos)
	return nil
}

// signingKeyUpdate applies an m.signing_key_update: to the cached list
// of a tracked user, or by a resync that starts tracking them.
func (e *E2EE) signingKeyUpdate(ctx context.Context, origin string, content json.RawMessage) error {
	userID, keys, err := parseSigningKeyUpdate(content, origin)
	if err != nil {
		return err
	}
	shared, err := e.sharesRoomWithUs(ctx, userID)
	if err != nil || !shared {
		return err
	}
	pos, err := e.cfg.Store.SetRemoteCrossSigningKeys(ctx, userID, keys)
	if errors.Is(err, storage.ErrNotFound) {
		return e.resync(ctx, userID, false)
	}
	if err != nil {
		return err
	}
	e.cfg.Local.RemoteDeviceListMoved(ctx, userID, pos)
	return nil
}

// directToDevice delivers an m.direct_to_device to this server's users,
// once per sender and message ID. Messages for other servers' users are
// dropped: a server only speaks for its own.
func (e *E2EE) directToDevice(ctx context.Context, origin string, content json.RawMessage) error {
	m, err := parseDirectToDevice(content, origin)
	if err != nil {
		return err
	}
	local := map[string]map[string]json.RawMessage{}
	for userID, devices := range m.Messages {
		if senderServer(userID) == e.cfg.ServerName {
			local[userID] = devices
		}
	}
	if len(local) == 0 {
		return nil
	}
	return e.cfg.Local.DeliverToDevice(ctx, m.Sender, m.Type, m.MessageID, local)
}

// DeviceChanged announces a local user's device change (new or changed
// keys, or deleted) at streamID, a position of the device list stream,
// to every other server sharing a room with the user.
//
// Announcements of one user are serialised, so their EDUs are queued in
// stream order. A change whose announcement comes after a later one's
// (two devices uploading at once) gets a fresh stream ID: receivers
// ignore an update that is not newer than what they have.
func (e *E2EE) DeviceChanged(ctx context.Context, userID, deviceID string, streamID int64, deleted bool) error {
	mu := &e.userLocks[lockShard(userID)]
	mu.Lock()
	defer mu.Unlock()
	prev, err := e.cfg.Store.SwapLocalDeviceListID(ctx, userID, streamID)
	if err != nil {
		return err
	}
	if prev >= streamID {
		if streamID, err = e.cfg.Store.AddDeviceListChange(ctx, userID, "", storage.DeviceListKeys); err != nil {
			return err
		}
		if prev, err = e.cfg.Store.SwapLocalDeviceListID(ctx, userID, streamID); err != nil {
			return err
		}
		if prev >= streamID {
			return errors.New("federation: the device list stream is behind the announced stream IDs")
		}
	}
	u := deviceListUpdate{UserID: userID, DeviceID: deviceID, StreamID: streamID, Deleted: deleted}
	if prev > 0 && prev < streamID {
		u.PrevID = []int64{prev}
	}
	if !deleted {
		devices, err := e.cfg.Local.LocalUserDevices(ctx, userID)
		if err != nil {
			return err
		}
		for _, d := range devices.Devices {
			if d.DeviceID == deviceID {
				u.Keys, u.DisplayName = d.Keys, d.DisplayName
			}
		}
	}
	return e.toSharingServers(ctx, userID, "m.device_list_update", u)
}

// SigningKeysChanged announces a local user's new cross-signing keys.
func (e *E2EE) SigningKeysChanged(ctx context.Context, userID string) error {
	mu := &e.userLocks[lockShard(userID)]
	mu.Lock()
	defer mu.Unlock()
	devices, err := e.cfg.Local.LocalUserDevices(ctx, userID)
	if err != nil {
		return err
	}
	if len(devices.MasterKey) == 0 && len(devices.SelfSigningKey) == 0 {
		return nil
	}
	return e.toSharingServers(ctx, userID, "m.signing_key_update", signingKeyUpdate{
		UserID: userID, MasterKey: devices.MasterKey, SelfSigningKey: devices.SelfSigningKey,
	})
}

// lockShard maps a user onto one of E2EE's announcement locks.
func lockShard(userID string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(userID))
	return int(h.Sum32() % uint32(len(E2EE{}.userLocks)))
}

func (e *E2EE) toSharingServers(ctx context.Context, userID, eduType string, content any) error {
	servers, err := e.sharingServers(ctx, userID)
	if err != nil || len(servers) == 0 {
		return err
	}
	return e.cfg.Sender.SendEDU(ctx, servers, eduType, content, "")
}
