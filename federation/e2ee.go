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
	ServersSharingRooms(ctx context.Context, userID string) ([]string, error)
	ServerSharesRoom(ctx context.Context, userID, server, exceptRoomID string) (bool, error)
	JoinedServers(ctx context.Context, roomID string) ([]string, error)
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
	if cfg.ServerName == "" || cfg.Client == nil || cfg.Store == nil || cfg.Sender == nil || cfg.Local == nil {
		return nil, errors.New("federation: e2ee needs a server name, client, store, sender and local keys")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &E2EE{cfg: cfg, log: log}, nil
}

// sharingServers are the servers (this one included) with a joined
// member in a room userID is joined to: one indexed query however many
// rooms the user is in.
func (e *E2EE) sharingServers(ctx context.Context, userID string) ([]string, error) {
	return e.cfg.Store.ServersSharingRooms(ctx, userID)
}

// sharesRoomWithUs: a remote user is joined to a room this server is in.
// Only such users' device lists are tracked.
func (e *E2EE) sharesRoomWithUs(ctx context.Context, userID string) (bool, error) {
	return e.cfg.Store.ServerSharesRoom(ctx, userID, e.cfg.ServerName, "")
}
