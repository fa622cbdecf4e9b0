package storage

import (
	"context"
	"math"
)

// This file is the contract between the roomserver's persist pipeline (and
// later /sync, /messages and federation) and the database for rooms, events
// and room state. Strings (room IDs, event IDs, types, state keys) appear
// only here, at the edge; implementations keep numeric IDs inside.

// Membership values of m.room.member events, as stored in the membership
// table. Storage records whatever content.membership says; these are the
// values callers usually ask for.
const (
	MembershipJoin   = "join"
	MembershipInvite = "invite"
	MembershipLeave  = "leave"
	MembershipBan    = "ban"
	MembershipKnock  = "knock"
)

// TopoPos is an event's topological position inside its room: depth first,
// then stream position to break ties. /messages paginates in this order.
// Backfilled events get positions before every event the room already had.
type TopoPos struct {
	Depth  int64
	Stream int64
}

// TopoMin and TopoMax bound every position; pass them to EventsBetween for
// an open end.
var (
	TopoMin = TopoPos{Depth: math.MinInt64, Stream: math.MinInt64}
	TopoMax = TopoPos{Depth: math.MaxInt64, Stream: math.MaxInt64}
)

// Less reports whether p sorts before q.
func (p TopoPos) Less(q TopoPos) bool {
	return p.Depth < q.Depth || p.Depth == q.Depth && p.Stream < q.Stream
}

// RoomInfo is what storage knows about a room itself.
type RoomInfo struct {
	RoomID  string
	Version string
	// CreatedStream is the events stream position when the room was
	// created here (the room's first event comes after it).
	CreatedStream int64
	// CurrentSnapshot is the state snapshot of the room's current state;
	// 0 is the empty state.
	CurrentSnapshot int64
	// PartialState is set while the room was joined with partial state
	// and the full state is still being fetched.
	PartialState bool
}

// StateEntry is one entry of a room state: the event that holds the
// (Type, StateKey) slot. In StateRef.Changes an empty EventID removes the
// slot.
type StateEntry struct {
	Type     string
	StateKey string
	EventID  string
}

// StateRef names a state: the snapshot Base (0 = the empty state) with
// Changes applied on top, later entries winning over earlier ones. With no
// changes it is Base itself; otherwise the store saves (or finds) a
// snapshot for the result. Every event a change names must be stored (or
// come earlier in the same PersistEvents batch), belong to the room, carry
// that type and state key, and not be rejected.
type StateRef struct {
	Base    int64
	Changes []StateEntry
}

// NewEvent is one event handed to PersistEvents, already checked by the
// pipeline. JSON is kept byte for byte as received.
type NewEvent struct {
	EventID        string
	Type           string
	StateKey       *string // nil for a non-state event
	Sender         string
	Depth          int64
	OriginServerTS int64
	JSON           []byte
	PrevEventIDs   []string // may name events not (yet) stored
	AuthEventIDs   []string // may name events not (yet) stored

	// Outlier events are stored without a place in the room's timeline:
	// no stream or topological position and no state before them. They
	// can be persisted again later without the flag (de-outliering).
	Outlier bool
	// Backfilled events (fetched from the past) get positions before all
	// of the room's known events and a negative stream position, so sync
	// never reports them as new.
	Backfilled bool
	// SoftFailed events are kept in the DAG but never shown to clients.
	SoftFailed bool
	// Rejected, when not empty, is why the event failed authorisation. It
	// is stored, but never used as state or as a forward extremity.
	Rejected string
	// StateBefore is the room state before the event; ignored for outliers.
	StateBefore StateRef
	// Outbound events were created here and must go to the room's other
	// servers: the transaction that stores one also records it in the
	// federation outbox (see FederationQueueStore.QueueOutbound), so a
	// crash before it is queued cannot lose it.
	Outbound bool
}

