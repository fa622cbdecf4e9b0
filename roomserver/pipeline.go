package roomserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// The persist pipeline (DESIGN.md principle 2) is the only code that
// writes events. Every event, built here or received over federation,
// enters its room through Persist (or SendEvent and CreateRoom, which
// call the same code), serialised per room. For each event it applies the
// server-server API's "Checks performed on receipt of a PDU":
//
//  1. a valid event of the room's version (mxcore.NewPDU), else dropped;
//  2. signatures checked, else dropped: the federation layer verifies
//     them and says so (InputEvent.SignaturesVerified); local events are
//     signed here;
//  3. the content hash, else the event is redacted before use;
//  4. the auth rules against its auth events, else rejected;
//  5. the auth rules against the state before it, else rejected;
//  6. the auth rules against the room's current state, else soft-failed.
//
// Rejected events are stored with the reason, never used as prev events,
// auth events or state ("Rejection"); soft-failed events are stored but
// neither shown nor made forward extremities ("Soft failure"). One batch
// is one storage transaction; listeners hear of it after the commit.

// EventOrigin says who produced an event handed to the pipeline.
type EventOrigin int

const (
	// OriginLocal events were built and signed by this server.
	OriginLocal EventOrigin = iota + 1
	// OriginRemote events came from another server; the federation layer
	// must have verified their signatures and set SignaturesVerified.
	OriginRemote
)

// EventKind says what place an event takes in the room.
type EventKind int

const (
	// KindLive is a new event of the room's timeline (the zero value).
	KindLive EventKind = iota
	// KindOutlier is an event known without the state before it, such as
	// the auth chain and state a join brings. It can be persisted again
	// later as a live or backfilled event (de-outliered).
	KindOutlier
	// KindBackfilled is an event from the room's past: it gets a position
	// before every known event, and never changes the current state or
	// the forward extremities.
	KindBackfilled
)

// InputEvent is one event handed to Persist.
type InputEvent struct {
	// JSON is the event in the federation format. PDU may be given
	// instead (it must have been parsed for the room's version).
	JSON []byte
	PDU  *mxcore.PDU
	// Origin must be set. A remote event must also be SignaturesVerified:
	// the federation layer checked the signature of the sender's server
	// (v1–2: and of the event ID's server) with keys valid at the event's
	// origin_server_ts, and, for a restricted join, the signature of
	// JoinAuthorisingServer(ev), which the auth rules cannot check.
	Origin             EventOrigin
	SignaturesVerified bool
	Kind               EventKind
	// StateBefore, when not nil, lists the IDs of the state events that
	// form the state before the event, for a live or backfilled event
	// whose prev events' state is not known here (a join's first event,
	// a gap filled from /state_ids). The events must be stored or earlier
	// in the batch. It is ignored when the prev events' state is known.
	StateBefore []string

	// fresh marks an event the builder just made, which cannot be stored
	// yet, so the pipeline skips asking storage whether it is.
	fresh bool
}

// PersistedEvent is an event the pipeline stored, as listeners and
// Persist's callers see it.
type PersistedEvent struct {
	Event  *mxcore.PDU
	Origin EventOrigin
	Kind   EventKind
	// Stream is the server-wide stream position (0 for outliers, negative
	// for backfilled events); Topo the room's topological position.
	Stream int64
	Topo   storage.TopoPos
	// Rejected is why the auth rules refused the event ("" if they did not).
	Rejected   string
	SoftFailed bool
	// Redacted is set when the content hash did not match, so the event
	// was stored redacted (server-server API, "Validating hashes").
	Redacted bool
	// Existed is set when the event was already stored: nothing changed.
	Existed bool
	// Outbound is set when the event must reach other servers and so
	// was put in the federation outbox (storage.NewEvent.Outbound).
	Outbound bool
}

// InputResult is the fate of one InputEvent.
type InputResult struct {
	EventID string // "" when the event could not be parsed
	PersistedEvent
	// Err is set when the event was dropped, not stored: it was invalid,
	// unverified, lacked known auth or prev events, or was a local event
	// the auth rules refuse (an *AuthError). Errors of the whole batch
	// come back from Persist instead.
	Err error
}

