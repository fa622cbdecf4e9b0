package storage

import "context"

// DirectoryStore keeps the per-room and per-user flags of the room
// directory and room lifecycle endpoints: which rooms are published in
// this server's public room directory, and which left rooms a user has
// forgotten; and the timestamp index of /timestamp_to_event.
type DirectoryStore interface {
	// SetRoomPublished publishes the room in the public room directory,
	// or withdraws it; either is a no-op when nothing changes.
	SetRoomPublished(ctx context.Context, roomID string, published bool) error
	// RoomPublished reports whether the room is published.
	RoomPublished(ctx context.Context, roomID string) (bool, error)
	// PublishedRooms returns up to limit published rooms, sorted by room
	// ID.
	PublishedRooms(ctx context.Context, limit int) ([]string, error)

	// ForgetRoom records that the user forgot the room while
	// memberEventID was their membership event. Forgetting is tied to that
	// event: any later membership change (a rejoin, an invite) makes the
	// room remembered again, without the write path having to clear it.
	ForgetRoom(ctx context.Context, userID, roomID, memberEventID string) error
	// ForgottenRooms returns, for each room the user forgot, the
	// membership event that was current when they did, up to limit rooms.
	ForgottenRooms(ctx context.Context, userID string, limit int) (map[string]string, error)
	// RoomForgotten returns the membership event that was current when
	// the user forgot the room, or "" if they never did.
	RoomForgotten(ctx context.Context, userID, roomID string) (string, error)

	// MoveAliases points every alias of fromRoomID at toRoomID (a room
	// upgrade), keeping their creators.
	MoveAliases(ctx context.Context, fromRoomID, toRoomID string) error

	// SearchProfiles returns up to limit local, active, non-guest users
	// whose user ID or display name contains term (ASCII case ignored),
	// sorted by user ID.
	SearchProfiles(ctx context.Context, term string, limit int) ([]Profile, error)

	// EventsByTimestamp returns up to limit timeline events of the room
	// (no outliers, rejected or soft-failed events) sent at or after ts,
	// oldest first, when forwards; at or before ts, newest first,
	// otherwise. Ties on the timestamp go by stream position.
	EventsByTimestamp(ctx context.Context, roomID string, ts int64, forwards bool, limit int) ([]StoredEvent, error)
}
