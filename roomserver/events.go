package roomserver

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/warbler-im/warbler/mxcore"
	"github.com/warbler-im/warbler/storage"
)

// eventMeta is what the room server knows of an event: the parsed PDU and
// its fate in the room. It is immutable apart from before, which is filled
// in once when first needed; a de-outliered event gets a new eventMeta.
type eventMeta struct {
	pdu        *mxcore.PDU
	rejected   string // why the auth rules refused it; "" if they did not
	softFailed bool
	outlier    bool
	// stateBefore is the stored snapshot of the state before the event,
	// used when before is not known in memory.
	stateBefore int64
	before      atomic.Pointer[stateSet]
}

func (m *eventMeta) id() string { return m.pdu.EventID() }

// isState reports whether the event is a state event.
func (m *eventMeta) isState() bool { return m.pdu.StateKey() != nil }

// Errors a caller can tell apart with errors.Is.
var (
	// ErrUnknownRoom: the room is not known to this server.
	ErrUnknownRoom = errors.New("roomserver: unknown room")
	// ErrUnknownEvent: the event is not stored here.
	ErrUnknownEvent = errors.New("roomserver: unknown event")
)

// loadEvents returns the events among ids this server stores (rejected
// ones included), from the cache or storage. Unknown IDs are left out.
func (rs *RoomServer) loadEvents(ctx context.Context, ids []string) (map[string]*eventMeta, error) {
	out := make(map[string]*eventMeta, len(ids))
	var misses []string
	for _, id := range ids {
		if m, ok := rs.events.Get(id); ok {
			out[id] = m
		} else if _, queued := out[id]; !queued {
			misses = append(misses, id)
		}
	}
	if len(misses) == 0 {
		return out, nil
	}
	stored, err := rs.store.Events(ctx, dedupStrings(misses))
	if err != nil {
		return nil, fmt.Errorf("roomserver: load events: %w", err)
	}
	for _, se := range stored {
		m, err := rs.metaFromStored(ctx, se)
		if err != nil {
			return nil, err
		}
		rs.events.Put(se.EventID, m)
		out[se.EventID] = m
	}
	return out, nil
}

// loadEvent is loadEvents for one event; ErrUnknownEvent if not stored.
func (rs *RoomServer) loadEvent(ctx context.Context, id string) (*eventMeta, error) {
	got, err := rs.loadEvents(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if m := got[id]; m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownEvent, id)
}

// metaFromStored parses a stored event with its room's version.
func (rs *RoomServer) metaFromStored(ctx context.Context, se storage.StoredEvent) (*eventMeta, error) {
	ver, err := rs.roomVersion(ctx, se.RoomID)
	if err != nil {
		return nil, err
	}
	pdu, err := mxcore.NewPDU(se.JSON, ver)
	if err != nil {
		return nil, fmt.Errorf("roomserver: stored event %s does not parse: %w", se.EventID, err)
	}
	if pdu.EventID() != se.EventID {
		return nil, fmt.Errorf("roomserver: stored event %s parses with ID %s", se.EventID, pdu.EventID())
	}
	return &eventMeta{pdu: pdu, rejected: se.Rejected, softFailed: se.SoftFailed, outlier: se.Outlier, stateBefore: se.StateBefore}, nil
}

// roomVersion returns a known room's version; versions never change.
func (rs *RoomServer) roomVersion(ctx context.Context, roomID string) (mxcore.RoomVersion, error) {
	if v, ok := rs.versions.Get(roomID); ok {
		return v, nil
	}
	info, err := rs.store.Room(ctx, roomID)
	if errors.Is(err, storage.ErrNotFound) {
		return mxcore.RoomVersion{}, fmt.Errorf("%w: %s", ErrUnknownRoom, roomID)
	}
	if err != nil {
		return mxcore.RoomVersion{}, fmt.Errorf("roomserver: room %s: %w", roomID, err)
	}
	v, ok := mxcore.GetRoomVersion(info.Version)
	if !ok {
		return mxcore.RoomVersion{}, fmt.Errorf("roomserver: room %s has unsupported version %q", roomID, info.Version)
	}
	rs.versions.Put(roomID, v)
	return v, nil
}

// snapshot returns the state of a stored snapshot.
func (rs *RoomServer) snapshot(ctx context.Context, nid int64) (*stateSet, error) {
	if nid == 0 {
		return emptyState(), nil
	}
	if s, ok := rs.snapshots.Get(nid); ok {
		return s, nil
	}
	entries, err := rs.store.StateSnapshot(ctx, nid)
	if err != nil {
		return nil, fmt.Errorf("roomserver: load state snapshot %d: %w", nid, err)
	}
	s := stateFromSnapshot(nid, entries)
	rs.snapshots.Put(nid, s)
	return s, nil
}

// stateBefore returns the state before a timeline event.
func (rs *RoomServer) stateBefore(ctx context.Context, m *eventMeta) (*stateSet, error) {
	if s := m.before.Load(); s != nil {
		return s, nil
	}
	if m.outlier {
		return nil, fmt.Errorf("%w: %s is an outlier", ErrMissingState, m.id())
	}
	s, err := rs.snapshot(ctx, m.stateBefore)
	if err != nil {
		return nil, err
	}
	m.before.CompareAndSwap(nil, s)
	return m.before.Load(), nil
}

// stateAfter is the state before the event with the event applied, unless
// it is a rejected or message event (spec: "Rejection": the state is not
// updated with a rejected event).
func (rs *RoomServer) stateAfter(ctx context.Context, m *eventMeta) (*stateSet, error) {
	before, err := rs.stateBefore(ctx, m)
	if err != nil {
		return nil, err
	}
	return applyEvent(before, m), nil
}

func applyEvent(s *stateSet, m *eventMeta) *stateSet {
	if m.rejected != "" || !m.isState() {
		return s
	}
	return s.With(m.pdu.Type(), *m.pdu.StateKey(), m.id())
}

func dedupStrings(in []string) []string {
	seen := make(map[string]struct{}, len(in))
	out := in[:0:0]
	for _, s := range in {
		if _, dup := seen[s]; !dup {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}
