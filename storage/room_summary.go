package storage

import "context"

// MemberSummary is what /sync's room summary needs of a room's members.
type MemberSummary struct {
	Joined  int // members with membership join
	Invited int // members with membership invite
	// Heroes are the first members (by the stream position of their
	// current member event) who are joined or invited, without the user
	// asking; when there are none, those who left or were banned.
	Heroes []string
}

// RoomSummaryStore reads room summaries from the membership table, so a
// big room's member events are not loaded to count them.
type RoomSummaryStore interface {
	// RoomMemberSummary counts the room's joined and invited members and
	// lists at most maxHeroes heroes other than exclude; ErrNotFound if
	// the room is unknown.
	RoomMemberSummary(ctx context.Context, roomID, exclude string, maxHeroes int) (MemberSummary, error)
}