// RoomUpdate is what a PersistEvents call changes about the room besides
// adding events, applied in the same transaction.
type RoomUpdate struct {
	// SetCurrentState, when not nil, becomes the room's current state;
	// the current-state and membership tables follow it.
	SetCurrentState *StateRef
	// ForwardExtremities, when not nil, replaces the room's forward
	// extremities. Each must be a stored, non-outlier, non-rejected event
	// of the room (possibly from this batch).
	ForwardExtremities []string
}

// PersistedPosition tells where PersistEvents put an event.
type PersistedPosition struct {
	EventID string
	// Stream is the server-wide stream position: positive and strictly
	// increasing in commit order for new timeline events, negative for
	// backfilled ones, 0 for outliers.
	Stream int64
	// Topo is the topological position; zero for outliers.
	Topo TopoPos
	// Existed is set when the event was already stored (not as an outlier
	// being de-outliered) and nothing changed.
	Existed bool
}

// StoredEvent is an event as stored.
type StoredEvent struct {
	EventID        string
	RoomID         string
	Type           string
	StateKey       *string
	Sender         string
	Depth          int64
	OriginServerTS int64
	JSON           []byte
	Outlier        bool
	Rejected       string // "" unless rejected: the reason
	SoftFailed     bool
	// StreamPos is 0 for outliers and negative for backfilled events.
	StreamPos int64
	// Topo is zero for outliers.
	Topo TopoPos
	// StateBefore is the snapshot of the state before the event; 0 for
	// outliers (and for the create event, whose state before is empty).
	StateBefore int64
	// RedactedBecause is the ID of the redaction event, once marked.
	RedactedBecause string
}

// EventStatus is what KnownEventIDs reports about a stored event.
type EventStatus struct {
	Outlier    bool
	Rejected   bool
	SoftFailed bool
}

// RoomTimeline is one room's part of a RoomEventsSince answer.
type RoomTimeline struct {
	RoomID string
	// Events are the newest events of the range, oldest first.
	Events []StoredEvent
	// Limited is set when older events of the range were left out.
	Limited bool
}

// StateStats measures how much room state is stored, so tests and
// operators can check that it grows with the changes made, not with the
// rooms' sizes.
type StateStats struct {
	Snapshots    int64 // state snapshots, excluding the empty one
	Keyframes    int64 // full states, stored as lists of shared blocks
	Blocks       int64 // distinct blocks
	BlockEntries int64 // entries in all blocks
	BlockRefs    int64 // block references in all keyframes
	DeltaEntries int64 // entries in all snapshot deltas
	Bytes        int64 // encoded bytes of blocks, block lists and deltas
}

// Entries is the number of stored state entries, counting each block
// reference as one.
func (s StateStats) Entries() int64 { return s.BlockEntries + s.BlockRefs + s.DeltaEntries }

