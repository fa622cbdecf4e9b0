package spaces

import (
	"context"
	"errors"
	"slices"

	"github.com/warbler-im/warbler/roomserver"
)

// Who may see a room's summary (client-server API, GET /hierarchy;
// server-server API, GET /hierarchy): anyone when the room is world
// readable or anyone may join or knock; otherwise a user who is joined or
// invited, or who meets a restricted rule; and for another server, one
// that has a user in the room or in a room the restricted rule names.

// OpenToAll reports whether anyone may see the summary, signed in or
// not: the room is world readable, public, or open to knocks.
func OpenToAll(s Summary) bool {
	switch s.JoinRule {
	case "public", "knock", "knock_restricted":
		return true
	}
	return s.WorldReadable
}

// restricted reports whether the summary's join rule lets members of
// other rooms in.
func restricted(s Summary) bool {
	return s.JoinRule == "restricted" || s.JoinRule == "knock_restricted"
}

// MembershipOf is a user's membership of a room known here ("" if none).
type MembershipOf func(ctx context.Context, roomID string) (string, error)

// UserMaySee reports whether the user whose memberships membershipOf
// reads may see the summary s: it is open to all, the user is joined to
// or invited into it, or the user is joined to a room its restricted
// rule names. A banned user sees only a world-readable room.
func UserMaySee(ctx context.Context, s Summary, membershipOf MembershipOf) (bool, error) {
	m, err := membershipOf(ctx, s.RoomID)
	if err != nil {
		return false, err
	}
	switch {
	case m == "ban":
		return s.WorldReadable, nil
	case m == "join" || m == "invite" || OpenToAll(s):
		return true, nil
	case !restricted(s):
		return false, nil
	}
	for _, id := range s.AllowedRoomIDs {
		if m, err := membershipOf(ctx, id); err != nil {
			return false, err
		} else if m == "join" {
			return true, nil
		}
	}
	return false, nil
}

// ServerMaySee reports whether server may see the summary s of a room
// this server is in: it is open to all, server has a user in it, or
// server has a user in a room its restricted rule names (that server
// then filters the room per user, by the allowed_room_ids it gets).
func ServerMaySee(ctx context.Context, r Reader, s Summary, server string) (bool, error) {
	if OpenToAll(s) {
		return true, nil
	}
	rooms := []string{s.RoomID}
	if restricted(s) {
		rooms = append(rooms, s.AllowedRoomIDs...)
	}
	for _, id := range rooms {
		joined, err := r.JoinedServers(ctx, id)
		if errors.Is(err, roomserver.ErrUnknownRoom) {
			continue // a room not known here has no members here
		}
		if err != nil {
			return false, err
		}
		if slices.Contains(joined, server) {
			return true, nil
		}
	}
	return false, nil
}
