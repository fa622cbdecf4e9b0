package federation

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"

	"github.com/warbler-im/warbler/storage"
)

// E2EE carries end-to-end encryption between servers: it asks other
// servers for their users' keys (with a cache of the device lists of
// users sharing a room with ours), sends and applies the device list,
// signing key and to-device EDUs (server-server API, "Device
// Management", "End-to-End Encryption", "Send-to-device messaging").

// E2EEStore is the storage E2EE uses.
type E2EEStore interface {
	storage.RemoteDeviceStore
	RoomsForUser(ctx context.Context, userID, membership string) ([]string, error)
	RoomMembers(ctx context.Context, roomID, membership string) ([]string, error)
	AddDeviceListChange(ctx context.Context, userID, roomID, kind string) (int64, error)
}

// LocalE2EE is what E2EE needs of the client side; *clientapi.API is
// one (adapted in cmd/warbler).
type LocalE2EE interface {
	LocalKeys
	// DeliverToDevice puts another server's to-device messages on local
	// devices' streams ("*": all of a user's devices), once per sender
	// and messageID.
	DeliverToDevice(ctx context.Context, sender, eventType, messageID string, messages map[string]map[string]json.RawMessage) error
	// RemoteDeviceListMoved wakes the syncs of local users sharing a
	// room with userID, whose device list changed at pos.
	RemoteDeviceListMoved(ctx context.Context, userID string, pos int64)
}

// EDUQueuer queues EDUs for other servers; *Sender is one.
type EDUQueuer interface {
	SendEDU(ctx context.Context, destinations []string, eduType string, content any, roomID string) error
}

// E2EEConfig is what NewE2EE needs.
type E2EEConfig struct {
	ServerName string
	Client     Requester
	Store      E2EEStore
	Rooms      EDURooms
	Sender     EDUQueuer
	Local      LocalE2EE
	Logger     *slog.Logger
}

// E2EE is the federation side of end-to-end encryption.
type E2EE struct {
	cfg E2EEConfig
	log *slog.Logger
	untrackState
	// userLocks serialise the announcements of one user's changes.
	userLocks [64]sync.Mutex
}

// NewE2EE builds the E2EE component.
func NewE2EE(cfg E2EEConfig) (*E2EE, error) {
	if cfg.ServerName == "" || cfg.Client == nil || cfg.Store == nil || cfg.Rooms == nil || cfg.Sender == nil || cfg.Local == nil {
		return nil, errors.New("federation: e2ee needs a server name, client, store, rooms, sender and local keys")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &E2EE{cfg: cfg, log: log}, nil
}

// maxSharingRooms bounds the rooms whose servers hear of one user's
// device list change.
const maxSharingRooms = 500

// sharingServers are the servers (this one included) joined to the
// rooms userID is joined to.
func (e *E2EE) sharingServers(ctx context.Context, userID string) ([]string, error) {
	joined, err := e.cfg.Store.RoomsForUser(ctx, userID, storage.MembershipJoin)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var servers []string
	for _, roomID := range joined[:min(len(joined), maxSharingRooms)] {
		names, err := e.cfg.Rooms.JoinedServers(ctx, roomID)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				servers = append(servers, n)
			}
		}
	}
	return servers, nil
}

// sharesRoomWithUs: a remote user is joined to a room this server is in.
// Only such users' device lists are tracked.
func (e *E2EE) sharesRoomWithUs(ctx context.Context, userID string) (bool, error) {
	servers, err := e.sharingServers(ctx, userID)
	if err != nil {
		return false, err
	}
	for _, s := range servers {
		if s == e.cfg.ServerName {
			return true, nil
		}
	}
	return false, nil
}