// RoomStore keeps rooms, their events (the DAG) and their state.
//
// Reads that name a room or event that does not exist return ErrNotFound,
// except the batch reads (Events, KnownEventIDs, RoomEventsSince), which
// leave unknown IDs out.
type RoomStore interface {
	// CreateRoom records a room; ErrConflict if it exists.
	CreateRoom(ctx context.Context, roomID, version string) error
	// Room returns what storage knows about a room.
	Room(ctx context.Context, roomID string) (RoomInfo, error)
	// SetPartialState sets or clears the room's partial-state flag.
	SetPartialState(ctx context.Context, roomID string, partial bool) error

	// PersistEvents stores a batch of events of one room, in order, and
	// applies update, in one transaction. The caller serialises calls per
	// room. An event already stored is not stored again: its existing
	// position comes back with Existed set, unless it was an outlier and
	// is now persisted as a timeline event. It returns one position per
	// batch entry.
	PersistEvents(ctx context.Context, roomID string, batch []NewEvent, update RoomUpdate) ([]PersistedPosition, error)
	// SaveStateSnapshot stores the state ref names (for state computed
	// outside a persist, such as a resolved state) and returns its NID.
	SaveStateSnapshot(ctx context.Context, roomID string, ref StateRef) (int64, error)

	// Events returns the stored events among eventIDs, in the order asked,
	// rejected ones included (with Rejected set).
	Events(ctx context.Context, eventIDs []string) ([]StoredEvent, error)
	// KnownEventIDs reports which of eventIDs are stored, and how.
	KnownEventIDs(ctx context.Context, eventIDs []string) (map[string]EventStatus, error)
	// EventReferences returns the IDs of stored events that name eventID
	// among their prev_events, sorted.
	EventReferences(ctx context.Context, eventID string) ([]string, error)
	// MarkRedacted records that redactionID redacts eventID.
	MarkRedacted(ctx context.Context, eventID, redactionID string) error

	// StateSnapshot returns the entries of a snapshot (0 = empty state),
	// sorted by type, then state key.
	StateSnapshot(ctx context.Context, snapshot int64) ([]StateEntry, error)
	// StateEvent returns the event ID holding (typ, stateKey) in a
	// snapshot; ErrNotFound if the slot is empty.
	StateEvent(ctx context.Context, snapshot int64, typ, stateKey string) (string, error)
	// CurrentState returns the room's current state, sorted as
	// StateSnapshot sorts.
	CurrentState(ctx context.Context, roomID string) ([]StateEntry, error)
	// CurrentStateEvent returns the event ID holding (typ, stateKey) in
	// the room's current state; ErrNotFound if the slot is empty.
	CurrentStateEvent(ctx context.Context, roomID, typ, stateKey string) (string, error)
	// StateStats measures the stored state of all rooms.
	StateStats(ctx context.Context) (StateStats, error)

	// ForwardExtremities returns the room's forward extremities, sorted.
	ForwardExtremities(ctx context.Context, roomID string) ([]string, error)

	// Membership returns a user's membership of a room in the current
	// state and the m.room.member event that sets it; ErrNotFound if the
	// current state has no member event for the user.
	Membership(ctx context.Context, roomID, userID string) (membership, eventID string, err error)
	// RoomMembers returns the users whose current membership of the room
	// is membership, sorted.
	RoomMembers(ctx context.Context, roomID, membership string) ([]string, error)
	// RoomsForUser returns the rooms where the user's current membership
	// is membership, sorted.
	RoomsForUser(ctx context.Context, userID, membership string) ([]string, error)
	// RoomsByMembership returns every room the user has a membership of,
	// grouped by membership, each list sorted: what /sync reads as four
	// RoomsForUser calls, in one query.
	RoomsByMembership(ctx context.Context, userID string) (map[string][]string, error)
	// JoinedServers returns the server names of the room's joined members,
	// sorted.
	JoinedServers(ctx context.Context, roomID string) ([]string, error)
	// ServersSharingRooms returns, sorted, the servers with a joined
	// member in some room the user is joined to (the user's own included).
	ServersSharingRooms(ctx context.Context, userID string) ([]string, error)
	// ServerSharesRoom reports whether server has a joined member in some
	// room the user is joined to, leaving out exceptRoomID ("" for none).
	ServerSharesRoom(ctx context.Context, userID, server, exceptRoomID string) (bool, error)

	// MaxStreamPosition is the highest events stream position committed;
	// every position up to it is visible to readers.
	MaxStreamPosition(ctx context.Context) (int64, error)
	// RoomEventsSince returns, for each of roomIDs with timeline events
	// in since < stream ≤ upTo, its newest limit such events. Outliers,
	// rejected and soft-failed events are left out. Rooms without events
	// in the range are omitted; the rest come in the order of roomIDs.
	RoomEventsSince(ctx context.Context, since, upTo int64, roomIDs []string, limit int) ([]RoomTimeline, error)
	// EventsBetween returns up to limit timeline events of the room
	// strictly between two topological positions: going backwards, those
	// before from and after to, newest first; going forwards, those after
	// from and before to, oldest first. Outliers, rejected and
	// soft-failed events are left out.
	EventsBetween(ctx context.Context, roomID string, from, to TopoPos, limit int, backwards bool) ([]StoredEvent, error)
}