// Reasons an event is dropped; InputResult.Err wraps one of them (or is an
// *AuthError for a refused local event).
var (
	ErrInvalidEvent    = errors.New("roomserver: invalid event")
	ErrUnverifiedEvent = errors.New("roomserver: remote event not signature-verified")
	ErrMissingAuth     = errors.New("roomserver: auth events not known")
	ErrMissingState    = errors.New("roomserver: state before event not known")
)

// MissingEventsError names events the pipeline needed but does not have,
// so the federation layer can fetch them (/event_auth, /get_missing_events,
// /state_ids) and retry. It matches ErrMissingAuth or ErrMissingState.
type MissingEventsError struct {
	Kind    error // ErrMissingAuth or ErrMissingState
	EventID string
	Missing []string
}

func (e *MissingEventsError) Error() string {
	return fmt.Sprintf("%v: %s needs %s", e.Kind, e.EventID, strings.Join(e.Missing, ", "))
}

func (e *MissingEventsError) Unwrap() error { return e.Kind }

// Persist runs events of one room through the pipeline, in order (an
// event may refer to earlier ones of the batch), and stores the accepted,
// rejected and soft-failed ones in one transaction. It returns after the
// commit, one result per input. A room this server does not know yet is
// created when the batch holds its m.room.create event.
func (rs *RoomServer) Persist(ctx context.Context, roomID string, inputs []InputEvent) ([]InputResult, error) {
	release, err := rs.locks.acquire(ctx, roomID)
	if err != nil {
		return nil, err
	}
	defer release()
	room, err := rs.roomForWrite(ctx, roomID, inputs)
	if err != nil {
		return nil, err
	}
	return rs.persistLocked(ctx, room, inputs, false)
}

// roomForWrite is roomLocked, creating the room in storage when it is
// unknown and the batch founds it.
func (rs *RoomServer) roomForWrite(ctx context.Context, roomID string, inputs []InputEvent) (*roomState, error) {
	r, err := rs.roomLocked(ctx, roomID)
	if !errors.Is(err, ErrUnknownRoom) {
		return r, err
	}
	ver, ok := foundingVersion(roomID, inputs)
	if !ok {
		return nil, err
	}
	if err := rs.store.CreateRoom(ctx, roomID, ver.ID); err != nil && !errors.Is(err, storage.ErrConflict) {
		return nil, fmt.Errorf("roomserver: create room %s: %w", roomID, err)
	}
	rs.versions.Put(roomID, ver)
	r = &roomState{id: roomID, version: ver, current: emptyState()}
	rs.rooms.Put(roomID, r)
	return r, nil
}

// foundingVersion finds the m.room.create event of roomID among inputs and
// returns the room version it declares ("1" when it names none, per the
// m.room.create schema). The pipeline checks the event itself later.
func foundingVersion(roomID string, inputs []InputEvent) (mxcore.RoomVersion, bool) {
	for _, in := range inputs {
		raw := in.JSON
		if in.PDU != nil {
			raw = in.PDU.JSON()
		}
		if gjson.GetBytes(raw, "type").Str != mRoomCreate {
			continue
		}
		version := "1"
		if v := gjson.GetBytes(raw, "content.room_version"); v.Type == gjson.String {
			version = v.Str
		}
		ver, known := mxcore.GetRoomVersion(version)
		if !known {
			continue
		}
		if id, err := mxcore.RoomIDFromCreateEvent(raw, ver); err == nil && id == roomID {
			return ver, true
		}
	}
	return mxcore.RoomVersion{}, false
}

// persistLocked runs the pipeline for a caller holding the room's lock.
// With allOrNothing, any dropped event fails the whole batch before
// anything is stored (room creation must not leave half a room).
func (rs *RoomServer) persistLocked(ctx context.Context, room *roomState, inputs []InputEvent, allOrNothing bool) ([]InputResult, error) {
	run := newBatchRun(ctx, rs, room)
	parsed := make([]parsedInput, len(inputs))
	for i := range inputs {
		parsed[i] = run.parse(&inputs[i])
	}
	run.prefetch(inputs, parsed)
	results := make([]InputResult, len(inputs))
	for i := range inputs {
		results[i] = run.process(i, &inputs[i], parsed[i])
		if run.fatal != nil {
			return nil, run.fatal
		}
		if allOrNothing && results[i].Err != nil {
			return nil, results[i].Err
		}
	}
	if len(run.batch) == 0 {
		return results, nil
	}
	if err := run.commit(results); err != nil {
		return nil, err
	}
	return results, nil
}
