package roomserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// Queries about rooms. Current state comes from the in-memory room view,
// which only ever holds committed state; historical state from the
// snapshots stored with each event.

// ErrNoStateEvent: the state has no event for the (type, state_key) asked.
var ErrNoStateEvent = errors.New("roomserver: no such state event")

// RoomVersion returns the version of a room this server knows.
func (rs *RoomServer) RoomVersion(ctx context.Context, roomID string) (mxcore.RoomVersion, error) {
	return rs.roomVersion(ctx, roomID)
}

// CurrentState returns the room's current state, sorted by type, then
// state key.
func (rs *RoomServer) CurrentState(ctx context.Context, roomID string) ([]storage.StateEntry, error) {
	room, err := rs.room(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return room.current.Entries(), nil
}

// CurrentStateEvent returns the event holding (typ, stateKey) in the
// room's current state; ErrNoStateEvent if the slot is empty.
func (rs *RoomServer) CurrentStateEvent(ctx context.Context, roomID, typ, stateKey string) (*mxcore.PDU, error) {
	room, err := rs.room(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return rs.stateEventIn(ctx, room.current, typ, stateKey)
}

func (rs *RoomServer) stateEventIn(ctx context.Context, s *stateSet, typ, stateKey string) (*mxcore.PDU, error) {
	id, ok := s.Get(typ, stateKey)
	if !ok {
		return nil, fmt.Errorf("%w: (%s, %q)", ErrNoStateEvent, typ, stateKey)
	}
	m, err := rs.loadEvent(ctx, id)
	if err != nil {
		return nil, err
	}
	return m.pdu, nil
}

// ForwardExtremities returns the room's forward extremities, newest first.
func (rs *RoomServer) ForwardExtremities(ctx context.Context, roomID string) ([]string, error) {
	room, err := rs.room(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return room.extremityIDs(), nil
}

// StatePoint picks the state before or after an event.
type StatePoint int

const (
	StateBeforeEvent StatePoint = iota
	StateAfterEvent
)

// StateAt returns the room state before or after a timeline event (after
// a rejected or message event it equals the state before), sorted as
// CurrentState. Outliers have no known state: ErrMissingState.
func (rs *RoomServer) StateAt(ctx context.Context, eventID string, at StatePoint) ([]storage.StateEntry, error) {
	s, err := rs.stateAtEvent(ctx, eventID, at)
	if err != nil {
		return nil, err
	}
	return s.Entries(), nil
}

func (rs *RoomServer) stateAtEvent(ctx context.Context, eventID string, at StatePoint) (*stateSet, error) {
	m, err := rs.loadEvent(ctx, eventID)
	if err != nil {
		return nil, err
	}
	if at == StateAfterEvent {
		return rs.stateAfter(ctx, m)
	}
	return rs.stateBefore(ctx, m)
}

// Membership returns a user's membership of the room in its current state
// ("" if the state has no member event for the user) and the event
// setting it.
func (rs *RoomServer) Membership(ctx context.Context, roomID, userID string) (membership, eventID string, err error) {
	room, err := rs.room(ctx, roomID)
	if err != nil {
		return "", "", err
	}
	return rs.membershipIn(ctx, room.current, userID)
}

func (rs *RoomServer) membershipIn(ctx context.Context, s *stateSet, userID string) (membership, eventID string, err error) {
	ev, err := rs.stateEventIn(ctx, s, mRoomMember, userID)
	if errors.Is(err, ErrNoStateEvent) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	m, _ := authString(authJSON(ev.Content()), "membership")
	return m, ev.EventID(), nil
}

// JoinedUsers returns the room's joined members, sorted.
func (rs *RoomServer) JoinedUsers(ctx context.Context, roomID string) ([]string, error) {
	if _, err := rs.room(ctx, roomID); err != nil {
		return nil, err
	}
	return rs.store.RoomMembers(ctx, roomID, storage.MembershipJoin)
}

// JoinedServers returns the servers of the room's joined members, sorted:
// where the room's events go.
func (rs *RoomServer) JoinedServers(ctx context.Context, roomID string) ([]string, error) {
	if _, err := rs.room(ctx, roomID); err != nil {
		return nil, err
	}
	return rs.store.JoinedServers(ctx, roomID)
}

// EventInfo is a stored event and its fate in the room.
type EventInfo struct {
	Event      *mxcore.PDU
	Rejected   string // why it was rejected; "" if it was not
	SoftFailed bool
	Outlier    bool
}

// Events returns the stored events among ids, in the order asked; unknown
// IDs are left out.
func (rs *RoomServer) Events(ctx context.Context, ids []string) ([]EventInfo, error) {
	metas, err := rs.loadEvents(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]EventInfo, 0, len(metas))
	for _, id := range dedupStrings(ids) {
		if m := metas[id]; m != nil {
			out = append(out, EventInfo{Event: m.pdu, Rejected: m.rejected, SoftFailed: m.softFailed, Outlier: m.outlier})
		}
	}
	return out, nil
}
