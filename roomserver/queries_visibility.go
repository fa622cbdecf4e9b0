package roomserver

import (
	"context"
	"strings"

	"github.com/warbler-im/warbler/mxcore"
)

// History visibility (client-server API, "Room History Visibility",
// server behaviour): whether an event may be shown depends on the room's
// m.room.history_visibility and the viewer's membership in the state at
// the event, which here is the state before it. For history visibility
// events and a user's own member events, visibility before or after the
// event suffices.

// History visibility values.
const (
	VisibilityWorldReadable = "world_readable"
	VisibilityShared        = "shared"
	VisibilityInvited       = "invited"
	VisibilityJoined        = "joined"
	mRoomHistoryVisibility  = "m.room.history_visibility"
)

// VisibleToUser reports whether userID may see the event. "Joined the room
// at any point after the event" (shared) is read as being joined now.
// Outliers, whose state is unknown, are not visible.
func (rs *RoomServer) VisibleToUser(ctx context.Context, eventID, userID string) (bool, error) {
	m, err := rs.loadEvent(ctx, eventID)
	if err != nil || m.outlier {
		return false, err
	}
	room, err := rs.room(ctx, m.pdu.RoomID())
	if err != nil {
		return false, err
	}
	now, _, err := rs.membershipIn(ctx, room.current, userID)
	if err != nil {
		return false, err
	}
	at, err := rs.viewAt(ctx, m, userID)
	if err != nil {
		return false, err
	}
	return userMaySee(at.visBefore, at.memberBefore, now) || userMaySee(at.visAfter, at.memberAfter, now), nil
}

// viewAt is a user's view of an event: the history visibility and the
// user's membership before it, and after it where the event changes them
// (a history visibility event, or the user's own member event).
type viewAt struct {
	visBefore, memberBefore string
	visAfter, memberAfter   string
}

func (rs *RoomServer) viewAt(ctx context.Context, m *eventMeta, userID string) (viewAt, error) {
	var v viewAt
	before, err := rs.stateBefore(ctx, m)
	if err != nil {
		return v, err
	}
	if v.visBefore, err = rs.visibilityIn(ctx, before); err != nil {
		return v, err
	}
	if v.memberBefore, _, err = rs.membershipIn(ctx, before, userID); err != nil {
		return v, err
	}
	v.visAfter, v.memberAfter = v.visBefore, v.memberBefore
	if m.rejected != "" {
		return v, nil
	}
	if m.pdu.Type() == mRoomHistoryVisibility {
		v.visAfter = visibilityValue(m.pdu)
	}
	if sk := m.pdu.StateKey(); m.pdu.Type() == mRoomMember && sk != nil && *sk == userID {
		v.memberAfter, _ = authString(authJSON(m.pdu.Content()), "membership")
	}
	return v, nil
}

func userMaySee(visibility, membership, membershipNow string) bool {
	switch {
	case visibility == VisibilityWorldReadable, membership == "join":
		return true
	case visibility == VisibilityShared:
		return membershipNow == "join"
	case visibility == VisibilityInvited:
		return membership == "invite"
	}
	return false
}

// VisibleToServer reports whether a server may be sent the event (for
// backfill, /event, /get_missing_events): world_readable and shared
// history is visible to any server; invited history to servers with a user
// invited or joined at the event; joined history to servers with a user
// joined at it.
func (rs *RoomServer) VisibleToServer(ctx context.Context, eventID, serverName string) (bool, error) {
	m, err := rs.loadEvent(ctx, eventID)
	if err != nil || m.outlier {
		return false, err
	}
	before, err := rs.stateBefore(ctx, m)
	if err != nil {
		return false, err
	}
	vis, err := rs.visibilityIn(ctx, before)
	if err != nil {
		return false, err
	}
	if m.pdu.Type() == mRoomHistoryVisibility && m.rejected == "" && visibilityRank(visibilityValue(m.pdu)) < visibilityRank(vis) {
		vis = visibilityValue(m.pdu)
	}
	switch vis {
	case VisibilityWorldReadable, VisibilityShared:
		return true, nil
	case VisibilityInvited:
		return rs.serverHasMember(ctx, before, serverName, "join", "invite")
	}
	return rs.serverHasMember(ctx, before, serverName, "join")
}

// visibilityRank orders values from most to least open.
func visibilityRank(v string) int {
	return strings.Index("wsij", v[:1])
}

// serverHasMember reports whether any user of serverName has one of the
// memberships in the state.
func (rs *RoomServer) serverHasMember(ctx context.Context, s *stateSet, serverName string, memberships ...string) (bool, error) {
	var ids []string
	for k, id := range s.Map() {
		if k.Type == mRoomMember && authDomain(k.StateKey) == serverName {
			ids = append(ids, id)
		}
	}
	metas, err := rs.loadEvents(ctx, ids)
	if err != nil {
		return false, err
	}
	for _, m := range metas {
		membership, _ := authString(authJSON(m.pdu.Content()), "membership")
		for _, want := range memberships {
			if membership == want {
				return true, nil
			}
		}
	}
	return false, nil
}

// visibilityIn returns the history visibility a state sets.
func (rs *RoomServer) visibilityIn(ctx context.Context, s *stateSet) (string, error) {
	id, ok := s.Get(mRoomHistoryVisibility, "")
	if !ok {
		return VisibilityShared, nil
	}
	m, err := rs.loadEvent(ctx, id)
	if err != nil {
		return "", err
	}
	return visibilityValue(m.pdu), nil
}

// visibilityValue reads an m.room.history_visibility event; a missing or
// unknown value means shared, as the spec says.
func visibilityValue(ev *mxcore.PDU) string {
	v, _ := authString(authJSON(ev.Content()), "history_visibility")
	switch v {
	case VisibilityWorldReadable, VisibilityShared, VisibilityInvited, VisibilityJoined:
		return v
	}
	return VisibilityShared
}
