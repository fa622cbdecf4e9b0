package storage

import "context"

// AliasStore keeps the local room aliases of the room directory
// (PUT/GET/DELETE /directory/room/{roomAlias}). Only this server's aliases
// are stored; remote ones would be resolved over federation.
type AliasStore interface {
	// CreateAlias maps alias to roomID, recording who made it (who may
	// always delete it); ErrConflict if the alias exists.
	CreateAlias(ctx context.Context, alias, roomID, creator string) error
	// AliasRoom returns the room an alias maps to and its creator;
	// ErrNotFound if the alias does not exist.
	AliasRoom(ctx context.Context, alias string) (roomID, creator string, err error)
	// DeleteAlias removes an alias; ErrNotFound if it does not exist.
	DeleteAlias(ctx context.Context, alias string) error
	// RoomAliases returns the room's aliases, sorted.
	RoomAliases(ctx context.Context, roomID string) ([]string, error)
}
