package storage

import "context"

// RemoteInvite is an invite of a local user into a room this server is
// not in, received over federation (PUT /_matrix/federation/v2/invite).
// The room's state is not known here, so the invite cannot enter the
// room's DAG; it is kept aside until the user joins or rejects it.
type RemoteInvite struct {
	RoomID      string
	UserID      string // the local invitee
	EventID     string
	RoomVersion string
	Sender      string
	// Membership is "invite", or "leave" once the user rejected it.
	Membership string
	// Event is the invite event as signed by both servers (the leave
	// event once rejected).
	Event []byte
	// InviteState is a JSON array of the stripped state events the
	// inviting server sent with it.
	InviteState []byte
	// StreamPos is the events stream position the invite was stored at,
	// so incremental /sync tells new invites from those it reported.
	StreamPos int64
}

// RemoteInviteStore keeps invites of local users into rooms this server
// is not in.
type RemoteInviteStore interface {
	// AddRemoteInvite stores the invite, replacing an earlier one of the
	// user into the same room, at the next events stream position, which
	// it returns.
	AddRemoteInvite(ctx context.Context, inv RemoteInvite) (int64, error)
	// RemoteInvite returns the user's pending invite into the room;
	// ErrNotFound if there is none.
	RemoteInvite(ctx context.Context, roomID, userID string) (RemoteInvite, error)
	// RemoteInvitesForUser returns the user's pending invites and the
	// invites rejected after stream position since, oldest first, at
	// most limit of them.
	RemoteInvitesForUser(ctx context.Context, userID string, since int64, limit int) ([]RemoteInvite, error)
	// RejectRemoteInvite records that the user rejected the invite with
	// the leave event leave, at the next events stream position, which it
	// returns; ErrNotFound if no invite is pending.
	RejectRemoteInvite(ctx context.Context, roomID, userID string, leave []byte) (int64, error)
	// DeleteRemoteInvite removes the invite, pending or rejected;
	// deleting none is no error.
	DeleteRemoteInvite(ctx context.Context, roomID, userID string) error
}
