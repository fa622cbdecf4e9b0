package roomserver

import (
	"context"

	"github.com/warbler-im/warbler/storage"
)

// Store is the part of storage.RoomStore the room server uses. It is
// defined here, by its user (DESIGN.md principle 3); storage.RoomStore
// satisfies it. The persist pipeline in this package is the only caller
// of PersistEvents in the module (a test enforces it).
type Store interface {
	CreateRoom(ctx context.Context, roomID, version string) error
	Room(ctx context.Context, roomID string) (storage.RoomInfo, error)
	PersistEvents(ctx context.Context, roomID string, batch []storage.NewEvent, update storage.RoomUpdate) ([]storage.PersistedPosition, error)
	Events(ctx context.Context, eventIDs []string) ([]storage.StoredEvent, error)
	StateSnapshot(ctx context.Context, snapshot int64) ([]storage.StateEntry, error)
	ForwardExtremities(ctx context.Context, roomID string) ([]string, error)
	RoomMembers(ctx context.Context, roomID, membership string) ([]string, error)
	JoinedServers(ctx context.Context, roomID string) ([]string, error)
	MarkRedacted(ctx context.Context, eventID, redactionID string) error
}

var _ Store = storage.RoomStore(nil)
