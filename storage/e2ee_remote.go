package storage

import "context"

// RemoteDevice is a device of another server's user, as that server
// described it (m.device_list_update, /user/devices).
type RemoteDevice struct {
	DeviceID    string
	DisplayName string
	KeyJSON     []byte // the device keys as signed by the device; nil if it has none
}

// RemoteDeviceList is the cached device list of another server's user.
type RemoteDeviceList struct {
	UserID string
	// StreamID is the owner's stream ID the list is current at.
	StreamID int64
	// Stale: an update was missed; the list must be fetched again.
	Stale   bool
	Devices []RemoteDevice
	// CrossSigning holds the "master" and "self_signing" keys, if known.
	CrossSigning map[string][]byte
}

// RemoteDeviceStore caches the device lists of other servers' users this
// server tracks (those sharing a room with a local user). Every write
// that changes a list records a DeviceListKeys change for the user on
// the device list stream, in the same transaction, and returns its
// position, so local users' /sync hears of it.
type RemoteDeviceStore interface {
	// RemoteDeviceLists returns the tracked lists among userIDs, stale
	// ones included (with Stale set).
	RemoteDeviceLists(ctx context.Context, userIDs []string) (map[string]RemoteDeviceList, error)
	// ReplaceRemoteDeviceList stores a whole list (a resync): the user
	// becomes tracked and not stale, at list.StreamID. A nil CrossSigning
	// leaves the stored cross-signing keys alone.
	ReplaceRemoteDeviceList(ctx context.Context, list RemoteDeviceList) (pos int64, err error)
	// UpdateRemoteDevice applies one device's update of a tracked user at
	// streamID: the device is replaced, or removed if deleted. ErrNotFound
	// if the user is not tracked.
	UpdateRemoteDevice(ctx context.Context, userID string, streamID int64, d RemoteDevice, deleted bool) (pos int64, err error)
	// SetRemoteCrossSigningKeys replaces the given cross-signing keys of a
	// tracked user; ErrNotFound if the user is not tracked.
	SetRemoteCrossSigningKeys(ctx context.Context, userID string, keys map[string][]byte) (pos int64, err error)
	// MarkRemoteDeviceListStale records that a tracked user's list missed
	// an update; untracked users are left alone.
	MarkRemoteDeviceListStale(ctx context.Context, userID string) error
	// UntrackRemoteUser forgets a user's cached list.
	UntrackRemoteUser(ctx context.Context, userID string) error

	// SwapLocalDeviceListID records streamID as a local user's newest
	// device list stream ID, if it is newer than the stored one, and
	// returns the one stored before (0 for none): the prev_id of the
	// m.device_list_update that announces the change.
	SwapLocalDeviceListID(ctx context.Context, userID string, streamID int64) (prev int64, err error)
	// LocalDeviceListID is a local user's newest device list stream ID
	// (0 if their list never changed).
	LocalDeviceListID(ctx context.Context, userID string) (int64, error)
}
